"""How one signal becomes one engagement contribution, and the text it may keep.

A contribution lives in the person's state and is quoted in every window it supports, so
whatever a producer sends, its detail is clipped to `MAX_KEPT_TEXT` bytes of UTF-8 and the
facts it keeps for the draft share one budget of `MAX_KEPT_TEXT` bytes (short facts whole,
the long ones share what they leave): a job change with four long facts keeps as much
text as a page view with one, and the few contributions a state keeps stay small. Bytes,
not characters: the contract's limits are characters, and one can take four bytes.

The event id a reason cites is kept whole up to `MAX_CITED_ID` bytes (a UUID with a
prefix fits); a longer one is cited by its start, `~` and 12 hex digits of its hash
(`cited_id`), so two long ids that share a start still differ. Pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from rules.core import engagement as eng
from rules.core.budget import cite, size
from rules.core.budget import clip as _clip
from rules.core.draft import DRAFT_FACT_KEYS
from rules.core.scoring import placeholders, render_detail
from rules.rulebook.model import EngagementRule, Rulebook
from signals.records import SignalRec

__all__ = ["MAX_CITED_ID", "MAX_KEPT_TEXT", "cited_id", "clip", "contribution_of"]

MAX_KEPT_TEXT = 120  # bytes of UTF-8
MAX_CITED_ID = 40  # bytes of UTF-8
_DRAFT_KEYS = frozenset(DRAFT_FACT_KEYS)


def clip(text: str, limit: int = MAX_KEPT_TEXT) -> str:
    """`text` in at most `limit` bytes of UTF-8, an ellipsis marking a cut."""
    return _clip(text, limit)


def cited_id(event_id: str) -> str:
    """The event id a kept contribution cites: itself up to `MAX_CITED_ID` bytes, else its
    start, `~` and the first hex digits of its hash, `MAX_CITED_ID` bytes in all."""
    return cite(event_id, MAX_CITED_ID)


def _fact_text(value: Any) -> str:
    if isinstance(value, (tuple, list)):
        return ", ".join(str(v) for v in value)
    return str(value)


def _within_budget(texts: list[tuple[int, str]]) -> tuple[tuple[int, str], ...]:
    """`texts` clipped to `MAX_KEPT_TEXT` bytes in all: shorter ones first are kept
    whole while they fit their equal share, and what they leave goes to the longer ones."""
    limits: dict[int, int] = {}
    left = MAX_KEPT_TEXT
    by_length = sorted(texts, key=lambda it: size(it[1]))
    for n, (i, text) in enumerate(by_length):
        limits[i] = min(size(text), left // (len(by_length) - n))
        left -= limits[i]
    return tuple((i, clip(text, max(1, limits[i]))) for i, text in texts)


def _named(named: frozenset[str], facts: Mapping[str, Any]) -> tuple[tuple[str, Any, type], ...]:
    # With each value's type: equal values of two types (1, 1.0, True) render apart.
    return tuple((k, v, type(v)) for k in _others(named) for v in (facts.get(k),))


@lru_cache(maxsize=1024)
def _others(named: frozenset[str]) -> tuple[str, ...]:
    """The keys a template names that are not kept facts, in a stable order."""
    return tuple(sorted(named - _DRAFT_KEYS))


@lru_cache(maxsize=4096)
def _kept_texts(
    template: str, draft: tuple[Any, ...], others: tuple[tuple[str, Any, type], ...]
) -> tuple[str, tuple[tuple[int, str], ...]]:
    """(detail, kept facts) of a contribution: all a rule's detail template and the
    signal's facts give it. `draft` holds the value of each of `DRAFT_FACT_KEYS` (None:
    absent; each key's type is fixed by the records), `others` the other facts the
    template names, with their types. Pure, so remembered: the same
    rules meet the same pages and subjects over and over."""
    facts = {k: v for k, v in zip(DRAFT_FACT_KEYS, draft, strict=True) if v is not None}
    facts.update((k, v) for k, v, _ in others if v is not None)
    texts = [(i, _fact_text(facts[k])) for i, k in enumerate(DRAFT_FACT_KEYS) if k in facts]
    kept = _within_budget(texts)
    named = placeholders(template)
    if named <= _DRAFT_KEYS and all(
        text == whole
        for (i, text), (_, whole) in zip(kept, texts, strict=True)
        if DRAFT_FACT_KEYS[i] in named
    ):
        detail = ""  # it renders from kept facts that were not clipped: the same text
    else:
        detail = clip(render_detail(template, facts))
        if detail == clip(render_detail(template, {DRAFT_FACT_KEYS[i]: v for i, v in kept})):
            detail = ""  # the rule renders it again from the kept facts: not stored twice
    return detail, kept


def contribution_of(
    rulebook: Rulebook, rule: EngagementRule, signal: SignalRec, facts: Mapping[str, Any]
) -> eng.Contribution:
    """The contribution `rule` makes for `signal` (points before caps and decay).

    Its detail is clipped to `MAX_KEPT_TEXT` bytes and the facts kept for the draft
    share that many (they live in the state and in every window, whatever a producer
    sends). A detail the
    rule renders from the kept facts alone is left empty (`rules.core.decide.resolved`
    renders it when a window needs it)."""
    args = (
        rule.detail,
        tuple(map(facts.get, DRAFT_FACT_KEYS)),
        _named(placeholders(rule.detail), facts),
    )
    try:
        detail, kept = _kept_texts(*args)
    except TypeError:  # an unhashable fact value: computed without the memo
        detail, kept = _kept_texts.__wrapped__(*args)
    return eng.Contribution(
        event_id=cited_id(signal.event_id),
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
