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
from collections.abc import Callable, Sequence
from typing import Any

import msgspec
from aiokafka.errors import KafkaError, MessageSizeTooLargeError

from streams.health import Health

__all__ = ["Out", "Sender"]

log = logging.getLogger(__name__)

_HEADER_ROOM = 4096  # what the dead letter of an oversized output adds in key and headers


class Out(msgspec.Struct, frozen=True):
    """One record to produce."""

    topic: str
    key: bytes | None
    value: bytes | None
    partition: int | None = None
    headers: list[tuple[str, bytes]] | None = None


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
        the order given). Retries until every one is acknowledged; raises only
        `asyncio.CancelledError` (the worker stopping mid-retry: nothing was committed)."""
        results: list[Any] = [None] * len(records)
        pending = list(enumerate(records))
        delay = self.backoff[0]
        error = ""
        while pending:
            futures = []
            for index, out in pending:
                futures.append((index, out, await self._send(out)))
            failed: list[tuple[int, Out]] = []
            for index, out, future in futures:
                try:
                    results[index] = await future
                except MessageSizeTooLargeError:
                    results[index] = await self._deliver_oversized(out)
                except KafkaError as exc:
                    self.on_failure(out.topic, type(exc).__name__)
                    failed.append((index, out))
                    error = type(exc).__name__
            if not failed:
                break
            self.health.block(self.component, f"produce failing ({error}); retrying")
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.backoff[1])
            pending = failed
        self.health.clear(self.component)
        return results

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
