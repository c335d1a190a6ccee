"""Scoring: pure functions the engine calls for every evaluation of a prospect.

- `decayed`: half-life decay of one contribution's points.
- `engagement`: the decayed, per-rule capped sum of contributions at an event time.
- `ranked`: each contribution's share of that sum, largest first (the window's reasons).
- `fit`: ICP fit points, the matched fit rules, the tier, and the first disqualifier hit.
- `match_engagement_rule`: the first engagement rule that scores a signal.
- `render_detail`: a rule's `detail` with `{dotted.path}` placeholders filled from facts.

None of these raise on a validated rulebook and facts from `rules.facts`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, Literal

from rules.conditions import evaluate
from rules.rulebook import Disqualifier, EngagementRule, Rulebook, Trigger
from rules.state import Contribution
from signals.models import Signal
from signals.windows import FitReason

__all__ = [
    "decayed",
    "engagement",
    "fit",
    "fit_tier",
    "match_engagement_rule",
    "match_trigger",
    "ranked",
    "render_detail",
    "tier_at_least",
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

    Each rule's decayed sum is clamped to `[-cap, cap]` (the cap bounds the size of the sum,
    for penalties too). Contributions after `at`, or older than `horizon_days`, count 0.
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


def _score(
    contributions: Iterable[Contribution], at: datetime, horizon_days: float | None
) -> tuple[list[tuple[Contribution, float]], dict[str, float]]:
    each: list[tuple[Contribution, float]] = []
    raw: dict[str, float] = {}
    caps: dict[str, float | None] = {}
    for c in contributions:
        age = (at - c.occurred_at).total_seconds() / _SECONDS_PER_DAY
        if horizon_days is not None and age > horizon_days:
            continue
        points = decayed(c.points, c.half_life_days, age)
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


def match_trigger(rulebook: Rulebook, signal: Signal, facts: Mapping[str, Any]) -> Trigger | None:
    """The first window trigger for the signal's type whose `when` holds, else None."""
    for trigger in rulebook.windows.triggers:
        if trigger.signal == signal.type and evaluate(trigger.when, facts):
            return trigger
    return None


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
