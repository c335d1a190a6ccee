"""The follow-up cadence: what outreach tools report back, and whether a window may open.

Two pure functions, called by the stream glue and the engine:

- `apply_activity(rules, state, activity)`: once per decoded `outreach.activity` record.
  Returns the new `CadenceState` to store (keyed by person key), whether the record was a
  duplicate, the window a touch used (publish it on `followup.windows-closed`), and whether
  a meeting just held calls for a post-demo window now.
- `gate(rules, state, ...)`: once per window the engine is about to open. Says whether it
  may open (else why not), the play it should carry (the trigger's, or one the cadence
  calls for), the channel to suggest and the send-time urgency.

Decisions (see shared/DOMAIN.md for the numbers):

- Opt-out is final: every later window is refused, whatever its event time, hot or not.
- A reply stops the cadence for `reply_pause_days` (the rep is in a conversation; the
  engine must not nudge in parallel). A meeting held after the reply ends the pause.
  A meeting booked pauses likewise until it is due (or `reply_pause_days` without a time).
- Hot signals (`CadenceRules.is_hot`: champion move, funding, listed rules such as a pricing
  visit) skip the minimum spacing, the breakup silence and a lost deal: they are news. They
  do not skip opt-out, a reply or booking pause or the touch cap: the person's inbox does
  not care why we write. Vacations and company holidays move the send time past them.
- A post-demo window (a meeting was held) is refused only for opt-out or a lost deal.
- Play: won/customer deal -> post_purchase; post_demo and hot triggers keep their play;
  otherwise by the unanswered touches since the last reply, meeting or breakup:
  0 -> the trigger's play, fewer than `value_after_touches` -> no_response (a new angle),
  more -> value_add, `breakup_after_unanswered_value_touches` value touches -> breakup.
- Channel: email, until `switch_channel_after_email_touches` email touches went out with no
  engagement since; then the next untried channel of `channel_sequence` (LinkedIn, then
  phone), then email again. A bounce skips email until an email touch is sent again.

Opt-outs, bounces and replies also follow the person to every account
(`suppression_update`, `effective`); `rules.core.state.Suppression` says how.

`CadenceState` (in `rules.core.state`) is order-independent: the same activities in any
order give equal bytes (times merge by max/min, lists are sorted sets), except at its
memory bounds.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

import msgspec

from rules.core import touches as packed
from rules.core.budget import stored_stage
from rules.core.sendtime import Urgency
from rules.core.state import CadenceState, Suppression, day_number, fingerprint
from rules.core.touches import MAX_TOUCHES, Touch
from rules.rulebook.cadence import CadenceRules, expires_for
from signals.activity import (
    Activity,
    Bounced,
    DealStageChanged,
    MeetingBooked,
    MeetingHeld,
    OptedOut,
    OutOfOffice,
    Replied,
    TouchSent,
)
from signals.windows import Channel, Play

__all__ = [
    "MAX_TOUCHES",
    "MAX_VACATIONS",
    "CadenceRules",
    "CadenceState",
    "CadenceUpdate",
    "Gate",
    "GateReason",
    "Touch",
    "apply_activity",
    "effective",
    "expires_for",
    "gate",
    "merge_suppressions",
    "suppression_update",
    "touch_memory",
]

MAX_VACATIONS = 20

GateReason = Literal[
    "opted_out",
    "deal_closed",
    "replied",
    "meeting_booked",
    "breakup_silence",
    "too_many_touches",
    "too_soon",
]


class CadenceUpdate(msgspec.Struct, frozen=True):
    state: CadenceState  # store it (unchanged when duplicate)
    duplicate: bool  # event_id already applied
    closes_window: str | None  # a touch used this window: publish it as closed
    post_demo_due: bool  # a meeting was just held: open a post_demo window now


class Gate(msgspec.Struct, frozen=True):
    allowed: bool
    reason: GateReason | None  # why not, when not allowed
    play: Play
    channel: Channel
    urgency: Urgency
    expires_in: timedelta  # the play's window lifetime


_EMPTY = CadenceState()


def touch_memory(rules: CadenceRules, horizon_days: float) -> timedelta:
    """How long touches are kept: the engagement horizon (the engine's memory of events:
    an older touch arriving now is too late, and a redelivery could not be recognised),
    or a longer `touch_window_days` or `min_days_between_touches` where the rulebook has
    one, so that the cap and the spacing always see every touch they count."""
    days = max(horizon_days, rules.touch_window_days, rules.min_days_between_touches)
    return timedelta(days=days)


def apply_activity(
    rules: CadenceRules,
    state: CadenceState | None,
    activity: Activity,
    *,
    keep_since: datetime | None = None,
) -> CadenceUpdate:
    """Fold one activity into the state. Never raises on a validated activity.

    Deduplication is the caller's (the prospect's memory of applied events). An
    out-of-office span counts for at most `rules.max_vacation_days` from its first day.
    A touch is kept with the newest `MAX_TOUCHES` sent at or after `keep_since` (the
    caller's clock minus `touch_memory`; None keeps them regardless of age).
    """
    previous = state if state is not None else _EMPTY
    at = activity.occurred_at
    order = fingerprint("activity", activity.source, activity.event_id)
    update: dict[str, object] = {}
    closes: str | None = None
    post_demo = False
    if isinstance(activity, TouchSent):
        p = activity.properties
        touch = Touch(at=at, channel=p.channel, play=p.play, value_touch=p.value_touch)
        update["touches"] = packed.insert(previous.touches, touch, keep_since=keep_since)
        if p.play == "breakup":
            update["breakup_at"] = _latest(previous.breakup_at, at)
        closes = p.window_id
    elif isinstance(activity, Replied):
        update["replied_at"] = _latest(previous.replied_at, at)
    elif isinstance(activity, Bounced):
        update["bounced_at"] = _latest(previous.bounced_at, at)
    elif isinstance(activity, OptedOut):
        first = previous.opted_out_at
        update["opted_out_at"] = at if first is None or at < first else first
    elif isinstance(activity, MeetingBooked):
        if previous.meeting_booked is None or (at, order) > previous.meeting_booked:
            update["meeting_booked"] = (at, order)
            update["meeting_at"] = activity.properties.meeting_at
    elif isinstance(activity, MeetingHeld):
        update["meeting_held_at"] = _latest(previous.meeting_held_at, at)
        post_demo = update["meeting_held_at"] == at and previous.opted_out_at is None
    elif isinstance(activity, DealStageChanged):
        if previous.deal_stage_as_of is None or (at, order) > previous.deal_stage_as_of:
            update["deal_stage"] = stored_stage(activity.properties.stage)
            update["deal_stage_as_of"] = (at, order)
    elif isinstance(activity, OutOfOffice):
        p_ooo = activity.properties
        first_day = p_ooo.from_ or at.date()
        last_day = min(p_ooo.until, first_day + timedelta(days=rules.max_vacation_days - 1))
        span = (day_number(first_day), day_number(last_day))
        spans = sorted(set(previous.vacation_days) | {span}, key=lambda s: (s[1], s[0]))
        update["vacation_days"] = tuple(sorted(spans[-MAX_VACATIONS:]))
    return CadenceUpdate(msgspec.structs.replace(previous, **update), False, closes, post_demo)


def suppression_update(current: Suppression | None, activity: Activity) -> Suppression | None:
    """The person-level suppression after `activity`, or None when it does not change it.

    Opt-outs, bounces and replies follow the person to every account; merges are by
    earliest opt-out and latest bounce and reply, so any order gives the same record.
    """
    s = current if current is not None else Suppression()
    at = activity.occurred_at
    if isinstance(activity, OptedOut):
        if s.opted_out_at is not None and s.opted_out_at <= at:
            return None
        return msgspec.structs.replace(s, opted_out_at=at)
    if isinstance(activity, Replied):
        if s.replied_at is not None and s.replied_at >= at:
            return None
        return msgspec.structs.replace(s, replied_at=at)
    if isinstance(activity, Bounced):
        channel = activity.properties.channel or "email"
        held = s.bounced_on(channel)
        if held is not None and held >= at:
            return None
        bounced = dict(s.bounced)
        bounced[channel] = at
        return msgspec.structs.replace(s, bounced=tuple(sorted(bounced.items())))
    return None


def merge_suppressions(a: Suppression | None, b: Suppression | None) -> Suppression | None:
    """Both records in one (earliest opt-out, latest bounce per channel and reply)."""
    if a is None or b is None:
        return a if b is None else b
    opted = [t for t in (a.opted_out_at, b.opted_out_at) if t is not None]
    replied = [t for t in (a.replied_at, b.replied_at) if t is not None]
    bounced = dict(a.bounced)
    for channel, at in b.bounced:
        bounced[channel] = max(at, bounced.get(channel, at))
    return Suppression(
        min(opted) if opted else None,
        tuple(sorted(bounced.items())),
        max(replied) if replied else None,
    )


def effective(state: CadenceState | None, suppression: Suppression | None) -> CadenceState:
    """The cadence state the gate reads: this account's, with what follows the person."""
    s = state if state is not None else _EMPTY
    if suppression is None:
        return s
    update: dict[str, object] = {}
    if suppression.opted_out_at is not None and (
        s.opted_out_at is None or suppression.opted_out_at < s.opted_out_at
    ):
        update["opted_out_at"] = suppression.opted_out_at
    if suppression.replied_at is not None:
        update["replied_at"] = _latest(s.replied_at, suppression.replied_at)
    email = suppression.bounced_on("email")
    if email is not None:
        update["bounced_at"] = _latest(s.bounced_at, email)
    return msgspec.structs.replace(s, **update) if update else s


def gate(
    rules: CadenceRules,
    state: CadenceState | None,
    *,
    trigger_play: Play,
    hot: bool,
    at: datetime,
    last_engaged_at: datetime | None,
    suppression: Suppression | None = None,
) -> Gate:
    """Decide one window at event time `at`. See the module docstring for the rules.

    `hot`: `rules.is_hot(play=..., rule=...)` of the trigger. `last_engaged_at`: the event
    time of the person's latest engagement signal (open, visit, ...), which resets the
    channel switch count. `suppression`: what follows the person from other accounts.
    Holidays and vacations are not the gate's: the send time moves past them
    (`rules.core.draft`).
    """
    s = effective(state, suppression)
    post_demo = trigger_play == "post_demo"
    touches = packed.unpack(s.touches)
    play = _play(rules, s, touches, trigger_play, hot)
    channel = _channel(rules, s, touches, play, last_engaged_at)
    urgency: Urgency = (
        "now"
        if post_demo or hot
        else "soon"
        if play in ("signal_triggered", "multi_thread")
        else "flexible"
    )
    reason = _refusal(rules, s, touches, post_demo, hot, at)
    return Gate(reason is None, reason, play, channel, urgency, expires_for(play, rules))


def _refusal(
    rules: CadenceRules,
    s: CadenceState,
    touches: tuple[Touch, ...],
    post_demo: bool,
    hot: bool,
    at: datetime,
) -> GateReason | None:
    if s.opted_out_at is not None:
        return "opted_out"
    if _at_stage(s, rules.lost_stages) and not hot:
        return "deal_closed"
    if post_demo:
        return None
    pause = timedelta(days=rules.reply_pause_days)
    if s.replied_at is not None and at < s.replied_at + pause and not _met_since(s, s.replied_at):
        return "replied"
    if s.meeting_booked is not None and not _met_since(s, s.meeting_booked[0]):
        until = s.meeting_at if s.meeting_at is not None else s.meeting_booked[0] + pause
        if at < until:
            return "meeting_booked"
    if (
        not hot
        and s.breakup_at is not None
        and at < s.breakup_at + timedelta(days=rules.breakup_silence_days)
    ):
        return "breakup_silence"
    if _over_cap(rules, touches, at):
        return "too_many_touches"
    spacing = timedelta(days=rules.min_days_between_touches)
    if not hot and any(abs(at - t.at) < spacing for t in touches):
        return "too_soon"
    return None


def _play(
    rules: CadenceRules, s: CadenceState, touches: tuple[Touch, ...], trigger: Play, hot: bool
) -> Play:
    if _at_stage(s, rules.won_stages):
        return "post_purchase"
    if trigger == "post_demo" or hot:
        return trigger
    since = _epoch(s)
    unanswered = [t for t in touches if since is None or t.at > since]
    if not unanswered:
        return trigger
    if sum(t.value_touch for t in unanswered) >= rules.breakup_after_unanswered_value_touches:
        return "breakup"
    return "value_add" if len(unanswered) >= rules.value_after_touches else "no_response"


def _channel(
    rules: CadenceRules,
    s: CadenceState,
    touches: tuple[Touch, ...],
    play: Play,
    last_engaged_at: datetime | None,
) -> Channel:
    email_ok = s.bounced_at is None or any(
        t.channel == "email" and t.at > s.bounced_at for t in touches
    )
    usable = [c for c in rules.channel_sequence if c != "email" or email_ok]
    if not usable:
        return "linkedin" if not email_ok else "email"
    if play == "champion_moved":
        return "linkedin"
    if play in ("post_demo", "breakup", "post_purchase"):
        return "email" if email_ok else usable[0]
    since = max((x for x in (_epoch(s), last_engaged_at) if x is not None), default=None)
    quiet = [t for t in touches if since is None or t.at > since]
    emails = sum(t.channel == "email" for t in quiet)
    if email_ok and emails < rules.switch_channel_after_email_touches:
        return "email"
    tried = {t.channel for t in quiet}
    for channel in usable:
        if channel != "email" and channel not in tried:
            return channel
    return usable[0]


def _epoch(s: CadenceState) -> datetime | None:
    """Start of the current run of touches: the latest reply, meeting held or breakup."""
    marks = [x for x in (s.replied_at, s.meeting_held_at, s.breakup_at) if x is not None]
    return max(marks, default=None)


def _at_stage(s: CadenceState, stages: tuple[str, ...]) -> bool:
    # Stages are stored cited (`rules.core.budget.stored_stage`, idempotent; format 3 kept
    # them whole): compare like with like.
    if s.deal_stage is None:
        return False
    return stored_stage(s.deal_stage) in {stored_stage(x) for x in stages}


def _met_since(s: CadenceState, when: datetime) -> bool:
    return s.meeting_held_at is not None and s.meeting_held_at >= when


def _over_cap(rules: CadenceRules, touches: tuple[Touch, ...], at: datetime) -> bool:
    """Would a touch at `at` put more than `max_touches` into any window of that length?"""
    width = timedelta(days=rules.touch_window_days)
    near = [t.at for t in touches if at - width < t.at < at + width]
    if len(near) < rules.max_touches:
        return False
    # Windows [start, start + width) holding `at` are worst when they start at a touch.
    for start in [*near, at]:
        if start <= at < start + width:
            count = 1 + sum(start <= x < start + width for x in near)
            if count > rules.max_touches:
                return True
    return False


def _latest(current: datetime | None, at: datetime) -> datetime:
    return at if current is None or at > current else current
