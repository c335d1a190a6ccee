"""The feedback loop in the pure core: touches close windows, replies and opt-outs stop the
cadence, meetings open post-demo windows, and the gate paces every window."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pydantic import TypeAdapter

from rules.core.cadence import touch_memory
from rules.core.touches import Touch, unpack
from rules.offline.replay import Replay
from signals.activity import Activity
from tests.rules.builders import (
    ACME,
    NOW,
    T0,
    days,
    funding,
    make_rulebook,
    person,
    visit,
)

_ACTIVITY: TypeAdapter[Any] = TypeAdapter(Activity)
ANA = person(name="Ana Lima", seniority="vp", timezone="Europe/Berlin")


def activity(kind: str, event_id: str, at: datetime, **properties: Any) -> Activity:
    return _ACTIVITY.validate_python(
        {
            "type": kind,
            "event_id": event_id,
            "occurred_at": at,
            "source": "sequencer",
            "person": ANA,
            "account": ACME,
            "properties": properties,
        }
    )


def _hot(replay: Replay, prefix: str, at: datetime) -> None:
    replay.apply(visit(f"{prefix}-1", at, who=ANA), NOW)
    replay.apply(visit(f"{prefix}-2", at + timedelta(hours=2), who=ANA), NOW)


def test_a_touch_closes_the_window_it_used() -> None:
    r = Replay(make_rulebook())
    _hot(r, "p", T0)
    (window,) = r.windows
    out = r.apply_activity(
        activity(
            "touch_sent",
            "t1",
            T0 + days(1),
            channel="email",
            play=window.play,
            window_id=window.window_id,
        ),
        NOW,
    )
    assert out.closed is not None
    assert (out.closed.window_id, out.closed.reason, out.closed.channel) == (
        window.window_id,
        "touched",
        "email",
    )
    assert r.prospects["acme.com"]["ana@acme.com"].open_window_id is None
    assert out.play == window.play


def test_the_same_activity_twice_changes_nothing() -> None:
    r = Replay(make_rulebook())
    a = activity("touch_sent", "t1", T0, channel="email", play="value_add")
    r.apply_activity(a, NOW)
    assert r.apply_activity(a, NOW).duplicate


def test_opt_out_closes_the_open_window_and_suppresses_every_later_one() -> None:
    r = Replay(make_rulebook())
    _hot(r, "p", T0)
    out = r.apply_activity(activity("opted_out", "o1", T0 + days(1)), NOW)
    assert out.closed is not None and out.closed.reason == "opted_out"
    later = r.apply(visit("q-1", T0 + days(30), who=ANA), NOW)
    r.apply(visit("q-2", T0 + days(30) + timedelta(hours=1), who=ANA), NOW)
    assert len(r.windows) == 1
    assert later.suppressed[0].reason in {"opted_out", "below_threshold"}
    assert (
        r.apply(visit("q-3", T0 + days(30) + timedelta(hours=2), who=ANA), NOW).suppressed[0].reason
        == "opted_out"
    )


def test_a_reply_stops_the_cadence() -> None:
    r = Replay(make_rulebook())
    r.apply_activity(activity("replied", "r1", T0), NOW)
    _hot(r, "p", T0 + days(1))
    assert r.windows == []


def test_touch_spacing_holds_back_a_quiet_window_but_not_a_hot_one() -> None:
    rulebook = make_rulebook(cooldown_days=0)
    r = Replay(rulebook)
    r.apply_activity(activity("touch_sent", "t1", T0, channel="email", play="value_add"), NOW)
    _hot(r, "p", T0 + timedelta(hours=12))  # a pricing visit is not hot in the test rulebook
    assert r.windows == []
    assert (
        r.apply(visit("p-3", T0 + timedelta(hours=13), who=ANA), NOW).suppressed[0].reason
        == "too_soon"
    )
    funded = r.apply(funding("f1", T0 + timedelta(hours=14)), NOW)
    assert [w.play for w in funded.windows] == ["funding"]  # hot: skips the 2-day spacing


def test_a_meeting_held_opens_a_post_demo_window_at_once_whatever_the_score() -> None:
    r = Replay(make_rulebook())
    held = T0 + days(1)
    out = r.apply_activity(activity("meeting_held", "m1", held), held + timedelta(hours=1))
    assert out.window is not None
    assert out.window.play == "post_demo"
    assert out.window.score.total < out.window.score.threshold
    assert out.window.draft.expires_at - max(
        out.window.opened_at, out.window.draft.send_at
    ) == timedelta(hours=24)


def test_no_post_demo_window_for_an_old_meeting_or_after_an_opt_out() -> None:
    r = Replay(make_rulebook())
    held = T0
    assert r.apply_activity(activity("meeting_held", "m1", held), held + days(3)).window is None
    r2 = Replay(make_rulebook())
    r2.apply_activity(activity("opted_out", "o1", held - days(1)), held)
    assert r2.apply_activity(activity("meeting_held", "m2", held), held).window is None


def test_a_reply_is_attributed_to_the_play_of_the_touch_before_it() -> None:
    r = Replay(make_rulebook())
    r.apply_activity(activity("touch_sent", "t1", T0, channel="email", play="funding"), NOW)
    out = r.apply_activity(activity("replied", "r1", T0 + days(1)), NOW)
    assert out.play == "funding"


def test_an_unused_window_expires_and_a_used_one_does_not() -> None:
    from rules.core.outreach import expire

    r = Replay(make_rulebook())
    _hot(r, "p", T0)
    (window,) = r.windows
    prospect = r.prospects["acme.com"]["ana@acme.com"]
    due = window.draft.expires_at
    assert expire(prospect, window.window_id, due - timedelta(seconds=1)) == (None, None)
    cleared, closed = expire(prospect, window.window_id, due)
    assert closed is not None and (closed.reason, closed.closed_at) == ("expired", due)
    assert cleared is not None and cleared.open_window_id is None
    assert expire(cleared, window.window_id, due + days(1)) == (None, None)


def test_a_newer_window_closes_the_open_one_expired_or_superseded() -> None:
    r = Replay(make_rulebook(cooldown_days=0))
    _hot(r, "p", T0)
    first = r.windows[-1]
    r.apply(visit("p-3", T0 + timedelta(hours=3), who=ANA), NOW)  # before `first` expires
    assert [(c.window_id, c.reason) for c in r.closed] == [(first.window_id, "superseded")]
    second = r.windows[-1]
    late = second.draft.expires_at + days(1)
    r.apply(visit("p-4", T0 + days(9), who=ANA), late)
    assert (r.closed[-1].window_id, r.closed[-1].reason) == (second.window_id, "expired")
    assert r.closed[-1].closed_at == second.draft.expires_at


def _touches_of(r: Replay) -> tuple[Touch, ...]:
    cadence = r.prospects["acme.com"]["ana@acme.com"].cadence
    assert cadence is not None
    return unpack(cadence.touches)


def test_a_redelivered_touch_is_kept_once_and_an_alike_one_twice() -> None:
    """Touches keep no ids: the prospect's memory of (source, event id) is the dedup."""
    r = Replay(make_rulebook())
    a = activity("touch_sent", "t1", T0, channel="email", play="value_add")
    r.apply_activity(a, NOW)
    assert r.apply_activity(a, NOW).duplicate
    assert len(_touches_of(r)) == 1
    r.apply_activity(activity("touch_sent", "t2", T0, channel="email", play="value_add"), NOW)
    assert len(_touches_of(r)) == 2


def test_touches_are_forgotten_past_the_cadence_memory() -> None:
    """The rulebook's horizon (90 days) is longer than its touch window: it is the memory."""
    rulebook = make_rulebook()
    memory = touch_memory(rulebook.cadence, rulebook.engagement.horizon_days)
    assert memory == days(90)
    r = Replay(rulebook)
    r.apply_activity(activity("touch_sent", "t1", T0, channel="email", play="value_add"), T0)
    later = T0 + memory + days(1)
    r.apply_activity(activity("touch_sent", "t2", later, channel="phone", play="breakup"), later)
    assert [t.channel for t in _touches_of(r)] == ["phone"]
