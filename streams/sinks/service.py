"""The sink service: read `followup.windows-opened` and deliver every window to each target.

    windows-opened ──getmany──▶ one lane per partition ──▶ webhook / Slack (retries)
      (own group)                  (in order)                   │ gave up
                                       │ final outcome          ▼
                                       ▼                 windows-opened.<sink>.dlq
                                 commit offset + 1

It has its own consumer group (`<app id>-sinks`) so delivery never slows scoring, and a
plain aiokafka consumer with manual commits. One place owns the commit order, `_commit`
in the fetch loop: a partition's offset is committed only past windows whose outcome is
final for every target (delivered, expired, or durably on the sink's dead-letter topic).
A crash before that redelivers the window; receivers deduplicate on `Idempotency-Key`.

Each partition has its own lane (an asyncio task working its queue in order), so a dead
receiver holds up only the partitions whose windows are waiting for it. A lane's queue is
bounded: past `lane_buffer` records its partition is paused, and resumed once it drains.
On a rebalance, lanes of revoked partitions are cancelled and their final offsets committed;
a cancelled in-flight delivery is redelivered by the new owner.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaError
from pydantic import ValidationError

from signals.codec import rejected_from
from signals.windows import WindowOpened
from streams.dead_letter import HEADER_PREFIX, dead_letter_headers
from streams.kafka_security import client_kwargs
from streams.metrics import SinkMetrics
from streams.settings import Settings
from streams.sinks.delivery import Outcome, Policy, deliver
from streams.sinks.targets import Target
from streams.topics import Topics

__all__ = ["SinkService"]

log = logging.getLogger(__name__)


@dataclass(eq=False)
class _Lane:
    tp: TopicPartition
    queue: deque[Any] = field(default_factory=deque)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    done: int | None = None  # next offset to commit: every record before it is final
    committed: int | None = None
    paused: bool = False
    task: asyncio.Task[None] | None = None


class SinkService:
    """Deliver windows to `targets`. `run()` until `stop` is set (or the task is cancelled)."""

    def __init__(
        self,
        settings: Settings,
        targets: Sequence[Target],
        metrics: SinkMetrics,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rand: Callable[[], float] = random.random,
        lane_buffer: int = 100,
    ) -> None:
        self.settings = settings
        self.targets = tuple(targets)
        self.metrics = metrics
        self.topics = Topics.from_settings(settings)
        self.policy = Policy(
            attempts=settings.sink_max_attempts,
            timeout=settings.sink_timeout_seconds,
            backoff=settings.sink_backoff_seconds,
            backoff_max=settings.sink_backoff_max_seconds,
        )
        self.clock, self.sleep, self.rand = clock, sleep, rand
        self.lane_buffer = lane_buffer
        self.lanes: dict[TopicPartition, _Lane] = {}
        self.assigned = asyncio.Event()
        self._consumer: AIOKafkaConsumer | None = None
        self._producer: AIOKafkaProducer | None = None
        self._client: httpx.AsyncClient | None = None

    async def run(self, stop: asyncio.Event | None = None) -> None:
        stop = stop or asyncio.Event()
        s = self.settings
        consumer = AIOKafkaConsumer(
            **client_kwargs(s),
            group_id=s.sink_group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            session_timeout_ms=int(s.session_timeout_seconds * 1000),
            heartbeat_interval_ms=int(min(1.0, s.session_timeout_seconds / 3) * 1000),
            rebalance_timeout_ms=int(s.rebalance_timeout_seconds * 1000),
        )
        consumer.subscribe([self.topics.windows_opened], listener=_Listener(self))
        producer = AIOKafkaProducer(
            **client_kwargs(s),
            acks="all",
            max_request_size=s.max_message_bytes + 256 * 1024,
        )
        self._consumer, self._producer = consumer, producer
        self._client = httpx.AsyncClient(follow_redirects=False)
        await producer.start()
        await consumer.start()
        try:
            while not stop.is_set():
                try:
                    batch = await consumer.getmany(timeout_ms=200, max_records=500)
                except KafkaError as exc:  # the broker is away: lanes keep their queues
                    log.warning("sink fetch failed (%s); retrying", type(exc).__name__)
                    await self.sleep(1.0)
                    continue
                for tp, messages in batch.items():
                    lane = self._lane(tp)
                    lane.queue.extend(messages)
                    lane.wake.set()
                self._flow(consumer)
                await self._commit(consumer, self.lanes.values())
        finally:
            await self._drop_lanes(list(self.lanes))
            await consumer.stop()
            await producer.stop()
            await self._client.aclose()

    # -- lanes ---------------------------------------------------------------------------

    def _lane(self, tp: TopicPartition) -> _Lane:
        lane = self.lanes.get(tp)
        if lane is None:
            lane = self.lanes[tp] = _Lane(tp)
            lane.task = asyncio.create_task(self._work(lane), name=f"sink-lane-{tp.partition}")
        return lane

    def _flow(self, consumer: AIOKafkaConsumer) -> None:
        """Pause a partition whose lane is full, resume it when it has drained to half."""
        for lane in self.lanes.values():
            if not lane.paused and len(lane.queue) >= self.lane_buffer:
                consumer.pause(lane.tp)
                lane.paused = True
            elif lane.paused and len(lane.queue) <= self.lane_buffer // 2:
                consumer.resume(lane.tp)
                lane.paused = False

    async def _work(self, lane: _Lane) -> None:
        """Deliver the lane's records in order; mark each final only after its outcome."""
        while True:
            while not lane.queue:
                lane.wake.clear()
                await lane.wake.wait()
            message = lane.queue[0]
            try:
                await self._handle(message)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a bug of ours: keep the record, say so, try again
                log.error("sink lane %s failed: %s; retrying", lane.tp, type(exc).__name__)
                await self.sleep(1.0)
                continue
            lane.queue.popleft()
            lane.done = message.offset + 1

    async def _commit(self, consumer: AIOKafkaConsumer, lanes: Any) -> None:
        offsets = {
            lane.tp: lane.done
            for lane in lanes
            if lane.done is not None and lane.done != lane.committed
        }
        if not offsets:
            return
        try:
            await consumer.commit(offsets)
        except KafkaError as exc:  # a rebalance in between: the new owner redelivers
            log.warning("sink commit failed (%s); the records will be redelivered", exc)
            return
        for lane in lanes:
            if lane.tp in offsets:
                lane.committed = offsets[lane.tp]

    async def _drop_lanes(self, tps: list[TopicPartition]) -> None:
        """Stop the lanes of `tps` and commit what they finished (revocation, shutdown)."""
        dropped = [self.lanes.pop(tp) for tp in tps if tp in self.lanes]
        for lane in dropped:
            if lane.task is not None:
                lane.task.cancel()
        # gather, not `await task` in a try: our own cancellation must not be swallowed.
        await asyncio.gather(*(lane.task for lane in dropped if lane.task), return_exceptions=True)
        if dropped and self._consumer is not None:
            await self._commit(self._consumer, dropped)

    # -- one window ----------------------------------------------------------------------

    async def _handle(self, message: Any) -> None:
        if message.value is None:  # an erasure's tombstone for the person: nothing to send
            for target in self.targets:
                self.metrics.deliveries.labels(target.kind, "tombstone").inc()
            return
        try:
            window = WindowOpened.model_validate_json(message.value or b"")
        except ValidationError as exc:
            rejected = rejected_from(exc, tags=frozenset())
            for target in self.targets:
                self.metrics.deliveries.labels(target.kind, "invalid").inc()
                await self._dead_letter(target, message, "invalid_window", rejected.detail, None)
            return
        if self.settings.sink_skip_expired and window.draft.expires_at.timestamp() < self.clock():
            for target in self.targets:
                self.metrics.deliveries.labels(target.kind, "expired").inc()
            return
        for target in self.targets:
            outcome = await self._deliver(target, message.value, window)
            kind = target.kind
            for status_class in outcome.failures:
                self.metrics.failures.labels(kind, status_class).inc()
            self.metrics.delivery_seconds.labels(kind).observe(outcome.seconds)
            if outcome.delivered:
                self.metrics.deliveries.labels(kind, "delivered").inc()
                continue
            self.metrics.deliveries.labels(kind, "dead_lettered").inc()
            log.warning(
                "%s %s gave up on a window after %d attempts (last status %s)",
                kind,
                target.label,
                outcome.attempts,
                outcome.status,
            )
            detail = f"last status {outcome.status} after {outcome.attempts} attempts"
            await self._dead_letter(target, message, "delivery_failed", detail, outcome)

    async def _deliver(self, target: Target, raw: bytes, window: WindowOpened) -> Outcome:
        assert self._client is not None
        try:
            return await deliver(
                self._client,
                target.url,
                lambda now: target.build(raw, window, now),
                self.policy,
                clock=self.clock,
                sleep=self.sleep,
                rand=self.rand,
            )
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug here must not lose the window: dead-letter it
            log.error("%s delivery raised %s", target.kind, type(exc).__name__)
            return Outcome(False, 0, type(exc).__name__, (), 0.0)

    async def _dead_letter(
        self, target: Target, message: Any, reason: str, detail: str, outcome: Outcome | None
    ) -> None:
        """Put the window on the target's dead-letter topic; retry until the broker has it
        (the offset must not be committed before)."""
        assert self._producer is not None
        headers = dead_letter_headers(
            topic=message.topic,
            partition=message.partition,
            offset=message.offset,
            error_class="DeliveryFailed" if outcome is not None else "ValidationError",
            reason=reason,
            detail=detail,
            original=message.headers,
        )
        headers += [
            (f"{HEADER_PREFIX}sink", target.kind.encode()),
            (f"{HEADER_PREFIX}sink.target", target.label.encode()),
        ]
        if outcome is not None:
            headers += [
                (f"{HEADER_PREFIX}delivery.status", outcome.status.encode()),
                (f"{HEADER_PREFIX}delivery.attempts", str(outcome.attempts).encode()),
            ]
        topic = self.topics.sink_dead_letter(target.kind)
        attempt = 0
        while True:
            attempt += 1
            try:
                await self._producer.send_and_wait(
                    topic, message.value, key=message.key, headers=headers
                )
                return
            except KafkaError as exc:
                log.error("sink dead letter to %s failed (%s); retrying", topic, exc)
                await self.sleep(min(30.0, 0.5 * 2**attempt))


class _Listener(ConsumerRebalanceListener):
    def __init__(self, service: SinkService) -> None:
        self.service = service

    async def on_partitions_revoked(self, revoked: Any) -> None:
        await self.service._drop_lanes(list(revoked))

    async def on_partitions_assigned(self, assigned: Any) -> None:
        if assigned:
            self.service.assigned.set()
