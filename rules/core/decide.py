"""Whether a window opens for one person now, and the window itself.

Two steps, so that fan-out can rank many people on one assessment each:

- `assess` (`rules.core.assessment`, re-exported here) scores the person at event time
  `at` and runs every check, in the order that module states; it opens nothing.
- `open_window` turns an assessment that passed into the window and the new prospect state.

`evaluate_window` does both, for the one-person paths (a person's own signal, a post-demo
window). The engine calls these; pure, `now` only stamps `opened_at`, bases the send time
and judges freshness.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

import msgspec

from rules.core.assessment import (
    SUPPRESSION_REASONS,
    Assessment,
    Suppressed,
    SuppressionReason,
    TriggerRef,
    assess,
    basis,
    evaluation_time,
)
from rules.core.cadence import CadenceState, Gate
from rules.core.draft import build_draft
from rules.core.fitcache import FitCache
from rules.core.scoring import MAX_REASONS, MIN_REASON_POINTS, ranked_reasons, render_detail
from rules.core.state import AccountState, Notable, ProspectState, Suppression
from rules.rulebook.model import Rulebook, Trigger
from signals.records import account_model, person_model
from signals.windows import (
    ChampionHistory,
    Play,
    RulebookRef,
    Score,
    WindowOpened,
)

__all__ = [
    "MAX_REASONS",
    "MIN_REASON_POINTS",
    "SUPPRESSION_REASONS",
    "Assessment",
    "Suppressed",
    "SuppressionReason",
    "TriggerRef",
    "assess",
    "basis",
    "evaluate_window",
    "evaluation_time",
    "open_window",
    "ranked_reasons",
    "resolved",
    "window_id",
]

MAX_DETAIL = 120


def resolved(rulebook: Rulebook, notable: tuple[Notable, ...]) -> tuple[Notable, ...]:
    """Kept contributions with their details filled in: an empty one is rendered again by
    its rule from the facts kept with it (its rule's name if the rulebook lost the rule)."""
    if all(n.detail for n in notable):
        return notable
    rules = {r.name: r for r in rulebook.engagement.rules}
    out = []
    for n in notable:
        if not n.detail:
            rule = rules.get(n.rule)
            text = render_detail(rule.detail, n.fact_map()) if rule is not None else n.rule
            n = msgspec.structs.replace(n, detail=text[:MAX_DETAIL])
        out.append(n)
    return tuple(out)


def window_id(person_key: str, trigger: TriggerRef) -> str:
    """Deterministic: the same person and triggering event give the same id on a replay."""
    text = f"{person_key}|{trigger.source}|{trigger.event_id}"
    return "w_" + hashlib.sha256(text.encode()).hexdigest()[:24]


def open_window(
    rulebook: Rulebook,
    a: Assessment,
    trigger: TriggerRef,
    now: datetime,
    *,
    cadence: CadenceState | None = None,
    history: ChampionHistory | None = None,
    play: Play | None = None,
) -> tuple[ProspectState, WindowOpened]:
    """The window for an assessment that passed, and the prospect state that records it.

    `play` overrides the assessed play (fan-out gives the second and later people the
    multi-threading play); a play the cadence chose (breakup, no_response...) is kept."""
    assert a.suppressed is None and a.gate is not None, "only an assessment that passed opens"
    prospect = a.prospect
    pk = prospect.person_key
    gate = a.gate
    if play is not None and gate.play == a.play:
        gate = Gate(gate.allowed, gate.reason, play, gate.channel, gate.urgency, gate.expires_in)
    fit_points, fit_reasons, tier, _ = a.fit
    wid = window_id(pk, trigger)
    notable = resolved(rulebook, a.notable)
    windows = rulebook.windows
    reasons = ranked_reasons(notable, a.scored)
    total = fit_points + a.scored.total
    score_ = Score(
        fit=round(fit_points, 2),
        engagement=round(a.scored.total, 2),
        total=round(total, 2),
        threshold=windows.threshold,
        fit_tier=tier,
    )
    draft = build_draft(
        rulebook,
        play=gate.play,
        gate=gate,
        vacations=cadence.vacations if cadence is not None else (),
        person=prospect.person,
        account=a.account,
        score=score_,
        reasons=reasons,
        fit_reasons=fit_reasons,
        notable=notable,
        sums=a.sums,
        opened_at=now,
    )
    if history is not None and history.is_champion:
        draft = draft.model_copy(
            update={"talking_points": (_history_point(history), *draft.talking_points)[:4]}
        )
    window = WindowOpened(
        window_id=wid,
        opened_at=now,
        as_of=a.at,
        trigger_event_id=trigger.event_id,
        trigger_source=trigger.source,
        person_key=pk,
        account_key=prospect.account_key,
        person=person_model(prospect.person),
        account=account_model(a.account) if a.account is not None else None,
        play=gate.play,
        score=score_,
        reasons=reasons,
        fit_reasons=tuple(r.model_copy(update={"points": round(r.points, 2)}) for r in fit_reasons),
        rulebook=RulebookRef(version=rulebook.version, hash=rulebook.hash),
        draft=draft,
        champion=history,
    )
    opened = msgspec.structs.replace(
        prospect,
        last_window_at=a.at,
        last_window_id=wid,
        windows_opened=prospect.windows_opened + 1,
        open_window_id=wid,
        open_window_expires_at=draft.expires_at,
    )
    return opened, window


def evaluate_window(
    rulebook: Rulebook,
    prospect: ProspectState,
    account: AccountState | None,
    at: datetime,
    trigger: TriggerRef,
    now: datetime,
    *,
    cadence: CadenceState | None = None,
    suppression: Suppression | None = None,
    rule_trigger: Trigger | None = None,
    trigger_rule: str | None = None,
    history: ChampionHistory | None = None,
    play: Play | None = None,
    force: bool = False,
    fits: FitCache | None = None,
) -> tuple[ProspectState, WindowOpened | None, Suppressed | None]:
    """`assess` then, if it passed, `open_window`: (new state, window or None, why not)."""
    a = assess(
        rulebook,
        prospect,
        account,
        at,
        now,
        trigger_at=trigger.occurred_at,
        cadence=cadence,
        suppression=suppression,
        trigger=rule_trigger,
        trigger_rule=trigger_rule,
        play=play,
        force=force,
        fits=fits,
    )
    if a.suppressed is not None:
        return prospect, None, a.suppressed
    state, window = open_window(rulebook, a, trigger, now, cadence=cadence, history=history)
    return state, window, None


def _history_point(history: ChampionHistory) -> str:
    where = history.previous_account_name or history.previous_account_key
    role = f" as {history.previous_title}" if history.previous_title else ""
    return f"Worked with us at {where}{role}: {'; '.join(history.evidence)}."
