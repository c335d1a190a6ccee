from __future__ import annotations

import json
from pathlib import Path
from textwrap import dedent

import pytest

from rules.rulebook.loader import (
    SCHEMA_PATH,
    RulebookError,
    load_rulebook,
    parse_rulebook,
    rulebook_json_schema,
    summarise,
    write_rulebook_schema,
)
from rules.rulebook.model import Rulebook

EXAMPLE = Path(__file__).parents[3] / "rules" / "examples" / "b2b_saas.yaml"

MINIMAL = """\
apiVersion: followup/v1
version: "1"
engagement:
  rules:
    - name: pricing
      signal: page_visited
      when: {field: properties.path, matches: "^/pricing"}
      points: 30
      detail: Visited pricing
windows:
  threshold: 50
"""


def _error(text: str) -> RulebookError:
    with pytest.raises(RulebookError) as info:
        parse_rulebook(dedent(text), source="rules.yaml")
    return info.value


def test_example_loads() -> None:
    rulebook = load_rulebook(EXAMPLE)
    assert rulebook.api_version == "followup/v1"
    assert rulebook.windows.threshold == 100
    assert {r.play for r in rulebook.engagement.rules} >= {"champion_moved", "funding"}


def test_minimal_text_parses() -> None:
    rulebook = parse_rulebook(MINIMAL)
    assert isinstance(rulebook, Rulebook)
    assert rulebook.engagement.rules[0].name == "pricing"


@pytest.mark.parametrize(
    ("text", "line", "field", "fragment"),
    [
        (
            MINIMAL.replace("points: 30", "points: lots"),
            8,
            "engagement.rules[0].points",
            "Input should be a valid number",
        ),
        (
            MINIMAL.replace('matches: "^/pricing"', 'matches: "(^/pricing"'),
            7,
            "engagement.rules[0].when.matches",
            "invalid regular expression",
        ),
        (
            MINIMAL.replace('matches: "^/pricing"', 'matches: "^/pricing(?!/old)"'),
            7,
            "engagement.rules[0].when.matches",
            "RE2 syntax: no backreferences or lookaround",
        ),
        (
            MINIMAL.replace("matches:", "like:"),
            7,
            "engagement.rules[0].when",
            "unknown operator 'like' for field 'properties.path'",
        ),
        (
            MINIMAL.replace("signal: page_visited", "signal: page_view"),
            6,
            "engagement.rules[0].signal",
            "Input should be 'email_opened'",
        ),
        (
            MINIMAL.replace("      detail: Visited pricing\n", ""),
            5,
            "engagement.rules[0].detail",
            "Field required",
        ),
        (
            MINIMAL.replace("  threshold: 50", "  threshold: 50\n  treshold: 60"),
            12,
            "windows.treshold",
            "unknown key",
        ),
        (
            MINIMAL.replace("apiVersion: followup/v1", "apiVersion: followup/v2"),
            1,
            "apiVersion",
            "Input should be 'followup/v1'",
        ),
        (MINIMAL.replace("windows:\n  threshold: 50\n", ""), 1, "windows", "Field required"),
        (
            MINIMAL + "fit:\n  tiers: {A: 20, B: 40}\n",
            12,
            "fit",
            "fit tiers must descend",
        ),
    ],
)
def test_errors_point_at_line_and_field(text: str, line: int, field: str, fragment: str) -> None:
    error = _error(text)
    assert (error.line, error.field) == (line, field), str(error)
    assert fragment in error.message
    assert str(error).startswith(f"rules.yaml:{line}: {field}: ")
    assert error.path == "rules.yaml"


def test_nested_condition_error_location() -> None:
    error = _error(
        """\
        apiVersion: followup/v1
        version: "1"
        engagement:
          rules:
            - name: a
              signal: page_visited
              points: 1
              detail: a
            - name: b
              signal: page_visited
              when:
                all:
                  - {field: properties.path, matches: "^/docs"}
                  - not:
                      field: account.employees
                      gt: many
              points: 1
              detail: b
        windows: {threshold: 10}
        """
    )
    assert error.line == 16
    assert error.field == "engagement.rules[1].when.all[1].not.gt"
    assert "expected a number" in error.message


def test_all_errors_reported_first_by_line() -> None:
    text = MINIMAL.replace("points: 30", "points: lots").replace("threshold: 50", "threshold: 0")
    text = text.replace('version: "1"', "version: ''")
    error = _error(text)
    assert len(error.issues) == 3
    assert [i.line for i in error.issues] == [2, 8, 11]
    assert (error.line, error.field) == (2, "version")
    lines = str(error).splitlines()
    assert lines[0].startswith("rules.yaml:2: version: ")
    assert lines[1].startswith("rules.yaml:8: engagement.rules[0].points: ")
    assert lines[2].startswith("rules.yaml:11: windows.threshold: Input should be greater than 0")
    assert "engagement.rules[0].points" in error.message


@pytest.mark.parametrize(
    ("text", "line", "field"),
    [
        (
            MINIMAL.replace("  threshold: 50", "  threshold: 50\n  threshold: 60"),
            12,
            "windows.threshold",
        ),
        (
            MINIMAL.replace("{field: properties.path,", "{field: properties.path, field: x,"),
            7,
            "engagement.rules[0].when.field",
        ),
        (MINIMAL.replace('version: "1"', 'version: "1"\nversion: "2"'), 3, "version"),
    ],
)
def test_duplicate_keys_are_errors(text: str, line: int, field: str) -> None:
    error = _error(text)
    assert (error.line, error.field) == (line, field)
    assert "duplicate key" in error.message


def test_duplicate_key_field_path() -> None:
    error = _error(MINIMAL.replace("  threshold: 50", "  threshold: 50\n  threshold: 60"))
    assert error.field == "windows.threshold"
    assert "first on line 11" in error.message


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("apiVersion: followup/v1\nversion: [1, 2\nwindows: {}\n", 3),
        ("apiVersion: followup/v1\n  version: 1\n", 2),
        ("apiVersion: followup/v1\nversion: 'unterminated\n", 3),
        ("apiVersion: !!python/object:os.system ls\n", 1),
    ],
)
def test_yaml_errors_carry_a_line(text: str, line: int) -> None:
    error = _error(text)
    assert error.line == line
    assert error.message.startswith("YAML: ")


@pytest.mark.parametrize("text", ["", "# only a comment\n", "---\n"])
def test_empty_file(text: str) -> None:
    error = _error(text)
    assert error.line is None
    assert "empty" in error.message or "valid dictionary" in error.message


def test_not_a_mapping() -> None:
    error = _error("- a\n- b\n")
    assert error.line == 1
    assert "valid dictionary" in error.message


def test_duplicate_rule_names() -> None:
    text = MINIMAL + dedent(
        """\
        fit:
          rules:
            - name: pricing
              when: {field: account.country, eq: US}
              points: 5
              detail: US
        """
    )
    error = _error(text)
    assert "rule names must be unique; repeated: pricing" in error.message


def test_descending_tiers_ok() -> None:
    text = MINIMAL + "fit:\n  tiers: {A: 50, B: 50, C: 10}\n"
    assert parse_rulebook(text).fit.tiers == {"A": 50, "B": 50, "C": 10}


def test_load_missing_file(tmp_path: Path) -> None:
    with pytest.raises(RulebookError) as info:
        load_rulebook(tmp_path / "nope.yaml")
    assert info.value.line is None
    assert "cannot read" in info.value.message


def test_load_reports_the_path(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(MINIMAL.replace("points: 30", "points: lots"), encoding="utf-8")
    with pytest.raises(RulebookError) as info:
        load_rulebook(path)
    assert str(info.value).startswith(f"{path}:8: engagement.rules[0].points: ")


def test_schema_file_is_current() -> None:
    on_disk = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    assert on_disk == rulebook_json_schema(), "run: python -c 'from rules.rulebook.loader import "
    "write_rulebook_schema; write_rulebook_schema()'"


def test_schema_uses_yaml_names(tmp_path: Path) -> None:
    written = write_rulebook_schema(tmp_path / "schema.json")
    schema = json.loads(written.read_text(encoding="utf-8"))
    assert "apiVersion" in schema["properties"]
    field_condition = schema["$defs"]["FieldCondition"]["properties"]
    assert "in" in field_condition
    assert "in_" not in field_condition
    assert "not" in schema["$defs"]["NotCondition"]["properties"]
    assert written.read_text(encoding="utf-8") == SCHEMA_PATH.read_text(encoding="utf-8")


def test_summarise() -> None:
    rulebook = load_rulebook(EXAMPLE)
    text = summarise(rulebook)
    assert rulebook.hash in text
    assert rulebook.version in text
    assert "threshold 100" in text
    assert "cooldown 7 d" in text
    assert "page_visited 3" in text
    assert "2 disqualifiers" in text
