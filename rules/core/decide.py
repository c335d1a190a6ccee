"""Whether a window opens for one person now, and the window itself.

Two steps, so that fan-out can rank many people on one assessment each:

- `assess` scores the person at event time `at` and runs every check; it opens nothing.
- `open_window` turns an assessment that passed into the window and the new prospect state.

`evaluate_window` does both, for the one-person paths (a person's own signal, a post-demo
window). The engine calls these; pure, `now` only stamps `opened_at`, bases the send time
and judges freshness.

Order of checks: disqualified, below threshold (unless a tier minimum, a trigger or
`force` lets it through), cooldown, stale (the triggering signal is older than the play's
freshness against `now`), the cadence gate (opt-out, reply, spacing, caps...), and last a
pause that covers the window's whole lifetime (a vacation or holidays; a shorter pause
moves the send time instead). Each refusal is a `Suppressed` with a bounded reason.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Literal, get_args

import msgspec

from rules.core.cadence import CadenceState, Gate, GateReason
from rules.core.cadence import gate as cadence_gate
from rules.core.draft import build_draft, zone_for
from rules.core.engagement import Scored, combine, score
from rules.core.fitcache import FitCache, FitResult, fit_of
from rules.core.scoring import (
    MAX_REASONS,
    MIN_REASON_POINTS,
    ranked_reasons,
    render_detail,
    tier_at_least,
)
from rules.core.sendtime import paused_through
from rules.core.state import AccountState, Notable, ProspectState, RuleSum, Suppression
from rules.rulebook.model import Rulebook, Trigger
from signals.records import AccountRec, account_model, person_model
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

SuppressionReason = (
    Literal[
        "below_threshold",
        "cooldown",
        "disqualified",
        "account_limit",
        "stale",
        "paused_vacation",
        "paused_holiday",
    ]
    | GateReason
)
SUPPRESSION_REASONS: tuple[str, ...] = (
    "below_threshold",
    "cooldown",
    "disqualified",
    "account_limit",
    "stale",
    "paused_vacation",
    "paused_holiday",
    *get_args(GateReason),
)


class Suppressed(msgspec.Struct, frozen=True):
    person_key: str
    reason: SuppressionReason


class TriggerRef(msgspec.Struct, frozen=True):
    """The event a window answers: its dedup identity and its event time."""

    source: str
    event_id: str
    occurred_at: datetime


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


class Assessment(msgspec.Struct, frozen=True):
    """One person scored at `at`, and whether (and why not) a window may open."""

    prospect: ProspectState
    at: datetime
    account: AccountRec | None  # the account the person is scored with
    fit: FitResult
    scored: Scored
    sums: tuple[RuleSum, ...]
    notable: tuple[Notable, ...]
    play: Play
    gate: Gate | None
    suppressed: Suppressed | None  # None: a window may open

    @property
    def total(self) -> float:
        return self.fit[0] + self.scored.total


def basis(
    prospect: ProspectState, account: AccountState | None
) -> tuple[tuple[RuleSum, ...], tuple[Notable, ...], AccountRec | None]:
    """What a prospect is scored on: their engagement, plus the account's when it is their
    account (funding, anonymous visits), and the account as its state describes it."""
    if account is not None and account.account_key == prospect.account_key:
        sums, notable = combine(prospect.engagement, account.engagement)
        return sums, notable, account.account
    return prospect.engagement.sums, prospect.engagement.notable, None


def evaluation_time(
    prospect: ProspectState, account: AccountState | None, *also: datetime
) -> datetime:
    """The newest event time a person's score knows (theirs, their account's, `also`):
    every evaluation happens at or after every contribution it counts."""
    times = [t for t in (prospect.watermark, *also) if t is not None]
    if account is not None and account.account_key == prospect.account_key and account.watermark:
        times.append(account.watermark)
    assert times, "a prospect being evaluated has seen an event"
    return max(times)


def assess(
    rulebook: Rulebook,
    prospect: ProspectState,
    account: AccountState | None,
    at: datetime,
    now: datetime,
    *,
    trigger_at: datetime,
    cadence: CadenceState | None = None,
    suppression: Suppression | None = None,
    trigger: Trigger | None = None,
    trigger_rule: str | None = None,
    play: Play | None = None,
    force: bool = False,
    fits: FitCache | None = None,
) -> Assessment:
    """Score the prospect at event time `at` and decide whether a window may open.

    It qualifies when the total reaches the threshold, when engagement reaches the minimum
    for the person's fit tier, or when `trigger` matched the signal and the fit tier is at
    least the trigger's (`force`, for a post-demo window, skips these and the cooldown).
    `trigger_at` is the triggering event's time, judged fresh against `now`. `play`
    overrides the play the engagement would choose; the cadence gate may still change it.
    """
    pk = prospect.person_key
    sums, notable, person_account = basis(prospect, account)
    fit_result = fit_of(rulebook, prospect.person, person_account, fits)
    scored = score(sums, at, rulebook.engagement.horizon_days)
    windows = rulebook.windows
    tier = fit_result[2]
    triggered = trigger is not None and tier_at_least(tier, trigger.min_fit_tier)
    if play is None:
        play = trigger.play if triggered and trigger is not None else _play(sums, scored)

    def refused(reason: SuppressionReason, gate: Gate | None = None) -> Assessment:
        return Assessment(
            prospect, at, person_account, fit_result, scored, sums, notable, play, gate,
            Suppressed(pk, reason),
        )  # fmt: skip

    if fit_result[3] is not None:
        return refused("disqualified")
    tier_minimum = windows.min_engagement_by_tier.get(tier)  # type: ignore[call-overload]
    if not (
        force
        or fit_result[0] + scored.total >= windows.threshold
        or (tier_minimum is not None and scored.total >= tier_minimum)
        or triggered
    ):
        return refused("below_threshold")
    last = prospect.last_window_at
    if not force and last is not None and at - last < timedelta(days=windows.cooldown_days):
        return refused("cooldown")
    if now - trigger_at > timedelta(hours=windows.fresh_for(play)):
        return refused("stale")
    gate = cadence_gate(
        rulebook.cadence,
        cadence,
        trigger_play=play,
        hot=rulebook.cadence.is_hot(play=play, rule=trigger_rule),
        at=at,
        last_engaged_at=prospect.engagement.last_positive,
        suppression=suppression,
    )
    if not gate.allowed:
        assert gate.reason is not None
        return refused(gate.reason, gate)
    paused = paused_through(
        now,
        now + gate.expires_in,
        timezone=zone_for(prospect.person, person_account, rulebook.cadence),
        rules=rulebook.cadence,
        vacations=cadence.vacations if cadence is not None else (),
        country=person_account.country if person_account is not None else None,
    )
    if paused is not None:
        return refused("paused_vacation" if paused == "vacation" else "paused_holiday", gate)
    return Assessment(
        prospect, at, person_account, fit_result, scored, sums, notable, gate.play, gate, None
    )


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


def _play(sums: tuple[RuleSum, ...], scored: Scored) -> Play:
    """The play of the rule that contributes most now (its newest contribution's play).
    Ties on points pick the alphabetically first rule name; ties on time, the last sum."""
    best: str | None = None
    most = 0.0
    for rule, points in scored.by_rule.items():
        if points > 0 and (best is None or points > most or (points == most and rule < best)):
            best, most = rule, points
    if best is None:
        return "signal_triggered"
    chosen: RuleSum | None = None
    for s in sums:
        if s.rule == best and (chosen is None or s.newest >= chosen.newest):
            chosen = s
    assert chosen is not None  # a rule with points has a sum
    return chosen.play  # type: ignore[return-value]  # a PLAYS name


def _history_point(history: ChampionHistory) -> str:
    where = history.previous_account_name or history.previous_account_key
    role = f" as {history.previous_title}" if history.previous_title else ""
    return f"Worked with us at {where}{role}: {'; '.join(history.evidence)}."
