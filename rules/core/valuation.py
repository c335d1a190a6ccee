"""Reading engagement: the total and each rule's share at one time, from the running sums.

Called once per evaluation (`score`), through `rules.core.engagement`, which documents the
meaning; `Scored.points_of` values one kept contribution for a window's reasons. A sum is
one multiplication of its running value unless something of it expires at the evaluation
time, or the rule's sums share capped days; then its days and periods are valued one by
one (`rules.core.folding` says how exact a period is). Pure.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

import msgspec

from rules.core.folding import DAY_SECONDS, day_of, factor, find_day, find_period, lasts
from rules.core.state import DaySum, Notable, RuleSum

__all__ = ["Scored", "score"]


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
        """A kept contribution's points now: day-capped, decayed, scaled like its rule.
        On a folded day its day's cap is no longer known: it counts uncapped (within the
        fold tolerance: it is more than four half-lives old)."""
        rule_factor = self._rule_factor.get(n.rule)
        group = self._sums.get(n.rule)
        if rule_factor is None or group is None:
            return 0.0
        t = n.occurred_at.timestamp()
        day = day_of(t)
        today = day_of(self.at)
        for s in group:
            if s.half_life_days != n.half_life_days:
                continue
            counts = lasts(s, self.horizon_days)
            bucket = find_day(s.days, day) if today - day < counts else None
            if bucket is not None:
                shared = n.rule in self._shared
                day_factor = _shared_factor(group, bucket) if shared else factor(bucket)
            else:
                period = find_period(s, day)
                if period is None or today - period.start >= counts:
                    continue
                day_factor = 1.0
            age = (self.at - t) / DAY_SECONDS
            return n.points * day_factor * 0.5 ** (age / n.half_life_days) * rule_factor
        return 0.0


def score(sums: Iterable[RuleSum], at: datetime, horizon_days: float) -> Scored:
    """Engagement at `at` (at or after every contribution): total and per-rule shares."""
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
    shared: set[str] | None = None
    total = 0.0
    for rule, group in by_name.items():
        together = len(group) > 1 and _shares_capped_days(group)
        if together:
            shared = {rule} if shared is None else shared | {rule}
        value = _rule_value(group, today, at_s, horizon_days, together)
        if value is None:
            continue
        newest = group[0] if len(group) == 1 else max(group, key=lambda s: s.newest)
        cap = newest.cap
        clamped = value if cap is None else max(-cap, min(cap, value))
        by_rule[rule] = clamped
        rule_factor[rule] = clamped / value if value else 0.0
        total += clamped
    joint = frozenset(shared) if shared else _NONE
    return Scored(total, by_rule, by_name, rule_factor, joint, at_s, horizon_days)


_NONE: frozenset[str] = frozenset()


def _rule_value(
    group: list[RuleSum], today: int, at_s: float, horizon_days: float, shared: bool
) -> float | None:
    """One rule's decayed sum before its cap; None when none of its days counts."""
    total = 0.0
    counted = False
    for s in group:
        days, periods = s.days, s.periods
        if not days and not periods:
            continue
        within = s.within_days
        counts = horizon_days if within is None else min(horizon_days, within)  # lasts(s, ...)
        rate = 1.0 / (s.half_life_days * DAY_SECONDS)
        oldest = min(periods[0].start if periods else today, days[0].day if days else today)
        if not shared and today - oldest < counts:
            total += s.value * 2.0 ** (-(at_s - s.anchor * DAY_SECONDS) * rate)
            counted = True
            continue
        for p in s.periods:
            if today - p.start < counts:
                total += p.weighted * 2.0 ** (-(at_s - p.start * DAY_SECONDS) * rate)
                counted = True
        for d in s.days:
            if today - d.day >= counts:
                continue
            day_factor = _shared_factor(group, d) if shared else factor(d)
            total += day_factor * d.weighted * 2.0 ** (-(at_s - d.day * DAY_SECONDS) * rate)
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
    """The per-day cap factor of a day several capped sums of one rule share (folded
    days took their own factor when they folded)."""
    capped = [d for s in group if s.capped_per_day for d in s.days if d.day == day.day]
    if day not in capped:
        return 1.0
    total = sum(d.raw for d in capped)
    caps = [d.cap for d in capped if d.cap is not None]
    if caps and abs(total) > min(caps):
        return min(caps) / abs(total)
    return 1.0
