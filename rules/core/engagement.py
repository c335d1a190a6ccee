"""Engagement as decayed running sums: the cost of a signal does not grow with history.

Half-life decay is multiplicative, so a sum of decayed points can be carried forward
exactly: each rule keeps, per recent UTC day, the raw points of that day (what
`cap_per_day` limits) and the points weighted by `2 ** ((t - day_start) / half_life)`; the
value at any later time is one more multiplication (`rules.core.state.DaySum`). A late or
out-of-order contribution is added at its own event time, into its own day. Older days fold
into calendar periods (`rules.core.folding`), so a sum is bounded by its exact window and
the horizon, not by the history.

Called by the engine: `add` once per scored signal (then `prune` at the new watermark), and
`score` (`rules.core.valuation`) once per evaluation. Meaning, as the rulebook documents it,
exactly for the days kept exact and within `FOLD_TOLERANCE` of each contribution's points
for folded ones (contributions more than four half-lives old; `rules.core.folding`):

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
property tests hold the two to 1e-9 while nothing has folded, and to the fold bound after.
Pure; never raises on contributions the engine makes.
"""

from __future__ import annotations

from datetime import datetime

import msgspec

from rules.core.folding import DAY_SECONDS, FOLD_TOLERANCE, day_of, factor, find_day, fold
from rules.core.state import PLAYS, SIGNAL_TYPES, DaySum, Engagement, Notable, RuleSum, num
from rules.core.valuation import Scored, score

__all__ = [
    "DAY_SECONDS",
    "FOLD_TOLERANCE",
    "MAX_NOTABLE",
    "Contribution",
    "Scored",
    "add",
    "combine",
    "day_of",
    "prune",
    "score",
    "trim",
    "trimmed",
]

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


def add(engagement: Engagement, c: Contribution, *, recent: int) -> Engagement:
    """`engagement` with `c` added; `recent` newest times are kept per rule for count
    triggers. Call `prune` afterwards with the watermark."""
    t = c.occurred_at.timestamp()
    day = int(t // DAY_SECONDS)  # day_of(t)
    capped = c.cap_per_day is not None
    sums = list(engagement.sums)
    index = None
    rule, half_life, within = c.rule, c.half_life_days, c.within_days
    for i, s in enumerate(sums):
        if (
            s.rule == rule
            and s.half_life_days == half_life
            and s.within_days == within
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
                value=factor(first[0]) * weight,
                anchor=day,
            )
        )
        sums.sort(key=_sum_order)  # canonical: the same sums in any arrival order
    else:
        s = sums[index]
        newer = t >= s.newest
        before = find_day(s.days, day)
        days, after = _add_day(s.days, day, c.points, weight, c.cap_per_day)
        rate = 1.0 / s.half_life_days
        value, anchor = s.value, s.anchor
        if day > anchor:  # the anchor is always the newest day: the value is canonical
            value, anchor = value * 2.0 ** ((anchor - day) * rate), day
        scale = 2.0 ** ((day - anchor) * rate)
        old = factor(before) * before.weighted * scale if before is not None else 0.0
        sums[index] = msgspec.structs.replace(
            s,
            capped_per_day=capped,
            cap=(num(c.cap) if c.cap is not None else None) if newer else s.cap,
            play_code=PLAYS.index(c.play) if newer else s.play_code,
            newest=num(max(t, s.newest)),
            recent=tuple(sorted((*s.recent, num(t)))[-recent:]) if recent else (),
            days=days,
            value=value + factor(after) * after.weighted * scale - old,
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
) -> tuple[tuple[DaySum, ...], DaySum]:
    """The days with the contribution added to its own, and that day after it."""
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
            return (*days[:i], merged, *days[i + 1 :]), merged
        if d.day < day:
            (new,) = added = _day(day, weight, points, cap)
            return (*days[: i + 1], *added, *days[i + 1 :]), new
    (new,) = added = _day(day, weight, points, cap)
    return (*added, *days), new


def _day(day: int, weight: float, points: float, cap: float | None) -> tuple[DaySum]:
    return (DaySum(day, weight, num(points), num(cap) if cap is not None else None),)


def prune(engagement: Engagement, watermark: datetime, horizon_days: float) -> Engagement:
    """Drop the days that can never count again (the engine evaluates at or after the
    watermark) and fold the days past each sum's exact window (`rules.core.folding`).
    Kept contributions are trimmed by `trim`, once the caller has scored the engagement."""
    today = day_of(watermark)
    longest: dict[str, float] = {}
    for s in engagement.sums:
        if s.capped_per_day:
            longest[s.rule] = max(longest.get(s.rule, 0.0), s.half_life_days)
    sums = []
    changed = False
    for s in engagement.sums:
        pruned = fold(s, today, horizon_days, longest.get(s.rule, s.half_life_days))
        changed = changed or pruned is not s
        if pruned is not None:
            sums.append(pruned)
    last = engagement.last_positive
    if last is not None and today - day_of(last) >= horizon_days:
        last, changed = None, True
    if not changed:
        return engagement
    return Engagement(tuple(sums), engagement.notable, last)


def trimmed(engagement: Engagement, at: float, horizon_days: float) -> bool:
    """Whether `trim` at unix time `at` has nothing to do: few kept contributions and
    none past the horizon (what the engine checks before deciding not to score)."""
    today = int(at // DAY_SECONDS)
    notable = engagement.notable
    return len(notable) <= MAX_NOTABLE and all(
        today - int(n.occurred_at.timestamp() // DAY_SECONDS) < horizon_days for n in notable
    )


def trim(engagement: Engagement, scored: Scored) -> Engagement:
    """Keep the `MAX_NOTABLE` contributions worth most now, largest first, and only those
    still counted: ranked on `scored` (the score the caller just computed over these sums
    and those scored with them) by points, decay and their rule's cap, not re-capping each
    day (the window values its reasons exactly). Nothing to do while there are few."""
    if trimmed(engagement, scored.at, scored.horizon_days):
        return engagement
    today = int(scored.at // DAY_SECONDS)
    horizon = scored.horizon_days
    notable = engagement.notable
    ranked = []
    at = scored.at
    for n in notable:
        t = n.occurred_at.timestamp()
        if today - int(t // DAY_SECONDS) >= horizon:
            continue
        share = scored.rule_factor(n.rule)
        worth = n.points * 0.5 ** ((at - t) / DAY_SECONDS / n.half_life_days) * share
        if worth > 0:
            ranked.append((-worth, -t, n.event_id, n))
    ranked.sort(key=_rank)
    kept = tuple(r[3] for r in ranked[:MAX_NOTABLE])
    if kept == notable:
        return engagement
    return Engagement(engagement.sums, kept, engagement.last_positive)


def _rank(r: tuple[float, float, str, Notable]) -> tuple[float, float, str]:
    return r[:3]


def combine(*parts: Engagement) -> tuple[tuple[RuleSum, ...], tuple[Notable, ...]]:
    """The sums and kept contributions of several engagements scored together."""
    sums: list[RuleSum] = []
    notable: list[Notable] = []
    for part in parts:
        sums += part.sums
        notable += part.notable
    return tuple(sums), tuple(notable)
