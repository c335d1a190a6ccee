"""Per-day caps, per-rule recency windows and count triggers (rulebook constructs).

The tables run against both scorers: the engine's running sums (`rules.core.engagement`)
and the full-history oracle (`rules.offline.history`)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from rules.core import engagement as running
from rules.core.engagement import Contribution
from rules.core.scoring import trigger_fires
from rules.core.state import Engagement, RuleSum
from rules.offline.history import day_capped, engagement, ranked
from rules.rulebook.loader import load_rulebook
from rules.rulebook.model import Rulebook, Trigger
from signals.models import SignalType
from tests.rules.builders import (
    ACME,
    PRICING_TWICE,
    T0,
    make_rulebook,
    opened,
    person,
    prospect_of,
    rulebook_data,
    run,
    visit,
)

EXAMPLE_PATH = Path(__file__).parents[3] / "rules" / "examples" / "b2b_saas.yaml"
DAY = datetime(2025, 3, 3, tzinfo=UTC)  # midnight UTC, a Monday
NEVER_DECAYS = 1e9  # half-life (days) for tables about caps, not decay


def contribution(
    event_id: str,
    at: datetime,
    *,
    rule: str = "pricing",
    points: float = 30,
    half_life: float = NEVER_DECAYS,
    cap: float | None = None,
    cap_per_day: float | None = None,
    within_days: float | None = None,
) -> Contribution:
    return Contribution(
        event_id=event_id,
        signal_type=SignalType.PAGE_VISITED,
        rule=rule,
        points=points,
        half_life_days=half_life,
        cap=cap,
        cap_per_day=cap_per_day,
        within_days=within_days,
        occurred_at=at,
        detail="d",
        play="signal_triggered",
    )


def sums_of(items: list[Contribution], *, recent: int = 20) -> tuple[RuleSum, ...]:
    """The running sums after adding `items` in the order given."""
    state = Engagement()
    for c in items:
        state = running.add(state, c, recent=recent)
    return state.sums


def running_total(items: list[Contribution], at: datetime, horizon_days: float = 90) -> float:
    return running.score(sums_of(items), at, horizon_days).total


def visits(hours: list[float], prefix: str = "v", **kwargs: Any) -> list[Contribution]:
    """One contribution per offset, in hours after DAY (midnight UTC)."""
    return [
        contribution(f"{prefix}{i}", DAY + timedelta(hours=h), **kwargs)
        for i, h in enumerate(hours)
    ]


# --- cap_per_day ---------------------------------------------------------------------------

_END_OF_DAY_3 = DAY + timedelta(days=2, hours=23, minutes=59)
_AFTERNOON = [13 + i * 0.25 for i in range(10)]  # ten visits in one afternoon

CAP_PER_DAY_CASES = [
    pytest.param(visits(_AFTERNOON, cap_per_day=30), _END_OF_DAY_3, 30, id="ten-in-a-day"),
    pytest.param(visits([9, 17], cap_per_day=30), _END_OF_DAY_3, 30, id="two-in-a-day"),
    pytest.param(visits([9], points=20, cap_per_day=30), _END_OF_DAY_3, 20, id="under-the-cap"),
    pytest.param(
        visits([13, 14, 15, 16, 17, 37, 38, 39, 40, 41], cap_per_day=30),
        _END_OF_DAY_3,
        60,
        id="two-days-count-twice",
    ),
    pytest.param(visits([23.5, 24.5], cap_per_day=30), _END_OF_DAY_3, 60, id="midnight-utc-splits"),
    pytest.param(visits(_AFTERNOON), _END_OF_DAY_3, 300, id="no-cap-per-day"),
    pytest.param(visits(_AFTERNOON, points=-5, cap_per_day=10), _END_OF_DAY_3, -10, id="penalty"),
    pytest.param(
        visits([12] * 10, half_life=1, cap_per_day=30),
        DAY + timedelta(days=1, hours=12),
        15,
        id="decay-still-applies",
    ),
    pytest.param(
        visits([12, 36, 60], cap_per_day=30, cap=50), _END_OF_DAY_3, 50, id="then-rule-cap"
    ),
    pytest.param(
        visits([9, 10], cap_per_day=30) + visits([9, 10], prefix="w", rule="docs", cap_per_day=30),
        _END_OF_DAY_3,
        60,
        id="each-rule-its-own-cap",
    ),
    pytest.param(
        visits([9, 10], cap_per_day=30) + visits([9.5], prefix="late", cap_per_day=30),
        _END_OF_DAY_3,
        30,
        id="a-late-event-shares-its-day",
    ),
]


@pytest.mark.parametrize(("items", "at", "expected"), CAP_PER_DAY_CASES)
def test_cap_per_day(items: list[Contribution], at: datetime, expected: float) -> None:
    total, _ = engagement(items, at, horizon_days=90)
    assert total == pytest.approx(expected, rel=1e-6)
    assert running_total(items, at) == pytest.approx(expected, rel=1e-6)


def test_oracle_counts_an_event_after_the_evaluation_time_as_nothing() -> None:
    """Only the oracle is asked about times before an event it holds; the engine always
    evaluates at its newest event time."""
    items = visits([9, 10], cap_per_day=30) + visits([11], prefix="late", cap_per_day=30)
    total, _ = engagement(items, DAY + timedelta(hours=10, minutes=30), horizon_days=90)
    assert total == pytest.approx(30)


@pytest.mark.parametrize(("items", "at", "expected"), CAP_PER_DAY_CASES)
def test_reasons_add_up_to_engagement_with_day_caps(
    items: list[Contribution], at: datetime, expected: float
) -> None:
    scored = ranked(items, at, horizon_days=90)
    assert sum(p for _, p in scored) == pytest.approx(engagement(items, at, horizon_days=90)[0])
    assert len(scored) == len(items)


def test_day_is_the_utc_day_whatever_the_offset() -> None:
    cest = timezone(timedelta(hours=2))
    # 01:00 on the 4th in UTC+2 is 23:00 on the 3rd in UTC: same day as the 10:00 UTC visit.
    items = [
        contribution("a", DAY + timedelta(hours=10), cap_per_day=30),
        contribution("b", datetime(2025, 3, 4, 1, 0, tzinfo=cest), cap_per_day=30),
    ]
    assert [p for _, p in day_capped(items)] == [15, 15]


def test_ten_visits_in_a_day_share_the_cap_evenly() -> None:
    assert [p for _, p in day_capped(visits(_AFTERNOON, cap_per_day=30))] == pytest.approx(
        [3.0] * 10
    )


# --- within_days and the horizon: whole UTC days -----------------------------------------


@pytest.mark.parametrize(
    ("age", "within_days", "horizon_days", "counts"),
    [
        (timedelta(days=13), 14, 90, True),
        (timedelta(days=13, hours=14), 14, 90, True),  # 01:00 thirteen days back: day 13
        (timedelta(days=13, hours=16), 14, 90, False),  # 23:00 fourteen days back: day 14
        (timedelta(days=14), 14, 90, False),
        (timedelta(0), 14, 90, True),
        (timedelta(hours=14), 1, 90, True),  # 01:00 the same UTC day
        (timedelta(hours=16), 1, 90, False),  # 23:00 the day before
        (timedelta(days=20), None, 90, True),  # no window: only the horizon
        (timedelta(days=20), 30, 10, False),  # the global horizon still applies
        (timedelta(days=89), None, 90, True),
        (timedelta(days=90), None, 90, False),
    ],
)
def test_within_days_and_horizon_count_whole_utc_days(
    age: timedelta, within_days: float | None, horizon_days: float, counts: bool
) -> None:
    # T0 is 15:00 UTC: an event `age` before it falls `day(T0) - day(event)` days back.
    items = [
        contribution("old", T0 - age, points=5, within_days=within_days),
        contribution("other", T0 - age, rule="other", points=1),
    ]
    total, by_rule = engagement(items, T0, horizon_days=horizon_days)
    assert ("pricing" in by_rule) is counts
    sums = sums_of(items)
    scored = running.score(sums, T0, horizon_days)
    assert ("pricing" in scored.by_rule) is counts
    assert scored.total == pytest.approx(total)
    assert sum(p for _, p in ranked(items, T0, horizon_days=horizon_days)) == pytest.approx(total)


def test_engine_keeps_the_rule_settings_with_its_sums() -> None:
    data = rulebook_data()
    rules = data["engagement"]["rules"]
    rules[0] = {**rules[0], "cap_per_day": 25}
    rules[2] = {**rules[2], "within_days": 14}
    replay = run(
        Rulebook.model_validate(data),
        [visit("v1", T0, who=person()), opened("o1", T0 + timedelta(hours=1))],
    )
    state = prospect_of(replay, "ana@acme.com")
    by_rule = {s.rule: s for s in state.engagement.sums}
    pricing, email = by_rule["pricing_visit"], by_rule["email_open"]
    assert (pricing.capped_per_day, pricing.days[0].cap, pricing.within_days) == (True, 25, None)
    assert (email.capped_per_day, email.within_days, email.half_life_days) == (False, 14, 3)


# --- count triggers ------------------------------------------------------------------------

A_FIT = person(seniority="vp")  # software 20 + size 10 + senior 15 = 45: tier A
B_FIT = person()  # 30: tier B


@pytest.mark.parametrize(
    ("who", "visits_at", "trigger", "expected"),
    [
        pytest.param(A_FIT, [(0, "/pricing"), (24, "/pricing")], {}, ["e1"], id="second-in-24h"),
        pytest.param(A_FIT, [(0, "/pricing"), (48, "/pricing")], {}, ["e1"], id="48h-apart"),
        pytest.param(A_FIT, [(0, "/pricing"), (49, "/pricing")], {}, [], id="49h-apart"),
        pytest.param(A_FIT, [(0, "/pricing")], {}, [], id="first-visit"),
        pytest.param(B_FIT, [(0, "/pricing"), (1, "/pricing")], {}, [], id="b-fit"),
        pytest.param(
            A_FIT, [(0, "/pricing"), (1, "/pricing"), (2, "/pricing")], {}, ["e1"], id="cooldown"
        ),
        pytest.param(
            A_FIT, [(0, "/pricing"), (1, "/pricing")], {"rule": None}, ["e1"], id="default-rule"
        ),
        pytest.param(A_FIT, [(0, "/pricing"), (1, "/docs")], {}, [], id="when-not-matched"),
        pytest.param(
            A_FIT,
            [(0, "/pricing"), (1, "/pricing"), (2, "/pricing")],
            {"min_count": 3},
            ["e2"],
            id="three",
        ),
        pytest.param(
            A_FIT,
            [(0, "/pricing"), (50, "/pricing")],
            {"within_hours": None},
            ["e1"],
            id="no-time-window",
        ),
    ],
)
def test_count_trigger(
    who: dict[str, Any],
    visits_at: list[tuple[float, str]],
    trigger: dict[str, Any],
    expected: list[str],
) -> None:
    # A threshold nobody reaches: only the trigger can open a window.
    rulebook = make_rulebook(threshold=500, triggers=[{**PRICING_TWICE, **trigger}])
    signals = [
        visit(f"e{i}", T0 + timedelta(hours=h), path=path, who=who, account=ACME)
        for i, (h, path) in enumerate(visits_at)
    ]
    replay = run(rulebook, signals, now=signals[-1].occurred_at)
    assert [w.trigger_event_id for w in replay.windows] == expected
    assert all(w.play == "signal_triggered" for w in replay.windows)


def _trigger(**fields: Any) -> Trigger:
    return Trigger.model_validate({**PRICING_TWICE, **fields})


@pytest.mark.parametrize(
    ("trigger", "history", "current", "fires"),
    [
        # Without a count, a trigger fires on its own signal, scored or not.
        (_trigger(rule=None, min_count=1, within_hours=None), [], None, True),
        (_trigger(rule=None), [], None, False),
        # The current signal counts once, whether or not the history holds it already.
        (_trigger(), visits([0]), contribution("now", DAY, rule="pricing_visit"), False),
        (
            _trigger(),
            visits([0], rule="pricing_visit", prefix="x"),
            contribution("now", DAY + timedelta(hours=1), rule="pricing_visit"),
            True,
        ),
        (
            _trigger(),
            [contribution("now", DAY, rule="pricing_visit")],
            contribution("now", DAY, rule="pricing_visit"),
            False,
        ),
        # Two visits in the same second are two visits (the sums hold the current one).
        (
            _trigger(),
            [
                contribution("first", DAY, rule="pricing_visit"),
                contribution("now", DAY, rule="pricing_visit"),
            ],
            contribution("now", DAY, rule="pricing_visit"),
            True,
        ),
        # A named rule is counted even when another rule scored the current signal.
        (
            _trigger(min_count=1),
            visits([0], rule="pricing_visit"),
            contribution("now", DAY + timedelta(hours=1), rule="email_open"),
            True,
        ),
        # Later events do not count towards an earlier signal.
        (
            _trigger(),
            visits([5], rule="pricing_visit"),
            contribution("now", DAY + timedelta(hours=1), rule="pricing_visit"),
            False,
        ),
    ],
)
def test_trigger_fires(
    trigger: Trigger, history: list[Contribution], current: Contribution | None, fires: bool
) -> None:
    at = current.occurred_at if current is not None else DAY
    assert trigger_fires(trigger, sums_of(history), current, at) is fires


# --- validation ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("trigger", "rule", "message"),
    [
        (
            {"rule": "pricing"},
            {},
            "trigger 'pricing-twice' counts rule 'pricing', which is not an engagement rule",
        ),
        ({"min_count": 0}, {}, "greater than or equal to 1"),
        ({"min_count": 21}, {}, "less than or equal to 20"),
        ({"within_hours": 0}, {}, "greater than 0"),
        ({}, {"cap_per_day": 0}, "greater than 0"),
        ({}, {"within_days": -1}, "greater than 0"),
    ],
)
def test_validation_errors(trigger: dict[str, Any], rule: dict[str, Any], message: str) -> None:
    data = rulebook_data(triggers=[{**PRICING_TWICE, **trigger}])
    rules = data["engagement"]["rules"]
    rules[0] = {**rules[0], **rule}
    with pytest.raises(ValidationError, match=message):
        Rulebook.model_validate(data)


def test_example_rulebook_uses_the_constructs() -> None:
    example = load_rulebook(EXAMPLE_PATH)
    rules = {r.name: r for r in example.engagement.rules}
    assert rules["pricing-page"].cap_per_day == 30
    assert rules["email-opened"].within_days == 14
    trigger = next(t for t in example.windows.triggers if t.min_count > 1)
    assert (trigger.rule, trigger.min_count, trigger.within_hours, trigger.min_fit_tier) == (
        "pricing-page",
        2,
        48,
        "A",
    )


# --- properties ----------------------------------------------------------------------------

_RULES = ("a", "b")
_events = st.lists(
    st.tuples(
        st.sampled_from(_RULES),
        st.integers(min_value=0, max_value=5 * 24 * 60),  # minutes after DAY
        st.floats(min_value=0, max_value=50),
    ),
    max_size=30,
)
_caps = st.fixed_dictionaries(
    {r: st.none() | st.floats(min_value=0.5, max_value=100) for r in _RULES}
)
_AT = DAY + timedelta(days=6)


def _items(
    events: list[tuple[str, int, float]],
    caps: dict[str, float | None],
    *,
    sign: float = 1,
    rule_cap: float | None = None,
) -> list[Contribution]:
    return [
        contribution(
            f"e{i}",
            DAY + timedelta(minutes=minute),
            rule=rule,
            points=sign * points,
            half_life=3,
            cap=rule_cap,
            cap_per_day=caps[rule],
        )
        for i, (rule, minute, points) in enumerate(events)
    ]


@given(events=_events, caps=_caps, sign=st.sampled_from([1, -1]))
def test_day_caps_are_never_exceeded(
    events: list[tuple[str, int, float]], caps: dict[str, float | None], sign: float
) -> None:
    per_day: dict[tuple[str, object], float] = {}
    for c, points in day_capped(_items(events, caps, sign=sign)):
        key = (c.rule, c.occurred_at.date())
        per_day[key] = per_day.get(key, 0.0) + points
    for (rule, _), total in per_day.items():
        cap = caps[rule]
        if cap is not None:
            assert abs(total) <= cap * (1 + 1e-9)


@given(events=_events, caps=_caps, rule_cap=st.none() | st.floats(min_value=1, max_value=200))
def test_day_caps_never_raise_engagement(
    events: list[tuple[str, int, float]],
    caps: dict[str, float | None],
    rule_cap: float | None,
) -> None:
    capped = _items(events, caps, rule_cap=rule_cap)
    uncapped = _items(events, dict.fromkeys(_RULES), rule_cap=rule_cap)
    with_caps, _ = engagement(capped, _AT, horizon_days=90)
    without, _ = engagement(uncapped, _AT, horizon_days=90)
    assert with_caps <= without + 1e-9
    assert math.isclose(
        sum(p for _, p in ranked(capped, _AT, horizon_days=90)), with_caps, abs_tol=1e-6
    )


@given(events=_events, caps=_caps, data=st.data())
def test_day_caps_ignore_arrival_order(
    events: list[tuple[str, int, float]], caps: dict[str, float | None], data: st.DataObject
) -> None:
    items = _items(events, caps)
    shuffled = data.draw(st.permutations(items))
    assert math.isclose(
        engagement(items, _AT, horizon_days=90)[0],
        engagement(shuffled, _AT, horizon_days=90)[0],
        rel_tol=1e-9,
        abs_tol=1e-9,
    )
    assert math.isclose(
        running_total(items, _AT), running_total(shuffled, _AT), rel_tol=1e-9, abs_tol=1e-9
    )
