"""The router: input topics in, frames on the keyed topic out, in batches.

Validating and routing a record needs no state, so it does not need Faust's per-message
stream machinery (which costs more per record than the whole validation). The router is a
plain aiokafka consume-produce loop running as a service inside the worker, in its own
consumer group (`<app id>-router`):

1. fetch a batch from every assigned input partition (`getmany`);
2. validate each record once (`streams.intake`), reject what cannot be used to the
   dead-letter topic of its source, and append each accepted record to the frame of the
   keyed partition that owns its account, in consumption order (records of one input
   partition keep their order);
3. deliver the frames and dead letters, every one acknowledged (`streams.delivery`);
4. commit the batch's offsets, and only then fetch the next batch.

A crash repeats the uncommitted batch: the score agent deduplicates its records. On a
rebalance the listener waits for the batch in flight to finish and commit before the
partitions are given up, so no batch is delivered by two workers' routers at once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import (
    CommitFailedError,
    IllegalGenerationError,
    KafkaError,
    RebalanceInProgressError,
    UnknownMemberIdError,
)
from aiokafka.structs import OffsetAndMetadata

from signals.codec import Rejected
from signals.sources import SourceSet, Unmapped
from streams.dead_letter import dead_letter_out
from streams.delivery import Out, Sender
from streams.frames import BROADCAST, Entry, encode_frame, partition_for
from streams.health import Health
from streams.intake import intake
from streams.metrics import BatchStats, Metrics
from streams.topics import Topics

__all__ = ["Router"]

log = logging.getLogger(__name__)
_COMPONENT = "router"
_FRAME_BYTES = 512 * 1024  # a frame this big is split: well under the broker's limit
_MOVED = (CommitFailedError, IllegalGenerationError, RebalanceInProgressError, UnknownMemberIdError)


class Router:
    def __init__(
        self,
        *,
        consumer_kwargs: dict[str, Any],
        topics: Topics,
        sources: SourceSet,
        sender: Sender,
        metrics: Metrics,
        health: Health,
        clock: Callable[[], datetime],
        partitions: int,
        max_bytes: int,
        max_future_skew_seconds: float,
        batch_size: int,
    ) -> None:
        self.consumer_kwargs = consumer_kwargs
        self.topics = topics
        self.sources = sources
        self.sender = sender
        self.metrics = metrics
        self.health = health
        self.clock = clock
        self.partitions = partitions
        self.max_bytes = max_bytes
        self.skew = max_future_skew_seconds
        self.batch_size = batch_size
        self._lock = asyncio.Lock()
        self.batches = 0
        self._consumer: AIOKafkaConsumer | None = None
        self._committed: dict[TopicPartition, int] = {}

    @property
    def input_topics(self) -> list[str]:
        t = self.topics
        return [*t.inputs, t.contacts, t.activity, *t.sources, t.erasure]

    async def run(self) -> None:
        """Consume, route and commit until cancelled."""
        consumer = AIOKafkaConsumer(**self.consumer_kwargs)
        consumer.subscribe(self.input_topics, listener=_Drain(self._lock))
        await consumer.start()
        self._consumer = consumer
        try:
            while True:
                batch = await consumer.getmany(timeout_ms=1000, max_records=self.batch_size)
                if not batch:
                    continue
                async with self._lock:
                    await self._route(consumer, batch)
        finally:
            self._consumer = None
            _leave_by_session_expiry(consumer)
            await consumer.stop()

    async def committed(self) -> dict[TopicPartition, int]:
        """The committed offset of each input partition assigned to the router now."""
        consumer = self._consumer
        if consumer is None:
            return {}
        out = {}
        for tp in consumer.assignment():
            if tp not in self._committed:
                self._committed[tp] = await consumer.committed(tp) or 0
            out[tp] = self._committed[tp]
        return out

    async def _route(self, consumer: AIOKafkaConsumer, batch: dict[Any, list[Any]]) -> None:
        stats = BatchStats()
        frames: dict[int, list[Entry]] = {}
        letters: list[Out] = []
        for records in batch.values():
            for record in records:
                result = intake(
                    record,
                    topics=self.topics,
                    sources=self.sources,
                    clock=self.clock,
                    max_bytes=self.max_bytes,
                    max_future_skew_seconds=self.skew,
                )
                if isinstance(result, Unmapped):
                    stats.unmapped[(record.topic, result.reason)] += 1
                elif isinstance(result, Rejected):
                    letters.append(self._dead_letter(record, result, stats))
                else:
                    stats.consumed[(record.topic, result.kind)] += 1
                    if result.entry.kind in BROADCAST:  # concerns a person at any account
                        for p in range(self.partitions):
                            frames.setdefault(p, []).append(result.entry)
                        continue
                    p = partition_for(result.entry.key, self.partitions)
                    frames.setdefault(p, []).append(result.entry)
        # Frames first, each partition's in order; dead letters in the same delivery.
        outs = [
            Out(self.topics.keyed, None, frame, p)
            for p, entries in sorted(frames.items())
            for frame in _split(entries)
        ]
        await self.sender.deliver([*outs, *letters])
        offsets = {
            tp: OffsetAndMetadata(records[-1].offset + 1, "")
            for tp, records in batch.items()
            if records
        }
        if await self._commit(consumer, offsets):
            self._committed.update({tp: o.offset for tp, o in offsets.items()})
        self.batches += 1
        self.metrics.record_batch(stats, now=time.time())

    async def _commit(self, consumer: AIOKafkaConsumer, offsets: dict[Any, Any]) -> bool:
        """Commit `offsets`; False if the partitions moved first (the batch repeats)."""
        delay = 0.1
        while True:
            try:
                await consumer.commit(offsets)
                self.health.clear(_COMPONENT)
                return True
            except _MOVED:
                # The partitions moved while the batch was delivered: their new owner reads
                # the batch again and the score agent drops what it applied already.
                log.info("router: partitions moved before the commit; the batch repeats")
                self._committed.clear()
                return False
            except KafkaError as exc:  # the broker away: the batch is delivered, keep trying
                log.warning("router commit failed (%s); retrying", type(exc).__name__)
                self.health.block(_COMPONENT, f"commit failing ({type(exc).__name__})")
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    def _dead_letter(self, record: Any, rejected: Rejected, stats: BatchStats) -> Out:
        stats.dead_lettered[(record.topic, rejected.reason)] += 1
        log.warning(
            "dead-lettered %s[%d]@%d: %s (%s)",
            record.topic,
            record.partition,
            record.offset,
            rejected.reason,
            rejected.error_class,
        )
        return dead_letter_out(
            self.topics.dead_letter(record.topic),
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            key=record.key,
            value=record.value,
            headers=record.headers,
            reason=rejected.reason,
            error_class=rejected.error_class,
            detail=rejected.detail,
            max_bytes=self.max_bytes,
        )


def _split(entries: list[Entry]) -> list[bytes]:
    """Frames of at most `_FRAME_BYTES` (one entry is never split), entries in order."""
    whole = encode_frame(entries)
    if len(whole) <= _FRAME_BYTES or len(entries) == 1:
        return [whole]
    half = len(entries) // 2
    return [*_split(entries[:half]), *_split(entries[half:])]


def _leave_by_session_expiry(consumer: AIOKafkaConsumer) -> None:
    """Stop without a LeaveGroup request: the group drops this member when its session
    expires, as it does for a worker killed outright. On the embedded broker (Tansu 0.6) a
    group whose leader leaves with LeaveGroup can stop assigning partitions for good: the
    members rejoin the same generation, none is elected leader, none syncs (twice in the
    rebalance-churn scenario, when its first worker, the router's leader, left). The cost
    on any broker: a stopping worker's input partitions move a session timeout later.
    Relies on aiokafka's `GroupCoordinator._maybe_leave_group`, which `close` calls
    (`streams.faust_internals`)."""
    coordinator = getattr(consumer, "_coordinator", None)
    if coordinator is None:
        return

    async def leave_quietly() -> None:
        coordinator.reset_generation()

    coordinator._maybe_leave_group = leave_quietly


class _Drain(ConsumerRebalanceListener):
    """Give partitions up only between batches: the batch in flight delivers and commits."""

    def __init__(self, lock: asyncio.Lock) -> None:
        self._lock = lock

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        async with self._lock:
            pass

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        return None
