"""Checked sends: every record we produce is acknowledged by the broker before the caller
moves on, or the caller does not move on.

`Sender.deliver` is called by the router (frames, dead letters) and the score agent
(windows, closes, forwards, suppressions, dead letters, changelog records) with all the
records of one step. It sends them, awaits every delivery future (aiokafka's `flush()`
would not raise for a failed batch), and resends the ones that failed, with exponential
backoff, until each is acknowledged. While a send keeps failing the component is reported
blocked (readiness turns false, `followup_delivery_failures_total` counts each failure by
topic and error) and the caller's offsets stay where they are: a partition stops advancing
rather than skip a record.

A record too large for the broker cannot succeed by retrying. Everything we produce is
capped well below the limit, so this is a defect; it is still not allowed to block the
pipeline or vanish: the record is replaced by a dead letter on `<topic>.dlq` with reason
`output_too_large`, the size in a header and the value cut to fit, and counted.

Order: records are sent in the order given; aiokafka keeps one request in flight per
partition, so records of one partition are written in that order on the first attempt.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

import msgspec
from aiokafka.errors import KafkaError, MessageSizeTooLargeError

from streams.health import Health

__all__ = ["Acked", "Out", "Sender"]

log = logging.getLogger(__name__)

_HEADER_ROOM = 4096  # what the dead letter of an oversized output adds in key and headers


class Out(msgspec.Struct, frozen=True):
    """One record to produce."""

    topic: str
    key: bytes | None
    value: bytes | None
    partition: int | None = None
    headers: list[tuple[str, bytes]] | None = None


class Acked(msgspec.Struct, frozen=True):
    """Where a record sent in a batch was written."""

    topic: str
    partition: int
    offset: int


def _at(batch: Any, relative: int) -> Acked:
    return Acked(batch.topic, batch.partition, batch.offset + relative)


class Sender:
    """`producer` returns the started aiokafka producer (it is created with the event loop,
    after the sender)."""

    def __init__(
        self,
        producer: Callable[[], Any],
        *,
        health: Health,
        component: str,
        max_bytes: int,
        dead_letter_suffix: str,
        on_failure: Callable[[str, str], None] = lambda topic, error: None,
        backoff: tuple[float, float] = (0.1, 5.0),
    ) -> None:
        self.producer = producer
        self.health = health
        self.component = component
        self.max_bytes = max_bytes
        self.dead_letter_suffix = dead_letter_suffix
        self.on_failure = on_failure
        self.backoff = backoff
        self.stopping = False

    async def deliver(self, records: Sequence[Out]) -> list[Any]:
        """Produce `records`, each exactly acknowledged; returns their record metadata (in
        the order given; `.offset` is each record's offset). Retries until every one is
        acknowledged; raises only `asyncio.CancelledError` (the worker stopping mid-retry:
        nothing was committed).

        Records for a known partition (changelog records, frames) go in one aiokafka batch
        per topic and partition: one future per batch, not per record, which is most of
        what producing costs per record. The rest are sent one by one."""
        results: list[Any] = [None] * len(records)
        pending = list(range(len(records)))
        delay = self.backoff[0]
        error = ""
        while pending:
            sends = deque(await self._send_all(records, pending))
            failed: list[int] = []
            while sends:
                members, future = sends.popleft()
                try:
                    acked = await future
                except MessageSizeTooLargeError:
                    if len(members) > 1:  # a batch over the limit: its records one by one
                        for i, _ in members:
                            sends.append((((i, None),), await self._send(records[i])))
                        continue
                    index = members[0][0]
                    results[index] = await self._deliver_oversized(records[index])
                except KafkaError as exc:
                    self.on_failure(records[members[0][0]].topic, type(exc).__name__)
                    failed.extend(i for i, _ in members)
                    error = type(exc).__name__
                else:
                    for index, relative in members:
                        results[index] = acked if relative is None else _at(acked, relative)
            if not failed:
                break
            self.health.block(self.component, f"produce failing ({error}); retrying")
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.backoff[1])
            pending = sorted(failed)  # the order given, within each partition too
        self.health.clear(self.component)
        return results

    async def _send_all(self, records: Sequence[Out], pending: list[int]) -> list[Any]:
        """Start sending `records[i]` for i in `pending`: [(members, future)], members
        being (index, offset within the batch, or None for a record sent alone)."""
        producer = self.producer()
        batched = hasattr(producer, "create_batch")
        groups: dict[tuple[str, int], list[int]] = {}
        sends: list[Any] = []
        for i in pending:
            out = records[i]
            if batched and out.partition is not None:
                groups.setdefault((out.topic, out.partition), []).append(i)
            else:
                sends.append((((i, None),), await self._send(out)))
        for (topic, partition), indices in groups.items():
            sends.extend(await self._send_batches(records, topic, partition, indices))
        return sends

    async def _send_batches(
        self, records: Sequence[Out], topic: str, partition: int, indices: list[int]
    ) -> list[Any]:
        producer = self.producer()
        sends: list[Any] = []
        batch, members = producer.create_batch(), list[tuple[int, int]]()
        for i in indices:
            out = records[i]
            added = batch.append(
                key=out.key, value=out.value, timestamp=None, headers=out.headers or []
            )
            if added is None:  # full (a first record always fits): send it, start another
                sends.append((tuple(members), await self._send_batch(batch, topic, partition)))
                batch, members = producer.create_batch(), []
                added = batch.append(
                    key=out.key, value=out.value, timestamp=None, headers=out.headers or []
                )
            members.append((i, added.offset))
        if members:
            sends.append((tuple(members), await self._send_batch(batch, topic, partition)))
        return sends

    async def _send_batch(self, batch: Any, topic: str, partition: int) -> asyncio.Future[Any]:
        batch.close()  # complete: it leaves at once instead of lingering for more records
        while True:
            try:
                future: asyncio.Future[Any] = await self.producer().send_batch(
                    batch, topic, partition=partition
                )
                return future
            except KafkaError as exc:  # e.g. no slot while the broker is away
                self.on_failure(topic, type(exc).__name__)
                self.health.block(self.component, f"produce failing ({type(exc).__name__})")
                await asyncio.sleep(self.backoff[0])

    async def _send(self, out: Out) -> asyncio.Future[Any]:
        while True:
            try:
                return await self.producer().send(
                    out.topic, out.value, key=out.key, partition=out.partition, headers=out.headers
                )
            except MessageSizeTooLargeError:  # refused before it left: same as a refusal later
                future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
                future.set_exception(MessageSizeTooLargeError())
                return future
            except KafkaError as exc:  # e.g. the buffer is full while the broker is away
                self.on_failure(out.topic, type(exc).__name__)
                self.health.block(self.component, f"produce failing ({type(exc).__name__})")
                await asyncio.sleep(self.backoff[0])

    async def _deliver_oversized(self, out: Out) -> Any:
        size = (len(out.value) if out.value else 0) + (len(out.key) if out.key else 0)
        log.error("an output to %s of %d bytes is over the broker's limit", out.topic, size)
        self.on_failure(out.topic, "MessageSizeTooLargeError")
        room = max(0, self.max_bytes - _HEADER_ROOM)
        letter = Out(
            out.topic + self.dead_letter_suffix,
            out.key[:256] if out.key else out.key,
            out.value[:room] if out.value else out.value,
            None,
            [
                ("followup.error.reason", b"output_too_large"),
                ("followup.value.size", str(size).encode()),
                ("followup.value.truncated", b"true"),
            ],
        )
        (result,) = await self.deliver([letter])
        return result
