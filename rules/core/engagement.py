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

from collections.abc import Iterable, Mapping
from datetime import datetime

import msgspec

from rules.core.state import PLAYS, SIGNAL_TYPES, DaySum, Engagement, Notable, RuleSum, num

__all__ = [
    "DAY_SECONDS",
    "MAX_NOTABLE",
    "Contribution",
    "Scored",
    "add",
    "combine",
    "day_of",
    "prune",
    "score",
    "trim",
]

DAY_SECONDS = 86_400.0
MAX_NOTABLE = 5


class Contribution(msgspec.Struct, frozen=True):
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
    facts: tuple[tuple[int, str], ...] = ()  # (index into state.FACT_KEYS, value)


class Scored(msgspec.Struct, frozen=True):
    """Engagement at one time: the total, each rule's share after its cap, and what is
    needed to value one kept contribution (`points_of`)."""

    total: float
    by_rule: Mapping[str, float]
    _sums: Mapping[str, list[RuleSum]]
    _rule_factor: Mapping[str, float]
    _shared: frozenset[str]  # rules whose sums share capped days (valued together)
    at: float
    horizon_days: float

    def rule_factor(self, rule: str) -> float:
        """How much of a rule's decayed sum its cap lets through (0: not counted now)."""
        return self._rule_factor.get(rule, 0.0)

    def points_of(self, n: Notable) -> float:
        """A kept contribution's points now: day-capped, decayed, scaled like its rule."""
        rule_factor = self._rule_factor.get(n.rule)
        group = self._sums.get(n.rule)
        if rule_factor is None or group is None:
            return 0.0
        t = n.occurred_at.timestamp()
        day = day_of(t)
        today = day_of(self.at)
        for s in group:
            if s.half_life_days != n.half_life_days or today - day >= _lasts(s, self.horizon_days):
                continue
            bucket = _find_day(s, day)
            if bucket is None:
                continue
            shared = n.rule in self._shared
            factor = _shared_factor(group, bucket) if shared else _factor(bucket)
            age = (self.at - t) / DAY_SECONDS
            return n.points * factor * 0.5 ** (age / n.half_life_days) * rule_factor
        return 0.0


def _find_day(s: RuleSum, day: int) -> DaySum | None:
    return _find_day_in(s.days, day)


def _find_day_in(days: tuple[DaySum, ...], day: int) -> DaySum | None:
    for i in range(len(days) - 1, -1, -1):  # recent days first
        if days[i].day == day:
            return days[i]
        if days[i].day < day:
            break
    return None


def day_of(t: datetime | float) -> int:
    """UTC day index (days since 1970-01-01) of a time (aware, or unix seconds)."""
    seconds = t.timestamp() if isinstance(t, datetime) else t
    return int(seconds // DAY_SECONDS)


def add(engagement: Engagement, c: Contribution, *, recent: int) -> Engagement:
    """`engagement` with `c` added; `recent` newest times are kept per rule for count
    triggers. Call `prune` afterwards with the watermark."""
    t = c.occurred_at.timestamp()
    day = day_of(t)
    capped = c.cap_per_day is not None
    sums = list(engagement.sums)
    index = None
    for i, s in enumerate(sums):
        if (
            s.rule == c.rule
            and s.half_life_days == c.half_life_days
            and s.within_days == c.within_days
            and s.capped_per_day == capped
        ):
            index = i
            break
    weight = c.points * 2.0 ** ((t - day * DAY_SECONDS) / (c.half_life_days * DAY_SECONDS))
    if index is None:
        sums.append(
            RuleSum(
                rule=c.rule,
                half_life_days=num(c.half_life_days),
                within_days=num(c.within_days) if c.within_days is not None else None,
                capped_per_day=capped,
                cap=num(c.cap) if c.cap is not None else None,
                play_code=PLAYS.index(c.play),
                newest=num(t),
                days=(first := _day(day, weight, c.points, c.cap_per_day)),
                recent=(num(t),) if recent else (),
                value=_factor(first[0]) * weight,
                anchor=day,
            )
        )
        sums.sort(key=_sum_order)  # canonical: the same sums in any arrival order
    else:
        s = sums[index]
        newer = t >= s.newest
        before = _find_day(s, day)
        days = _add_day(s.days, day, c.points, weight, c.cap_per_day)
        after = _find_day_in(days, day)
        assert after is not None
        rate = 1.0 / s.half_life_days
        value, anchor = s.value, s.anchor
        if day > anchor:  # the anchor is always the newest day: the value is canonical
            value, anchor = value * 2.0 ** ((anchor - day) * rate), day
        scale = 2.0 ** ((day - anchor) * rate)
        old = _factor(before) * before.weighted * scale if before is not None else 0.0
        sums[index] = msgspec.structs.replace(
            s,
            capped_per_day=capped,
            cap=(num(c.cap) if c.cap is not None else None) if newer else s.cap,
            play_code=PLAYS.index(c.play) if newer else s.play_code,
            newest=num(max(t, s.newest)),
            recent=tuple(sorted((*s.recent, num(t)))[-recent:]) if recent else (),
            days=days,
            value=value + _factor(after) * after.weighted * scale - old,
            anchor=anchor,
        )
    notable = engagement.notable
    if c.points > 0:
        notable = (
            *notable,
            Notable(
                c.event_id,
                SIGNAL_TYPES.index(c.signal_type),
                c.rule,
                c.occurred_at,
                num(c.points),
                num(c.half_life_days),
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
            merged = DaySum(
                day,
                d.weighted + weight,
                num(d.raw + points),
                num(smallest) if smallest is not None else None,
                d.count + 1,
            )
            return (*days[:i], merged, *days[i + 1 :])
        if d.day < day:
            return (*days[: i + 1], *_day(day, weight, points, cap), *days[i + 1 :])
    return (*_day(day, weight, points, cap), *days)


def _day(day: int, weight: float, points: float, cap: float | None) -> tuple[DaySum]:
    return (DaySum(day, weight, num(points), num(cap) if cap is not None else None),)


def _factor(d: DaySum) -> float:
    """A day's per-day cap factor, from its own raw total."""
    if d.cap is not None and abs(d.raw) > d.cap:
        return d.cap / abs(d.raw)
    return 1.0


def _value(days: tuple[DaySum, ...], anchor: int, half_life_days: float) -> float:
    rate = 1.0 / half_life_days
    return sum(_factor(d) * d.weighted * 2.0 ** ((d.day - anchor) * rate) for d in days)


def _lasts(s: RuleSum, horizon_days: float) -> float:
    """Days a contribution of this sum counts (the horizon, or a shorter `within_days`)."""
    return horizon_days if s.within_days is None else min(horizon_days, s.within_days)


def _prune_sum(s: RuleSum, today: int, horizon_days: float) -> RuleSum | None:
    """`s` at watermark day `today`: expired days dropped and its value recomputed."""
    lasts = _lasts(s, horizon_days)
    if not s.days or today - s.days[0].day < lasts:
        return s  # days are sorted: nothing expires if the oldest does not, O(1)
    days = tuple(d for d in s.days if today - d.day < lasts)
    if not days:
        return None
    recent = tuple(t for t in s.recent if today - day_of(t) < horizon_days)
    anchor = days[-1].day
    value = _value(days, anchor, s.half_life_days)
    return msgspec.structs.replace(s, days=days, recent=recent, value=value, anchor=anchor)


def prune(engagement: Engagement, watermark: datetime, horizon_days: float) -> Engagement:
    """Drop the days that can never count again (the engine evaluates at or after the
    watermark) and sum the days past the hot window. Kept contributions are trimmed by
    `trim`, once the caller has scored the engagement."""
    today = day_of(watermark)
    sums = []
    changed = False
    for s in engagement.sums:
        pruned = _prune_sum(s, today, horizon_days)
        changed = changed or pruned is not s
        if pruned is not None:
            sums.append(pruned)
    last = engagement.last_positive
    if last is not None and today - day_of(last) >= horizon_days:
        last, changed = None, True
    if not changed:
        return engagement
    return Engagement(tuple(sums), engagement.notable, last)


def trim(engagement: Engagement, scored: Scored) -> Engagement:
    """Keep the `MAX_NOTABLE` contributions worth most now, largest first, and only those
    still counted: ranked on `scored` (the score the caller just computed over these sums
    and those scored with them) by points, decay and their rule's cap, not re-capping each
    day (the window values its reasons exactly). Nothing to do while there are few."""
    today = day_of(scored.at)
    horizon = scored.horizon_days
    if len(engagement.notable) <= MAX_NOTABLE and not any(
        today - day_of(n.occurred_at) >= horizon for n in engagement.notable
    ):
        return engagement
    ranked = []
    for n in engagement.notable:
        t = n.occurred_at.timestamp()
        if today - day_of(t) >= horizon:
            continue
        factor = scored.rule_factor(n.rule)
        worth = n.points * 0.5 ** ((scored.at - t) / DAY_SECONDS / n.half_life_days) * factor
        if worth > 0:
            ranked.append((-worth, -t, n.event_id, n))
    ranked.sort(key=lambda r: r[:3])
    kept = tuple(r[3] for r in ranked[:MAX_NOTABLE])
    if kept == engagement.notable:
        return engagement
    return Engagement(engagement.sums, kept, engagement.last_positive)


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

    Per rule, each sum is read from its running value (see `_rule_value`)."""
    at_s = at.timestamp()
    today = int(at_s // DAY_SECONDS)
    by_name: dict[str, list[RuleSum]] = {}
    for s in sums:
        group = by_name.get(s.rule)
        if group is None:
            by_name[s.rule] = [s]
        else:
            group.append(s)
    by_rule: dict[str, float] = {}
    rule_factor: dict[str, float] = {}
    shared: set[str] = set()
    total = 0.0
    for rule, group in by_name.items():
        together = len(group) > 1 and _shares_capped_days(group)
        if together:
            shared.add(rule)
        value = _rule_value(group, today, at_s, horizon_days, together)
        if value is None:
            continue
        newest = group[0] if len(group) == 1 else max(group, key=lambda s: s.newest)
        clamped = _clamp(value, newest.cap)
        by_rule[rule] = clamped
        rule_factor[rule] = clamped / value if value else 0.0
        total += clamped
    return Scored(total, by_rule, by_name, rule_factor, frozenset(shared), at_s, horizon_days)


def _rule_value(
    group: list[RuleSum], today: int, at_s: float, horizon_days: float, shared: bool
) -> float | None:
    """One rule's decayed sum before its cap; None when none of its days counts.

    Each sum is one multiplication of its `value`, unless a day of it has expired at `at`
    or the rule's sums share capped days: then its days are valued one by one."""
    total = 0.0
    counted = False
    for s in group:
        if not s.days:
            continue
        lasts = _lasts(s, horizon_days)
        rate = 1.0 / (s.half_life_days * DAY_SECONDS)
        if not shared and today - s.days[0].day < lasts:
            total += s.value * 2.0 ** (-(at_s - s.anchor * DAY_SECONDS) * rate)
            counted = True
            continue
        for d in s.days:
            if today - d.day >= lasts:
                continue
            factor = _shared_factor(group, d) if shared else _factor(d)
            total += factor * d.weighted * 2.0 ** (-(at_s - d.day * DAY_SECONDS) * rate)
            counted = True
    return total if counted else None


def _shares_capped_days(group: list[RuleSum]) -> bool:
    seen: set[int] = set()
    for s in group:
        if not s.capped_per_day:
            continue
        days = {d.day for d in s.days}
        if seen & days:
            return True
        seen |= days
    return False


def _shared_factor(group: list[RuleSum], day: DaySum) -> float:
    """The per-day cap factor of a day several capped sums of one rule share."""
    capped = [d for s in group if s.capped_per_day for d in s.days if d.day == day.day]
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
