"""Framework integrations: add eventlog to a training script with one line.

| framework | name | module |
| --- | --- | --- |
| PyTorch Lightning | `EventLogLogger` (a `Logger`) | `eventlog.integrations.lightning` |
| Hugging Face transformers | `EventLogCallback` (a `TrainerCallback`) | `eventlog.integrations.transformers` |
| Keras 3 | `EventLogKerasCallback` (a `keras.callbacks.Callback`) | `eventlog.integrations.keras` |
| XGBoost | `EventLogXGBoostCallback` (a `TrainingCallback`) | `eventlog.integrations.xgboost` |
| LightGBM | `EventLogLightGBMCallback` (a training callback) | `eventlog.integrations.lightgbm` |
| Optuna | `EventLogOptunaCallback` (a study callback: a run per trial) | `eventlog.integrations.optuna` |

Each module imports its framework when it is imported, and this package imports none of them
until one of its names is used (PEP 562): `import eventlog` and `import eventlog.integrations`
never import torch. The guide's page is docs/integrations.md.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from eventlog.integrations.keras import EventLogKerasCallback
    from eventlog.integrations.lightgbm import EventLogLightGBMCallback
    from eventlog.integrations.lightning import EventLogLogger
    from eventlog.integrations.optuna import EventLogOptunaCallback
    from eventlog.integrations.transformers import EventLogCallback
    from eventlog.integrations.xgboost import EventLogXGBoostCallback

#: Where each public name lives; its module imports the framework.
_HOMES: dict[str, str] = {
    "EventLogCallback": "eventlog.integrations.transformers",
    "EventLogKerasCallback": "eventlog.integrations.keras",
    "EventLogLightGBMCallback": "eventlog.integrations.lightgbm",
    "EventLogLogger": "eventlog.integrations.lightning",
    "EventLogOptunaCallback": "eventlog.integrations.optuna",
    "EventLogXGBoostCallback": "eventlog.integrations.xgboost",
}

__all__ = [
    "EventLogCallback",
    "EventLogKerasCallback",
    "EventLogLightGBMCallback",
    "EventLogLogger",
    "EventLogOptunaCallback",
    "EventLogXGBoostCallback",
]


def __getattr__(name: str) -> Any:
    """Load a public name, and with it its framework, on first use (PEP 562)."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'eventlog.integrations' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
