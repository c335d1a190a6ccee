"""Days and periods of a rule's running sums: which days stay exact, and folding the rest.

A rule's sum keeps recent UTC days exact, one `DaySum` each (what per-day caps, late events
and `within_days` need), and folds older days into calendar periods of `PERIOD_DAYS` days
(`Period`): the days' capped, decayed values carried to the period's first day. So a sum
holds at most `exact_days` days plus `horizon / PERIOD_DAYS + 1` periods, whatever the
history. Called by `rules.core.engagement.prune` at each new watermark.

Which days fold, and the bound (`FOLD_TOLERANCE`). Decay stays exact in a period (its value
is a decayed sum like a day's). What a period loses is, per day, which contributions it
held. That matters in two places only:

- per-day caps: a late contribution on a folded day is capped on its own, not with the
  others of its day (their raw total is gone);
- expiry: a period stops counting as soon as its first day leaves the horizon (or the
  rule's `within_days`), so its younger days stop counting up to `PERIOD_DAYS - 1` days
  early; nothing ever counts past the horizon.

Either way a folded contribution `c` counts as `points * f * 2 ** (-age / half_life)` for
some factor `f` in [0, 1] where the full-history oracle has another such factor, so it is
off by at most `|points| * 2 ** (-age / half_life)`. Days fold only when that is small:

- a per-day-capped sum folds a day once it is `exact_days` = ceil(4 half-lives) + 1 days
  before the watermark, so every folded contribution is more than 4 half-lives old;
- a sum without per-day caps can fold any day but its newest (a late contribution adds to
  a period exactly), provided its periods expire when their contributions are more than 4
  half-lives old: `lasts - PERIOD_DAYS >= 4 half-lives` (else it folds like a capped sum).

So every folded contribution is off by at most `2 ** -4 = 6.25%` of its points
(`FOLD_TOLERANCE`), usually far less (it shrinks by half with each further half-life),
and a rule's total by at most the sum of those (its cap, a clamp, does not enlarge a
difference). While no contribution is old enough to fold, the sums are exact (1e-9).
A rule scored under several half-lives (a rulebook change) folds its capped days by the
longest, since its sums share each day's cap. Pure.
"""

from __future__ import annotations

import math
from datetime import datetime

import msgspec

from rules.core.state import PERIOD_DAYS, DaySum, Period, RuleSum

__all__ = [
    "DAY_SECONDS",
    "FOLD_HALF_LIVES",
    "FOLD_TOLERANCE",
    "day_of",
    "exact_days",
    "factor",
    "find_day",
    "find_period",
    "fold",
    "lasts",
    "period_of",
    "value_of",
]

DAY_SECONDS = 86_400.0
FOLD_HALF_LIVES = 4
FOLD_TOLERANCE = 2.0**-FOLD_HALF_LIVES
"""The most a folded contribution is off by, as a share of its points (see above)."""


def day_of(t: datetime | float) -> int:
    """UTC day index (days since 1970-01-01) of a time (aware, or unix seconds)."""
    seconds = t.timestamp() if isinstance(t, datetime) else t
    return int(seconds // DAY_SECONDS)


def period_of(day: int) -> int:
    """The first day of the calendar period holding `day`."""
    return day - day % PERIOD_DAYS


def lasts(s: RuleSum, horizon_days: float) -> float:
    """Days a contribution of this sum counts (the horizon, or a shorter `within_days`)."""
    return horizon_days if s.within_days is None else min(horizon_days, s.within_days)


def exact_days(s: RuleSum, horizon_days: float, longest_half_life: float) -> int:
    """How many days up to the watermark's stay exact: older ones fold (see the module).

    `longest_half_life` is the longest half-life the rule is scored with in this state
    (its capped sums share each day's cap)."""
    capped_safe = math.ceil(FOLD_HALF_LIVES * longest_half_life) + 1
    if s.capped_per_day:
        return capped_safe
    if lasts(s, horizon_days) - PERIOD_DAYS >= FOLD_HALF_LIVES * s.half_life_days:
        return 1
    return math.ceil(FOLD_HALF_LIVES * s.half_life_days) + 1


def factor(d: DaySum) -> float:
    """A day's per-day cap factor, from its own raw total."""
    if d.cap is not None and abs(d.raw) > d.cap:
        return d.cap / abs(d.raw)
    return 1.0


def find_day(days: tuple[DaySum, ...], day: int) -> DaySum | None:
    for i in range(len(days) - 1, -1, -1):  # recent days first
        if days[i].day == day:
            return days[i]
        if days[i].day < day:
            break
    return None


def find_period(s: RuleSum, day: int) -> Period | None:
    start = period_of(day)
    return next((p for p in s.periods if p.start == start), None)


def value_of(days: tuple[DaySum, ...], periods: tuple[Period, ...], anchor: int, h: float) -> float:
    """The running value of days and periods, anchored at day `anchor`."""
    rate = 1.0 / h
    total = sum(factor(d) * d.weighted * 2.0 ** ((d.day - anchor) * rate) for d in days)
    return total + sum(p.weighted * 2.0 ** ((p.start - anchor) * rate) for p in periods)


_SPANS: dict[tuple[bool, float, float | None, float, float], tuple[float, int | float]] = {}
"""(counts, exact) of `fold` by the parameters they depend on: a few per rulebook."""


def fold(s: RuleSum, today: int, horizon_days: float, longest_half_life: float) -> RuleSum | None:
    """`s` at watermark day `today`: days past its exact window folded into their periods,
    expired days and periods dropped, its value recomputed; None when nothing is left.
    O(1) when nothing folds or expires (days and periods are sorted, periods first)."""
    spans = (s.capped_per_day, s.half_life_days, s.within_days, horizon_days, longest_half_life)
    known = _SPANS.get(spans)
    if known is None:
        counts = lasts(s, horizon_days)
        known = counts, min(exact_days(s, horizon_days, longest_half_life), counts)
        if len(_SPANS) >= 4096:  # rulebook changes over a long run
            _SPANS.clear()
        _SPANS[spans] = known
    counts, exact = known
    if (not s.days or today - s.days[0].day < exact) and (
        not s.periods or today - s.periods[0].start < counts
    ):
        return s
    rate = 1.0 / s.half_life_days
    periods = {p.start: p for p in s.periods}
    days = []
    for d in s.days:
        if today - d.day >= counts:
            continue
        if today - d.day < exact:
            days.append(d)
            continue
        start = period_of(d.day)
        weighted = factor(d) * d.weighted * 2.0 ** ((d.day - start) * rate)
        held = periods.get(start)
        if held is None:
            periods[start] = Period(start, weighted, d.count, d.day - start)
        else:
            periods[start] = Period(
                start,
                held.weighted + weighted,
                held.count + d.count,
                min(held.first, d.day - start),
            )
    kept = tuple(periods[k] for k in sorted(periods) if today - k < counts)
    if not days and not kept:
        return None
    anchor = days[-1].day if days else kept[-1].start
    return msgspec.structs.replace(
        s,
        days=tuple(days),
        periods=kept,
        recent=tuple(t for t in s.recent if today - day_of(t) < horizon_days),
        value=value_of(tuple(days), kept, anchor, s.half_life_days),
        anchor=anchor,
    )
