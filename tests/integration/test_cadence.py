"""A simulated multi-week cadence on the embedded broker, on the event clock.

Signals and outreach activity arrive on different topics, so each step waits for the worker
to catch up before the next: that gives the one order a replay through the pure core can
follow. With `FOLLOWUP_CLOCK=event`, windows are stamped, sent and expired by event time, so
three weeks of history play out in seconds.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from rules.offline.replay import Replay
from rules.rulebook.loader import load_rulebook
from signals.activity import decode_activity
from signals.codec import decode_signal, decode_window
from streams.local import Record, produce, read_topic, wait_until
from tests.support import event, read_all, wait_caught_up, wait_ready

pytestmark = pytest.mark.integration

MONDAY = datetime.now(UTC).replace(hour=9, minute=0, second=0, microsecond=0) - timedelta(days=35)
MONDAY -= timedelta(days=MONDAY.weekday())
ACME = {
    "domain": "acme-data.example",
    "name": "Acme Data",
    "industry": "software",
    "employees": 400,
    "country": "US",
}
DANA = {
    "email": "dana@acme-data.example",
    "name": "Dana Example",
    "title": "VP Engineering",
    "seniority": "vp",
    "department": "engineering",
    "timezone": "America/New_York",
}
LEE = {"email": "lee@acme-data.example", "title": "Director of Data", "seniority": "director"}
MO = {"email": "mo@acme-data.example", "title": "Analyst"}


def at(day: float, hour: int = 0) -> datetime:
    return MONDAY + timedelta(days=day, hours=hour)


def visit(eid: str, when: datetime, who: dict[str, Any], path: str) -> dict[str, Any]:
    return event("page_visited", eid, when, person=who, account=ACME, path=path)


def act(kind: str, eid: str, when: datetime, who: dict[str, Any], **props: Any) -> dict[str, Any]:
    return {
        "type": kind,
        "event_id": eid,
        "occurred_at": when.isoformat(),
        "source": "seq",
        "person": who,
        "account": ACME,
        "properties": props,
    }


@pytest.fixture
def cadence_settings(settings, tmp_path):
    # The cadence does the pacing here: a 1-day cooldown stops a burst of signals from
    # opening several windows at once, and the flat 7-day default would hide the cadence.
    text = (settings.rulebook.read_text()).replace("cooldown_days: 7", "cooldown_days: 1")
    rulebook = tmp_path / "rulebook.yaml"
    rulebook.write_text(text)
    return settings.model_copy(
        update={"rulebook": rulebook, "clock": "event", "expiry_sweep_seconds": 0.5}
    )


class Steps:
    """Produce one record at a time, wait until the worker processed it, and apply the same
    record to a replay through the pure core; `windows` collects what the broker published."""

    def __init__(self, settings: Any) -> None:
        self.s = settings
        self.replay = Replay(load_rulebook(settings.rulebook))
        self.windows: dict[str, Any] = {}

    def __call__(self, body: dict[str, Any]) -> list[str]:
        s = self.s
        raw = orjson.dumps(body)
        if body["type"] in {"page_visited", "email_opened"}:
            topic = s.topic_page_visited
            signal = decode_signal(raw, default_type=None, max_bytes=10**6)
            outcome = self.replay.apply(signal, datetime.fromisoformat(body["occurred_at"]))
            opened = [w.window_id for w in outcome.windows]
        else:
            topic = s.topic_outreach_activity
            activity = decode_activity(raw, max_bytes=10**6)
            result = self.replay.apply_activity(activity, activity.occurred_at)
            opened = [result.window.window_id] if result.window else []
        key = (body.get("account") or {}).get("domain", "none").encode()
        asyncio.run(produce(s, [Record(topic, raw, key=key)]))
        wait_caught_up(s, timeout=60)
        for message in read_all(s, s.topic_windows_opened, timeout=1.0):
            window = decode_window(message.value)
            self.windows.setdefault(window.window_id, window)
        assert set(opened) <= set(self.windows), "the broker opened what the core opened"
        return opened


def test_a_three_week_cadence_paces_switches_stops_and_closes(cadence_settings, start_worker):
    s = cadence_settings
    worker = start_worker(s)
    wait_ready(worker)
    step = Steps(s)
    windows = step.windows
    replay = step.replay

    w1 = step(visit("d0-a", at(0, 0), DANA, "/pricing"))
    assert step(visit("d0-b", at(0, 1), DANA, "/pricing")) == [], "one window per burst"
    assert len(w1) == 1 and windows[w1[0]].play == "signal_triggered"
    step(
        act(
            "touch_sent",
            "t1",
            at(0, 3),
            DANA,
            channel="email",
            play="signal_triggered",
            window_id=w1[0],
        )
    )
    assert step(visit("d1", at(1), DANA, "/docs/setup")) == [], "2 days between touches"
    w2 = step(visit("d3", at(3), DANA, "/docs/api"))
    assert [windows[w].play for w in w2] == ["no_response"], "a new angle after a touch"
    # Nobody uses W2; a later signal moves event time past its expiry and the sweep closes it.
    w3 = step(visit("d7", at(7), DANA, "/security"))
    assert w3, "spacing respected, engagement still high"
    step(
        act(
            "touch_sent",
            "t2",
            at(7, 2),
            DANA,
            channel="email",
            play=windows[w3[0]].play,
            window_id=w3[0],
        )
    )
    w4 = step(visit("d10", at(10), DANA, "/customers/orbit"))
    step(
        act(
            "touch_sent",
            "t3",
            at(10, 2),
            DANA,
            channel="email",
            play=windows[w4[0]].play,
            window_id=w4[0],
        )
    )
    w5 = step(visit("d13", at(13), DANA, "/docs/sso"))
    assert w5 and windows[w5[0]].play == "value_add", "after three touches, bring value"
    step(act("replied", "r1", at(14), DANA))
    assert step(visit("d15-a", at(15), DANA, "/pricing")) == [], "a reply stops the cadence"
    assert step(visit("d15-b", at(15, 1), DANA, "/pricing")) == []

    # Lee opts out: even a hot pricing burst opens nothing.
    step(act("opted_out", "o1", at(16), LEE))
    assert step(visit("lee-a", at(17), LEE, "/pricing")) == []
    assert step(visit("lee-b", at(17, 1), LEE, "/pricing")) == []
    # Mo, a poor fit, had a demo: a post-demo window at once.
    post = step(act("meeting_held", "m1", at(18), MO))
    assert [windows[w].play for w in post] == ["post_demo"]

    # The broker pipeline opened exactly what the pure core says, no more.
    assert set(windows) == {w.window_id for w in replay.windows}
    closed = {}

    async def closes() -> bool:
        messages = await read_topic(s, s.topic_windows_closed, until=lambda _: False, timeout=0.5)
        closed.update({orjson.loads(m.value)["window_id"]: orjson.loads(m.value) for m in messages})
        return w2[0] in closed

    asyncio.run(wait_until(closes, timeout=30, what="the expired window to be closed"))
    assert closed[w1[0]]["reason"] == "touched"
    assert closed[w2[0]]["reason"] == "expired"
    assert closed[w5[0]]["reason"] == "replied"
    assert all(w.draft.send_at.weekday() < 5 for w in windows.values())


PATCO = {
    "domain": "patco.example",
    "name": "PatCo",
    "industry": "saas",
    "employees": 900,
    "country": "GB",
}
PAT = {
    "email": "pat@patco.example",
    "name": "Pat Example",
    "title": "Head of Data",
    "seniority": "head",
    "department": "data",
    "timezone": "Europe/London",
}


def test_unanswered_touches_switch_channel_then_break_up(cadence_settings, start_worker):
    """Pat engages once, then only the company keeps visiting (reverse-IP): every window after
    the first comes from account-level signals, so Pat's email touches go unanswered."""
    s = cadence_settings
    worker = start_worker(s)
    wait_ready(worker)
    step = Steps(s)

    def reverse_ip(eid: str, when: datetime, path: str) -> dict[str, Any]:
        # Not the pricing page: a hot signal would keep its own play and skip the cadence.
        return event("page_visited", eid, when, account=PATCO, path=path)

    opened = step(event("page_visited", "pat-1", at(0), person=PAT, account=PATCO, path="/pricing"))
    opened += step(
        event("page_visited", "pat-2", at(0, 1), person=PAT, account=PATCO, path="/pricing")
    )
    sequence = []
    for n in range(1, 8):
        assert len(opened) == 1, f"step {n}: one window per reverse-IP visit"
        window = step.windows[opened[0]]
        sequence.append((window.play, window.draft.channel))
        if window.play == "breakup":
            break
        step(
            {
                "type": "touch_sent",
                "event_id": f"pt{n}",
                "occurred_at": at(2 * n - 2, 3).isoformat(),
                "source": "seq",
                "person": PAT,
                "account": PATCO,
                "properties": {
                    "channel": window.draft.channel,
                    "play": window.play,
                    "window_id": window.window_id,
                },
            }
        )
        # Two days and a few hours after the touch: the 2-day spacing is respected.
        opened = step(reverse_ip(f"rip-{n}a", at(2 * n, 6), "/security"))
        opened += step(reverse_ip(f"rip-{n}b", at(2 * n, 7), "/customers/orbit"))
    channels = [channel for _, channel in sequence]
    plays = [play for play, _ in sequence]
    assert channels[:3] == ["email", "email", "email"]
    assert channels[3] == "linkedin", f"after 3 unanswered emails, another channel: {sequence}"
    assert plays[-1] == "breakup", f"after unanswered value touches, a breakup: {sequence}"
    assert "value_add" in plays and "no_response" in plays
    assert set(step.windows) == {w.window_id for w in step.replay.windows}
