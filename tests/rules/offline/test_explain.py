"""Explain: per-event score timeline, agreement with the engine, final reasons."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rules.offline.explain import explain, explain_many, render_text, score_at
from rules.offline.replay import replay
from tests.rules.builders import ACME, RIVAL, T0, funding, make_rulebook, opened, visit

VP = {"email": "vera@acme.com", "seniority": "vp"}  # fit 45 under make_rulebook
ANA = {"email": "ana@acme.com"}


def _history() -> list:  # type: ignore[type-arg]
    return [
        opened("o1", T0, who=VP),
        visit("v1", T0 + timedelta(hours=1), who=VP),
        visit("x1", T0 + timedelta(hours=1, minutes=30), who=ANA),
        visit("v2", T0 + timedelta(hours=2), who=VP),
        visit("v2", T0 + timedelta(hours=2), who=VP),  # a redelivery
        visit("v3", T0 + timedelta(days=1), who=VP),
        funding("f1", T0 + timedelta(days=2)),
    ]


def test_steps_cover_the_persons_events_in_order_with_outcomes() -> None:
    timeline = explain(make_rulebook(), _history(), "vera@acme.com")
    assert [(s.event_id, s.outcome) for s in timeline.steps] == [
        ("o1", "below_threshold"),
        ("v1", "below_threshold"),
        ("v2", "window"),
        ("v2", "duplicate"),
        ("v3", "cooldown"),
        ("f1", "cooldown"),  # account-level: scores everyone known at the account
    ]
    assert [s.rule for s in timeline.steps] == [
        "email_open",
        "pricing_visit",
        "pricing_visit",
        None,
        "pricing_visit",
        "funding",
    ]
    first = timeline.steps[0]
    assert (first.score.fit, first.points, first.score.tier) == (45, 5, "A")
    assert first.added == pytest.approx(5)
    assert timeline.steps[3].added == 0
    assert len(timeline.windows) == 1


def test_the_window_score_is_the_score_explain_reports() -> None:
    rulebook = make_rulebook()
    timeline = explain(rulebook, _history(), "vera@acme.com")
    [step] = [s for s in timeline.steps if s.window is not None]
    assert step.window is not None
    score = step.window.score
    assert (score.fit, score.engagement, score.total, score.fit_tier) == (
        round(step.score.fit, 2),
        round(step.score.engagement, 2),
        round(step.score.total, 2),
        step.score.tier,
    )


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 400), st.sampled_from(["/pricing", "/docs", "/"])),
        min_size=1,
        max_size=12,
    )
)
def test_explain_agrees_with_the_engine_on_every_window(visits: list[tuple[int, str]]) -> None:
    rulebook = make_rulebook()
    signals = [
        visit(f"e{i}", T0 + timedelta(hours=h), path=p, who=VP) for i, (h, p) in enumerate(visits)
    ]
    engine = replay(rulebook, signals, clock=lambda: T0).windows
    timeline = explain(rulebook, signals, "vera@acme.com", now=T0)
    assert list(timeline.windows) == engine
    for step in timeline.steps:
        if step.window is not None:
            assert round(step.score.total, 2) == step.window.score.total


def test_added_respects_caps() -> None:
    rulebook = make_rulebook()  # pricing_visit: 25 points, cap 50
    signals = [visit(f"v{i}", T0 + timedelta(minutes=i), who=ANA) for i in range(3)]
    timeline = explain(rulebook, signals, "ana@acme.com")
    assert [round(s.added, 1) for s in timeline.steps] == [25.0, 25.0, 0.0]


def test_disqualified_people_say_by_what() -> None:
    signals = [visit("r1", T0, who=VP, account=RIVAL), visit("r2", T0, who=VP, account=RIVAL)]
    timeline = explain(make_rulebook(), signals, "vera@acme.com")
    assert {s.outcome for s in timeline.steps} == {"disqualified"}
    assert timeline.final is not None and timeline.final.disqualified_by == "competitor"
    assert "DISQUALIFIED by competitor: A competitor" in render_text(timeline)


def test_final_snapshot_decays_to_a_later_time() -> None:
    rulebook = make_rulebook()
    later = T0 + timedelta(days=60)
    timeline = explain(rulebook, _history(), "vera@acme.com", final_at=later)
    assert timeline.final is not None
    assert timeline.final.at == later
    assert timeline.final.engagement < 10  # funding: half-life 30 days
    assert timeline.final.fit == 45


def test_unknown_person_has_an_empty_timeline() -> None:
    timeline = explain(make_rulebook(), _history(), "nobody@acme.com")
    assert timeline.steps == () and timeline.final is None
    assert "no event in this history touched this person" in render_text(timeline)


def test_explain_many_defaults_to_everyone() -> None:
    timelines = explain_many(make_rulebook(), _history())
    assert sorted(timelines) == ["ana@acme.com", "vera@acme.com"]
    assert timelines["vera@acme.com"].max_total > timelines["ana@acme.com"].max_total


def test_render_text_lists_steps_reasons_and_fit() -> None:
    text = render_text(explain(make_rulebook(), _history(), "vera@acme.com"))
    assert "person vera@acme.com" in text
    assert "WINDOW signal_triggered" in text
    assert "duplicate event id: ignored" in text
    assert "no window: cooldown" in text
    assert "engagement reasons (points now, largest first):" in text
    assert "Raised a Series B" in text
    assert "Senior buyer" in text


@pytest.mark.parametrize("days", [0, 1, 7, 30])
def test_score_at_never_grows_with_time_alone(days: int) -> None:
    rulebook = make_rulebook()
    state = replay(rulebook, _history(), clock=lambda: T0 + timedelta(days=2))
    prospect = state.prospects["acme.com"]["vera@acme.com"]
    account = state.accounts["acme.com"]
    start = T0 + timedelta(days=2)
    now = score_at(rulebook, prospect, account, start + timedelta(days=days))
    later = score_at(rulebook, prospect, account, start + timedelta(days=days + 1))
    assert later.total <= now.total
    assert now.by_rule.keys() >= {"pricing_visit", "funding"}
    assert ACME["domain"] == account.account_key
