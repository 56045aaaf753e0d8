"""Experiment names become path segments; keys do not. Each rule has its own clear error."""

from __future__ import annotations

import pytest

from eventlog.core.names import MAX_KEY_LENGTH, validate_experiment, validate_key
from eventlog.errors import InvalidNameError


@pytest.mark.parametrize("name", ["iris", "my experiment", "ünïcødé-实验", "12", "a.b", "x" * 256, "a+b,c:d"])
def test_valid_experiment_names_are_returned_unchanged(name: str) -> None:
    assert validate_experiment(name) == name


@pytest.mark.parametrize(
    ("name", "rule"),
    [
        ("", "empty"),
        ("a/b", "path separator"),
        ("a\\b", "path separator"),
        ("..", "'.' and '..'"),
        (".", "'.' and '..'"),
        ("a=b", "'='"),
        ("a\nb", "control character"),
        ("a\x00b", "control character"),
        (" padded ", "whitespace"),
        ("x" * 257, "at most 256"),
    ],
)
def test_invalid_experiment_names_say_which_rule_was_broken(name: str, rule: str) -> None:
    with pytest.raises(InvalidNameError, match="invalid experiment name") as info:
        validate_experiment(name)
    assert rule in str(info.value)
    assert isinstance(info.value, ValueError)


def test_experiment_name_must_be_a_string() -> None:
    with pytest.raises(TypeError, match="must be a str"):
        validate_experiment(42)


@pytest.mark.parametrize("key", ["loss", "train/loss", "val/acc@5", "ünï/キー", "k" * MAX_KEY_LENGTH])
def test_valid_keys(key: str) -> None:
    assert validate_key(key) == key


@pytest.mark.parametrize(("key", "rule"), [("", "empty"), ("a\tb", "control"), ("k" * (MAX_KEY_LENGTH + 1), "at most")])
def test_invalid_keys(key: str, rule: str) -> None:
    with pytest.raises(InvalidNameError, match=rule):
        validate_key(key)
