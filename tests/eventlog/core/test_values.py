"""Argument conversion at the API boundary: steps and JSON values."""

from __future__ import annotations

import json

import pytest

from eventlog.core.values import to_json, to_step


def test_every_64_bit_step_is_accepted_and_nothing_outside() -> None:
    # Regression: -(2**63), a valid int64, was refused, and an integral float past 2**63 (1e19)
    # skipped the range check that ints get.
    assert to_step(-(2**63)) == -(2**63) and to_step(2**63 - 1) == 2**63 - 1 and to_step(3.0) == 3
    for step in (2**63, -(2**63) - 1, 1e19, -1e19):
        with pytest.raises(ValueError, match="64-bit signed"):
            to_step(step)


def test_a_pydantic_model_is_json_by_alias_with_its_paths_as_text() -> None:
    from pathlib import Path

    from pydantic import BaseModel, Field

    class Config(BaseModel):
        data_dir: Path = Field(alias="dataDir")

    assert json.loads(to_json(Config(dataDir=Path("/data/x")), key="cfg")) == {"dataDir": "/data/x"}
