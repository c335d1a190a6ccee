"""What outreach tools report back, applied to a person: cadence, closed and post-demo windows.

The score agent calls `apply_outreach` once per decoded `outreach.activity` record, on the
partition of the person's account, with the person's cadence state and prospect state. Pure.

- The cadence state folds the activity in (`rules.core.cadence.apply_activity`).
- A touch closes the window it used; a reply or an opt-out closes the person's open window.
  Each close is a `WindowClosed` for `followup.windows-closed`.
- A meeting held opens a post-demo window at once (if still inside its lifetime at `now`),
  whatever the score or cooldown, unless the person opted out or the deal was lost.
- `play` attributes the activity to a play for outcome counters: a touch's own play, or for
  a reply or a meeting the play of the latest touch before it.

`expire` closes a window nobody used before its `expires_at`; the glue's periodic sweep
calls it for the windows its index says are due. `replaced` closes the open window a newer
one replaces.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import msgspec

from rules.core import touches
from rules.core.budget import stored_person
from rules.core.cadence import apply_activity, expires_for, suppression_update, touch_memory
from rules.core.decide import Suppressed, TriggerRef, evaluate_window, evaluation_time
from rules.core.dedup import Spill, is_too_late, prune_seen, remember, seen_before
from rules.core.engagement import day_of
from rules.core.fitcache import FitCache
from rules.core.state import AccountState, CadenceState, ProspectState, Suppression, fingerprint
from rules.rulebook.model import Rulebook
from signals.activity import (
    Activity,
    Bounced,
    DealStageChanged,
    MeetingBooked,
    MeetingHeld,
    OptedOut,
    Replied,
    TouchSent,
)
from signals.identity import person_key, signal_account_key
from signals.records import person_rec
from signals.windows import CloseReason, Play, WindowClosed, WindowOpened

__all__ = ["ActivityOutcome", "apply_outreach", "expire", "replaced"]

# Merges that any order and any repetition leave the same: applied whatever their age.
_IDEMPOTENT = (OptedOut, Bounced, Replied, DealStageChanged)


class ActivityOutcome(msgspec.Struct, frozen=True):
    verdict: str  # "applied", "duplicate" or "too_late" (see rules.core.engine)
    prospect: ProspectState | None = None  # changed prospect state, None = unchanged
    closed: WindowClosed | None = None
    window: WindowOpened | None = None  # a post-demo window
    suppressed: Suppressed | None = None  # why a due post-demo window did not open
    play: Play | None = None  # the play this activity is an outcome of, for counters
    suppression: Suppression | None = None  # the person's new suppression record, to publish
    spills: tuple[Spill, ...] = ()  # the prospect's overflow changes

    @property
    def duplicate(self) -> bool:
        return self.verdict == "duplicate"


def apply_outreach(
    rulebook: Rulebook,
    activity: Activity,
    *,
    prospect: ProspectState | None,
    account: AccountState | None,
    now: datetime,
    suppression: Suppression | None = None,
    overflow: Callable[[int], frozenset[int]] | None = None,
    fits: FitCache | None = None,
) -> ActivityOutcome:
    """Fold one activity into the person's state at their account.

    `suppression` is the person's current person-level record; `overflow` reads the
    prospect's spilled fingerprints of a day (`rules.core.dedup`). An opt-out, bounce,
    reply or deal stage is applied whatever its age; other activities older than the
    horizon are too late to matter.
    """
    pk = person_key(activity.person)
    key = signal_account_key(activity.account, activity.person)
    horizon = rulebook.engagement.horizon_days
    at = activity.occurred_at
    day = day_of(at)
    fp = fingerprint("activity", activity.source, activity.event_id)
    if prospect is not None:
        base = prospect
    else:
        base = ProspectState(pk, key, stored_person(person_rec(activity.person)))
    reference = max(base.watermark or now, now)
    if not isinstance(activity, _IDEMPOTENT) and is_too_late(day, day_of(reference), horizon):
        return ActivityOutcome("too_late")
    if prospect is not None and seen_before(prospect.seen, fp, day, overflow):
        return ActivityOutcome("duplicate")
    before = base.cadence
    memory = touch_memory(rulebook.cadence, horizon)
    update = apply_activity(rulebook.cadence, before, activity, keep_since=reference - memory)
    seen, spills = remember(base.seen, fp, day)
    seen, drops = prune_seen(seen, day_of(max(reference, at)), horizon)
    state = msgspec.structs.replace(base, cadence=update.state, seen=seen)
    play = _attributed_play(activity, before)

    closed = None
    window_id, reason = _closes(activity, update.closes_window, state)
    if window_id is not None and reason is not None:
        closed = WindowClosed(
            window_id=window_id,
            person_key=pk,
            account_key=key,
            closed_at=at,
            reason=reason,
            event_id=activity.event_id,
            channel=activity.properties.channel if isinstance(activity, TouchSent) else None,
            play=activity.properties.play if isinstance(activity, TouchSent) else None,
        )
        if state.open_window_id == window_id:
            state = msgspec.structs.replace(state, open_window_id=None, open_window_expires_at=None)

    window = suppressed = None
    new_suppression = suppression_update(suppression, activity)
    lifetime = expires_for("post_demo", rulebook.cadence)
    if update.post_demo_due and at + lifetime > now:
        opened, window, suppressed = evaluate_window(
            rulebook,
            state,
            account,
            evaluation_time(state, account, at),
            TriggerRef(activity.source, activity.event_id, at),
            now,
            cadence=update.state,
            suppression=new_suppression or suppression,
            play="post_demo",
            force=True,
            fits=fits,
        )
        if window is not None:
            state = opened
    return ActivityOutcome(
        "applied", state, closed, window, suppressed, play, new_suppression, (*spills, *drops)
    )


def _closes(
    activity: Activity, touched: str | None, prospect: ProspectState | None
) -> tuple[str | None, CloseReason | None]:
    if touched is not None:
        return touched, "touched"
    open_id = prospect.open_window_id if prospect is not None else None
    if isinstance(activity, Replied):
        return open_id, "replied"
    if isinstance(activity, OptedOut):
        return open_id, "opted_out"
    return None, None


def _attributed_play(activity: Activity, before: CadenceState | None) -> Play | None:
    if isinstance(activity, TouchSent):
        return activity.properties.play
    if isinstance(activity, (Replied, MeetingBooked, MeetingHeld)) and before is not None:
        earlier = [t for t in touches.unpack(before.touches) if t.at <= activity.occurred_at]
        return earlier[-1].play if earlier else None
    return None


def expire(
    prospect: ProspectState | None, window_id: str, now: datetime
) -> tuple[ProspectState | None, WindowClosed | None]:
    """Close `window_id` if it is still the person's open window and its time has passed.

    Called by the expiry sweep for each due index entry. Returns the prospect without its
    open window and the `WindowClosed` to publish, or `(None, None)` when the window was
    already used, replaced or is not due yet.
    """
    if prospect is None or prospect.open_window_id != window_id:
        return None, None
    due = prospect.open_window_expires_at
    if due is None or due > now:
        return None, None
    closed = WindowClosed(
        window_id=window_id,
        person_key=prospect.person_key,
        account_key=prospect.account_key,
        closed_at=due,
        reason="expired",
    )
    cleared = msgspec.structs.replace(prospect, open_window_id=None, open_window_expires_at=None)
    return cleared, closed


def replaced(
    previous: ProspectState | None, current: ProspectState, now: datetime
) -> WindowClosed | None:
    """The close of the person's earlier window when a new one replaced it, else None.

    A person has at most one open window. The engine calls this for every prospect whose
    state changed: an open window that a newer one replaced is closed as `expired` if its
    time had passed, else as `superseded`, so no window disappears without a close.
    """
    if previous is None or previous.open_window_id is None:
        return None
    if current.open_window_id in (None, previous.open_window_id):
        return None
    due = previous.open_window_expires_at
    expired = due is not None and due <= now
    return WindowClosed(
        window_id=previous.open_window_id,
        person_key=previous.person_key,
        account_key=previous.account_key,
        closed_at=due if expired and due is not None else now,
        reason="expired" if expired else "superseded",
    )
