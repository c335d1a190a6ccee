"""Timing a worker from outside: committed offsets against true end offsets, and the CPU
the worker processes spent in the timed interval (`bench/pipeline.py`).

CPU is read from /proc/<pid>/stat (user + system time of every thread of the process) at
the two ends of the interval, so a worker's start-up (imports, group join, recovery) is
left out as its time is. Where /proc is missing the figure is NaN.
"""

from __future__ import annotations

import asyncio
import math
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from streams.ends import true_end_offsets
from streams.kafka_security import client_kwargs
from streams.local import WorkerProcess
from streams.settings import Settings

__all__ = ["GroupWatch", "Timing", "cpu_seconds", "plain_aiokafka", "time_group"]

_POLL_SECONDS = 0.05
_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def cpu_seconds(pids: Sequence[int]) -> float:
    """User + system CPU seconds of processes `pids` so far (NaN without /proc)."""
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return math.nan
        total += (int(fields[11]) + int(fields[12])) / _TICKS  # utime, stime
    return total


async def _topic_partitions(
    consumer: AIOKafkaConsumer, topics: Sequence[str], timeout: float = 20.0
) -> list[TopicPartition]:
    deadline = time.monotonic() + timeout
    tps: list[TopicPartition] = []
    for topic in topics:
        while not (found := consumer.partitions_for_topic(topic)):
            if time.monotonic() > deadline:
                raise TimeoutError(f"topic {topic} did not appear in {timeout:.0f}s")
            await consumer._client.force_metadata_update()
            await asyncio.sleep(0.1)
        tps += [TopicPartition(topic, p) for p in sorted(found)]
    return tps


class GroupWatch:
    """End offsets and a group's committed offsets, over long-lived clients (cheap to poll)."""

    def __init__(self, settings: Settings) -> None:
        self._admin = AIOKafkaAdminClient(**client_kwargs(settings))
        self._consumer = AIOKafkaConsumer(**client_kwargs(settings), enable_auto_commit=False)
        # `true_end_offsets` assigns partitions, which narrows a consumer's metadata to them:
        # a second consumer keeps finding new topics.
        self._ends = AIOKafkaConsumer(**client_kwargs(settings), enable_auto_commit=False)

    async def __aenter__(self) -> GroupWatch:
        await self._admin.start()
        await self._consumer.start()
        await self._ends.start()
        # Let the consumer's background task start: aiokafka's stop() re-raises the
        # CancelledError of a task cancelled before it ever ran.
        await asyncio.sleep(0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._ends.stop()
        await self._consumer.stop()
        await self._admin.close()

    async def partitions(self, topics: Sequence[str]) -> list[TopicPartition]:
        return await _topic_partitions(self._consumer, topics)

    async def ends(self, tps: Sequence[TopicPartition]) -> dict[TopicPartition, int]:
        """True end offsets: this broker under-reports them after batched produces, so
        `streams.ends` reads the last record itself."""
        return await true_end_offsets(self._ends, tps)

    async def committed(
        self, group: str, tps: Sequence[TopicPartition]
    ) -> dict[TopicPartition, int]:
        found = await self._admin.list_consumer_group_offsets(group, partitions=list(tps))
        out = {}
        for tp in tps:
            meta = found.get(tp)
            out[tp] = meta.offset if meta is not None and meta.offset >= 0 else 0
        return out


@dataclass(frozen=True, slots=True)
class Timing:
    events: int  # events finished between the two observations
    seconds: float
    startup: float  # worker start to first visible progress
    cpu: float = math.nan  # CPU seconds the measured processes spent between them

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else float("nan")

    @property
    def cpu_us_per_event(self) -> float:
        return self.cpu / self.events * 1e6 if self.events else float("nan")


async def time_group(
    watch: GroupWatch,
    worker: WorkerProcess,
    *,
    groups: dict[str, Sequence[str]],
    counted: str,
    expected: int,
    timeout: float,
    whole: bool = False,
    cpu_of: Sequence[WorkerProcess] = (),
) -> Timing:
    """Time a worker from the first commit of group `counted` until every group in `groups`
    has committed the true end of each of its topics.

    `groups` maps each consumer group of the worker to the topics it commits (the pipeline
    has two: its router's on the input topics, its score agent's on the keyed topic).
    Events are counted by `counted`'s commits, which are one per input record, from the
    first one seen; with `whole`, every expected event counts (the pipeline: its router
    runs far ahead of its score agent, so most of what it routed before its first commit
    was seen is still scored inside the interval; this overstates the rate by what was
    scored before that first commit, at most one poll, 50 ms, of scoring). Raises if the
    worker dies or on timeout. The CPU of `cpu_of` (default: `worker`) is read at both
    ends of the interval.
    """
    pids = [w.process.pid for w in (cpu_of or [worker])]
    cpu_at_start = math.nan
    spawned = time.perf_counter()
    tps_of = {group: await watch.partitions(topics) for group, topics in groups.items()}
    deadline = time.monotonic() + timeout
    started: float | None = None
    done_at_start = 0
    while True:
        committed = {g: await watch.committed(g, tps) for g, tps in tps_of.items()}
        ends = await watch.ends([tp for tps in tps_of.values() for tp in tps])
        now = time.perf_counter()
        done = sum(committed[counted].values())
        if started is None and any(committed[counted].values()):
            started, done_at_start = now, done
            cpu_at_start = cpu_seconds(pids)
        lag = sum(
            max(0, ends[tp] - offset)
            for by_tp in committed.values()
            for tp, offset in by_tp.items()
        )
        if started is not None and lag == 0 and done >= expected:
            events = expected if whole else done - done_at_start
            cpu = cpu_seconds(pids) - cpu_at_start
            return Timing(events, now - started, started - spawned, cpu)
        if not worker.alive:
            raise RuntimeError(f"worker exited early:\n{worker.log_tail()}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{counted}: lag {lag} after {timeout:.0f}s\n{worker.log_tail()}")
        await asyncio.sleep(_POLL_SECONDS)


async def plain_aiokafka(
    settings: Settings, topics: Sequence[str], n: int, timeout: float
) -> Timing:
    """Read `n` records from `topics` (all partitions assigned, no group) and decode each."""
    consumer = AIOKafkaConsumer(
        **client_kwargs(settings), enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        tps = await _topic_partitions(consumer, topics)
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        count = 0
        started = time.perf_counter()
        cpu_at_start = time.process_time()  # this process reads and decodes
        while count < n:
            if time.perf_counter() - started > timeout:
                raise TimeoutError(f"plain consumer read {count} of {n} in {timeout:.0f}s")
            batch = await consumer.getmany(timeout_ms=500)
            for messages in batch.values():
                for message in messages:
                    orjson.loads(message.value)
                    count += 1
        return Timing(count, time.perf_counter() - started, 0.0, time.process_time() - cpu_at_start)
    finally:
        await consumer.stop()
