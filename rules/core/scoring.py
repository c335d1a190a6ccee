"""Scoring: pure functions the engine calls for every evaluation of a prospect.

- `decayed`: half-life decay of one contribution's points.
- `engagement`: the decayed, per-rule capped sum of contributions at an event time.
- `ranked`: each contribution's share of that sum, largest first (the window's reasons).
- `day_capped`: each contribution's points before decay, after its rule's `cap_per_day`.
- `fit`: ICP fit points, the matched fit rules, the tier, and the first disqualifier hit.
- `match_engagement_rule`: the first engagement rule that scores a signal.
- `match_trigger`, `trigger_fires`: the first window trigger a signal fires, and whether a
  count trigger ("pricing twice in 48 hours") has its count.
- `render_detail`: a rule's `detail` with `{dotted.path}` placeholders filled from facts.

None of these raise on a validated rulebook and facts from `rules.core.facts`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

from rules.core.state import Contribution
from rules.rulebook.conditions import evaluate
from rules.rulebook.model import Disqualifier, EngagementRule, Rulebook, Trigger
from signals.models import Signal
from signals.windows import FitReason

__all__ = [
    "day_capped",
    "decayed",
    "engagement",
    "fit",
    "fit_tier",
    "match_engagement_rule",
    "match_trigger",
    "ranked",
    "render_detail",
    "tier_at_least",
    "trigger_fires",
]

_SECONDS_PER_DAY = 86_400.0
_PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_.]*)\}")


def decayed(points: float, half_life_days: float, age_days: float) -> float:
    """`points * 0.5 ** (age / half_life)`; a contribution from the future counts 0.

    Negative points decay towards 0 the same way, so a penalty fades like a reward.
    """
    if age_days < 0:
        return 0.0
    return points * 0.5 ** (age_days / half_life_days)


def engagement(
    contributions: Iterable[Contribution], at: datetime, *, horizon_days: float | None = None
) -> tuple[float, dict[str, float]]:
    """Total engagement at event time `at` and each rule's share.

    Each rule's points per UTC day are first scaled down to `cap_per_day` (`day_capped`),
    then decayed; each rule's decayed sum is clamped to `[-cap, cap]` (the caps bound the
    size of a sum, for penalties too). Contributions after `at`, older than `horizon_days`
    or older than their rule's `within_days` count 0.
    """
    _, breakdown = _score(contributions, at, horizon_days)
    return sum(breakdown.values()), breakdown


def ranked(
    contributions: Iterable[Contribution], at: datetime, *, horizon_days: float | None = None
) -> list[tuple[Contribution, float]]:
    """Each contribution with its points at `at`, largest first.

    A capped rule's contributions are scaled by the same factor, so the points of all
    contributions add up to `engagement(...)` and the reasons a window shows add up too.
    Ties rank the newer event first, then by event id, so the order is deterministic.
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
    """Each contribution with its points before decay, after its rule's per-day cap.

    The contributions of one rule on one UTC day whose points add up to more than
    `cap_per_day` (in size: penalties too) are all scaled by the same factor, so that day
    adds up to exactly the cap. Where the contributions of a day disagree on the cap (the
    rulebook changed that day), the smallest applies, whatever their order.
    """
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
    if not factors:
        return [(c, c.points) for c in items]
    return [(c, c.points * factors.get((c.rule, _utc_day(c)), 1.0)) for c in items]


def _utc_day(c: Contribution) -> date:
    return c.occurred_at.astimezone(UTC).date()


def _score(
    contributions: Iterable[Contribution], at: datetime, horizon_days: float | None
) -> tuple[list[tuple[Contribution, float]], dict[str, float]]:
    counted: list[tuple[Contribution, float]] = []
    for c in contributions:
        age = (at - c.occurred_at).total_seconds() / _SECONDS_PER_DAY
        if horizon_days is not None and age > horizon_days:
            continue
        if c.within_days is not None and age > c.within_days:
            continue
        counted.append((c, age))
    # Only what counts at `at` fills a day's cap: a later event never scales an earlier score.
    # `day_capped` keeps the order, so its results pair up with the present contributions.
    base = iter(day_capped(c for c, age in counted if age >= 0))
    each: list[tuple[Contribution, float]] = []
    raw: dict[str, float] = {}
    caps: dict[str, float | None] = {}
    for c, age in counted:
        points = decayed(next(base)[1], c.half_life_days, age) if age >= 0 else 0.0
        each.append((c, points))
        raw[c.rule] = raw.get(c.rule, 0.0) + points
        caps[c.rule] = c.cap
    return each, {rule: _clamp(total, caps[rule]) for rule, total in raw.items()}


def fit(
    rulebook: Rulebook, facts: Mapping[str, Any]
) -> tuple[float, tuple[FitReason, ...], str, Disqualifier | None]:
    """Fit points, the fit rules that matched (rulebook order), tier A-D, first disqualifier."""
    section = rulebook.fit
    disqualifier = next((d for d in section.disqualify if evaluate(d.when, facts)), None)
    reasons = tuple(
        FitReason.model_construct(
            rule=r.name, points=r.points, detail=render_detail(r.detail, facts)
        )
        for r in section.rules
        if evaluate(r.when, facts)
    )
    points = sum(r.points for r in reasons)
    return points, reasons, fit_tier(section.tiers, points), disqualifier


def fit_tier(tiers: Mapping[Literal["A", "B", "C"], float], points: float) -> str:
    """The best tier whose minimum the points reach; "D" below them all."""
    tier: Literal["A", "B", "C"]
    for tier in ("A", "B", "C"):
        minimum = tiers.get(tier)
        if minimum is not None and points >= minimum:
            return tier
    return "D"


def match_engagement_rule(
    rulebook: Rulebook, signal: Signal, facts: Mapping[str, Any]
) -> EngagementRule | None:
    """The first engagement rule for the signal's type whose `when` holds, else None."""
    for rule in rulebook.engagement.rules:
        if rule.signal == signal.type and evaluate(rule.when, facts):
            return rule
    return None


def match_trigger(
    rulebook: Rulebook,
    signal: Signal,
    facts: Mapping[str, Any],
    *,
    contributions: Sequence[Contribution] = (),
    current: Contribution | None = None,
) -> Trigger | None:
    """The first window trigger for the signal's type whose `when` holds and that fires.

    `contributions` are the person's (the current signal's included or not) and `current`
    the signal's own contribution, if a rule scored it: see `trigger_fires`. Without them a
    trigger with `min_count` above 1 never fires. None when no trigger does.
    """
    for trigger in rulebook.windows.triggers:
        if (
            trigger.signal == signal.type
            and evaluate(trigger.when, facts)
            and trigger_fires(trigger, contributions, current, signal.occurred_at)
        ):
            return trigger
    return None


def trigger_fires(
    trigger: Trigger,
    contributions: Sequence[Contribution],
    current: Contribution | None,
    at: datetime,
) -> bool:
    """Whether the person has `trigger.min_count` contributions of the trigger's rule.

    Counted: distinct events of `trigger.rule` (default: `current`'s rule) at most
    `within_hours` before `at`, the current signal's event time, up to `at` itself, with
    `current` among them whether or not `contributions` already hold it. A trigger that
    names no rule, for a signal no rule scored, has only the signal itself to count.
    """
    if trigger.min_count <= 1 and trigger.rule is None:
        return True  # the signal itself is the one event needed
    rule = trigger.rule or (current.rule if current is not None else None)
    if rule is None:
        return False  # nothing scored the signal and no rule is named: nothing to count
    since = None
    if trigger.within_hours is not None:
        since = at - timedelta(hours=trigger.within_hours)
    events = {
        c.event_id
        for c in contributions
        if c.rule == rule and c.occurred_at <= at and (since is None or c.occurred_at >= since)
    }
    if current is not None and current.rule == rule:
        events.add(current.event_id)
    return len(events) >= trigger.min_count


TIER_ORDER = {"A": 0, "B": 1, "C": 2, "D": 3}


def tier_at_least(tier: str, minimum: str) -> bool:
    """Whether fit tier `tier` is `minimum` or better (A is best)."""
    return TIER_ORDER[tier] <= TIER_ORDER[minimum]


def render_detail(template: str, facts: Mapping[str, Any]) -> str:
    """Fill `{dotted.path}` placeholders from facts; a missing fact renders empty.

    Only flat lookups into `facts` happen: no attribute access, no format specs, so a
    rulebook author cannot reach into objects through the template.
    """
    if "{" not in template:
        return template
    return _PLACEHOLDER.sub(lambda m: _text(facts.get(m.group(1))), template)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (tuple, list)):
        return ", ".join(str(v) for v in value)
    return str(value)


def _clamp(value: float, cap: float | None) -> float:
    if cap is None:
        return value
    return max(-cap, min(cap, value))
