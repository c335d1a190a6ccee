"""Invariants of the pure core, checked over generated events (hypothesis)."""

from __future__ import annotations

import itertools
import math
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from rules.core.contribution import contribution_of
from rules.core.decide import basis, evaluation_time
from rules.core.draft import COUNTRY_ZONES
from rules.core.engagement import Contribution, score
from rules.core.facts import facts_for
from rules.core.fitcache import fit_of
from rules.core.scoring import match_engagement_rule, tier_at_least
from rules.core.sendtime import send_at
from rules.offline import history
from rules.offline.replay import Replay
from rules.rulebook.cadence import CadenceRules
from rules.rulebook.model import Rulebook
from signals.identity import person_key, signal_account_key
from signals.models import Signal, SignalType
from signals.records import record_of
from tests.rules.builders import (
    ACME,
    ACME_BARE,
    NOW,
    PRICING_TWICE,
    T0,
    funding,
    make_rulebook,
    moved,
    opened,
    person,
    run,
    visit,
)

RULEBOOK = make_rulebook()
WITH_TRIGGER = make_rulebook(triggers=[PRICING_TWICE])
_BOOKKEEPING = (
    "last_window_at",
    "last_window_id",
    "windows_opened",
    "open_window_id",
    "open_window_expires_at",
)


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


def _close(a: Any, b: Any, path: str = "") -> None:
    """Equal, except floats (sums in another order round differently) to 1e-9."""
    if isinstance(a, float) and isinstance(b, float):
        assert math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9), (path, a, b)
    elif isinstance(a, dict) and isinstance(b, dict):
        assert a.keys() == b.keys(), path
        for k in a:
            _close(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list | tuple) and isinstance(b, list | tuple):
        assert len(a) == len(b), (path, a, b)
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _close(x, y, f"{path}[{i}]")
    else:
        assert a == b, (path, a, b)


def _final(rulebook: Rulebook, signals: list[Signal]) -> dict[str, Any]:
    """Every stored state, as builtins, without what may depend on arrival order: the
    window bookkeeping, which few contributions were kept whole along the way, and the
    stamps of merged attributes (an event repeating a value does not restamp it)."""
    r = run(rulebook, signals)
    out: dict[str, Any] = {"accounts": {}, "prospects": {}}
    for key, state in r.accounts.items():
        data = msgspec.to_builtins(state)
        data[2][1] = None  # engagement.notable
        data[5] = None  # stamps
        out["accounts"][key] = data
    for key, people in r.prospects.items():
        for pk, p in people.items():
            p = msgspec.structs.replace(p, **dict.fromkeys(_BOOKKEEPING))
            data = msgspec.to_builtins(p)
            data[3][1] = None  # engagement.notable
            data[6] = None  # stamps
            out["prospects"][(key, pk)] = data
    return out


@settings(max_examples=150, deadline=None)
@given(events(), st.randoms(use_true_random=False))
def test_arrival_order_does_not_change_the_final_state(signals: list[Signal], rnd: Any) -> None:
    shuffled = list(signals)
    rnd.shuffle(shuffled)
    _close(_final(RULEBOOK, shuffled), _final(RULEBOOK, signals))


@settings(max_examples=50, deadline=None)
@given(events(), st.randoms(use_true_random=False))
def test_without_windows_the_whole_state_is_order_independent(
    signals: list[Signal], rnd: Any
) -> None:
    shuffled = list(signals)
    rnd.shuffle(shuffled)
    one = run(make_rulebook(threshold=10_000), signals)
    two = run(make_rulebook(threshold=10_000), shuffled)
    assert one.windows == two.windows == []
    for key, people in one.prospects.items():
        for pk, p in people.items():
            _close(
                msgspec.to_builtins(p.engagement.sums),
                msgspec.to_builtins(two.prospects[key][pk].engagement.sums),
            )
            assert p.seen == two.prospects[key][pk].seen
            assert p.person == two.prospects[key][pk].person


@settings(max_examples=100, deadline=None)
@given(events(), st.data())
def test_a_duplicate_changes_nothing(signals: list[Signal], data: st.DataObject) -> None:
    r = run(RULEBOOK, signals)
    before = (msgspec.to_builtins(r.prospects), msgspec.to_builtins(r.accounts))
    again = r.apply(data.draw(st.sampled_from(signals)), NOW)
    assert again.duplicate and not again.windows and not again.prospects
    assert (msgspec.to_builtins(r.prospects), msgspec.to_builtins(r.accounts)) == before


def _oracle_trigger(
    rulebook: Rulebook, signal: Signal, contributions: list[Contribution], tier: str
) -> bool:
    """Whether a window trigger fires, counted on the full list of contributions."""
    rec = record_of(signal)
    facts = facts_for(rec, rec.person, rec.account)
    for t in rulebook.windows.triggers:
        if t.signal != rec.type or (t.when is not None and not t.when.evaluate(facts)):
            continue
        rule = t.rule
        assert rule is not None  # the test's trigger names its rule
        count = history.recent_count(
            contributions, rule, rec.occurred_at, t.within_hours, rulebook.recent_kept
        )
        if count >= t.min_count and tier_at_least(tier, t.min_fit_tier):
            return True
    return False


@settings(max_examples=200, deadline=None)
@given(events(), st.randoms(use_true_random=False), st.sampled_from(["plain", "trigger"]))
def test_engine_agrees_with_the_full_history_oracle(
    signals: list[Signal], rnd: Any, variant: str
) -> None:
    """The running sums give the same totals, tiers and window decisions as re-scoring
    every contribution, on histories that arrive late and out of order."""
    rulebook = WITH_TRIGGER if variant == "trigger" else RULEBOOK
    arrival = list(signals)
    rnd.shuffle(arrival)
    r = Replay(rulebook)
    applied: dict[tuple[str | None, str | None], list[Contribution]] = {}
    horizon = rulebook.engagement.horizon_days
    for sig in arrival:
        rec = record_of(sig)
        key = signal_account_key(rec.account, rec.person)
        account_level = rec.type == SignalType.FUNDING_ANNOUNCED or rec.person is None
        pk = None if account_level else person_key(rec.person)  # type: ignore[arg-type]
        before = r.prospect(key, pk) if pk is not None else None
        outcome = r.apply(sig, NOW)
        if outcome.verdict != "applied":
            continue
        facts = facts_for(rec, None if account_level else rec.person, rec.account)
        rule = match_engagement_rule(rulebook, rec, facts)
        if rule is not None:
            applied.setdefault((key, pk), []).append(contribution_of(rulebook, rule, rec, facts))
        if pk is None:
            continue  # fan-out ranks on the same totals, checked for the people below
        state = r.prospect(key, pk)
        assert state is not None
        account = r.accounts.get(key) if key is not None else None
        at = evaluation_time(state, account)
        sums, _, person_account = basis(state, account)
        mine = applied.get((key, pk), [])
        theirs = applied.get((key, None), []) if person_account is not None else []
        oracle, _ = history.engagement([*mine, *theirs], at, horizon_days=horizon)
        engine = score(sums, at, horizon).total
        assert math.isclose(engine, oracle, rel_tol=1e-9, abs_tol=1e-9)
        fit_points, _, tier, disqualified = fit_of(rulebook, state.person, person_account, None)
        last = before.last_window_at if before is not None else None
        qualifies = (
            disqualified is None
            and (
                fit_points + oracle >= rulebook.windows.threshold
                or _oracle_trigger(rulebook, sig, mine, tier)
            )
            and (last is None or at - last >= timedelta(days=rulebook.windows.cooldown_days))
        )
        opened_now = any(w.person_key == pk for w in outcome.windows)
        assert opened_now is qualifies, (sig.event_id, engine, fit_points, tier)


@settings(max_examples=100, deadline=None)
@given(events())
def test_a_disqualified_person_never_opens_a_window(signals: list[Signal]) -> None:
    student = person("stu@acme.com", title="Student", seniority="vp")
    at = T0 + timedelta(days=1)
    mixed = [*signals, *(visit(f"s{i}", at, who=student) for i in range(5))]
    r = run(make_rulebook(cooldown_days=0), mixed)
    assert all(w.person_key != "stu@acme.com" for w in r.windows)


@settings(max_examples=100, deadline=None)
@given(events())
def test_windows_respect_threshold_cooldown_and_business_hours(signals: list[Signal]) -> None:
    ordered = sorted(signals, key=lambda s: s.occurred_at)
    r = run(RULEBOOK, ordered)
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
