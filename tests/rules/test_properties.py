"""Invariants of the pure core, checked over generated events (hypothesis)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from rules.core.draft import COUNTRY_ZONES
from rules.core.scoring import decayed, engagement
from rules.core.sendtime import send_at
from rules.core.state import Contribution, ProspectState
from rules.rulebook.cadence import CadenceRules
from signals.models import Signal, SignalType
from tests.rules.engine_builders import (
    ACME,
    ACME_BARE,
    T0,
    Replay,
    funding,
    make_rulebook,
    moved,
    opened,
    person,
    visit,
)

RULEBOOK = make_rulebook()
_WINDOW_BOOKKEEPING = {
    "last_window_at": None,
    "last_window_id": None,
    "windows_opened": 0,
    "open_window_id": None,
    "open_window_expires_at": None,
}

points = st.floats(-1000, 1000, allow_nan=False)
half_lives = st.floats(0.01, 3650, allow_nan=False)
ages = st.floats(0, 3650, allow_nan=False)


@given(points, half_lives, ages, ages)
def test_decay_never_raises_a_score(p: float, half_life: float, a: float, b: float) -> None:
    young, old = sorted((a, b))
    assert abs(decayed(p, half_life, old)) <= abs(decayed(p, half_life, young)) <= abs(p)


@st.composite
def contributions(draw: st.DrawFn) -> list[Contribution]:
    rules = ["a", "b", "c"]
    caps = {r: draw(st.none() | st.floats(0.1, 100)) for r in rules}
    return [
        Contribution(
            event_id=f"e{i}",
            signal_type=SignalType.PAGE_VISITED,
            rule=(rule := draw(st.sampled_from(rules))),
            points=draw(points),
            half_life_days=draw(half_lives),
            cap=caps[rule],
            occurred_at=T0 - timedelta(days=draw(st.floats(-5, 100))),
            detail="d",
            play="signal_triggered",
        )
        for i in range(draw(st.integers(0, 12)))
    ]


@given(contributions())
def test_caps_are_never_exceeded(items: list[Contribution]) -> None:
    total, breakdown = engagement(items, T0, horizon_days=90)
    caps = {c.rule: c.cap for c in items}
    for rule, value in breakdown.items():
        cap = caps[rule]
        if cap is not None:
            assert abs(value) <= cap + 1e-9
    assert abs(total - sum(breakdown.values())) < 1e-6


# -- the engine over generated event streams ------------------------------------------------

PEOPLE = [
    person(seniority="vp", name="Ana", timezone="Europe/Berlin"),
    person("bo@acme.com", title="Engineer"),
    person("cy@acme.com", seniority="director", title="Head of Ops"),
]
ACCOUNTS: list[dict[str, Any] | None] = [ACME, ACME_BARE, None]
PATHS = ["/pricing", "/pricing/enterprise", "/docs", "/blog"]


@st.composite
def events(draw: st.DrawFn) -> list[Signal]:
    out: list[Signal] = []
    for i in range(draw(st.integers(1, 12))):
        at = T0 + timedelta(hours=draw(st.integers(0, 24 * 40)))
        who = draw(st.sampled_from(PEOPLE))
        kind = draw(st.sampled_from(["visit", "open", "move", "funding", "account_visit"]))
        eid = f"e{i}"
        if kind == "visit":
            account = draw(st.sampled_from(ACCOUNTS))
            out.append(visit(eid, at, draw(st.sampled_from(PATHS)), who=who, account=account))
        elif kind == "open":
            out.append(opened(eid, at, who=who, account=draw(st.sampled_from(ACCOUNTS))))
        elif kind == "move":
            out.append(moved(eid, at, who=who, new_title=draw(st.sampled_from(["VP", "CRO"]))))
        elif kind == "funding":
            out.append(funding(eid, at, round_=draw(st.sampled_from(["Seed", "Series A"]))))
        else:
            out.append(visit(eid, at, draw(st.sampled_from(PATHS)), account=ACME))
    return out


def _final(signals: list[Signal], **windows: Any) -> tuple[dict[str, bytes], dict[str, bytes]]:
    r = Replay(make_rulebook(**windows)).run(signals)
    prospects = {k: _without_bookkeeping(v).to_bytes() for k, v in r.prospects.items()}
    return prospects, {k: v.to_bytes() for k, v in r.accounts.items()}


def _without_bookkeeping(state: ProspectState) -> ProspectState:
    # Whether a window opened along the way may depend on arrival order; nothing else may.
    return state.model_copy(update=_WINDOW_BOOKKEEPING)


@settings(max_examples=150, deadline=None)
@given(events(), st.randoms(use_true_random=False))
def test_arrival_order_does_not_change_the_final_state(signals: list[Signal], rnd: Any) -> None:
    shuffled = list(signals)
    rnd.shuffle(shuffled)
    assert _final(shuffled) == _final(signals)


@settings(max_examples=50, deadline=None)
@given(events(), st.randoms(use_true_random=False))
def test_without_windows_the_whole_state_is_order_independent(
    signals: list[Signal], rnd: Any
) -> None:
    shuffled = list(signals)
    rnd.shuffle(shuffled)
    one = Replay(make_rulebook(threshold=10_000)).run(signals)
    two = Replay(make_rulebook(threshold=10_000)).run(shuffled)
    assert {k: v.to_bytes() for k, v in one.prospects.items()} == {
        k: v.to_bytes() for k, v in two.prospects.items()
    }
    assert one.windows == two.windows == []


@settings(max_examples=100, deadline=None)
@given(events(), st.data())
def test_a_duplicate_changes_nothing(signals: list[Signal], data: st.DataObject) -> None:
    r = Replay(RULEBOOK).run(signals)
    before = (
        {k: v.to_bytes() for k, v in r.prospects.items()},
        {k: v.to_bytes() for k, v in r.accounts.items()},
    )
    again = r.apply(data.draw(st.sampled_from(signals)))
    assert again.duplicate and not again.windows and not again.prospects
    after = (
        {k: v.to_bytes() for k, v in r.prospects.items()},
        {k: v.to_bytes() for k, v in r.accounts.items()},
    )
    assert after == before


@settings(max_examples=100, deadline=None)
@given(events())
def test_a_disqualified_person_never_opens_a_window(signals: list[Signal]) -> None:
    student = person("stu@acme.com", title="Student", seniority="vp")
    at = T0 + timedelta(days=1)
    mixed = [*signals, *(visit(f"s{i}", at, who=student) for i in range(5))]
    r = Replay(make_rulebook(cooldown_days=0)).run(mixed)
    assert all(w.person_key != "stu@acme.com" for w in r.windows)


@settings(max_examples=100, deadline=None)
@given(events())
def test_windows_respect_threshold_cooldown_and_business_hours(signals: list[Signal]) -> None:
    ordered = sorted(signals, key=lambda s: s.occurred_at)
    r = Replay(RULEBOOK).run(ordered)
    by_person: dict[str, list[datetime]] = {}
    for w in r.windows:
        assert w.score.total >= w.score.threshold - 0.01
        points = [x.points for x in w.reasons]
        assert points == sorted(points, reverse=True)
        local = w.draft.send_at.astimezone(ZoneInfo(w.draft.timezone))
        assert local.weekday() < 5 and 9 <= local.hour < 17
        by_person.setdefault(w.person_key, []).append(w.as_of)
    cooldown = timedelta(days=RULEBOOK.windows.cooldown_days)
    for times in by_person.values():
        assert all(b - a >= cooldown for a, b in itertools.pairwise(times))


@given(
    st.datetimes(
        min_value=datetime(2020, 1, 1),  # noqa: DTZ001 - hypothesis wants naive bounds
        max_value=datetime(2035, 1, 1),  # noqa: DTZ001
        timezones=st.just(UTC),
    ),
    st.sampled_from(sorted({*COUNTRY_ZONES.values(), "UTC", "Pacific/Chatham"})),
    st.booleans(),
)
def test_send_at_is_inside_business_hours_and_not_before_opening(
    base: datetime, zone: str, hot: bool
) -> None:
    slot = send_at(base, timezone=zone, urgency="now" if hot else "flexible", rules=CadenceRules())
    local = slot.astimezone(ZoneInfo(zone))
    assert slot >= base
    assert local.weekday() < 5 and 9 <= local.hour < 17
    assert slot - base <= timedelta(days=4)
