"""Filter values as polars expressions: a value, a list (any of), `*`/`all`/None, or a glob pattern.

Globs (`*`, `?`, `[...]`) are translated to an anchored regex by hand: the regex that
`fnmatch.translate` produces uses look-arounds that polars' regex engine rejects. `prefix/*` is
turned into a fast `starts_with`.
"""

from __future__ import annotations

import re
from typing import Any

import polars as pl

__all__ = ["glob_to_regex", "is_everything", "is_pattern", "match"]


def is_everything(value: Any) -> bool:
    """True for the filter values that mean "no filter": None, `*` and `all`."""
    return value is None or (isinstance(value, str) and value in ("*", "all"))


def is_pattern(value: Any) -> bool:
    """True if `value` is a string with glob characters."""
    return isinstance(value, str) and any(ch in value for ch in "*?[")


def glob_to_regex(pattern: str) -> str:
    """An anchored regex (Rust regex syntax) equivalent to the glob `pattern`."""
    out = ["^"]
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "*":
            out.append(".*")
        elif ch == "?":
            out.append(".")
        elif ch == "[":
            end = pattern.find("]", i + 2 if pattern[i + 1 : i + 2] in ("!", "]") else i + 1)
            if end == -1:
                out.append(re.escape(ch))
            else:
                body = pattern[i + 1 : end]
                negate = body.startswith("!")
                body = body[1:] if negate else body
                body = body.replace("\\", "\\\\").replace("^", "\\^")
                out.append(f"[{'^' if negate else ''}{body}]")
                i = end
        else:
            out.append(re.escape(ch))
        i += 1
    out.append("$")
    return "".join(out)


def match(column: str, value: Any) -> pl.Expr | None:
    """A polars predicate selecting rows whose `column` matches `value`, or None for "everything"."""
    if is_everything(value):
        return None
    col = pl.col(column)
    if isinstance(value, (list, tuple, set, frozenset)):
        values = list(value)
        plain = [v for v in values if not is_pattern(v)]
        patterns = [v for v in values if is_pattern(v)]
        expr = col.is_in(plain) if plain else None
        for pattern in patterns:
            one = _pattern(col, pattern)
            expr = one if expr is None else expr | one
        return expr if expr is not None else pl.lit(False)
    if is_pattern(value):
        return _pattern(col, value)
    return col == value


def _pattern(col: pl.Expr, pattern: str) -> pl.Expr:
    if pattern.endswith("*") and not is_pattern(pattern[:-1]):
        return col.str.starts_with(pattern[:-1])
    return col.str.contains(glob_to_regex(pattern))
