from __future__ import annotations

import itertools
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter

from rules.core.cadence import (
    CadenceRules,
    CadenceState,
    Gate,
    apply_activity,
    effective,
    expires_for,
    gate,
    merge_suppressions,
    suppression_update,
)
from rules.core.state import Suppression
from signals.activity import Activity
from signals.windows import Play

RULES = CadenceRules()
T0 = datetime(2024, 5, 14, 9, 0, tzinfo=UTC)  # a Tuesday
_ADAPTER: TypeAdapter[Activity] = TypeAdapter(Activity)
_IDS = itertools.count()


def _at(days: float) -> datetime:
    return T0 + timedelta(days=days)


def act(kind: str, days: float, eid: str | None = None, **properties: Any) -> Activity:
    return _ADAPTER.validate_python(
        {
            "type": kind,
            "event_id": eid or f"a-{next(_IDS)}",
            "occurred_at": _at(days),
            "source": "test",
            "person": {"email": "ada@acme.example"},
            "properties": properties,
        }
    )


def touch(days: float, channel: str = "email", play: str = "no_response", **kw: Any) -> Activity:
    return act("touch_sent", days, channel=channel, play=play, **kw)


def fold(activities: Iterable[Activity], rules: CadenceRules = RULES) -> CadenceState:
    """Apply activities once each, as the prospect's memory of applied events would."""
    state: CadenceState | None = None
    seen: set[tuple[str, str]] = set()
    for a in activities:
        if (a.source, a.event_id) in seen:
            continue
        seen.add((a.source, a.event_id))
        state = apply_activity(rules, state, a).state
    return state if state is not None else CadenceState()


def check(
    activities: Iterable[Activity],
    days: float,
    *,
    play: Play = "signal_triggered",
    hot: bool = False,
    engaged: float | None = None,
    rules: CadenceRules = RULES,
    suppression: Suppression | None = None,
) -> Gate:
    return gate(
        rules,
        fold(activities, rules),
        trigger_play=play,
        hot=hot,
        at=_at(days),
        last_engaged_at=_at(engaged) if engaged is not None else None,
        suppression=suppression,
    )


def emails(*days: float) -> list[Activity]:
    return [touch(d) for d in days]


EIGHT = emails(0, 2, 4, 6, 8, 10, 12, 14)
BREAKUP = [*emails(0, 3, 6, 9, 12), touch(15, play="breakup")]

# (id, activities, days, kwargs, allowed, reason)
GATES: list[tuple[str, list[Activity], float, dict[str, Any], bool, str | None]] = [
    ("nobody touched yet", [], 0, {}, True, None),
    ("spacing: next day", emails(0), 1, {}, False, "too_soon"),
    ("spacing: just under two days", emails(0), 1.99, {}, False, "too_soon"),
    ("spacing: two days", emails(0), 2, {}, True, None),
    ("spacing: a later touch counts too", emails(5), 4, {}, False, "too_soon"),
    ("hot bypasses spacing", emails(0), 0.5, {"hot": True}, True, None),
    ("post-demo bypasses spacing", emails(0), 0.1, {"play": "post_demo"}, True, None),
    ("cap: ninth touch in 21 days", EIGHT, 16, {}, False, "too_many_touches"),
    ("cap: hot does not bypass", EIGHT, 16, {"hot": True}, False, "too_many_touches"),
    ("cap: window slid past the first touch", EIGHT, 21, {}, True, None),
    ("reply stops the cadence", [act("replied", 0)], 10, {}, False, "replied"),
    ("reply stops hot signals too", [act("replied", 0)], 10, {"hot": True}, False, "replied"),
    ("reply pause ends", [act("replied", 0)], 30, {}, True, None),
    ("late signal from before the reply", [act("replied", 5)], 1, {}, False, "replied"),
    (
        "meeting held after the reply ends the pause",
        [act("replied", 0), act("meeting_held", 3)],
        10,
        {},
        True,
        None,
    ),
    ("post-demo after a reply", [act("replied", 0)], 1, {"play": "post_demo"}, True, None),
    (
        "booked meeting pending",
        [act("meeting_booked", 0, meeting_at=_at(3).isoformat())],
        1,
        {},
        False,
        "meeting_booked",
    ),
    (
        "booked meeting passed",
        [act("meeting_booked", 0, meeting_at=_at(3).isoformat())],
        4,
        {},
        True,
        None,
    ),
    ("booking without time pauses", [act("meeting_booked", 0)], 20, {}, False, "meeting_booked"),
    ("opt-out", [act("opted_out", 0)], 400, {}, False, "opted_out"),
    ("opt-out beats hot", [act("opted_out", 0)], 1, {"hot": True}, False, "opted_out"),
    (
        "opt-out beats post-demo",
        [act("opted_out", 0)],
        1,
        {"play": "post_demo"},
        False,
        "opted_out",
    ),
    ("opt-out applies to older signals", [act("opted_out", 9)], 1, {}, False, "opted_out"),
    # Vacations and holidays are not the gate's: the send time moves past them (test_draft).
    ("breakup silence", BREAKUP, 60, {}, False, "breakup_silence"),
    ("hot breaks the silence", BREAKUP, 60, {"hot": True}, True, None),
    ("silence over", BREAKUP, 106, {}, True, None),
    ("lost deal", [act("deal_stage_changed", 0, stage="lost")], 5, {}, False, "deal_closed"),
    (
        "lost deal, hot signal",
        [act("deal_stage_changed", 0, stage="Closed_Lost")],
        5,
        {"hot": True},
        True,
        None,
    ),
    (
        "lost deal, post-demo",
        [act("deal_stage_changed", 0, stage="lost")],
        5,
        {"play": "post_demo"},
        False,
        "deal_closed",
    ),
]


@pytest.mark.parametrize(
    ("activities", "days", "kwargs", "allowed", "reason"),
    [g[1:] for g in GATES],
    ids=[g[0] for g in GATES],
)
def test_gate(
    activities: list[Activity], days: float, kwargs: dict[str, Any], allowed: bool, reason: str
) -> None:
    result = check(activities, days, **kwargs)
    assert (result.allowed, result.reason) == (allowed, reason)


# (id, activities, trigger play, hot, expected play)
PLAYS: list[tuple[str, list[Activity], Play, bool, Play]] = [
    ("no touches: the trigger's play", [], "signal_triggered", False, "signal_triggered"),
    ("one unanswered: new angle", emails(0), "signal_triggered", False, "no_response"),
    ("two unanswered", emails(0, 3), "value_add", False, "no_response"),
    ("three unanswered: bring value", emails(0, 3, 6), "signal_triggered", False, "value_add"),
    ("four unanswered", emails(0, 3, 6, 9), "signal_triggered", False, "value_add"),
    ("five value touches: breakup", emails(0, 3, 6, 9, 12), "signal_triggered", False, "breakup"),
    (
        "reminders do not count towards the breakup",
        [*emails(0, 3, 6), touch(9, value_touch=False), touch(12, value_touch=False)],
        "signal_triggered",
        False,
        "value_add",
    ),
    ("hot keeps its play", emails(0, 3, 6, 9, 12), "champion_moved", True, "champion_moved"),
    ("post-demo keeps its play", emails(0, 3, 6, 9, 12), "post_demo", False, "post_demo"),
    (
        "a reply resets the count",
        [*emails(0, 3, 6, 9, 12), act("replied", 13)],
        "funding",
        False,
        "funding",
    ),
    (
        "after the breakup the count restarts",
        [*BREAKUP, touch(120)],
        "signal_triggered",
        False,
        "no_response",
    ),
    (
        "won deal: post-purchase",
        [act("deal_stage_changed", 0, stage="won")],
        "funding",
        True,
        "post_purchase",
    ),
    (
        "customer: post-purchase",
        [act("deal_stage_changed", 0, stage="customer")],
        "signal_triggered",
        False,
        "post_purchase",
    ),
]


@pytest.mark.parametrize(
    ("activities", "trigger", "hot", "expected"),
    [p[1:] for p in PLAYS],
    ids=[p[0] for p in PLAYS],
)
def test_play(activities: list[Activity], trigger: Play, hot: bool, expected: Play) -> None:
    assert check(activities, 200, play=trigger, hot=hot).play == expected


# (id, activities, trigger play, last engaged (days), expected channel)
CHANNELS: list[tuple[str, list[Activity], Play, float | None, str]] = [
    ("start with email", [], "signal_triggered", None, "email"),
    ("two emails: still email", emails(0, 3), "signal_triggered", None, "email"),
    ("three unengaged emails: LinkedIn", emails(0, 3, 6), "signal_triggered", None, "linkedin"),
    (
        "then phone",
        [*emails(0, 3, 6), touch(9, "linkedin")],
        "signal_triggered",
        None,
        "phone",
    ),
    (
        "then back to email",
        [*emails(0, 3, 6), touch(9, "linkedin"), touch(12, "phone")],
        "signal_triggered",
        None,
        "email",
    ),
    ("engagement resets the count", emails(0, 3, 6), "signal_triggered", 7, "email"),
    ("engagement before the third", emails(0, 3, 6), "signal_triggered", 4, "email"),
    (
        "sms is not a channel switch",
        [*emails(0, 3, 6), touch(7, "sms")],
        "value_add",
        None,
        "linkedin",
    ),
    ("champion moved: LinkedIn", [], "champion_moved", None, "linkedin"),
    ("bounced: skip email", [act("bounced", 0)], "signal_triggered", None, "linkedin"),
    ("bounced, breakup: LinkedIn", [act("bounced", 0)], "breakup", None, "linkedin"),
    (
        "email fixed after a bounce",
        [act("bounced", 0), touch(1)],
        "signal_triggered",
        None,
        "email",
    ),
    ("post-demo is an email", emails(0, 3, 6), "post_demo", None, "email"),
]


@pytest.mark.parametrize(
    ("activities", "trigger", "engaged", "expected"),
    [c[1:] for c in CHANNELS],
    ids=[c[0] for c in CHANNELS],
)
def test_channel(
    activities: list[Activity], trigger: Play, engaged: float | None, expected: str
) -> None:
    hot = trigger in RULES.hot_plays
    assert check(activities, 200, play=trigger, hot=hot, engaged=engaged).channel == expected


@pytest.mark.parametrize(
    ("play", "hot", "urgency"),
    [
        ("post_demo", False, "now"),
        ("funding", True, "now"),
        ("signal_triggered", True, "now"),
        ("signal_triggered", False, "soon"),
        ("multi_thread", False, "soon"),
        ("value_add", False, "flexible"),
    ],
)
def test_urgency(play: Play, hot: bool, urgency: str) -> None:
    assert check([], 0, play=play, hot=hot).urgency == urgency


def test_meeting_held_calls_for_a_post_demo_window_for_24_hours() -> None:
    booked = apply_activity(RULES, None, act("meeting_booked", 0)).state
    held = apply_activity(RULES, booked, act("meeting_held", 2, eid="m-1"))
    assert held.post_demo_due
    result = gate(
        RULES,
        held.state,
        trigger_play="post_demo",
        hot=False,
        at=_at(2),
        last_engaged_at=None,
    )
    assert result == Gate(True, None, "post_demo", "email", "now", timedelta(hours=24))
    assert expires_for("post_demo", RULES) == timedelta(hours=24)
    assert expires_for("post_demo", CadenceRules(post_demo_expire_hours=4)) == timedelta(hours=4)
    # An older meeting arriving late opens nothing new (a redelivery is a duplicate
    # upstream: rules.core.outreach).
    assert not apply_activity(RULES, held.state, act("meeting_held", 1)).post_demo_due
    opted = fold([act("opted_out", 0)])
    assert not apply_activity(RULES, opted, act("meeting_held", 2)).post_demo_due


def test_touch_closes_its_window() -> None:
    first = apply_activity(RULES, None, touch(0, window_id="w-1"))
    assert first.closes_window == "w-1" and not first.duplicate
    again = apply_activity(RULES, first.state, touch(0, window_id="w-1", eid=None))
    assert again.closes_window == "w-1"  # a second touch for the same window still counts
    assert apply_activity(RULES, None, touch(0)).closes_window is None


def test_state_round_trips_through_bytes() -> None:
    state = fold(
        [
            touch(0, window_id="w"),
            act("replied", 1),
            act("meeting_booked", 1, meeting_at=_at(4).isoformat()),
            act("deal_stage_changed", 2, stage="open"),
            act("out_of_office", 3, until="2024-06-01"),
            act("bounced", 3),
        ]
    )
    data = msgspec.msgpack.encode(state)
    assert msgspec.msgpack.decode(data, type=CadenceState) == state


def test_an_out_of_office_counts_for_at_most_the_rulebook_cap() -> None:
    rules = CadenceRules(max_vacation_days=10)
    state = fold([act("out_of_office", 0, until="2024-12-31")], rules)
    assert state.vacations == ((date(2024, 5, 14), date(2024, 5, 23)),)


def test_deal_stage_keeps_the_newest_by_event_time() -> None:
    lost_then_won_late = [
        act("deal_stage_changed", 2, stage="lost"),
        act("deal_stage_changed", 1, stage="won"),
    ]
    assert fold(lost_then_won_late).deal_stage == "lost"


# --- properties -------------------------------------------------------------------------

_KINDS = st.sampled_from(
    [
        "touch_sent",
        "replied",
        "bounced",
        "opted_out",
        "meeting_booked",
        "meeting_held",
        "deal_stage_changed",
        "out_of_office",
    ]
)


@st.composite
def activities(draw: st.DrawFn, max_size: int = 12) -> list[Activity]:
    out = []
    n = draw(st.integers(0, max_size))
    for i in range(n):
        kind = draw(_KINDS)
        days = draw(st.integers(0, 60 * 24)) / 24
        props: dict[str, Any] = {}
        if kind == "touch_sent":
            props = {
                "channel": draw(st.sampled_from(["email", "linkedin", "phone", "sms"])),
                "play": draw(st.sampled_from(["no_response", "value_add", "breakup"])),
                "value_touch": draw(st.booleans()),
                "window_id": draw(st.sampled_from([None, "w-1", "w-2"])),
            }
        elif kind == "deal_stage_changed":
            props = {"stage": draw(st.sampled_from(["open", "won", "lost"]))}
        elif kind == "meeting_booked":
            props = {"meeting_at": _at(days + draw(st.integers(0, 10))).isoformat()}
        elif kind == "out_of_office":
            props = {
                "until": (_at(days) + timedelta(days=draw(st.integers(0, 9)))).date().isoformat()
            }
        # Same-time events and repeated ids (redeliveries) are part of the test.
        eid = f"e-{draw(st.integers(0, n))}" if draw(st.booleans()) else f"u-{i}"
        out.append(act(kind, days, eid=eid, **props))
    return out


@settings(max_examples=200, deadline=None)
@given(data=st.data(), items=activities())
def test_same_activities_in_any_order_give_the_same_state(
    data: st.DataObject, items: list[Activity]
) -> None:
    # A repeated event id is a redelivery only if it carries the same event.
    unique = list({a.event_id: a for a in items}.values())
    shuffled = data.draw(st.permutations(unique + unique[: len(unique) // 2]))
    assert fold(shuffled) == fold(unique)


@settings(max_examples=200, deadline=None)
@given(
    items=activities(),
    opted_days=st.integers(0, 60),
    days=st.floats(0, 400),
    play=st.sampled_from(["post_demo", "signal_triggered", "funding", "breakup"]),
    hot=st.booleans(),
)
def test_opted_out_is_never_allowed(
    items: list[Activity], opted_days: int, days: float, play: Play, hot: bool
) -> None:
    state = fold([*items, act("opted_out", opted_days)])
    result = gate(RULES, state, trigger_play=play, hot=hot, at=_at(days), last_engaged_at=None)
    assert not result.allowed and result.reason == "opted_out"


@settings(max_examples=150, deadline=None)
@given(
    steps=st.lists(st.tuples(st.integers(1, 72), st.booleans()), min_size=1, max_size=60),
    max_touches=st.integers(1, 8),
    window=st.integers(3, 21),
)
def test_touches_never_exceed_the_cap_in_any_window(
    steps: list[tuple[int, bool]], max_touches: int, window: int
) -> None:
    """Every allowed window is used at once; any `window` days hold at most the cap."""
    rules = CadenceRules(max_touches=max_touches, touch_window_days=window)
    state: CadenceState | None = None
    at = T0
    sent: list[datetime] = []
    for hours, hot in steps:
        at += timedelta(hours=hours)
        result = gate(
            rules,
            state,
            trigger_play="signal_triggered",
            hot=hot,
            at=at,
            last_engaged_at=None,
        )
        if result.allowed:
            if not hot:
                assert all(at - t >= timedelta(days=rules.min_days_between_touches) for t in sent)
            state = apply_activity(rules, state, _touch_at(at, result.play)).state
            sent.append(at)
    width = timedelta(days=window)
    for start in sent:
        assert sum(start <= t < start + width for t in sent) <= max_touches


def _touch_at(at: datetime, play: Play) -> Activity:
    return _ADAPTER.validate_python(
        {
            "type": "touch_sent",
            "event_id": f"t-{at.isoformat()}",
            "occurred_at": at,
            "source": "test",
            "person": {"email": "ada@acme.example"},
            "properties": {"channel": "email", "play": play},
        }
    )


# --- what follows the person to every account -------------------------------------------


def test_an_opt_out_reply_or_bounce_elsewhere_reaches_this_account() -> None:
    opted = suppression_update(None, act("opted_out", 0))
    assert opted is not None and opted.opted_out_at == _at(0)
    assert check([], 5, hot=True, suppression=opted).reason == "opted_out"
    replied = suppression_update(None, act("replied", 0))
    assert check([], 10, suppression=replied).reason == "replied"
    assert check([], 31, suppression=replied).allowed
    bounced = suppression_update(None, act("bounced", 0, channel="email"))
    assert bounced is not None and bounced.bounced_on("email") == _at(0)
    # Email is skipped after a bounce anywhere, until an email touch is sent again here.
    assert check([], 3, suppression=bounced).channel == "linkedin"
    assert check([touch(2)], 4, suppression=bounced).channel == "email"


def test_suppression_updates_merge_in_any_order() -> None:
    events = [
        act("opted_out", 5),
        act("opted_out", 2),
        act("replied", 1),
        act("replied", 7),
        act("bounced", 3, channel="email"),
        act("touch_sent", 4, channel="email", play="no_response"),
    ]
    for order in itertools.permutations(events):
        s: Suppression | None = None
        for a in order:
            s = suppression_update(s, a) or s
        assert s == Suppression(_at(2), (("email", _at(3)),), _at(7))
    assert suppression_update(Suppression(opted_out_at=_at(1)), act("opted_out", 3)) is None


def test_merging_two_records_keeps_the_earliest_opt_out_and_latest_reply() -> None:
    a = Suppression(opted_out_at=_at(5), replied_at=_at(1))
    b = Suppression(opted_out_at=_at(2), bounced=(("email", _at(4)),), replied_at=_at(3))
    assert merge_suppressions(a, b) == Suppression(_at(2), (("email", _at(4)),), _at(3))
    assert merge_suppressions(a, None) is a and merge_suppressions(None, b) is b
    merged = effective(fold([act("replied", 6)]), b)
    assert (merged.opted_out_at, merged.replied_at, merged.bounced_at) == (_at(2), _at(6), _at(4))
