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

from dataclasses import dataclass
from datetime import datetime

from rules.core.cadence import CadenceState, apply_activity, expires_for
from rules.core.decide import Suppressed, evaluate_window
from rules.core.state import AccountState, ProspectState
from rules.rulebook.model import Rulebook
from signals.activity import (
    Activity,
    MeetingBooked,
    MeetingHeld,
    OptedOut,
    Replied,
    TouchSent,
)
from signals.identity import person_key, signal_account_key
from signals.windows import CloseReason, Play, WindowClosed, WindowOpened

__all__ = ["ActivityOutcome", "apply_outreach", "expire", "replaced"]


@dataclass(frozen=True, slots=True)
class ActivityOutcome:
    duplicate: bool
    cadence: CadenceState  # store it (unchanged when duplicate)
    prospect: ProspectState | None  # changed prospect state, None = unchanged
    closed: WindowClosed | None
    window: WindowOpened | None  # a post-demo window
    suppressed: Suppressed | None  # why a due post-demo window did not open
    play: Play | None  # the play this activity is an outcome of, for counters


def apply_outreach(
    rulebook: Rulebook,
    activity: Activity,
    *,
    cadence: CadenceState | None,
    prospect: ProspectState | None,
    account: AccountState | None,
    now: datetime,
) -> ActivityOutcome:
    update = apply_activity(rulebook.cadence, cadence, activity)
    if update.duplicate:
        return ActivityOutcome(True, update.state, None, None, None, None, None)
    pk = person_key(activity.person)
    play = _attributed_play(activity, cadence)

    closed = None
    window_id, reason = _closes(activity, update.closes_window, prospect)
    if window_id is not None and reason is not None:
        closed = WindowClosed(
            window_id=window_id,
            person_key=pk,
            account_key=signal_account_key(activity.account, activity.person),
            closed_at=activity.occurred_at,
            reason=reason,
            event_id=activity.event_id,
            channel=activity.properties.channel if isinstance(activity, TouchSent) else None,
            play=activity.properties.play if isinstance(activity, TouchSent) else None,
        )
        if prospect is not None and prospect.open_window_id == window_id:
            prospect = prospect.model_copy(
                update={"open_window_id": None, "open_window_expires_at": None}
            )

    window = suppressed = None
    lifetime = expires_for("post_demo", rulebook.cadence)
    if update.post_demo_due and activity.occurred_at + lifetime > now:
        base = prospect or ProspectState(
            person_key=pk,
            account_key=signal_account_key(activity.account, activity.person),
            person=activity.person,
            account=activity.account,
        )
        opened, window, suppressed = evaluate_window(
            rulebook,
            base,
            account,
            activity.occurred_at,
            activity.event_id,
            now,
            cadence=update.state,
            play="post_demo",
            force=True,
        )
        if window is not None:
            prospect = opened
    changed = prospect if prospect is not None and (closed or window) else None
    return ActivityOutcome(False, update.state, changed, closed, window, suppressed, play)


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
        earlier = [t for t in before.touches if t.at <= activity.occurred_at]
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
    cleared = prospect.model_copy(update={"open_window_id": None, "open_window_expires_at": None})
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
