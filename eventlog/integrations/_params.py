"""Framework configurations as eventlog params: nested mappings flattened, every value storable.

A framework's config holds things JSON has no word for (a dtype, an enum, a class, a path, a
callable); eventlog refuses those as values, so they are logged as their text. A config is
informative, never a reason to stop training.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any

from eventlog.core.values import numeric_or_none, to_json

__all__ = ["plain_params", "plain_value"]


def plain_value(value: Any) -> Any:
    """`value` if eventlog can store it as a param (a number or JSON), else its text.

    Example:
        >>> plain_value(float), plain_value(1.5), plain_value([1, 2])
        ('float', 1.5, [1, 2])
    """
    if isinstance(value, enum.Enum):
        return value.value if isinstance(value.value, (str, int, float)) else value.name
    if isinstance(value, type):
        return value.__name__
    if numeric_or_none(value) is not None:
        return value
    try:
        to_json(value, key="param")
    except (TypeError, ValueError):
        return str(value)
    return value


def plain_params(params: Mapping[str, Any], *, prefix: str = "", separator: str = "/") -> dict[str, Any]:
    """Flatten nested mappings into `outer/inner` keys and make every value storable (`plain_value`).

    Args:
        params: the configuration.
        prefix: put before every key (with `separator`), e.g. `model` gives `model/hidden_size`.
        separator: between the levels of a nested key.

    Returns:
        A flat dict of param key to value; `None` values are left out (nothing was set).

    Example:
        >>> plain_params({"optimizer": {"lr": 0.1, "name": "adam"}, "seed": None})
        {'optimizer/lr': 0.1, 'optimizer/name': 'adam'}
    """
    flat: dict[str, Any] = {}
    for key, value in params.items():
        name = f"{prefix}{separator}{key}" if prefix else str(key)
        if isinstance(value, Mapping) and value:
            flat.update(plain_params(value, prefix=name, separator=separator))
        elif value is not None and name:
            flat[name] = plain_value(value)
    return flat
