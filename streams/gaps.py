"""Every keyed frame, in offset order: the score agent's guard against records faust drops.

The core's decisions depend on each account's order, so the score agent must apply the
frames of a keyed partition one after another, none left out. Faust does not guarantee
it. Found with the restart fault test (tests/faults/test_worker_restart.py) and read in
faust-streaming 0.15.3's source: `Recovery.on_recovery_completed` resumes the stream
partitions and seeks them to their committed offsets, then calls
`app.flow_control.resume()`, which clears every channel queue. Records the fetcher
queued in between are dropped, faust's read offsets have already moved past them, and
they are never delivered: the next record the agent sees is further on. Committed offsets
stop at the hole (faust commits only consecutive acks), so nothing is lost for good, but
when the partition is read again the frames come in a different order, and the windows
they open are not the ones the history opens. It happens whenever records arrive while a
worker finishes recovery, which is every restart under load.

`FrameOrder` keeps, per keyed partition, the offset the agent must apply next: faust's
committed offset when the partition is assigned (the partition's first offset if nothing
was committed), then one past each frame applied. A frame further on than that reveals a
hole: `skipped` reads the missing records itself from the broker (a group-less consumer),
the agent applies them in order, then the frame that revealed the hole, and `applied`
acknowledges each filled offset to faust so its commits move past them. A frame before
that offset is a replay after a seek (a rebalance, the stall watchdog's rejoin): it is
applied again, which the core's deduplication makes a no-op, and the order continues
from it. Revoked partitions are forgotten. Reading the hole retries until the broker
answers, as a send does: the partition waits, it never skips.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

__all__ = ["FrameOrder", "HoleReader"]

log = logging.getLogger(__name__)

_FETCH_MS = 1000


class HoleReader:
    """Reads offsets `[start, stop)` of one partition with a long-lived group-less consumer."""

    def __init__(self, client_kwargs: dict[str, Any], *, backoff: float = 0.5) -> None:
        self._kwargs = client_kwargs
        self._consumer: AIOKafkaConsumer | None = None
        self.backoff = backoff

    async def _ready(self) -> AIOKafkaConsumer:
        if self._consumer is None:
            consumer = AIOKafkaConsumer(
                **self._kwargs,
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                fetch_max_wait_ms=100,
            )
            await consumer.start()
            self._consumer = consumer
        return self._consumer

    async def first_offset(self, tp: TopicPartition) -> int:
        consumer = await self._ready()
        return int((await consumer.beginning_offsets([tp]))[tp])

    async def read(self, tp: TopicPartition, start: int, stop: int) -> list[Any]:
        """The records of `tp` from `start` up to `stop` (exclusive), in order. Retries
        until they are all read; a record gone from the log (retention) is left out."""
        delay = self.backoff
        while True:
            try:
                return await self._read_once(tp, start, stop)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the broker is away: wait, as the sender does
                log.warning("reading skipped keyed records failed (%s); retrying", exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)

    async def _read_once(self, tp: TopicPartition, start: int, stop: int) -> list[Any]:
        consumer = await self._ready()
        consumer.assign([tp])
        consumer.seek(tp, start)
        got: list[Any] = []
        position = start
        while position < stop:
            fetched = await consumer.getmany(tp, timeout_ms=_FETCH_MS)
            records = fetched.get(tp, [])
            if not records:
                first = (await consumer.beginning_offsets([tp]))[tp]
                if first >= stop:  # all of it is gone from the log
                    return got
                if first > position:  # the start is gone: read what is left
                    consumer.seek(tp, first)
                    position = first
                continue
            for record in records:
                if position <= record.offset < stop:
                    got.append(record)
            position = records[-1].offset + 1
        return got

    async def stop(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None


class _Filled:
    """What faust's `Consumer.ack` reads of a message, for an offset we applied ourselves:
    hashed by identity and weakly referenceable, as faust keeps messages in a WeakSet."""

    __slots__ = ("__weakref__", "acked", "offset", "topic", "tp")

    def __init__(self, topic: str, tp: Any, offset: int) -> None:
        self.topic, self.tp, self.offset, self.acked = topic, tp, offset, False


class FrameOrder:
    """The next offset to apply per keyed partition, and the holes before a frame."""

    def __init__(
        self,
        reader: HoleReader,
        consumer: Callable[[], Any],
        on_filled: Callable[[int], None] = lambda n: None,
    ) -> None:
        self.reader = reader
        self._consumer = consumer
        self._on_filled = on_filled
        self._next: dict[Any, int] = {}  # keyed partition -> next offset to apply

    async def skipped(self, message: Any) -> list[Any]:
        """The records before `message` that were never delivered, to apply first."""
        tp, offset = message.tp, message.offset
        expected = self._next[tp] if tp in self._next else await self._start(tp)
        if expected is None or offset <= expected:
            self._next[tp] = offset + 1
            return []
        log.warning(
            "keyed partition %s-%d: offsets %d to %d were never delivered; reading them "
            "from the broker to apply them in order",
            tp.topic,
            tp.partition,
            expected,
            offset - 1,
        )
        records = await self.reader.read(TopicPartition(tp.topic, tp.partition), expected, offset)
        self._next[tp] = offset + 1
        self._on_filled(len(records))
        return records

    def applied(self, message: Any, record: Any) -> None:
        """Acknowledge a filled `record` (of `message`'s partition) to faust."""
        tp = message.tp
        self._consumer().ack(_Filled(tp.topic, tp, record.offset))

    def forget(self, partitions: set[int] | None = None) -> None:
        """Revoked keyed partitions start again from their committed offset."""
        for tp in list(self._next):
            if partitions is None or tp.partition in partitions:
                del self._next[tp]

    async def _start(self, tp: Any) -> int | None:
        committed = getattr(self._consumer(), "_committed_offset", {}).get(tp)
        if committed is not None:
            return int(committed)
        try:
            return await self.reader.first_offset(TopicPartition(tp.topic, tp.partition))
        except asyncio.CancelledError:
            raise
        except Exception:  # cannot say where the partition starts: trust this frame
            log.warning("keyed partition %s-%d: no start offset; order not checked", *tp)
            return None
