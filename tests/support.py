"""Builders for test events and helpers that talk to the broker (no fixtures here)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

import orjson
from aiokafka.partitioner import murmur2

from rules.offline.replay import Replay
from rules.rulebook.loader import load_rulebook
from signals.codec import Rejected, decode_signal
from signals.identity import partition_key
from signals.windows import WindowOpened
from streams.local import Record, processed_through, read_topic, wait_until, worker_stages
from streams.settings import Settings
from streams.topics import Topics

ICP_ACCOUNT = {
    "domain": "acme-data.example",
    "name": "Acme Data",
    "industry": "software",
    "employees": 400,
    "country": "US",
}
ICP_PERSON = {
    "email": "dana.vp@acme-data.example",
    "name": "Dana Example",
    "title": "VP Engineering",
    "seniority": "vp",
    "department": "engineering",
    "timezone": "America/New_York",
}
COLD_ACCOUNT = {
    "domain": "tiny-agency.example",
    "name": "Tiny Agency",
    "industry": "marketing",
    "employees": 3,
    "country": "BR",
}
COLD_PERSON = {"email": "sam@tiny-agency.example", "title": "Intern", "seniority": "intern"}


def event(
    kind: str,
    event_id: str,
    at: datetime,
    *,
    person: dict[str, Any] | None = None,
    account: dict[str, Any] | None = None,
    **properties: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": kind,
        "event_id": event_id,
        "occurred_at": at.isoformat(),
        "source": "test",
    }
    if person is not None:
        body["person"] = person
    if account is not None:
        body["account"] = account
    if properties:
        body["properties"] = properties
    return body


def hot_history(
    prefix: str,
    start: datetime,
    person: dict[str, Any] = ICP_PERSON,
    account: dict[str, Any] = ICP_ACCOUNT,
) -> list[dict[str, Any]]:
    """An ICP decision maker who opens an email and visits pricing twice within a day."""
    return [
        event(
            "email_opened",
            f"{prefix}-1",
            start,
            person=person,
            account=account,
            subject="Benchmarks for your team",
        ),
        event(
            "page_visited",
            f"{prefix}-2",
            start + timedelta(hours=2),
            person=person,
            account=account,
            path="/pricing",
        ),
        event(
            "page_visited",
            f"{prefix}-3",
            start + timedelta(hours=3),
            person=person,
            account=account,
            path="/docs/quickstart",
        ),
        event(
            "page_visited",
            f"{prefix}-4",
            start + timedelta(hours=20),
            person=person,
            account=account,
            path="/pricing/enterprise",
        ),
    ]


def cold_history(prefix: str, start: datetime) -> list[dict[str, Any]]:
    return [
        event("email_opened", f"{prefix}-1", start, person=COLD_PERSON, account=COLD_ACCOUNT),
        event(
            "page_visited",
            f"{prefix}-2",
            start + timedelta(hours=1),
            person=COLD_PERSON,
            account=COLD_ACCOUNT,
            path="/pricing",
        ),
    ]


def records_on_one_topic(topic: str, bodies: Iterable[dict[str, Any] | bytes]) -> list[Record]:
    """Every event on one topic, keyed by its account: per-account order is the list order,
    so the windows are exactly those of a replay through the pure core in that order."""
    out = []
    for body in bodies:
        raw = body if isinstance(body, bytes) else orjson.dumps(body)
        signal = decode_signal(raw, default_type=None, max_bytes=10**6)
        assert not isinstance(signal, Rejected), signal
        out.append(Record(topic, raw, key=partition_key(signal.account, signal.person).encode()))
    return out


def keyed_partition(key: bytes, partitions: int) -> int:
    """The partition the keyed topic puts an account on (Kafka's default murmur2 hash)."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions


def expected_windows(settings: Settings, records: Iterable[Record]) -> list[WindowOpened]:
    """The windows a replay through the pure core opens for `records`, in their order, with
    the worker's clock: the wall clock, or under `clock="event"` each keyed partition's
    newest event time."""
    state = Replay(load_rulebook(settings.rulebook))
    newest: dict[int, datetime] = {}
    for record in records:
        assert record.value is not None
        decoded = decode_signal(record.value, default_type=None, max_bytes=10**6)
        if isinstance(decoded, Rejected):
            continue
        if settings.clock == "event":
            p = keyed_partition(
                partition_key(decoded.account, decoded.person).encode(), settings.partitions
            )
            newest[p] = max(newest.get(p, decoded.occurred_at), decoded.occurred_at)
            now = newest[p]
        else:
            now = datetime.now().astimezone()
        state.apply(decoded, now)
    return state.windows


def read_windows(settings: Settings, *, count: int, timeout: float = 60.0) -> list[WindowOpened]:
    from signals.codec import decode_window

    messages = asyncio.run(
        read_topic(
            settings,
            settings.topic_windows_opened,
            until=lambda got: len(got) >= count,
            timeout=timeout,
        )
    )
    return [decode_window(m.value) for m in messages]


def read_all(settings: Settings, topic: str, *, timeout: float = 3.0) -> list[Any]:
    """Everything on `topic` now (reads until `timeout`: use after the group caught up)."""
    return asyncio.run(read_topic(settings, topic, until=lambda _: False, timeout=timeout))


def wait_caught_up(settings: Settings, *, timeout: float = 60.0) -> None:
    """Wait until the worker processed everything produced so far: the input topics, then
    the keyed topic twice (a job change is forwarded once, from the old account to the new)."""
    stages = worker_stages(settings, Topics.from_settings(settings))
    asyncio.run(processed_through(settings, stages, timeout=timeout))


def wait_ready(worker: Any, timeout: float = 90.0) -> None:
    """Wait until the worker answers /health/ready with 200; fail fast if it exits."""
    from streams.local import is_ready as ready

    def check() -> bool:
        if not worker.alive:
            raise AssertionError("worker exited:\n" + worker.log_tail())
        return ready(worker.web_port)

    asyncio.run(wait_until(check, timeout=timeout, interval=0.3, what="worker readiness"))
