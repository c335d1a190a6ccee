"""`rules.core.standing.person_score`: the score API's answer, from stored states (no broker)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from rules.core.decide import SUPPRESSION_REASONS
from rules.core.standing import person_score
from rules.core.state import Suppression
from rules.offline.replay import Replay
from signals.person_score import PersonScore
from tests.rules.builders import (
    ACME,
    RIVAL,
    T0,
    days,
    make_rulebook,
    opened,
    person,
    prospect_of,
    visit,
)

ANA = person(name="Ana Lima", seniority="vp", timezone="Europe/Berlin")


def _hot() -> tuple[Replay, float]:
    """Ana visits pricing twice a day apart: a window opens at the second visit."""
    r = Replay(make_rulebook())
    r.apply(visit("e1", T0, who=ANA), T0)
    r.apply(opened("e0", T0 + timedelta(hours=1), who=ANA), T0 + timedelta(hours=1))
    r.apply(visit("e2", T0 + days(1), who=ANA), T0 + days(1))
    assert len(r.windows) == 1
    return r, r.windows[0].score.total


def _score(r: Replay, pk: str, at, **kwargs) -> PersonScore:  # type: ignore[no-untyped-def]
    prospect = prospect_of(r, pk)
    account = r.accounts.get(prospect.account_key or "")
    return person_score(r.rulebook, prospect, account, at, **kwargs)


def test_at_the_window_it_agrees_with_the_window_and_names_the_cooldown() -> None:
    r, _ = _hot()
    window = r.windows[0]
    got = _score(r, "ana@acme.com", window.as_of)
    assert (got.fit, got.engagement, got.total) == (
        window.score.fit,
        window.score.engagement,
        window.score.total,
    )
    assert got.tier == window.score.fit_tier == "A" and got.threshold == 80
    assert [(x.event_id, x.points) for x in got.reasons] == [
        (x.event_id, x.points) for x in window.reasons
    ]
    assert got.fit_reasons == window.fit_reasons
    assert got.open_window is not None and got.open_window.window_id == window.window_id
    assert got.open_window.expires_at == window.draft.expires_at
    now = got.window_now
    assert (now.would_open, now.blocked_by) == (False, "cooldown")
    assert now.cooldown_until == window.as_of + days(7)
    assert now.below_threshold_by is None and now.disqualified_by is None
    assert (got.rulebook.version, got.rulebook.hash) == ("test-1", r.rulebook.hash)
    assert (got.account_key, got.person_key, got.as_of) == (
        "acme.com",
        "ana@acme.com",
        window.as_of,
    )


def test_later_the_score_has_decayed_the_window_expired_and_the_cooldown_ended() -> None:
    r, _ = _hot()
    window = r.windows[0]
    at = window.as_of + days(10)
    got = _score(r, "ana@acme.com", at)
    assert got.as_of == at
    assert 0 < got.engagement < window.score.engagement
    assert got.reasons and all(
        later.points < earlier.points
        for later, earlier in zip(got.reasons, window.reasons, strict=False)
    )
    assert got.open_window is None
    assert got.window_now.cooldown_until is None
    assert got.window_now.blocked_by == "below_threshold"
    assert got.window_now.below_threshold_by == pytest.approx(80 - got.total, abs=0.01)


def test_a_cold_person_is_below_threshold_by_the_gap() -> None:
    r = Replay(make_rulebook())
    r.apply(visit("c1", T0, who=person("cy@acme.com")), T0)
    got = _score(r, "cy@acme.com", T0 + timedelta(hours=1))
    assert got.window_now.would_open is False
    assert got.window_now.blocked_by == "below_threshold"
    assert got.window_now.below_threshold_by == pytest.approx(80 - got.total, abs=0.01)
    assert got.window_now.below_threshold_by > 0
    assert got.open_window is None and [x.event_id for x in got.reasons] == ["c1"]


def test_a_disqualified_person_names_the_disqualifier() -> None:
    r = Replay(make_rulebook())
    r.apply(visit("d1", T0, who=person("eve@rival.io", seniority="vp"), account=RIVAL), T0)
    got = _score(r, "eve@rival.io", T0 + timedelta(hours=1))
    assert (got.window_now.blocked_by, got.window_now.disqualified_by) == (
        "disqualified",
        "competitor",
    )


def test_an_opt_out_anywhere_blocks_and_is_shown() -> None:
    r, _ = _hot()
    at = r.windows[0].as_of + days(8)  # past the cooldown
    stopped = Suppression(opted_out_at=T0 + days(2), bounced=(("email", T0 + days(3)),))
    r.suppressions["ana@acme.com"] = stopped
    assert r.apply(visit("e3", at, who=ANA), at).windows == ()  # the engine refuses too
    got = _score(r, "ana@acme.com", at, suppression=stopped)
    assert got.window_now.blocked_by == "opted_out" and not got.window_now.would_open
    assert got.window_now.suppression is not None
    assert got.window_now.suppression.opted_out_at == T0 + days(2)
    assert [(b.channel, b.at) for b in got.window_now.suppression.bounced] == [
        ("email", T0 + days(3))
    ]
    assert _score(r, "ana@acme.com", at, suppression=Suppression()).window_now.suppression is None


def test_after_a_reload_that_lowers_the_threshold_a_window_would_open() -> None:
    r = Replay(make_rulebook())
    assert r.apply(visit("q1", T0, who=person("qi@acme.com")), T0).windows == ()
    lowered = make_rulebook(threshold=50)  # 30 fit + 25 engagement now reach it
    state = prospect_of(r, "qi@acme.com")
    got = person_score(lowered, state, r.accounts["acme.com"], T0 + timedelta(minutes=5))
    assert got.window_now.would_open and got.window_now.blocked_by is None
    assert got.window_now.play == "signal_triggered"


def test_an_event_ahead_of_the_clock_is_scored_at_its_own_time() -> None:
    r = Replay(make_rulebook())
    r.apply(visit("f1", T0 + timedelta(minutes=3), who=ANA, account=ACME), T0)
    got = _score(r, "ana@acme.com", T0)
    assert got.as_of == T0 + timedelta(minutes=3) and got.engagement == 25


def test_the_published_schema_lists_every_refusal_of_the_engine() -> None:
    schema = PersonScore.model_json_schema(mode="serialization")
    blocked = schema["$defs"]["WindowNow"]["properties"]["blocked_by"]["anyOf"]
    listed = {value for option in blocked for value in option.get("enum", ())}
    assert listed == set(SUPPRESSION_REASONS)


def test_the_answer_round_trips_through_its_json() -> None:
    r, _ = _hot()
    got = _score(r, "ana@acme.com", r.windows[0].as_of + days(1))
    assert PersonScore.model_validate_json(got.model_dump_json()) == got
