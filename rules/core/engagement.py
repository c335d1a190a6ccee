"""Engagement as decayed running sums: the cost of a signal does not grow with history.

Half-life decay is multiplicative, so a sum of decayed points can be carried forward
exactly: each rule keeps, per UTC day inside the horizon, the raw points of that day (what
`cap_per_day` limits) and the points weighted by `2 ** ((t - day_start) / half_life)`; the
value at any later time is one more multiplication (`rules.core.state.DaySum`). A late or
out-of-order contribution is added at its own event time, into its own day.

Called by the engine: `add` once per scored signal (then `prune` at the new watermark), and
`score` once per evaluation. Meaning, as the rulebook documents it:

- a contribution counts while its UTC day is fewer than `horizon_days` days before the
  day of the evaluation (and fewer than its rule's `within_days`): the horizon is counted
  in whole UTC days;
- the contributions of one rule on one UTC day that add up to more than `cap_per_day`
  (in size: penalties too) are all scaled by the same factor, to exactly the cap; where
  they disagree on the cap (a rulebook change that day), the smallest applies;
- each rule's decayed sum is clamped to `[-cap, cap]`, with the cap of its newest
  contribution;
- every contribution counted is at or before the evaluation time (the engine evaluates at
  the newest event time it knows).

`rules.offline.history` computes the same numbers from the full list of contributions;
a property test holds the two to 1e-9. Pure; never raises on contributions the engine makes.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import msgspec

from rules.core.state import DaySum, Engagement, Notable, RuleSum

__all__ = [
    "DAY_SECONDS",
    "HOT_DAYS",
    "MAX_NOTABLE",
    "Contribution",
    "Scored",
    "add",
    "combine",
    "day_of",
    "prune",
    "score",
]

DAY_SECONDS = 86_400.0
MAX_NOTABLE = 5
HOT_DAYS = 7
"""Days (before the watermark's) kept one by one; older days are scored through a summary."""


@dataclass(frozen=True, slots=True)
class Contribution:
    """One engagement signal as a rule scored it (points before per-day caps and decay)."""

    event_id: str
    signal_type: str
    rule: str
    points: float
    half_life_days: float
    occurred_at: datetime
    detail: str
    play: str = "signal_triggered"
    cap: float | None = None
    cap_per_day: float | None = None
    within_days: float | None = None
    facts: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class Scored:
    """Engagement at one time: the total, each rule's share after its cap, and what is
    needed to value one kept contribution (`points_of`)."""

    total: float
    by_rule: Mapping[str, float]
    _sums: Mapping[str, list[RuleSum]]
    _rule_factor: Mapping[str, float]
    at: float
    horizon_days: float

    def points_of(self, n: Notable) -> float:
        """A kept contribution's points now: day-capped, decayed, scaled like its rule."""
        rule_factor = self._rule_factor.get(n.rule)
        group = self._sums.get(n.rule)
        if rule_factor is None or group is None:
            return 0.0
        day = day_of(n.occurred_at)
        today = day_of(self.at)
        for s in group:
            if s.half_life_days != n.half_life_days or today - day >= _lasts(s, self.horizon_days):
                continue
            bucket = next((d for d in (*s.cold, *s.days) if d.day == day), None)
            if bucket is None:
                continue
            shared = len(group) > 1 and _shares_capped_days(group)
            factor = _shared_factor(group, bucket) if shared else _factor(bucket)
            age = (self.at - n.occurred_at.timestamp()) / DAY_SECONDS
            return n.points * factor * 0.5 ** (age / n.half_life_days) * rule_factor
        return 0.0


def day_of(t: datetime | float) -> int:
    """UTC day index (days since 1970-01-01) of a time."""
    seconds = t.timestamp() if isinstance(t, datetime) else t
    return math.floor(seconds / DAY_SECONDS)


def add(engagement: Engagement, c: Contribution, *, recent: int) -> Engagement:
    """`engagement` with `c` added; `recent` newest times are kept per rule for count
    triggers. Call `prune` afterwards with the watermark."""
    t = c.occurred_at.timestamp()
    day = day_of(t)
    capped = c.cap_per_day is not None
    sums = list(engagement.sums)
    index = next(
        (
            i
            for i, s in enumerate(sums)
            if s.rule == c.rule
            and s.half_life_days == c.half_life_days
            and s.within_days == c.within_days
            and s.capped_per_day == capped
        ),
        None,
    )
    weight = c.points * 2.0 ** ((t - day * DAY_SECONDS) / (c.half_life_days * DAY_SECONDS))
    if index is None:
        sums.append(
            RuleSum(
                rule=c.rule,
                half_life_days=c.half_life_days,
                within_days=c.within_days,
                capped_per_day=capped,
                cap=c.cap,
                play=c.play,
                newest=t,
                days=(DaySum(day, c.points, weight, 1, c.cap_per_day),),
                recent=(t,) if recent else (),
            )
        )
        sums.sort(key=_sum_order)  # canonical: the same sums in any arrival order
    else:
        s = sums[index]
        newer = t >= s.newest
        update: dict[str, object] = {
            "capped_per_day": capped,
            "cap": c.cap if newer else s.cap,
            "play": c.play if newer else s.play,
            "newest": max(t, s.newest),
            "recent": tuple(sorted((*s.recent, t))[-recent:]) if recent else (),
        }
        if s.cold and day <= s.cold_anchor:  # a late event into a summed day
            cold = _add_day(s.cold, day, c.points, weight, c.cap_per_day)
            update["cold"] = cold
            update["cold_value"] = _cold_value(cold, s.cold_anchor, s.half_life_days)
        else:
            update["days"] = _add_day(s.days, day, c.points, weight, c.cap_per_day)
        sums[index] = msgspec.structs.replace(s, **update)
    notable = engagement.notable
    if c.points > 0:
        notable = (
            *notable,
            Notable(
                c.event_id,
                c.signal_type,
                c.rule,
                c.occurred_at,
                c.points,
                c.half_life_days,
                c.detail,
                c.facts,
            ),
        )
    last = engagement.last_positive
    if c.points > 0 and (last is None or c.occurred_at > last):
        last = c.occurred_at
    return Engagement(tuple(sums), notable, last)


def _sum_order(s: RuleSum) -> tuple[str, float, float, bool]:
    within = -1.0 if s.within_days is None else s.within_days
    return (s.rule, s.half_life_days, within, s.capped_per_day)


def _add_day(
    days: tuple[DaySum, ...], day: int, points: float, weight: float, cap: float | None
) -> tuple[DaySum, ...]:
    # Almost always the newest day, at the end.
    for i in range(len(days) - 1, -1, -1):
        d = days[i]
        if d.day == day:
            smallest = d.cap if cap is None else cap if d.cap is None else min(cap, d.cap)
            merged = DaySum(day, d.raw + points, d.weighted + weight, d.count + 1, smallest)
            return (*days[:i], merged, *days[i + 1 :])
        if d.day < day:
            return (*days[: i + 1], DaySum(day, points, weight, 1, cap), *days[i + 1 :])
    return (DaySum(day, points, weight, 1, cap), *days)


def _factor(d: DaySum) -> float:
    """A day's per-day cap factor, from its own raw total."""
    if d.cap is not None and abs(d.raw) > d.cap:
        return d.cap / abs(d.raw)
    return 1.0


def _cold_value(cold: tuple[DaySum, ...], anchor: int, half_life_days: float) -> float:
    rate = 1.0 / half_life_days
    return sum(_factor(d) * d.weighted * 2.0 ** ((d.day - anchor) * rate) for d in cold)


def _lasts(s: RuleSum, horizon_days: float) -> float:
    """Days a contribution of this sum counts (the horizon, or a shorter `within_days`)."""
    return horizon_days if s.within_days is None else min(horizon_days, s.within_days)


def _prune_sum(s: RuleSum, today: int, horizon_days: float) -> RuleSum | None:
    """`s` at watermark day `today`: expired days dropped, days past the hot window summed
    into the cold summary (recomputed exactly whenever the cold days change)."""
    lasts = _lasts(s, horizon_days)
    oldest = s.cold[0].day if s.cold else s.days[0].day if s.days else today
    moving = bool(s.days) and today - s.days[0].day >= HOT_DAYS
    if today - oldest < lasts and not moving:
        return s  # nothing expires and nothing cools today: the common case, O(1)
    days = tuple(d for d in s.days if today - d.day < lasts)
    cold = tuple(d for d in s.cold if today - d.day < lasts)
    cool = tuple(d for d in days if today - d.day >= HOT_DAYS)
    if cool:
        days = days[len(cool) :]
        cold = (*cold, *cool)
    if not days and not cold:
        return None
    recent = tuple(t for t in s.recent if today - day_of(t) < horizon_days)
    anchor = cold[-1].day if cold else 0
    value = _cold_value(cold, anchor, s.half_life_days) if cold else 0.0
    return msgspec.structs.replace(
        s, days=days, cold=cold, cold_value=value, cold_anchor=anchor, recent=recent
    )


def prune(
    engagement: Engagement,
    watermark: datetime,
    horizon_days: float,
    *,
    also: Sequence[RuleSum] = (),
) -> Engagement:
    """Drop the days that can never count again (the engine evaluates at or after the
    watermark), sum the days past the hot window, and keep the `MAX_NOTABLE` contributions
    worth most at the watermark.

    `also` are sums scored together with these (a person's account's), so that the kept
    contributions are ranked on the same caps the window will apply.
    """
    today = day_of(watermark)
    sums = []
    for s in engagement.sums:
        pruned = _prune_sum(s, today, horizon_days)
        if pruned is not None:
            sums.append(pruned)
    last = engagement.last_positive
    if last is not None and today - day_of(last) >= horizon_days:
        last = None
    result = Engagement(tuple(sums), engagement.notable, last)
    if result.notable:
        scored = score((*result.sums, *also), watermark, horizon_days)
        ranked = sorted(
            ((scored.points_of(n), n) for n in result.notable),
            key=lambda pn: (-pn[0], -pn[1].occurred_at.timestamp(), pn[1].event_id),
        )
        kept = tuple(n for points, n in ranked[:MAX_NOTABLE] if points > 0)
        result = Engagement(result.sums, kept, last)
    return result


def combine(*parts: Engagement) -> tuple[tuple[RuleSum, ...], tuple[Notable, ...]]:
    """The sums and kept contributions of several engagements scored together."""
    sums: list[RuleSum] = []
    notable: list[Notable] = []
    for part in parts:
        sums += part.sums
        notable += part.notable
    return tuple(sums), tuple(notable)


def score(sums: Iterable[RuleSum], at: datetime, horizon_days: float) -> Scored:
    """Engagement at `at` (at or after every contribution): total and per-rule shares.

    Per rule, each recent day is valued one by one and the cold days through their summary,
    which holds while none of them has expired at `at` and no other sum of the rule shares
    a capped day with them; otherwise every day of the rule is valued one by one."""
    at_s = at.timestamp()
    today = day_of(at_s)
    by_name: dict[str, list[RuleSum]] = {}
    for s in sums:
        by_name.setdefault(s.rule, []).append(s)
    raw: dict[str, float] = {}
    newest: dict[str, RuleSum] = {}
    for rule, group in by_name.items():
        value = _rule_value(group, today, at_s, horizon_days)
        if value is None:
            continue
        raw[rule] = value
        newest[rule] = max(group, key=lambda s: s.newest)
    by_rule = {rule: _clamp(total, newest[rule].cap) for rule, total in raw.items()}
    rule_factor = {rule: (by_rule[rule] / total if total else 0.0) for rule, total in raw.items()}
    return Scored(sum(by_rule.values()), by_rule, by_name, rule_factor, at_s, horizon_days)


def _rule_value(group: list[RuleSum], today: int, at_s: float, horizon_days: float) -> float | None:
    """One rule's decayed sum before its cap; None when none of its days counts."""
    shared = len(group) > 1 and _shares_capped_days(group)
    total = 0.0
    counted = False
    for s in group:
        lasts = _lasts(s, horizon_days)
        rate = 1.0 / (s.half_life_days * DAY_SECONDS)
        cold_ok = not shared and (not s.cold or today - s.cold[0].day < lasts)
        days = s.days if cold_ok else (*s.cold, *s.days)
        for d in days:
            if today - d.day >= lasts:
                continue
            factor = _shared_factor(group, d) if shared else _factor(d)
            total += factor * d.weighted * 2.0 ** (-(at_s - d.day * DAY_SECONDS) * rate)
            counted = True
        if cold_ok and s.cold:
            anchor_start = s.cold_anchor * DAY_SECONDS
            total += s.cold_value * 2.0 ** (-(at_s - anchor_start) * rate)
            counted = True
    return total if counted else None


def _shares_capped_days(group: list[RuleSum]) -> bool:
    seen: set[int] = set()
    for s in group:
        if not s.capped_per_day:
            continue
        days = {d.day for d in (*s.cold, *s.days)}
        if seen & days:
            return True
        seen |= days
    return False


def _shared_factor(group: list[RuleSum], day: DaySum) -> float:
    """The per-day cap factor of a day several capped sums of one rule share."""
    capped = [d for s in group if s.capped_per_day for d in (*s.cold, *s.days) if d.day == day.day]
    if day not in capped:
        return 1.0
    total = sum(d.raw for d in capped)
    caps = [d.cap for d in capped if d.cap is not None]
    if caps and abs(total) > min(caps):
        return min(caps) / abs(total)
    return 1.0


def _clamp(value: float, cap: float | None) -> float:
    if cap is None:
        return value
    return max(-cap, min(cap, value))
