"""Whether a window opens for one person now, and the window itself.

`evaluate_window` is the single decision point: the engine calls it for a person-level
signal, for each person an account-level signal reaches, and (forced) for a post-demo
window after a meeting. Pure; `now` only stamps `opened_at` and bases the send time.

Order of checks: disqualified, below threshold (unless a tier minimum, a trigger or `force`
lets it through), cooldown, then the cadence gate. Each refusal is a `Suppressed` with a
bounded reason the glue counts.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, get_args

from rules.core.cadence import CadenceState, GateReason
from rules.core.cadence import gate as cadence_gate
from rules.core.draft import build_draft, zone_for
from rules.core.facts import facts_for
from rules.core.scoring import engagement, fit, ranked, tier_at_least
from rules.core.state import AccountState, Contribution, ProspectState, scoring_basis
from rules.rulebook.model import Disqualifier, Rulebook, Trigger
from signals.models import Account, Person
from signals.windows import (
    ChampionHistory,
    FitReason,
    Play,
    Reason,
    RulebookRef,
    Score,
    WindowOpened,
)

__all__ = [
    "MAX_REASONS",
    "MIN_REASON_POINTS",
    "SUPPRESSION_REASONS",
    "Suppressed",
    "SuppressionReason",
    "evaluate_window",
]

MIN_REASON_POINTS = 0.05
MAX_REASONS = 5

SuppressionReason = (
    Literal["below_threshold", "cooldown", "disqualified", "account_limit"] | GateReason
)
SUPPRESSION_REASONS: tuple[str, ...] = (
    "below_threshold",
    "cooldown",
    "disqualified",
    "account_limit",
    *get_args(GateReason),
)


# Fit depends only on who the person and the account are, which rarely change, yet every
# signal asks for it: remember recent answers. Pure memoisation, bounded, keyed by the
# rulebook's content hash so a reloaded rulebook never reuses an old answer.
FitResult = tuple[float, tuple[FitReason, ...], str, Disqualifier | None]
_FIT_CACHE: dict[tuple[str, Person, Account | None], FitResult] = {}
_FIT_CACHE_SIZE = 50_000


def _fit(rulebook: Rulebook, person: Person, account: Account | None) -> FitResult:
    key = (rulebook.hash, person, account)
    try:
        return _FIT_CACHE[key]
    except KeyError:
        pass
    result = fit(rulebook, facts_for(None, person, account))
    if len(_FIT_CACHE) >= _FIT_CACHE_SIZE:
        _FIT_CACHE.clear()
    _FIT_CACHE[key] = result
    return result


@dataclass(frozen=True, slots=True)
class Suppressed:
    person_key: str
    reason: SuppressionReason


def evaluate_window(
    rulebook: Rulebook,
    prospect: ProspectState,
    account: AccountState | None,
    at: datetime,
    trigger_event_id: str,
    now: datetime,
    *,
    cadence: CadenceState | None = None,
    trigger: Trigger | None = None,
    trigger_rule: str | None = None,
    history: ChampionHistory | None = None,
    play: Play | None = None,
    force: bool = False,
) -> tuple[ProspectState, WindowOpened | None, Suppressed | None]:
    """Score the prospect at event time `at` and open a window if it qualifies.

    It qualifies when the total reaches the threshold, when engagement reaches the minimum
    for the person's fit tier, or when `trigger` matched the signal and the fit tier is at
    least the trigger's (`force`, for a post-demo window, skips these and the cooldown);
    never when disqualified, inside the cooldown, or refused by the cadence gate
    (`rules.core.cadence.gate`: opt-out, reply, spacing, caps, pauses). `play` overrides the play
    the contributions would choose; the gate may still change it (no_response, breakup...).
    `trigger_rule` is the engagement rule that scored the triggering signal (hot or not).
    """
    pk = prospect.person_key
    contributions, person_account = scoring_basis(prospect, account)
    fit_points, fit_reasons, tier, disqualifier = _fit(rulebook, prospect.person, person_account)
    if disqualifier is not None:
        return prospect, None, Suppressed(pk, "disqualified")
    horizon = rulebook.engagement.horizon_days
    engagement_points, _ = engagement(contributions, at, horizon_days=horizon)
    total = fit_points + engagement_points
    windows = rulebook.windows
    tier_minimum = windows.min_engagement_by_tier.get(tier)  # type: ignore[call-overload]
    triggered = trigger is not None and tier_at_least(tier, trigger.min_fit_tier)
    if not (
        force
        or total >= windows.threshold
        or (tier_minimum is not None and engagement_points >= tier_minimum)
        or triggered
    ):
        return prospect, None, Suppressed(pk, "below_threshold")
    last = prospect.last_window_at
    if not force and last is not None and at - last < timedelta(days=windows.cooldown_days):
        return prospect, None, Suppressed(pk, "cooldown")

    scored = ranked(contributions, at, horizon_days=horizon)  # only when a window may open
    if play is None:
        play = trigger.play if triggered and trigger is not None else _play(scored)
    engaged = [c.occurred_at for c in prospect.contributions if c.points > 0]
    gate = cadence_gate(
        rulebook.cadence,
        cadence,
        trigger_play=play,
        hot=rulebook.cadence.is_hot(play=play, rule=trigger_rule),
        at=at,
        last_engaged_at=max(engaged) if engaged else None,
        timezone=zone_for(prospect.person, person_account),
        country=person_account.country if person_account is not None else None,
    )
    if not gate.allowed:
        assert gate.reason is not None
        return prospect, None, Suppressed(pk, gate.reason)
    play = gate.play
    window_id = "w_" + hashlib.sha256(f"{pk}|{trigger_event_id}".encode()).hexdigest()[:24]
    score = Score(
        fit=round(fit_points, 2),
        engagement=round(engagement_points, 2),
        total=round(total, 2),
        threshold=windows.threshold,
        fit_tier=tier,
    )
    reasons = tuple(
        Reason(
            event_id=c.event_id,
            signal_type=str(c.signal_type),
            occurred_at=c.occurred_at,
            rule=c.rule,
            points=round(points, 2),
            detail=c.detail,
        )
        for c, points in scored[:MAX_REASONS]
        if points > MIN_REASON_POINTS
    )
    draft = build_draft(
        rulebook,
        play=play,
        gate=gate,
        vacations=cadence.vacations if cadence is not None else (),
        person=prospect.person,
        account=person_account,
        score=score,
        reasons=reasons,
        fit_reasons=fit_reasons,
        contributions=[c for c, _ in scored],
        opened_at=now,
    )
    if history is not None and history.is_champion:
        draft = draft.model_copy(
            update={"talking_points": (_history_point(history), *draft.talking_points)[:4]}
        )
    window = WindowOpened(
        window_id=window_id,
        opened_at=now,
        as_of=at,
        trigger_event_id=trigger_event_id,
        person_key=pk,
        account_key=prospect.account_key,
        person=prospect.person,
        account=person_account,
        play=play,
        score=score,
        reasons=reasons,
        fit_reasons=_fit_reasons(fit_reasons),
        rulebook=RulebookRef(version=rulebook.version, hash=rulebook.hash),
        draft=draft,
        champion=history,
    )
    opened = prospect.model_copy(
        update={
            "last_window_at": at,
            "last_window_id": window_id,
            "windows_opened": prospect.windows_opened + 1,
            "open_window_id": window_id,
            "open_window_expires_at": draft.expires_at,
        }
    )
    return opened, window, None


def _play(scored: list[tuple[Contribution, float]]) -> Play:
    """The play of the rule that contributes most now (its newest contribution's play)."""
    by_rule: dict[str, float] = {}
    newest: dict[str, Contribution] = {}
    for c, points in scored:
        by_rule[c.rule] = by_rule.get(c.rule, 0.0) + points
        if c.rule not in newest or c.sort_key > newest[c.rule].sort_key:
            newest[c.rule] = c
    # Ties on points pick the alphabetically first rule name.
    positive = sorted((-points, rule) for rule, points in by_rule.items() if points > 0)
    if not positive:
        return "signal_triggered"
    return newest[positive[0][1]].play


def _history_point(history: ChampionHistory) -> str:
    where = history.previous_account_name or history.previous_account_key
    role = f" as {history.previous_title}" if history.previous_title else ""
    return f"Worked with us at {where}{role}: {'; '.join(history.evidence)}."


def _fit_reasons(reasons: tuple[FitReason, ...]) -> tuple[FitReason, ...]:
    return tuple(r.model_copy(update={"points": round(r.points, 2)}) for r in reasons)
