"""How one signal becomes one engagement contribution, and the text it may keep.

A contribution lives in the person's state and is quoted in every window it supports, so
whatever a producer sends, its detail is clipped to `MAX_KEPT_TEXT` characters and the
facts it keeps for the draft share one budget of `MAX_KEPT_TEXT` characters (short facts
whole, the long ones share what they leave): a job change with four long facts keeps as
much text as a page view with one, and the few contributions a state keeps stay small.
Pure.
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


def _within_budget(texts: list[tuple[int, str]]) -> tuple[tuple[int, str], ...]:
    """`texts` clipped to `MAX_KEPT_TEXT` characters in all: shorter ones first are kept
    whole while they fit their equal share, and what they leave goes to the longer ones."""
    limits: dict[int, int] = {}
    left = MAX_KEPT_TEXT
    by_length = sorted(texts, key=lambda it: len(it[1]))
    for n, (i, text) in enumerate(by_length):
        limits[i] = min(len(text), left // (len(by_length) - n))
        left -= limits[i]
    return tuple((i, clip(text, max(1, limits[i]))) for i, text in texts)


def contribution_of(
    rulebook: Rulebook, rule: EngagementRule, signal: SignalRec, facts: Mapping[str, Any]
) -> eng.Contribution:
    """The contribution `rule` makes for `signal` (points before caps and decay).

    Its detail is clipped to `MAX_KEPT_TEXT` characters and the facts kept for the draft
    share that many (they live in the state and in every window, whatever a producer
    sends). A detail the
    rule renders from the kept facts alone is left empty (`rules.core.decide.resolved`
    renders it when a window needs it)."""
    texts = [(i, _fact_text(facts[k])) for i, k in enumerate(DRAFT_FACT_KEYS) if k in facts]
    kept = _within_budget(texts)
    named = placeholders(rule.detail)
    if named <= _DRAFT_KEYS and all(
        text == whole
        for (i, text), (_, whole) in zip(kept, texts, strict=True)
        if DRAFT_FACT_KEYS[i] in named
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
