"""The fold bound `rules.core.folding` documents, restated independently of the code, and
the replay that holds the running sums to it (used by test_folding and test_engagement).

`fold_bound` says which contributions the fold may misvalue (a per-day-capped sum's days
more than `ceil(4 h) + 1` days before the watermark; an uncapped sum's days whose period
stopped counting before they did) and by how much at most (their decayed points); every
such contribution must be at most `FOLD_TOLERANCE` of its points.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import datetime, timedelta

from rules.core import engagement as running
from rules.core.engagement import Contribution
from rules.core.folding import FOLD_TOLERANCE
from rules.core.state import PERIOD_DAYS, Engagement
from rules.offline import history

__all__ = ["assert_agrees_with_the_oracle", "fold_bound", "within_fold_bound"]


def _exact(c: Contribution, horizon: float) -> int:
    lasts = horizon if c.within_days is None else min(horizon, c.within_days)
    safe = math.ceil(4 * c.half_life_days) + 1
    if c.cap_per_day is None and lasts - PERIOD_DAYS >= 4 * c.half_life_days:
        return 1
    return safe


def _misvalued(c: Contribution, wm_day: int, today: int, horizon: float) -> bool:
    day = running.day_of(c.occurred_at)
    if wm_day - day < _exact(c, horizon):
        return False  # never folded: exact
    if c.cap_per_day is not None:
        return True  # its day's cap is approximate once folded
    lasts = horizon if c.within_days is None else min(horizon, c.within_days)
    start = day - day % PERIOD_DAYS
    return today - start >= lasts > today - day  # its period expired before it did


def fold_bound(applied: Iterable[Contribution], wm_day: int, at: datetime, horizon: float) -> float:
    """The most the engine may differ from the oracle at `at` (watermark day `wm_day`)."""
    today = running.day_of(at)
    bound = 0.0
    for c in applied:
        if not _misvalued(c, wm_day, today, horizon):
            continue
        weight = 0.5 ** ((at - c.occurred_at).total_seconds() / 86_400 / c.half_life_days)
        assert weight <= FOLD_TOLERANCE, (c, at)  # the documented 6.25% per contribution
        bound += abs(c.points) * weight
    return bound


def within_fold_bound(engine: float, oracle: float, bound: float) -> bool:
    return abs(engine - oracle) <= bound + 1e-9 * max(1.0, abs(oracle))


def assert_agrees_with_the_oracle(
    items: list[Contribution], horizon: float, later_minutes: list[int]
) -> None:
    """Apply `items` in arrival order as the engine does (prune at the running watermark)
    and compare with the oracle after every event, at the watermark, and at later times:
    exact (1e-9, per rule too) while nothing folded could differ, else within `fold_bound`."""
    state = Engagement()
    applied: list[Contribution] = []
    watermark: datetime | None = None

    def check(at: datetime, wm: datetime) -> None:
        engine = running.score(state.sums, at, horizon)
        total, by_rule = history.engagement(applied, at, horizon_days=horizon)
        bound = fold_bound(applied, running.day_of(wm), at, horizon)
        assert within_fold_bound(engine.total, total, bound), (at, engine.total, total, bound)
        if bound == 0:
            assert engine.by_rule.keys() == by_rule.keys()
            assert all(within_fold_bound(engine.by_rule[r], by_rule[r], 0) for r in by_rule)

    for c in items:
        watermark = c.occurred_at if watermark is None else max(watermark, c.occurred_at)
        if running.day_of(watermark) - running.day_of(c.occurred_at) >= horizon:
            continue  # too late: the engine refuses it before scoring
        state = running.prune(running.add(state, c, recent=3), watermark, horizon)
        applied.append(c)
        check(watermark, watermark)  # the moment the engine evaluates
    assert watermark is not None
    for minutes in later_minutes:  # and later, as decay sampling does
        check(watermark + timedelta(minutes=minutes), watermark)
