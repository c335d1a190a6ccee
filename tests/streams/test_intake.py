"""Intake: one input record to one frame entry, or the reason there is none."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import msgspec
import orjson
import pytest

from signals.codec import Rejected
from signals.models import SignalType
from signals.sources import SourceSet, Unmapped
from streams.frames import (
    ACTIVITY,
    BROADCAST,
    CONTACT,
    DEPARTURE,
    ERASE,
    SIGNAL,
    UNCONTACT,
    decode_signal_body,
)
from streams.intake import Accepted, intake
from streams.settings import Settings
from streams.topics import Topics

NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)
TOPICS = Topics.from_settings(Settings())
PAGES = TOPICS.for_signal(SignalType.PAGE_VISITED)
PERSON = {"email": "ana@acme.example", "title": "VP"}
ACCOUNT = {"domain": "www.Acme.example"}


def _message(topic: str, body: Any, key: bytes | None = None) -> Any:
    value = body if isinstance(body, bytes) or body is None else orjson.dumps(body)
    return SimpleNamespace(
        topic=topic,
        partition=3,
        offset=41,
        key=key,
        value=value,
        headers=[],
        timestamp=int(NOW.timestamp() * 1000),
    )


def _run(topic: str, body: Any, key: bytes | None = None) -> Any:
    return intake(
        _message(topic, body, key),
        topics=TOPICS,
        sources=SourceSet.empty(),
        clock=lambda: NOW,
        max_bytes=1_000_000,
        max_future_skew_seconds=300,
    )


def _signal(**extra: Any) -> dict[str, Any]:
    return {
        "event_id": "e1",
        "occurred_at": (NOW - timedelta(hours=1)).isoformat(),
        "source": "web",
        "person": PERSON,
        "account": ACCOUNT,
        "properties": {"path": "/pricing"},
        **extra,
    }


def test_a_signal_is_validated_once_and_keyed_by_its_account() -> None:
    result = _run(PAGES, _signal())
    assert isinstance(result, Accepted) and result.kind == "page_visited"
    entry = result.entry
    assert (entry.kind, entry.key, entry.origin) == (
        SIGNAL,
        "acme.example",
        (TOPICS.for_signal("page_visited"), 3, 41),
    )
    rec = decode_signal_body(entry.body)
    assert rec.person is not None and rec.person.title == "VP" and rec.occurred_at.tzinfo is UTC


def test_a_job_change_goes_to_the_previous_account_first() -> None:
    body = _signal(properties={"previous_account": {"domain": "oldco.example"}, "new_title": "CRO"})
    result = _run(TOPICS.for_signal(SignalType.JOB_CHANGED), body)
    assert isinstance(result, Accepted)
    assert (result.entry.kind, result.entry.key) == (DEPARTURE, "oldco.example")


def test_activities_and_contacts_get_their_own_entries() -> None:
    activity = {**_signal(), "type": "replied", "properties": {"channel": "email"}}
    result = _run(TOPICS.activity, activity)
    assert isinstance(result, Accepted) and result.entry.kind == ACTIVITY
    contact = {
        "event_id": "c1",
        "occurred_at": NOW.isoformat(),
        "person": PERSON,
        "account": ACCOUNT,
        "roles": ["champion"],
    }
    result = _run(TOPICS.contacts, contact)
    assert isinstance(result, Accepted) and (result.entry.kind, result.entry.key) == (
        CONTACT,
        "acme.example",
    )


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (_signal(occurred_at=(NOW + timedelta(seconds=301)).isoformat()), "future_event"),
        (_signal(occurred_at="2099-01-01T00:00:00Z"), "future_event"),
        (_signal(occurred_at="0001-01-01T00:00:00+05:00"), "invalid"),
        (
            _signal(account={"domain": "acme.example", "technologies": ["x"] * 100_000}),
            "limit_exceeded",
        ),
        (_signal(person={**PERSON, "title": "T" * 201}), "limit_exceeded"),
        (b"\xff", "not_utf8"),
        (None, "tombstone"),
    ],
    ids=["skew", "2099", "year-1", "100k-technologies", "long-title", "not-utf8", "tombstone"],
)
def test_records_that_cannot_be_used_are_rejected_with_their_reason(body: Any, reason: str) -> None:
    result = _run(PAGES, body)
    assert isinstance(result, Rejected) and result.reason == reason


def test_control_characters_never_reach_the_entry() -> None:
    body = _signal(person={**PERSON, "title": "VP\x1b[31m\x07 Sales\u202e"})
    result = _run(PAGES, body)
    assert isinstance(result, Accepted)
    rec = decode_signal_body(result.entry.body)
    assert rec.person is not None and rec.person.title == "VP[31m Sales"
    bad_id = _run(PAGES, _signal(event_id="e\x001"))
    assert isinstance(bad_id, Rejected) and bad_id.reason == "invalid"


def test_an_erasure_request_becomes_an_entry_for_every_partition_with_its_key() -> None:
    request = {
        "person": {"email": "Ana@Acme.example", "id": "crm-7"},
        "request_id": "r-1",
        "requested_at": NOW.isoformat(),
    }
    result = _run(TOPICS.erasure, request, key=b"ana@acme.example")
    assert isinstance(result, Accepted) and result.kind == "erasure_request"
    assert result.entry.kind == ERASE and ERASE in BROADCAST
    assert result.entry.key == "person:ana@acme.example"
    assert msgspec.msgpack.decode(result.entry.body) == [
        "r-1",
        ["ana@acme.example", "id:crm-7"],
        b"ana@acme.example",
    ]
    done = _run(TOPICS.erasure, None, key=b"ana@acme.example")  # the engine's own tombstone
    assert isinstance(done, Unmapped) and done.reason == "tombstone"
    bad = _run(TOPICS.erasure, {"person": {}, "request_id": "r"})
    assert isinstance(bad, Rejected) and bad.reason in ("missing_identity", "invalid")


def test_a_crm_tombstone_keyed_by_the_person_clears_their_roles_everywhere() -> None:
    for key, person in ((b" Ana@ACME.example", "ana@acme.example"), (b"crm-7", "id:crm-7")):
        result = _run(TOPICS.contacts, None, key=key)
        assert isinstance(result, Accepted) and result.entry.kind == UNCONTACT
        assert UNCONTACT in BROADCAST
        assert msgspec.msgpack.decode(result.entry.body) == [person, NOW.timestamp()]
    unkeyed = _run(TOPICS.contacts, None)
    assert isinstance(unkeyed, Rejected) and unkeyed.reason == "tombstone"
    garbled = _run(TOPICS.contacts, None, key=b"\xff")
    assert isinstance(garbled, Rejected) and garbled.reason == "invalid"
