"""Diff: windows a rulebook change adds, removes or re-plays over the same history."""

from __future__ import annotations

from datetime import timedelta

from rules.offline.diff import diff, render_text
from rules.rulebook.model import Rulebook
from tests.rules.builders import T0, make_rulebook, rulebook_data, visit

VP = {"email": "vera@acme.com", "seniority": "vp"}  # fit 45
ANA = {"email": "ana@acme.com"}  # fit 30

HISTORY = [
    visit("v1", T0, who=VP),  # 70
    visit("a1", T0 + timedelta(hours=1), who=ANA),  # 55
    visit("a2", T0 + timedelta(hours=1), who=ANA),  # 80: window at threshold 80, not at 90
    visit("v2", T0 + timedelta(hours=2), who=VP),  # 94.8: window under threshold 80 and 90
]


def _with(**changes: object) -> Rulebook:
    data = rulebook_data()
    for dotted, value in changes.items():
        *path, last = dotted.split("__")
        node = data
        for part in path:
            node = node[part]
        node[last] = value
    data["version"] = "test-2"
    return Rulebook.model_validate(data)


def test_same_rulebook_is_identical() -> None:
    result = diff(make_rulebook(), make_rulebook(), HISTORY)
    assert result.identical
    assert (result.old_windows, result.new_windows, result.unchanged) == (2, 2, 2)
    assert "no difference" in render_text(result)


def test_a_higher_threshold_removes_and_a_lower_one_adds() -> None:
    old = make_rulebook()
    stricter = _with(windows__threshold=90)
    removed = diff(old, stricter, HISTORY)
    assert [(w.person_key, w.trigger_event_id) for w in removed.removed] == [("ana@acme.com", "a2")]
    assert removed.added == () and removed.unchanged == 1

    back = diff(stricter, old, HISTORY)
    assert [(w.person_key, w.trigger_event_id) for w in back.added] == [("ana@acme.com", "a2")]
    text = render_text(back)
    assert "+1 added, -0 removed" in text and "+ " in text and "ana@acme.com" in text


def test_a_changed_play_is_reported_as_changed_not_added_and_removed() -> None:
    new = rulebook_data()
    new["engagement"]["rules"][0]["play"] = "value_add"
    result = diff(make_rulebook(), Rulebook.model_validate(new), HISTORY)
    assert result.added == () and result.removed == ()
    assert {(c.old.play, c.new.play) for c in result.changed} == {("signal_triggered", "value_add")}
    assert "signal_triggered -> value_add" in render_text(result)


def test_a_removed_window_explained_by_an_earlier_cooldown() -> None:
    # A lower threshold opens Vera's window at v1, so v2 falls in its cooldown.
    result = diff(make_rulebook(), _with(windows__threshold=70), HISTORY)
    [gone] = [w for w in result.removed if w.person_key == "vera@acme.com"]
    assert gone.trigger_event_id == "v2"
    assert "cooldown: NEW opened one at" in result.notes[gone.window_id]
    assert "trigger v1" in render_text(result)
