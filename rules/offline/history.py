"""The full-history scorer: engagement computed from every contribution, one by one.

This is the first engine's arithmetic, kept for two users:

- the offline tools (`rules explain`, `rules report`), which replay a whole history anyway
  and show every contribution with its points at any time;
- the property tests, as the oracle the streaming engine's running sums
  (`rules.core.engagement`) must agree with to 1e-9 on any history, late and out-of-order
  events included.

It has the rulebook's documented meaning (see `rules.core.engagement`): per-day caps, decay
by each contribution's half-life, per-rule caps with the cap of the rule's newest
contribution, and the horizon and `within_days` counted in whole UTC days. Its cost grows
with the history, which is why the engine does not use it. Pure.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta

from rules.core.engagement import DAY_SECONDS, Contribution, day_of

__all__ = ["day_capped", "engagement", "ranked", "recent_count"]


def engagement(
    contributions: Iterable[Contribution], at: datetime, *, horizon_days: float
) -> tuple[float, dict[str, float]]:
    """Total engagement at event time `at` and each rule's share after its cap."""
    _, breakdown = _score(contributions, at, horizon_days)
    return sum(breakdown.values()), breakdown


def ranked(
    contributions: Iterable[Contribution], at: datetime, *, horizon_days: float
) -> list[tuple[Contribution, float]]:
    """Each counted contribution with its points at `at`, largest first.

    A capped rule's contributions are scaled by the same factor, so the points of all
    contributions add up to `engagement(...)`. Ties rank the newer event first, then by id.
    """
    each, breakdown = _score(contributions, at, horizon_days)
    raw: dict[str, float] = {}
    for c, points in each:
        raw[c.rule] = raw.get(c.rule, 0.0) + points
    scaled = [
        (c, points * (breakdown[c.rule] / raw[c.rule]) if raw[c.rule] else 0.0)
        for c, points in each
    ]
    scaled.sort(key=lambda cp: (-cp[1], -cp[0].occurred_at.timestamp(), cp[0].event_id))
    return scaled


def day_capped(contributions: Iterable[Contribution]) -> list[tuple[Contribution, float]]:
    """Each contribution with its points before decay, after its rule's per-day cap."""
    items = list(contributions)
    totals: dict[tuple[str, date], float] = {}
    caps: dict[tuple[str, date], float] = {}
    for c in items:
        if c.cap_per_day is None:
            continue
        day = (c.rule, _utc_day(c))
        totals[day] = totals.get(day, 0.0) + c.points
        caps[day] = min(caps.get(day, c.cap_per_day), c.cap_per_day)
    factors = {day: caps[day] / abs(t) for day, t in totals.items() if abs(t) > caps[day]}
    return [
        (c, c.points * factors.get((c.rule, _utc_day(c)), 1.0) if c.cap_per_day else c.points)
        for c in items
    ]


def recent_count(
    contributions: Sequence[Contribution],
    rule: str,
    at: datetime,
    within_hours: float | None,
    keep: int,
) -> int:
    """How many of the `keep` newest contributions of `rule` lie in `[at - within, at]`."""
    times = sorted(c.occurred_at for c in contributions if c.rule == rule)[-keep:]
    since = at - timedelta(hours=within_hours) if within_hours is not None else None
    return sum(1 for t in times if t <= at and (since is None or t >= since))


def _utc_day(c: Contribution) -> date:
    return date.fromordinal(date(1970, 1, 1).toordinal() + day_of(c.occurred_at))


def _score(
    contributions: Iterable[Contribution], at: datetime, horizon_days: float
) -> tuple[list[tuple[Contribution, float]], dict[str, float]]:
    today = day_of(at)
    counted: list[tuple[Contribution, float]] = []
    for c in contributions:
        age_days = today - day_of(c.occurred_at)
        if age_days >= horizon_days:
            continue
        if c.within_days is not None and age_days >= c.within_days:
            continue
        counted.append((c, (at - c.occurred_at).total_seconds() / DAY_SECONDS))
    base = iter(day_capped(c for c, age in counted if age >= 0))
    each: list[tuple[Contribution, float]] = []
    raw: dict[str, float] = {}
    newest: dict[str, Contribution] = {}
    for c, age in counted:
        points = next(base)[1] * 0.5 ** (age / c.half_life_days) if age >= 0 else 0.0
        each.append((c, points))
        raw[c.rule] = raw.get(c.rule, 0.0) + points
        held = newest.get(c.rule)
        if held is None or c.occurred_at >= held.occurred_at:
            newest[c.rule] = c
    return each, {rule: _clamp(total, newest[rule].cap) for rule, total in raw.items()}


def _clamp(value: float, cap: float | None) -> float:
    if cap is None:
        return value
    return max(-cap, min(cap, value))
