"""A person's standing now: their live score, and whether a window would open, and why not.

`person_score` is what the score API answers (`signals.person_score.PersonScore`). It runs the
engine's own `assess` on the stored states, as if a signal matching no trigger arrived at
`now`, so "why not" is the engine's answer, in the engine's order, and not a second opinion.
Pure: no I/O, no clock (`now` is handed in); it does not raise on stored states.

The score is taken at `now`, or at the newest event time the states know when that is later
(an event dated a little ahead of the clock): engagement is never read before a contribution
it counts.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from rules.core.decide import Assessment, assess, evaluation_time, resolved
from rules.core.scoring import ranked_reasons
from rules.core.state import AccountState, ProspectState, Suppression
from rules.rulebook.model import Rulebook
from signals.person_score import (
    Bounce,
    OpenWindow,
    PersonScore,
    PersonSuppression,
    WindowNow,
)
from signals.windows import RulebookRef

__all__ = ["person_score"]


def person_score(
    rulebook: Rulebook,
    prospect: ProspectState,
    account: AccountState | None,
    now: datetime,
    *,
    suppression: Suppression | None = None,
) -> PersonScore:
    """`prospect` (with its account's state, if any) scored at `now` by `rulebook`.

    `suppression` is the person-level record every worker replicates (opt-out, reply,
    bounces); the cadence gate reads it as it does for a window."""
    at = evaluation_time(prospect, account, now)
    a = assess(
        rulebook,
        prospect,
        account,
        at,
        now,
        trigger_at=now,  # a fresh signal: never stale
        cadence=prospect.cadence,
        suppression=suppression,
    )
    fit_points, fit_reasons, tier, _ = a.fit
    engagement = a.scored.total
    return PersonScore(
        account_key=prospect.account_key,
        person_key=prospect.person_key,
        as_of=at,
        fit=round(fit_points, 2),
        engagement=round(engagement, 2),
        total=round(fit_points + engagement, 2),
        threshold=rulebook.windows.threshold,
        tier=tier,
        reasons=ranked_reasons(resolved(rulebook, a.notable), a.scored),
        fit_reasons=tuple(r.model_copy(update={"points": round(r.points, 2)}) for r in fit_reasons),
        open_window=_open_window(prospect, now),
        window_now=_window_now(rulebook, a, suppression),
        rulebook=RulebookRef(version=rulebook.version, hash=rulebook.hash),
    )


def _open_window(prospect: ProspectState, now: datetime) -> OpenWindow | None:
    expires = prospect.open_window_expires_at
    if prospect.open_window_id is None or (expires is not None and expires <= now):
        return None
    return OpenWindow(window_id=prospect.open_window_id, expires_at=expires)


def _window_now(rulebook: Rulebook, a: Assessment, suppression: Suppression | None) -> WindowNow:
    windows = rulebook.windows
    fit_points, _, tier, disqualifier = a.fit
    total = fit_points + a.scored.total
    tier_minimum = windows.min_engagement_by_tier.get(tier)  # type: ignore[call-overload]
    met = total >= windows.threshold or (
        tier_minimum is not None and a.scored.total >= tier_minimum
    )
    cooldown_until = None
    last = a.prospect.last_window_at
    if last is not None and a.at - last < timedelta(days=windows.cooldown_days):
        cooldown_until = last + timedelta(days=windows.cooldown_days)
    return WindowNow(
        would_open=a.suppressed is None,
        blocked_by=a.suppressed.reason if a.suppressed is not None else None,
        play=a.play,
        below_threshold_by=None if met else round(windows.threshold - total, 2),
        cooldown_until=cooldown_until,
        disqualified_by=disqualifier.name if disqualifier is not None else None,
        suppression=_suppression(suppression),
    )


def _suppression(record: Suppression | None) -> PersonSuppression | None:
    if record is None or (
        record.opted_out_at is None and record.replied_at is None and not record.bounced
    ):
        return None
    return PersonSuppression(
        opted_out_at=record.opted_out_at,
        replied_at=record.replied_at,
        bounced=tuple(Bounce(channel=c, at=at) for c, at in record.bounced),
    )
