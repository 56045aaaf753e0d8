"""Filter values as polars expressions, with omega-ml's semantics plus wildcards and regexes.

A filter value is one of:

- `None`, `"*"` or `"all"`: no filter;
- a plain value: equality (`key="loss"`, `step=3`);
- a list, tuple or set: any of its items (items may themselves be patterns);
- a glob pattern, a string with `*`, `?` or `[...]` (`key="train/*"`, `key="l?ss"`,
  `key="[tv]*"`, `[!x]` negates): `prefix*` becomes a fast `starts_with`;
- `"re:<regex>"`: a regular expression (Rust syntax, searched, so anchor it with `^...$` for a
  full match).

Globs are translated to an anchored regex by hand: the regex that `fnmatch.translate` produces
uses look-arounds that polars' regex engine rejects. A regex that does not compile raises
`InvalidFilterError` before any file is read.
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Callable, Collection
from typing import Any, TypeAlias

import polars as pl

from eventlog.errors import InvalidFilterError, RunNotFoundError

__all__ = [
    "REGEX_PREFIX",
    "Filter",
    "InvalidFilterError",
    "RunNotFoundError",
    "exact_text",
    "glob_to_regex",
    "is_everything",
    "is_pattern",
    "match",
    "match_text",
    "matches_text",
    "text_matcher",
    "without_fixed_column",
]

#: A filter string starting with this is a regular expression.
REGEX_PREFIX = "re:"

#: What every filter argument of the read API takes (`experiment=`, `run=`, `key=`, an extra's
#: name, ...): one value; a list, tuple or set (any of); None, `"*"` or `"all"` (everything); a
#: glob (`"train/*"`) or a `"re:"` regex. `run` also takes a negative int (counting back from the
#: latest) or a slice; `since`/`end` take a datetime, a timedelta (that long ago) or `"5h"`.
Filter: TypeAlias = str | int | float | slice | _dt.datetime | _dt.timedelta | Collection[str | int | float] | None


def is_everything(value: Any) -> bool:
    """True for the filter values that mean "no filter": None, `*` and `all`.

    Args:
        value: a filter value.

    Returns:
        Whether the value selects everything.
    """
    return value is None or (isinstance(value, str) and value in ("*", "all"))


def exact_text(value: Any) -> str | None:
    """The one string a filter value selects by equality (`"metric"`), else None (a pattern, a list, ...).

    Args:
        value: a filter value.

    Returns:
        The string, or None.
    """
    return value if isinstance(value, str) and not is_everything(value) and not is_pattern(value) else None


def without_fixed_column(
    groups: list[str], column: str, value: Any
) -> tuple[list[str], Callable[[pl.DataFrame], pl.DataFrame]]:
    """The group columns without `column` when the filter `value` fixes it to one string, and a
    function that adds it back to a grouped result (hashing a constant string column in a
    group-by costs ~10 % of the scan).

    Args:
        groups: the group-by columns.
        column: the filtered column (e.g. `event`).
        value: its filter value.

    Returns:
        (the columns to group by, a function from the grouped frame to one with `column` again).
    """
    fixed = exact_text(value)
    if fixed is None or column not in groups:
        return groups, lambda frame: frame
    return [g for g in groups if g != column], lambda frame: frame.with_columns(pl.lit(fixed, dtype=pl.String).alias(column))


def is_pattern(value: Any) -> bool:
    """True if `value` is a string holding glob characters or a `re:` regex.

    Args:
        value: a filter value.

    Returns:
        Whether the value is matched as a pattern rather than by equality.
    """
    return isinstance(value, str) and (value.startswith(REGEX_PREFIX) or any(ch in value for ch in "*?["))


def glob_to_regex(pattern: str) -> str:
    """An anchored regex (Rust regex syntax) equivalent to the glob `pattern`.

    Args:
        pattern: a glob with `*` (any run of characters, `/` included), `?` (one character) and
            `[...]` / `[!...]` character classes; an unclosed `[` is a literal.

    Returns:
        A regex such as `^train/.*$`.
    """
    out = ["^"]
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "*":
            out.append(".*")
        elif ch == "?":
            out.append(".")
        elif ch == "[":
            end = _class_end(pattern, i)
            if end == -1:
                out.append(re.escape(ch))
            else:
                body = pattern[i + 1 : end]
                negate = body.startswith("!")
                body = body[1:] if negate else body
                # `]` can only be a member here; `&&` and `~~` are set operations in Rust's classes
                for special in ("\\", "^", "[", "]", "&", "~"):
                    body = body.replace(special, "\\" + special)
                out.append(f"[{'^' if negate else ''}{body}]")
                i = end
        else:
            out.append(re.escape(ch))
        i += 1
    out.append("$")
    return "".join(out)


def _class_end(pattern: str, start: int) -> int:
    """The index of the `]` closing the class opened at `start`, or -1 (as fnmatch: `[!]...]`, `[]...]`)."""
    first = start + 1
    if pattern[first : first + 1] == "!":
        first += 1
    if pattern[first : first + 1] == "]":  # a `]` right after `[` or `[!` is a member, not the end
        first += 1
    return pattern.find("]", first)


def _check_regex(regex: str, original: str) -> str:
    """Compile `regex` with polars' engine now, so that a bad one fails before any file is read."""
    try:
        pl.Series([""], dtype=pl.String).str.contains(regex)
    except pl.exceptions.ComputeError as exc:
        raise InvalidFilterError(
            f"filter {original!r} is not a valid regular expression ({str(exc).splitlines()[0]}); "
            "polars uses Rust regex syntax (no look-arounds or back-references)"
        ) from exc
    return regex


def _pattern(col: pl.Expr, pattern: str) -> pl.Expr:
    if pattern.startswith(REGEX_PREFIX):
        return col.cast(pl.String).str.contains(_check_regex(pattern[len(REGEX_PREFIX) :], pattern))
    if pattern.endswith("*") and not any(ch in pattern[:-1] for ch in "*?["):
        return col.cast(pl.String).str.starts_with(pattern[:-1])
    return col.cast(pl.String).str.contains(_check_regex(glob_to_regex(pattern), pattern))


def match(column: str | pl.Expr, value: Any) -> pl.Expr | None:
    """A polars predicate selecting rows whose `column` matches the filter `value`.

    Args:
        column: a column name or an expression (e.g. an extra: `pl.col("extra").map.get("tag")`).
        value: a filter value (see the module docstring); a `slice` is a range `[start, stop)`
            with an optional step, for integer columns (negative bounds must be resolved first).

    Returns:
        The predicate, or None when `value` selects everything.

    Raises:
        InvalidFilterError: a regex (or a glob's translation) does not compile.
    """
    if is_everything(value):
        return None
    col = pl.col(column) if isinstance(column, str) else column
    if isinstance(value, slice):
        return _slice(col, value)
    if isinstance(value, (list, tuple, set, frozenset)):
        values = list(value)
        plain = [v for v in values if not is_pattern(v) and not is_everything(v)]
        if any(is_everything(v) for v in values):
            return None
        expr = col.is_in(plain) if plain else None
        for pattern in (v for v in values if is_pattern(v)):
            one = _pattern(col, pattern)
            expr = one if expr is None else expr | one
        return expr if expr is not None else pl.lit(False)
    if is_pattern(value):
        return _pattern(col, value)
    return col == value


def match_text(column: str | pl.Expr, value: Any) -> pl.Expr | None:
    """As `match`, for a text column whose values stand for numbers too (extras, JSON params).

    Numbers compare as numbers (`lr=0.1` matches the text `0.1` and `0.10`), booleans as the
    JSON text `true`/`false`, strings and patterns as text: what a user means by `lr=0.1` on a
    column that stores `log_extra(lr=0.1)` as the text "0.1".

    Raises:
        InvalidFilterError: a regex (or a glob's translation) does not compile.
    """
    col = pl.col(column) if isinstance(column, str) else column
    is_collection = isinstance(value, (list, tuple, set, frozenset))
    values = list(value) if is_collection else [value]
    numbers = [float(v) for v in values if _is_number(v)]
    if not numbers:
        return match(col, [_as_text(v) for v in values] if is_collection else _as_text(value))
    by_number = col.cast(pl.Float64, strict=False).is_in(numbers)
    others = [_as_text(v) for v in values if not _is_number(v)]
    by_text = match(col, others) if others else None
    return by_number if by_text is None else by_number | by_text


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _as_text(value: Any) -> Any:
    """Booleans as the JSON text extras store them as; anything else unchanged."""
    return ("true" if value else "false") if isinstance(value, bool) else value


def _slice(col: pl.Expr, value: slice) -> pl.Expr | None:
    expr: pl.Expr | None = None
    if value.start is not None:
        expr = col >= value.start
    if value.stop is not None:
        upper = col < value.stop
        expr = upper if expr is None else expr & upper
    if value.step not in (None, 1):
        stepped = ((col - (value.start or 0)) % value.step) == 0
        expr = stepped if expr is None else expr & stepped
    return expr


def text_matcher(value: Any) -> Callable[[str], bool]:
    """A function telling whether one string (e.g. an experiment name) matches the filter `value`, in Python.

    Used to prune files by their partition before any is opened, with the same semantics as
    `match` on a column; patterns are translated and compiled once, not per string tested.

    Args:
        value: a filter value.

    Returns:
        The test: a function of one string returning True if it matches.

    Raises:
        InvalidFilterError: a `re:` regex that does not compile.
    """
    if is_everything(value):
        return lambda _text: True
    if isinstance(value, (list, tuple, set, frozenset)):
        tests = [text_matcher(v) for v in value]
        return lambda text: any(test(text) for test in tests)
    if isinstance(value, str) and value.startswith(REGEX_PREFIX):
        regex = _compile(value[len(REGEX_PREFIX) :], value)
        return lambda text: regex.search(text) is not None
    if is_pattern(value):
        anchored = re.compile(glob_to_regex(value))
        return lambda text: anchored.match(text) is not None
    return lambda text: bool(text == value)


def _compile(regex: str, original: str) -> re.Pattern[str]:
    try:
        return re.compile(regex)
    except re.error as exc:
        raise InvalidFilterError(
            f"filter {original!r} is not a valid regular expression ({exc}); "
            "polars uses Rust regex syntax (no look-arounds or back-references)"
        ) from exc


def matches_text(text: str, value: Any) -> bool:
    """Whether one string (e.g. an experiment name) matches the filter `value`, in Python.

    For many strings, build the test once with `text_matcher`.

    Args:
        text: the string to test.
        value: a filter value.

    Returns:
        True if it matches.

    Raises:
        InvalidFilterError: a `re:` regex that does not compile.
    """
    return text_matcher(value)(text)
