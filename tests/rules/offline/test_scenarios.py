"""Scenario files: loading with located errors, window matching, score checks, the example."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from rules.offline.scenario_run import run_scenarios
from rules.offline.scenarios import (
    SCHEMA_PATH,
    ScenarioFile,
    load_scenarios,
    normalise_person,
    parse_scenarios,
    scenario_lines,
    scenarios_json_schema,
)
from rules.rulebook.loader import RulebookError, load_rulebook
from tests.rules.builders import ACME, RIVAL, T0, make_rulebook

EXAMPLES = Path(__file__).resolve().parents[3] / "rules" / "examples"
VP = {"email": "Vera.VP@acme.com", "seniority": "vp"}  # fit 45 under make_rulebook


def _visit(event_id: str, hours: float, who: dict[str, Any] = VP, **extra: Any) -> dict[str, Any]:
    return {
        "type": "page_visited",
        "event_id": event_id,
        "occurred_at": (T0 + timedelta(hours=hours)).isoformat(),
        "source": "web",
        "person": who,
        "account": extra.pop("account", ACME),
        "properties": {"path": extra.pop("path", "/pricing")},
    }


def _run(events: list[dict[str, Any]], expect: dict[str, Any]) -> tuple[str, ...]:
    scenarios = ScenarioFile.model_validate(
        {"scenarios": [{"name": "s", "events": events, "expect": expect}]}
    )
    [result] = run_scenarios(make_rulebook(), scenarios.scenarios)
    return result.failures


HOT = [_visit("e1", 0), _visit("e2", 1)]  # 45 + 25 + 25 -> a window at e2


@pytest.mark.parametrize(
    "expect",
    [
        {"windows": [{"person": "vera.vp@acme.com"}]},
        {"windows": [{"person": "VERA.VP@ACME.COM", "trigger": "e2", "play": "signal_triggered"}]},
        {"scores": [{"person": "vera.vp@acme.com", "total": {"min": 90}, "tier": "A"}]},
        {"scores": [{"person": "vera.vp@acme.com", "at": T0.isoformat(), "total": {"max": 79}}]},
        {"scores": [{"person": "vera.vp@acme.com", "fit": {"min": 45, "max": 45}}]},
        {"scores": [{"person": "vera.vp@acme.com", "disqualified": False}]},
    ],
)
def test_passing_expectations(expect: dict[str, Any]) -> None:
    assert _run(HOT, expect) == ()


@pytest.mark.parametrize(
    ("events", "expect", "message"),
    [
        (
            HOT,
            {"no_windows": True},
            "unexpected window: vera.vp@acme.com, play signal_triggered, trigger e2",
        ),
        (HOT, {"windows": []}, "unexpected window"),
        (
            HOT,
            {"windows": [{"person": "vera.vp@acme.com", "trigger": "e1"}]},
            "expected a window for vera.vp@acme.com, trigger e1: no window matches; windows "
            "opened: vera.vp@acme.com, play signal_triggered, trigger e2",
        ),
        (
            HOT,
            {"windows": [{"person": "vera.vp@acme.com", "play": "funding"}]},
            "expected a window for vera.vp@acme.com, play funding",
        ),
        (HOT[:1], {"windows": [{"person": "vera.vp@acme.com"}]}, "windows opened: none"),
        (
            HOT,
            {"scores": [{"person": "vera.vp@acme.com", "total": {"max": 80}}]},
            "expected total <= 80, got 94.",
        ),
        (HOT, {"scores": [{"person": "vera.vp@acme.com", "tier": "D"}]}, "expected tier D, got A"),
        (
            HOT,
            {"scores": [{"person": "vera.vp@acme.com", "disqualified": True}]},
            "expected disqualified true, got false",
        ),
        (
            HOT,
            {"scores": [{"person": "nobody@acme.com", "total": {"min": 0}}]},
            "no event in the scenario is about this person",
        ),
        (
            [_visit("r1", 0, account=RIVAL), _visit("r2", 1, account=RIVAL)],
            {"scores": [{"person": "vera.vp@acme.com", "disqualified": False}]},
            "expected disqualified false, got true by competitor",
        ),
    ],
)
def test_failure_messages_say_what_was_expected_and_what_happened(
    events: list[dict[str, Any]], expect: dict[str, Any], message: str
) -> None:
    failures = _run(events, expect)
    assert failures, "the scenario should fail"
    assert any(message in f for f in failures), failures


def test_windows_match_one_to_one_whatever_the_order_of_entries() -> None:
    # Two windows for one person (cooldown 7 days); the vaguer entry must not steal e2's.
    later = [_visit("e3", 24 * 8), _visit("e4", 24 * 8 + 1)]
    expect = {
        "windows": [{"person": "vera.vp@acme.com"}, {"person": "vera.vp@acme.com", "trigger": "e2"}]
    }
    assert _run(HOT + later, expect) == ()
    too_many = {"windows": [*expect["windows"], {"person": "vera.vp@acme.com"}]}
    assert any("its windows match other entries" in f for f in _run(HOT + later, too_many))


def _with_now(now: str, windows: list[dict[str, Any]]) -> list[Any]:
    return ScenarioFile.model_validate(
        {"scenarios": [{"name": "s", "now": now, "events": HOT, "expect": {"windows": windows}}]}
    ).scenarios


def test_now_stamps_opened_at() -> None:
    now = (T0 + timedelta(hours=12)).isoformat()
    [result] = run_scenarios(make_rulebook(), _with_now(now, [{"person": "vera.vp@acme.com"}]))
    assert result.passed
    assert result.windows[0].opened_at == T0 + timedelta(hours=12)


def test_a_now_days_after_the_signals_opens_nothing_stale() -> None:
    """A backlog replayed days late opens no windows for signals that are no longer news."""
    [result] = run_scenarios(make_rulebook(), _with_now((T0 + timedelta(days=3)).isoformat(), []))
    assert result.passed and result.windows == ()


# ------------------------------------------------------------------- loading


@pytest.mark.parametrize(
    ("text", "line", "field", "message"),
    [
        (
            "scenarios:\n  - name: a\n    events: []\n    expect: {no_windows: true}\n",
            3,
            "scenarios[0].events",
            "at least 1",
        ),
        (
            "scenarios:\n  - name: a\n    events:\n      - {event_id: e1}\n"
            "    expect: {no_windows: true}\n",
            4,
            "scenarios[0].events[0]",
            "type",
        ),
        (
            "scenarios:\n  - name: a\n    events:\n      - type: page_visited\n"
            "        event_id: e1\n        occurred_at: 2026-11-20T10:00:00\n        source: w\n"
            "        person: {email: a@b.example}\n        properties: {path: /}\n"
            "    expect: {no_windows: true}\n",
            6,
            "scenarios[0].events[0].occurred_at",
            "timezone",
        ),
        (
            "scenarios:\n  - name: a\n    events:\n      - {type: page_visited, event_id: e1, "
            "occurred_at: 2026-11-20T10:00:00Z, source: w, person: {email: a@b.example}, "
            "properties: {path: /}}\n    expect:\n      no_windows: true\n      windows: "
            "[{person: a@b.example}]\n",
            5,
            "scenarios[0].expect",
            "contradicts",
        ),
        (
            "scenarios:\n  - name: a\n    events:\n      - {type: page_visited, event_id: e1, "
            "occurred_at: 2026-11-20T10:00:00Z, source: w, person: {email: a@b.example}, "
            "properties: {path: /}}\n    expect:\n      windowz: []\n",
            6,
            "scenarios[0].expect.windowz",
            "unknown key",
        ),
        ("scenarios:\n  - name: a\n    name: b\n", 3, "scenarios[0].name", "duplicate key"),
        ("scenarios: [\n", 2, None, "YAML"),
    ],
)
def test_invalid_files_name_the_line_and_field(
    text: str, line: int, field: str | None, message: str
) -> None:
    with pytest.raises(RulebookError) as info:
        parse_scenarios(text, source="cases.yaml")
    error = info.value
    assert (error.line, error.field) == (line, field), str(error)
    assert message in str(error)
    assert str(error).startswith(f"cases.yaml:{line}:")


def test_missing_file_is_a_load_error(tmp_path: Path) -> None:
    with pytest.raises(RulebookError, match="cannot read the file"):
        load_scenarios(tmp_path / "absent.yaml")


@pytest.mark.parametrize(
    ("given", "key"),
    [
        ("Dana@Acme.Example ", "dana@acme.example"),
        ("id:crm-1", "id:crm-1"),
        ("x@WWW.acme.io", "x@acme.io"),
    ],
)
def test_person_keys_are_normalised_like_the_engine(given: str, key: str) -> None:
    assert normalise_person(given) == key


# -------------------------------------------------------------------- example


def test_example_scenarios_pass_on_the_example_rulebook() -> None:
    path = EXAMPLES / "b2b_saas.scenarios.yaml"
    loaded = load_scenarios(path)
    rulebook_path = loaded.rulebook_path(path)
    assert rulebook_path == (EXAMPLES / "b2b_saas.yaml").resolve()
    results = run_scenarios(load_rulebook(rulebook_path), loaded.scenarios)
    assert len(results) >= 6
    assert [r.failures for r in results if not r.passed] == []
    lines = scenario_lines(path.read_text(encoding="utf-8"))
    assert len(lines) == len(results) and lines == sorted(lines)


def test_schema_file_is_current() -> None:
    on_disk = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    assert on_disk == scenarios_json_schema(), (
        "run: python -m rules.offline.scenarios --write-schema"
    )
