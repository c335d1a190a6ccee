"""Scoring: pure functions the engine calls for every evaluation of a prospect.

Engagement sums live in `rules.core.engagement`; this module has the rest:

- `fit`: ICP fit points, the matched fit rules, the tier, and the first disqualifier hit.
- `match_engagement_rule`: the first engagement rule that scores a signal.
- `match_trigger`, `trigger_fires`: the first window trigger a signal fires, and whether a
  count trigger ("pricing twice in 48 hours") has its count.
- `render_detail`: a rule's `detail` with `{dotted.path}` placeholders filled from facts.

None of these raise on a validated rulebook and facts from `rules.core.facts`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any, Literal

from rules.core.engagement import Contribution
from rules.core.state import Notable, RuleSum
from rules.core.valuation import Scored
from rules.rulebook.conditions import evaluate
from rules.rulebook.model import Disqualifier, EngagementRule, Rulebook, Trigger
from signals.records import SignalRec
from signals.windows import FitReason, Reason

__all__ = [
    "MAX_REASONS",
    "MIN_REASON_POINTS",
    "TIER_ORDER",
    "fit",
    "fit_tier",
    "match_engagement_rule",
    "match_trigger",
    "placeholders",
    "ranked_reasons",
    "render_detail",
    "tier_at_least",
    "trigger_fires",
]

MIN_REASON_POINTS = 0.05  # a window's reasons leave out what decayed to almost nothing
MAX_REASONS = 5
_PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_.]*)\}")


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
    rulebook: Rulebook, signal: SignalRec, facts: Mapping[str, Any]
) -> EngagementRule | None:
    """The first engagement rule for the signal's type whose `when` holds, else None."""
    for rule in rulebook.engagement.rules:
        if rule.signal == signal.type and evaluate(rule.when, facts):
            return rule
    return None


def match_trigger(
    rulebook: Rulebook,
    signal: SignalRec,
    facts: Mapping[str, Any],
    *,
    sums: Sequence[RuleSum] = (),
    current: Contribution | None = None,
) -> Trigger | None:
    """The first window trigger for the signal's type whose `when` holds and that fires.

    `sums` are the person's engagement sums (with or without the current signal) and
    `current` the signal's own contribution, if a rule scored it: see `trigger_fires`.
    """
    for trigger in rulebook.windows.triggers:
        if (
            trigger.signal == signal.type
            and evaluate(trigger.when, facts)
            and trigger_fires(trigger, sums, current, signal.occurred_at)
        ):
            return trigger
    return None


def trigger_fires(
    trigger: Trigger,
    sums: Sequence[RuleSum],
    current: Contribution | None,
    at: datetime,
) -> bool:
    """Whether the person has `trigger.min_count` contributions of the trigger's rule.

    Counted: among the newest `Rulebook.recent_for(rule)` contributions of `trigger.rule`
    (default: `current`'s rule), those at most `within_hours` before `at` (the current
    signal's event time) and not after it, with `current` among them whether or not the
    sums already hold it. A trigger that names no rule, for a signal no rule scored, has
    only the signal itself to count.
    """
    if trigger.min_count <= 1 and trigger.rule is None:
        return True  # the signal itself is the one event needed
    rule = trigger.rule or (current.rule if current is not None else None)
    if rule is None:
        return False  # nothing scored the signal and no rule is named: nothing to count
    at_s = at.timestamp()
    since = at_s - trigger.within_hours * 3600 if trigger.within_hours is not None else None
    # A list, not a set: two visits in the same second are two visits. A time the sums
    # hold already is taken to be the current signal's (the engine passes sums with it).
    times = [t for s in sums if s.rule == rule for t in s.recent]
    if current is not None and current.rule == rule:
        now = current.occurred_at.timestamp()
        if now not in times:
            times.append(now)
    return sum(1 for t in times if t <= at_s and (since is None or t >= since)) >= trigger.min_count


TIER_ORDER = {"A": 0, "B": 1, "C": 2, "D": 3}


def tier_at_least(tier: str, minimum: str) -> bool:
    """Whether fit tier `tier` is `minimum` or better (A is best)."""
    return TIER_ORDER[tier] <= TIER_ORDER[minimum]


@lru_cache(maxsize=1024)
def placeholders(template: str) -> frozenset[str]:
    """The fact keys a detail template names."""
    return frozenset(_PLACEHOLDER.findall(template))


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


def ranked_reasons(notable: tuple[Notable, ...], scored: Scored) -> tuple[Reason, ...]:
    """A window's reasons: the kept contributions worth more than `MIN_REASON_POINTS` at the
    score's time, largest first (then newest), at most `MAX_REASONS`."""
    points = {n.event_id: scored.points_of(n) for n in notable}
    ranked = sorted(
        notable, key=lambda n: (-points[n.event_id], -n.occurred_at.timestamp(), n.event_id)
    )
    return tuple(
        Reason(
            event_id=n.event_id,
            signal_type=n.signal_type,
            occurred_at=n.occurred_at,
            rule=n.rule,
            points=round(points[n.event_id], 2),
            detail=n.detail,
        )
        for n in ranked[:MAX_REASONS]
        if points[n.event_id] > MIN_REASON_POINTS
    )
