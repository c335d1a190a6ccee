"""Whether a window may open for one person now: the assessment, which opens nothing.

`assess` scores the person at event time `at` and runs every check; fan-out ranks many
people on one assessment each, and `rules.core.decide.open_window` turns one that passed
into the window. Pure; `now` only judges freshness and bases the pause check.

Order of checks: disqualified, below threshold (unless a tier minimum, a trigger or
`force` lets it through), cooldown, stale (the triggering signal is older than the play's
freshness against `now`), the cadence gate (opt-out, reply, spacing, caps...), and last a
pause that covers the window's whole lifetime (a vacation or holidays; a shorter pause
moves the send time instead). Each refusal is a `Suppressed` with a bounded reason.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal, get_args

import msgspec

from rules.core.cadence import CadenceState, Gate, GateReason
from rules.core.cadence import gate as cadence_gate
from rules.core.draft import zone_for
from rules.core.engagement import Scored, combine, score
from rules.core.fitcache import FitCache, FitResult, fit_of
from rules.core.scoring import tier_at_least
from rules.core.sendtime import paused_through
from rules.core.state import AccountState, Notable, ProspectState, RuleSum, Suppression
from rules.rulebook.model import Rulebook, Trigger
from signals.records import AccountRec
from signals.windows import Play

__all__ = [
    "SUPPRESSION_REASONS",
    "Assessment",
    "Suppressed",
    "SuppressionReason",
    "TriggerRef",
    "assess",
    "basis",
    "evaluation_time",
    "screen",
    "surely_below",
]

_OwnReason = Literal[
    "below_threshold",
    "cooldown",
    "disqualified",
    "account_limit",
    "stale",
    "paused_vacation",
    "paused_holiday",
]
SuppressionReason = _OwnReason | GateReason
SUPPRESSION_REASONS: tuple[str, ...] = (*get_args(_OwnReason), *get_args(GateReason))


class Suppressed(msgspec.Struct, frozen=True):
    person_key: str
    reason: SuppressionReason


class TriggerRef(msgspec.Struct, frozen=True):
    """The event a window answers: its dedup identity and its event time."""

    source: str
    event_id: str
    occurred_at: datetime


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
        held = account.engagement
        if not held.sums and not held.notable:  # most accounts: no account-level signal
            return prospect.engagement.sums, prospect.engagement.notable, account.account
        sums, notable = combine(prospect.engagement, held)
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
    screened: Screen | None = None,
) -> Assessment:
    """Score the prospect at event time `at` and decide whether a window may open.

    It qualifies when the total reaches the threshold, when engagement reaches the minimum
    for the person's fit tier, or when `trigger` matched the signal and the fit tier is at
    least the trigger's (`force`, for a post-demo window, skips these and the cooldown).
    `trigger_at` is the triggering event's time, judged fresh against `now`. `play`
    overrides the play the engagement would choose; the cadence gate may still change it.
    `screened` is what `screen` said with the same arguments, when the caller has it.
    """
    pk = prospect.person_key
    first = screened or screen(
        rulebook, prospect, account, at, trigger=trigger, force=force, fits=fits
    )
    sums, notable, person_account, fit_result, scored, triggered, reason = first
    windows = rulebook.windows
    if play is None:
        play = trigger.play if triggered and trigger is not None else _play(sums, scored)

    def refused(reason: SuppressionReason, gate: Gate | None = None) -> Assessment:
        return Assessment(
            prospect, at, person_account, fit_result, scored, sums, notable, play, gate,
            Suppressed(pk, reason),
        )  # fmt: skip

    if reason is not None:
        return refused(reason)
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


Screen = tuple[
    tuple[RuleSum, ...],
    tuple[Notable, ...],
    AccountRec | None,
    FitResult,
    Scored,
    bool,
    Literal["disqualified", "below_threshold"] | None,
]
"""(sums, kept contributions, the person's account, fit, engagement, whether the trigger
holds for the fit tier, the first refusal of the two checks that need no cadence)."""


def screen(
    rulebook: Rulebook,
    prospect: ProspectState,
    account: AccountState | None,
    at: datetime,
    *,
    trigger: Trigger | None = None,
    force: bool = False,
    fits: FitCache | None = None,
) -> Screen:
    """The first two checks of `assess` (disqualified, below threshold) and the score and
    fit they read. Most signals stop here: the engine then needs only the refusal and the
    score (to trim kept contributions), and builds no assessment."""
    sums, notable, person_account = basis(prospect, account)
    fit_result = fit_of(rulebook, prospect.person, person_account, fits)
    scored = score(sums, at, rulebook.engagement.horizon_days)
    windows = rulebook.windows
    tier = fit_result[2]
    triggered = trigger is not None and tier_at_least(tier, trigger.min_fit_tier)
    reason: Literal["disqualified", "below_threshold"] | None = None
    if fit_result[3] is not None:
        reason = "disqualified"
    else:
        tier_minimum = windows.min_engagement_by_tier.get(tier)  # type: ignore[call-overload]
        if not (
            force
            or fit_result[0] + scored.total >= windows.threshold
            or (tier_minimum is not None and scored.total >= tier_minimum)
            or triggered
        ):
            reason = "below_threshold"
    return sums, notable, person_account, fit_result, scored, triggered, reason


def surely_below(
    rulebook: Rulebook,
    prospect: ProspectState,
    account: AccountState | None,
    *,
    trigger: Trigger | None = None,
    fits: FitCache | None = None,
) -> bool:
    """Whether `screen` (without `force`) refuses with "below_threshold" whatever the
    engagement scores, decided without scoring it: the person is not disqualified, no
    trigger holds for their fit tier, and fit plus the caps of every sum stays below the
    threshold (and below any minimum for the tier). Each rule's share is clamped to the
    cap of its newest sum, so engagement never exceeds the sum of the caps (all positive);
    a sum without a cap bounds nothing, and then this says False. The margin covers the
    rounding of the sums."""
    sums, _, person_account = basis(prospect, account)
    bound = 0.0
    for s in sums:
        if s.cap is None:
            return False
        bound += s.cap
    fit_result = fit_of(rulebook, prospect.person, person_account, fits)
    tier = fit_result[2]
    if fit_result[3] is not None or (
        trigger is not None and tier_at_least(tier, trigger.min_fit_tier)
    ):
        return False
    windows = rulebook.windows
    tier_minimum = windows.min_engagement_by_tier.get(tier)  # type: ignore[call-overload]
    return fit_result[0] + bound + _MARGIN < windows.threshold and (
        tier_minimum is None or bound + _MARGIN < tier_minimum
    )


_MARGIN = 1e-6


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
