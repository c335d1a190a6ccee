"""How one signal becomes one engagement contribution, and the text it may keep.

A contribution lives in the person's state and is quoted in every window it supports, so
whatever a producer sends, the detail and the facts it keeps for the draft are clipped to
`MAX_KEPT_TEXT` characters. Pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rules.core import engagement as eng
from rules.core.draft import DRAFT_FACT_KEYS
from rules.core.scoring import placeholders, render_detail
from rules.rulebook.model import EngagementRule, Rulebook
from signals.records import SignalRec

__all__ = ["MAX_KEPT_TEXT", "clip", "contribution_of"]

MAX_KEPT_TEXT = 120
_DRAFT_KEYS = frozenset(DRAFT_FACT_KEYS)


def clip(text: str, limit: int = MAX_KEPT_TEXT) -> str:
    """`text` at most `limit` characters, an ellipsis marking a cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _fact_text(value: Any) -> str:
    if isinstance(value, (tuple, list)):
        return ", ".join(str(v) for v in value)
    return str(value)


def contribution_of(
    rulebook: Rulebook, rule: EngagementRule, signal: SignalRec, facts: Mapping[str, Any]
) -> eng.Contribution:
    """The contribution `rule` makes for `signal` (points before caps and decay).

    Its detail and the facts kept for the draft are clipped to `MAX_KEPT_TEXT` characters:
    they live in the state and in every window, whatever a producer sends. A detail the
    rule renders from the kept facts alone is left empty (`rules.core.decide.resolved`
    renders it when a window needs it)."""
    texts = [(i, _fact_text(facts[k])) for i, k in enumerate(DRAFT_FACT_KEYS) if k in facts]
    kept = tuple((i, clip(text)) for i, text in texts)
    named = placeholders(rule.detail)
    if named <= _DRAFT_KEYS and all(
        len(text) <= MAX_KEPT_TEXT for i, text in texts if DRAFT_FACT_KEYS[i] in named
    ):
        detail = ""  # it renders from kept facts that were not clipped: the same text
    else:
        detail = clip(render_detail(rule.detail, facts))
        if detail == clip(render_detail(rule.detail, {DRAFT_FACT_KEYS[i]: v for i, v in kept})):
            detail = ""  # the rule renders it again from the kept facts: not stored twice
    return eng.Contribution(
        event_id=signal.event_id,
        signal_type=signal.type,
        rule=rule.name,
        points=rule.points,
        half_life_days=rule.half_life_days or rulebook.engagement.default_half_life_days,
        occurred_at=signal.occurred_at,
        detail=detail,
        play=rule.play,
        cap=rule.cap,
        cap_per_day=rule.cap_per_day,
        within_days=rule.within_days,
        facts=kept,
    )
