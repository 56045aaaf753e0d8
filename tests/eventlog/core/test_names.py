"""Experiment names become path segments; keys do not. Each rule has its own clear error."""

from __future__ import annotations

import pytest

from eventlog.core.layout import encode_name
from eventlog.core.names import (
    MAX_KEY_LENGTH,
    MAX_NAME_BYTES,
    validate_experiment,
    validate_extra_name,
    validate_job_id,
    validate_key,
    validate_kind,
    validate_writer,
)
from eventlog.errors import InvalidNameError


@pytest.mark.parametrize("name", ["iris", "my experiment", "ünïcødé-实验", "12", "a.b", "x" * MAX_NAME_BYTES, "a+b,c:d", "实" * 26])
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
        ("x" * (MAX_NAME_BYTES + 1), f"at most {MAX_NAME_BYTES}"),
        ("实" * 27, "percent-encoded"),  # 27 characters, 243 bytes once encoded
        ("caf\udce9", "not valid UTF-8"),  # os.fsdecode(b"caf\xe9")
        ("*", "pattern"),
        ("neigh*", "pattern"),
        ("[n]eighbour", "pattern"),
        ("what?", "pattern"),
        ("all", "pattern"),
        ("re:.*", "pattern"),
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


@pytest.mark.parametrize(("key", "rule"), [("", "empty"), ("a\tb", "control"), ("k" * (MAX_KEY_LENGTH + 1), "at most"), ("caf\udce9", "UTF-8")]
)
def test_invalid_keys(key: str, rule: str) -> None:
    with pytest.raises(InvalidNameError, match=rule):
        validate_key(key)


@pytest.mark.parametrize("kind", ["", "a\nb", "x\ud800"])
def test_invalid_event_kinds(kind: str) -> None:
    with pytest.raises(InvalidNameError, match="event kind"):
        validate_kind(kind)


@pytest.mark.parametrize("name", ["run", "key", "experiment", "extra", "dt", "date", "writer"])
def test_extra_columns_cannot_take_an_events_own_column_name(name: str) -> None:
    with pytest.raises(InvalidNameError, match="one of the event's own columns"):
        validate_extra_name(name)
    assert validate_extra_name(f"my_{name}") == f"my_{name}"


@pytest.mark.parametrize("writer", ["..", ".", "...", "a/b", "", "w" * 201, "caf\udce9", "a b"])
def test_writer_ids_that_cannot_be_directories_are_refused(writer: str) -> None:
    with pytest.raises(InvalidNameError, match="writer id"):
        validate_writer(writer)


@pytest.mark.parametrize("job", ["..", ".", "", "a\nb", "x\udce9"])
def test_job_ids_that_cannot_name_a_file_are_refused(job: str) -> None:
    with pytest.raises(InvalidNameError):
        validate_job_id(job)


def test_names_made_only_of_dots_are_encoded_so_they_never_mean_a_parent_directory() -> None:
    assert encode_name("..") == "%2E%2E"
    assert encode_name(".") == "%2E"
    assert encode_name("a..b") == "a..b"
