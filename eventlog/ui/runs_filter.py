"""The dashboard's text filter over a runs table: `lr>0.01 status=completed val/*>0.9 resnet`.

A query is words separated by blanks (quote a value with blanks: `name="my run"`). A word
`NAME OP VALUE` compares a column; OP is one of `=`, `!=`, `>`, `>=`, `<`, `<=` and `~`
(contains, case-insensitive). NAME is a column of the table (`status`, `node`, `duration_s`,
`param.lr`), or a param, metric or tag without its prefix (`lr` is `param.lr`, else `metric.lr`,
else `tag.lr`), and may be a glob over names (`val/*>0.9`: any metric under `val/`), which a run
passes if any of the matched columns does. A VALUE that reads as a number compares as a number
(also against text columns holding numbers); `=` and `!=` take globs on text (`status=comp*`).
A word without an operator keeps the runs where any text column contains it.
"""

from __future__ import annotations

import fnmatch
import re
import shlex
from functools import reduce

import polars as pl

from eventlog.errors import InvalidFilterError
from query.filters import glob_to_regex

__all__ = ["OPERATORS", "filter_table", "parse_query"]

#: Comparison operators of the text filter, longest first (so that `>=` is not read as `>`).
OPERATORS = ("!=", ">=", "<=", "=", ">", "<", "~")
_WORD = re.compile(r"^(?P<name>[^=!<>~]+?)\s*(?P<op>!=|>=|<=|=|>|<|~)\s*(?P<value>.*)$", re.DOTALL)
_PREFIXES = ("", "param.", "metric.", "tag.")


def parse_query(text: str) -> list[tuple[str, str, str]]:
    """Split a filter query into (name, operator, value) words; a bare word has name and operator "".

    Args:
        text: the query, e.g. `lr>0.01 status=completed`.

    Returns:
        The words, in order.

    Raises:
        InvalidFilterError: unbalanced quotes.
    """
    try:
        words = shlex.split(text)
    except ValueError as exc:
        raise InvalidFilterError(f"filter {text!r}: {exc} (close the quote)") from exc
    parsed = []
    for word in words:
        found = _WORD.match(word)
        if found is None:
            parsed.append(("", "", word))
        else:
            parsed.append((found["name"].strip(), found["op"], found["value"].strip()))
    return parsed


def _columns_named(table: pl.DataFrame, name: str) -> list[str]:
    """The columns `name` stands for: itself, or with a param./metric./tag. prefix; globs match many."""
    glob = any(ch in name for ch in "*?[")
    for prefix in _PREFIXES:
        if glob:
            found = [c for c in table.columns if fnmatch.fnmatchcase(c, prefix + name)]
        else:
            found = [prefix + name] if prefix + name in table.columns else []
        if found:
            return found
    return []


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _compare(column: str, dtype: pl.DataType, op: str, value: str) -> pl.Expr:
    col = pl.col(column)
    number = _number(value)
    if op == "~":
        return col.cast(pl.String).str.to_lowercase().str.contains(value.lower(), literal=True).fill_null(False)
    if number is not None and (dtype.is_numeric() or dtype == pl.String or op not in ("=", "!=")):
        as_number = col if dtype.is_numeric() else col.cast(pl.String).cast(pl.Float64, strict=False)
        if dtype == pl.Boolean:
            as_number = col.cast(pl.Float64)
        checks = {
            "=": as_number == number, "!=": as_number != number, ">": as_number > number,
            ">=": as_number >= number, "<": as_number < number, "<=": as_number <= number,
        }  # fmt: skip
        return checks[op].fill_null(op == "!=")
    if op in (">", ">=", "<", "<="):
        raise InvalidFilterError(f"filter {column}{op}{value}: {op} compares numbers; {value!r} is not a number")
    text = col.cast(pl.String)
    equal = text.str.contains(glob_to_regex(value)) if any(ch in value for ch in "*?[") else text == value
    return equal.fill_null(False) if op == "=" else (~equal).fill_null(True)


def filter_table(table: pl.DataFrame, query: str) -> pl.DataFrame:
    """The rows of a runs table that every word of `query` keeps (see the module docstring).

    Args:
        table: a table as `query.runs` returns it.
        query: the filter text; blank keeps every row.

    Returns:
        The kept rows, in their order.

    Raises:
        InvalidFilterError: a name that matches no column (the message lists some), an order
            comparison with a value that is not a number, or unbalanced quotes.

    Example:
        >>> filter_table(runs, "lr>0.01 status=completed")  # doctest: +SKIP
    """
    predicates: list[pl.Expr] = []
    for name, op, value in parse_query(query):
        if not op:
            texts = [c for c, t in table.schema.items() if t == pl.String]
            if not texts:
                return table.clear()
            needle = name or value
            predicates.append(
                pl.any_horizontal(pl.col(c).str.to_lowercase().str.contains(needle.lower(), literal=True).fill_null(False) for c in texts)
            )
            continue
        columns = _columns_named(table, name)
        if not columns:
            if table.height == 0:
                return table
            shown = ", ".join(table.columns[:30])
            raise InvalidFilterError(f"filter {name}{op}{value}: no column, param, metric or tag is named {name!r}; columns are {shown}")
        one = [_compare(c, table.schema[c], op, value) for c in columns]
        predicates.append(reduce(lambda a, b: a | b, one))
    return table.filter(predicates) if predicates else table
