"""The HTTP ingest's pure part: body shapes, per-item validation, routing and keys."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import orjson
import pytest

from signals.models import SignalType
from signals.sources import parse_sources
from signals.sources.examples import cloudevent_from_contract, segment_identify, segment_track
from streams.ingest.plan import BodyError, plan_contract, plan_source, split_body
from streams.ingest.server import bearer_ok
from streams.settings import Settings
from streams.sinks.receiver import Receiver
from streams.sinks.signing import sign
from streams.topics import Topics
from tests.support import ICP_ACCOUNT, ICP_PERSON, event

AT = datetime(2024, 5, 14, 9, 30, tzinfo=UTC)
TOPICS = Topics.from_settings(Settings())


@pytest.mark.parametrize(
    ("raw", "segment", "count"),
    [
        (b"[]", False, 0),
        (b"[{}, {}]", False, 2),
        (b'{"batch": [{}, {}, {}]}', True, 3),
        (b'{"type": "track"}', True, 1),
        (b"[{}]", True, 1),
    ],
)
def test_body_shapes(raw: bytes, segment: bool, count: int) -> None:
    items = split_body(raw, segment=segment)
    assert isinstance(items, list) and len(items) == count


@pytest.mark.parametrize(
    ("raw", "segment"),
    [(b"{", False), (b'{"type": "track"}', False), (b'{"batch": 3}', True), (b"3", True)],
)
def test_unusable_bodies(raw: bytes, segment: bool) -> None:
    assert isinstance(split_body(raw, segment=segment), BodyError)


def test_contract_items_are_routed_by_type_and_keyed_by_account() -> None:
    items = [
        event("funding_announced", "f-1", AT, account=ICP_ACCOUNT, round="Seed"),
        {
            "type": "crm_contact",
            "event_id": "c-1",
            "occurred_at": AT.isoformat(),
            "person": ICP_PERSON,
            "account": ICP_ACCOUNT,
            "roles": ["champion"],
        },
        {
            "type": "crm_contact",
            "event_id": "c-2",
            "occurred_at": AT.isoformat(),
            "person": ICP_PERSON,
            "account": ICP_ACCOUNT,
            "roles": None,
        },
        {
            "type": "opted_out",
            "event_id": "o-1",
            "occurred_at": AT.isoformat(),
            "source": "esp",
            "person": {"email": "sam@gmail.com"},
        },
    ]
    plan = plan_contract(items, TOPICS, max_bytes=10_000)
    routed = [(i, p.topic, p.key) for i, p in plan.accepted]
    assert routed == [
        (0, TOPICS.for_signal(SignalType.FUNDING_ANNOUNCED), b"acme-data.example"),
        (1, TOPICS.contacts, b"dana.vp@acme-data.example"),
        (3, TOPICS.activity, b"person:sam@gmail.com"),
    ]
    assert plan.rejected == [{"index": 2, "reason": "invalid", "detail": "roles: null"}]
    assert orjson.loads(plan.accepted[0][1].value) == items[0]  # as sent


def test_source_items_keep_their_shape_and_report_unmapped_ones() -> None:
    sources = parse_sources(
        "sources:\n  - {name: web, topic: web.events, format: segment}\n"
        "  - {name: svc, topic: svc.events, format: cloudevents}\n"
    )
    web, svc = sources.named("web"), sources.named("svc")
    items = [
        segment_track("Email Opened", "s-1", AT, person=ICP_PERSON),
        segment_track("Button Clicked", "s-2", AT, person=ICP_PERSON),
        segment_identify("s-3", AT, person=ICP_PERSON, account=ICP_ACCOUNT),
        {"messageId": "s-4"},
    ]
    plan = plan_source(items, web, max_bytes=10_000)
    assert [(i, p.topic, p.key) for i, p in plan.accepted] == [
        (0, "web.events", b"acme-data.example"),
        (2, "web.events", b"acme-data.example"),
    ]
    assert plan.unmapped == [{"index": 1, "reason": "event"}]
    assert [r["reason"] for r in plan.rejected] == ["unmapped"]
    funding = event("funding_announced", "f-1", AT, account=ICP_ACCOUNT, round="Seed")
    plan = plan_source([cloudevent_from_contract(funding, source="/crm")], svc, max_bytes=10_000)
    ((_, produced),) = plan.accepted
    assert produced.headers == [("content-type", b"application/cloudevents+json")]


def test_bearer_tokens() -> None:
    assert bearer_ok("Bearer abc", ["x", "abc"])
    assert bearer_ok("bearer abc", ["abc"])
    assert not bearer_ok("Bearer abcd", ["abc"])
    assert not bearer_ok("Basic abc", ["abc"])
    assert not bearer_ok(None, ["abc"])
    assert not bearer_ok("Bearer abc", [])


def test_the_webhook_receiver_verifies_deduplicates_and_prints() -> None:
    from aiohttp.test_utils import make_mocked_request

    printed: list[str] = []
    receiver = Receiver(secret=b"k", out=printed.append, clock=lambda: 1_700_000_000.0)
    body = orjson.dumps({"window_id": "w-1", "play": "funding", "person_key": "p", "draft": {}})

    def request(signature: str) -> object:
        headers = {
            "X-Followup-Timestamp": "1700000000",
            "X-Followup-Signature": signature,
            "Idempotency-Key": "w-1",
        }
        req = make_mocked_request("POST", "/", headers=headers)

        async def read() -> bytes:
            return body

        req.read = read  # type: ignore[method-assign]
        return req

    async def run() -> list[int]:
        good = sign(b"k", "1700000000", body)
        statuses = []
        for signature in ("sha256=nope", good, good):
            statuses.append((await receiver.handle(request(signature))).status)  # type: ignore[arg-type]
        return statuses

    assert asyncio.run(run()) == [401, 200, 200]
    assert receiver.duplicates == 1 and list(receiver.seen) == ["w-1"]
    assert printed[-1].startswith("window w-1: funding for p")
