"""Erasure on request, end to end on the embedded broker: `followup forget EMAIL` removes
the person from every partition's state, from the bytes on disk, and from the changelogs'
later records, tombstones their windows, and writes a receipt; a later replay of their old
signals starts from nothing."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from streams.ends import EndProbe
from streams.kafka_security import client_kwargs
from streams.local import produce, read_topic, settings_env
from streams.partition import TABLES
from tests.support import (
    ICP_ACCOUNT,
    ICP_PERSON,
    hot_history,
    read_all,
    records_on_one_topic,
    wait_caught_up,
    wait_ready,
)

pytestmark = pytest.mark.integration

START = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)
DANA = ICP_PERSON["email"].encode()
OTHER_ACCOUNT = {**ICP_ACCOUNT, "domain": "second-data.example", "name": "Second Data"}
BOB = {**ICP_PERSON, "email": "bob.vp@acme-data.example", "name": "Bob Example"}


def _produce(settings: Any, bodies: list[dict[str, Any]]) -> None:
    asyncio.run(produce(settings, records_on_one_topic(settings.topic_page_visited, bodies)))


def _files_holding(directory: Path, needle: bytes) -> list[str]:
    return sorted(
        str(path.relative_to(directory))
        for path in directory.rglob("*")
        if path.is_file() and needle in path.read_bytes()
    )


async def _ends(settings: Any, topics: list[str]) -> dict[TopicPartition, int]:
    tps = [TopicPartition(t, p) for t in topics for p in range(settings.partitions)]
    probe = EndProbe(client_kwargs(settings))
    try:
        return await probe.ends(tps)
    finally:
        await probe.stop()


async def _records_after(settings: Any, starts: dict[TopicPartition, int]) -> list[Any]:
    consumer = AIOKafkaConsumer(**client_kwargs(settings), enable_auto_commit=False)
    await consumer.start()
    try:
        tps = list(starts)
        consumer.assign(tps)
        for tp, offset in starts.items():
            consumer.seek(tp, offset)
        probe = EndProbe(client_kwargs(settings))
        ends = await probe.ends(tps)
        await probe.stop()
        out: list[Any] = []
        positions = dict(starts)
        while any(positions[tp] < ends[tp] for tp in tps):
            for tp, records in (await consumer.getmany(timeout_ms=500)).items():
                out += records
                positions[tp] = records[-1].offset + 1
        return out
    finally:
        await consumer.stop()


def test_forget_erases_a_person_everywhere_and_a_later_signal_starts_from_nothing(
    settings, start_worker
):
    settings = settings.model_copy(update={"rocksdb_compression": "none"})  # greppable files
    worker = start_worker(settings)
    wait_ready(worker)
    dana = hot_history("dana", START) + hot_history("dana-2", START, account=OTHER_ACCOUNT)
    _produce(settings, [*dana, *hot_history("bob", START, person=BOB)])
    wait_caught_up(settings, timeout=90)
    windows = [orjson.loads(m.value) for m in read_all(settings, settings.topic_windows_opened)]
    assert {w["person_key"] for w in windows} == {DANA.decode(), BOB["email"]}
    assert len([w for w in windows if w["person_key"] == DANA.decode()]) == 2, "two accounts"
    state_dir = settings.state_dir
    assert _files_holding(state_dir, DANA), "the test must see Dana's bytes before"

    changelogs = [f"{settings.app_id}-{table}-changelog" for table in TABLES]
    before = asyncio.run(_ends(settings, changelogs))
    forget = subprocess.run(
        [sys.executable, "-m", "streams.cli", "forget", DANA.decode().upper(), "--wait", "90"],
        env=settings_env(settings),
        capture_output=True,
        text=True,
        timeout=150,
    )
    assert forget.returncode == 0, forget.stderr
    assert DANA.decode() not in forget.stdout + forget.stderr, "no PII in the output"
    removed = int(forget.stdout.split("erased: ")[1].split()[0])
    wait_caught_up(settings, timeout=90)  # every partition's frame written and purged

    assert _files_holding(state_dir, DANA) == [], "no file of the state dir holds Dana"
    assert _files_holding(state_dir, BOB["email"].encode()), "Bob is still known"
    later = asyncio.run(_records_after(settings, before))
    assert not [r for r in later if r.value is not None and DANA in r.value]
    tombstones = [r for r in later if DANA in (r.key or b"")]
    assert tombstones and all(r.value is None for r in tombstones)
    assert removed == len({(r.topic, r.partition, r.key) for r in tombstones}) >= 4
    for topic in (settings.topic_windows_opened, settings.topic_windows_closed):
        erased = [r for r in read_all(settings, topic) if r.key == DANA and r.value is None]
        assert erased, f"no tombstone for the person on {topic}"
    receipts = read_all(settings, settings.topic_erasure_done)
    assert len(receipts) == 1 and DANA not in receipts[0].value
    assert orjson.loads(receipts[0].value)["keys_removed"] == removed

    # Dana's old signals again: with her state (and its dedup memory) gone, they count anew
    # and open the same window again (its id is derived from the trigger event).
    first = next(
        w
        for w in windows
        if w["person_key"] == DANA.decode() and w["account_key"] == ICP_ACCOUNT["domain"]
    )
    _produce(settings, hot_history("dana", START))

    def reopened(records: list[Any]) -> bool:
        erased_at = next((n for n, r in enumerate(records) if r.key == DANA and not r.value), None)
        return erased_at is not None and any(
            r.value and orjson.loads(r.value)["window_id"] == first["window_id"]
            for r in records[erased_at:]
        )

    records = asyncio.run(
        read_topic(settings, settings.topic_windows_opened, until=reopened, timeout=90)
    )
    assert reopened(records), "the replayed signals opened no window after the erasure"
