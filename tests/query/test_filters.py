"""Filter values as polars predicates: values, lists, everything, globs, `re:` and slices."""

from __future__ import annotations

import fnmatch
import string

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from query.filters import InvalidFilterError, glob_to_regex, is_everything, is_pattern, match, matches_text

KEYS = ["loss", "lost", "train/loss", "train/acc", "val/acc", "val/loss", "l[1]", "a.b", "a+b", "x y", "ünï"]
FRAME = pl.DataFrame({"key": KEYS, "run": list(range(1, len(KEYS) + 1))})


def keys(value: object) -> list[str]:
    predicate = match("key", value)
    return FRAME["key"].to_list() if predicate is None else FRAME.filter(predicate)["key"].to_list()


def test_everything_means_no_filter() -> None:
    for value in (None, "*", "all", ["x", "*"]):
        assert keys(value) == KEYS
    assert is_everything("all") and not is_everything("al")


def test_value_list_and_patterns() -> None:
    assert keys("loss") == ["loss"]
    assert keys(["loss", "val/acc", "nope"]) == ["loss", "val/acc"]
    assert keys("train/*") == ["train/loss", "train/acc"]
    assert keys("lo?s") == ["loss"]
    assert keys("lo[st]t") == ["lost"]
    assert keys("lo[!s]t") == []
    assert keys("*acc") == ["train/acc", "val/acc"]
    assert keys(["train/*", "loss"]) == ["loss", "train/loss", "train/acc"]
    assert keys("l[[]1]") == ["l[1]"]
    assert keys("a.b") == ["a.b"] and keys("a+b") == ["a+b"] and keys("x y") == ["x y"]
    assert keys("a?b") == ["a.b", "a+b"]
    assert keys([]) == []


def test_regex_filters() -> None:
    assert keys("re:^val/") == ["val/acc", "val/loss"]
    assert keys("re:loss$") == ["loss", "train/loss", "val/loss"]
    assert keys(["re:^x", "loss"]) == ["loss", "x y"]
    assert is_pattern("re:abc") and not is_pattern("abc")


def test_a_bad_regex_is_a_clear_error() -> None:
    with pytest.raises(InvalidFilterError, match="not a valid regular expression"):
        match("key", "re:(unclosed")
    with pytest.raises(ValueError, match="look-arounds"):
        match("key", "re:(?<=x)y")


def test_ints_lists_and_slices_on_runs() -> None:
    def runs(value: object) -> list[int]:
        predicate = match("run", value)
        return FRAME.filter(predicate)["run"].to_list() if predicate is not None else FRAME["run"].to_list()

    assert runs(3) == [3]
    assert runs([1, 5, 99]) == [1, 5]
    assert runs(slice(2, 5)) == [2, 3, 4]
    assert runs(slice(9, None)) == [9, 10, 11]
    assert runs(slice(None, 3)) == [1, 2]
    assert runs(slice(1, 8, 3)) == [1, 4, 7]
    assert runs("1*") == [1, 10, 11]


def test_matches_text_agrees_with_the_column_predicate() -> None:
    for value in ("loss", "train/*", "re:acc$", ["val/*", "loss"], "*", "[tv]*", "lo?s"):
        assert [k for k in KEYS if matches_text(k, value)] == keys(value), value


@given(
    pattern=st.text(alphabet="ab*?[]!/.", max_size=8),
    names=st.lists(st.text(alphabet="ab/.[]!", max_size=6), max_size=8),
)
def test_globs_match_like_fnmatch(pattern: str, names: list[str]) -> None:
    if pattern in ("*", "all"):
        return
    frame = pl.DataFrame({"key": names}, schema={"key": pl.String})
    predicate = match("key", pattern)
    assert predicate is not None
    got = frame.filter(predicate)["key"].to_list() if is_pattern(pattern) else [n for n in names if n == pattern]
    assert got == [n for n in names if fnmatch.fnmatchcase(n, pattern)], glob_to_regex(pattern)


def test_glob_to_regex_escapes_regex_characters() -> None:
    specials = "".join(c for c in string.punctuation if c not in "*?[")
    frame = pl.DataFrame({"key": [specials, "x" + specials]})
    assert frame.filter(match("key", specials + "*"))["key"].to_list() == [specials]
    assert frame.filter(pl.col("key").str.contains(glob_to_regex("*" + specials)))["key"].len() == 2


@pytest.mark.parametrize("pattern", ["[!]", "[!]a]", "[]a]", "[]]", "[a&&b]", "[~~a]", "[!]]"])
def test_brackets_and_rust_class_operators_match_like_fnmatch(pattern: str) -> None:
    names = ["", "a", "b", "]", "&", "~", "!", "[!]", "[]", "ab"]
    frame = pl.DataFrame({"key": names})
    predicate = match("key", pattern)
    assert predicate is not None
    assert frame.filter(predicate)["key"].to_list() == [n for n in names if fnmatch.fnmatchcase(n, pattern)], glob_to_regex(pattern)
    assert [n for n in names if matches_text(n, pattern)] == [n for n in names if fnmatch.fnmatchcase(n, pattern)]
