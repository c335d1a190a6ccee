"""The README is the newcomer's manual: keep its references in step with the code."""

from __future__ import annotations

import re
from pathlib import Path

from streams.settings import Settings

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def test_every_setting_is_documented() -> None:
    documented = set(re.findall(r"`(FOLLOWUP_[A-Z_]+)`", README))
    expected = {f"FOLLOWUP_{name.upper()}" for name in Settings.model_fields}
    assert expected - documented == set(), "settings missing from the README"
    assert documented - expected == set(), "README documents settings that do not exist"


def test_the_two_commands_are_the_ones_ci_runs() -> None:
    assert "make demo" in README and "make test" in README
    ci = (Path(__file__).resolve().parent.parent / ".ci" / "run").read_text()
    assert "make test" in ci
