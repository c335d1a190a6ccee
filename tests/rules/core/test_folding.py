"""Folding old days into periods: the bound `rules.core.folding` documents, on any history.

The oracle is the full-history scorer (`rules.offline.history`); `fold_bound`
(tests/rules/core/fold_bound.py) restates the documented bound. On long histories (up to
120 days, late arrivals) and on test_engagement's dense short ones, the running sums must
be within that bound of the oracle, exact (1e-9) while it is 0.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rules.core import engagement as running
from rules.core.engagement import Contribution
from rules.core.folding import exact_days, fold
from rules.core.state import PERIOD_DAYS, DaySum, Engagement, Period, RuleSum
from tests.rules.core.fold_bound import assert_agrees_with_the_oracle
from tests.rules.core.test_engagement import histories

DAY0 = datetime(2025, 3, 3, tzinfo=UTC)
RULES = ("pricing", "docs", "open")


@st.composite
def long_histories(draw: st.DrawFn) -> tuple[list[Contribution], float]:
    """Contributions over up to 120 days in arrival order (late ones too), and a horizon."""
    horizon = draw(st.sampled_from([10.0, 30.0, 90.0]))
    params = {
        rule: (
            draw(st.sampled_from([-5.0, 2.0, 10.0, 30.0])),
            draw(st.sampled_from([0.5, 1.0, 3.0, 7.0, 30.0])),
            draw(st.none() | st.floats(1, 120)),
            draw(st.none() | st.floats(1, 60)),
            draw(st.none() | st.sampled_from([2.5, 14.0, 60.0])),
        )
        for rule in RULES
    }
    items = []
    for i in range(draw(st.integers(1, 60))):
        rule = draw(st.sampled_from(RULES))
        points, half_life, cap, cap_per_day, within = params[rule]
        minutes = draw(st.integers(0, 120 * 24 * 60))
        items.append(
            Contribution(
                event_id=f"e{i:03}",
                signal_type="page_visited",
                rule=rule,
                points=points,
                half_life_days=half_life,
                occurred_at=DAY0 + timedelta(minutes=minutes),
                detail=rule,
                cap=cap,
                cap_per_day=cap_per_day,
                within_days=within,
            )
        )
    if draw(st.booleans()):  # mostly in time order, with some late arrivals
        items.sort(key=lambda c: c.occurred_at)
        for _ in range(draw(st.integers(0, 5))):
            i, j = draw(st.integers(0, len(items) - 1)), draw(st.integers(0, len(items) - 1))
            items[i], items[j] = items[j], items[i]
    return items, horizon


@settings(max_examples=400, deadline=None)
@given(
    st.one_of(long_histories(), histories()),
    st.lists(st.integers(0, 100 * 24 * 60), min_size=1, max_size=3),
)
def test_folded_sums_stay_within_the_documented_bound_of_the_full_history(
    case: tuple[list[Contribution], float], later_minutes: list[int]
) -> None:
    items, horizon = case
    assert_agrees_with_the_oracle(items, horizon, later_minutes)


@settings(max_examples=150, deadline=None)
@given(st.one_of(long_histories(), histories()))
def test_state_is_bounded_by_rules_exact_days_and_periods_not_by_events(
    case: tuple[list[Contribution], float],
) -> None:
    items, horizon = case
    state = Engagement()
    for c in items:  # in arrival order, pruned at each event's own time
        state = running.prune(running.add(state, c, recent=3), c.occurred_at, horizon)
    state = running.prune(state, max(c.occurred_at for c in items), horizon)
    assert len(state.sums) <= len(RULES)  # one per rule setting
    for s in state.sums:
        assert len(s.days) <= exact_days(s, horizon, s.half_life_days)
        assert len({d.day for d in s.days}) == len(s.days)
        assert len(s.periods) <= math.ceil(horizon / PERIOD_DAYS) + 1
        assert all(p.start % PERIOD_DAYS == 0 for p in s.periods)
        assert [p.start for p in s.periods] == sorted({p.start for p in s.periods})
        if s.periods and s.days:
            assert s.periods[-1].start <= s.days[0].day
        assert len(s.recent) <= 3
    counted = sum(d.count for s in state.sums for d in s.days)
    assert counted + sum(p.count for s in state.sums for p in s.periods) <= len(items)


def _sum(capped: bool, half_life: float, within: float | None = None) -> RuleSum:
    return RuleSum("r", half_life, within, capped, None, 0, 0.0)


@pytest.mark.parametrize(
    ("capped", "half_life", "within", "horizon", "exact"),
    [
        (True, 3, None, 90, 13),  # capped: 4 half-lives and a day, so 2**-4 at most
        (True, 5, None, 90, 21),
        (True, 0.5, None, 90, 3),
        (False, 14, None, 90, 1),  # uncapped: periods expire when 4+ half-lives old
        (False, 3, 14, 90, 13),  # within 14 days a fortnight's period would expire young
        (False, 30, None, 90, 121),  # longer than the horizon: nothing ever folds
    ],
)
def test_exact_window(
    capped: bool, half_life: float, within: float | None, horizon: float, exact: int
) -> None:
    assert exact_days(_sum(capped, half_life, within), horizon, half_life) == exact


def test_a_capped_rule_under_two_half_lives_folds_by_the_longer() -> None:
    assert exact_days(_sum(True, 1), 90, 7) == 29


def test_folding_keeps_the_value_and_moves_old_days_into_their_period() -> None:
    h = 3.0
    days = (DaySum(20146, 8.0, 10, 5), DaySum(20150, 4.0, 4, 5), DaySum(20170, 2.0, 2, 5))
    s = msgspec.structs.replace(_sum(True, h), days=days, value=0.0, anchor=20170)
    folded = fold(s, 20172, 90, h)
    assert folded is not None
    assert folded.days == days[2:]  # 20170 is 2 days old: exact
    # 20146 and 20150 share the period from 20146: the first capped by half (5 of 10)
    assert folded.periods == (Period(20146, 0.5 * 8.0 + 4.0 * 2 ** (4 / h), 2, 0),)
    before = sum(min(1.0, 5 / d.raw) * d.weighted * 2 ** ((d.day - 20170) / h) for d in days)
    assert math.isclose(folded.value, before, rel_tol=1e-12)
    assert fold(folded, 20172, 90, h) is folded  # nothing more to do: the same object


def test_a_period_stops_counting_when_its_first_day_leaves_the_horizon() -> None:
    s = msgspec.structs.replace(
        _sum(False, 14), periods=(Period(20146, 1.0, 1, 13),), value=1.0, anchor=20146
    )
    assert fold(s, 20146 + 89, 90, 14) is s
    assert fold(s, 20146 + 90, 90, 14) is None  # day 20159 would count one day more
