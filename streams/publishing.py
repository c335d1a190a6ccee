"""Publishing what the agents produce, and dead letters, for both agents.

`Publisher` is the agents' base: it sends an `Outgoing` record with faust's producer and
turns an unusable record into a dead letter for `<source topic>.dlq` (original key, value and
headers, plus the reason; see `streams.dead_letter`). It needs `app`, `topics` and
`max_message_bytes` on the instance.
"""

from __future__ import annotations

import logging
import time
import traceback
from dataclasses import dataclass
from typing import Any

from signals.codec import Rejected
from signals.windows import WindowOpened
from streams.dead_letter import dead_letter_headers
from streams.metrics import BatchStats
from streams.topics import Topics

__all__ = ["Outgoing", "Publisher"]

log = logging.getLogger("streams.agents")


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A record the score agent publishes before it writes the state that records it."""

    topic: str
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]] | None = None
    window: WindowOpened | None = None
    occurred: float = 0.0  # event time of the triggering signal (unix seconds)


class Publisher:
    app: Any
    topics: Topics
    max_message_bytes: int

    async def _publish(self, out: Outgoing, stats: BatchStats) -> None:
        await self.app.producer.send(out.topic, out.key, out.value, None, None, out.headers)
        if out.window is not None:
            stats.windows[out.window.play] += 1
            stats.window_latency_seconds.append(max(0.0, time.time() - out.occurred))

    async def _reject(self, message: Any, rejected: Rejected, stats: BatchStats) -> None:
        out = self._dead_letter_out(
            message, rejected.reason, rejected.error_class, rejected.detail, stats
        )
        await self.app.producer.send(out.topic, out.key, out.value, None, None, out.headers)

    async def _processing_error(self, message: Any, exc: Exception, stats: BatchStats) -> None:
        # The traceback's frames name code, not data; the exception's message may quote a
        # field value, so it is left out of the log and of the dead letter.
        log.error(
            "processing failed for %s[%d]@%d: %s\n%s",
            message.topic,
            message.partition,
            message.offset,
            type(exc).__name__,
            "".join(traceback.format_tb(exc.__traceback__)),
        )
        out = self._dead_letter_out(
            message,
            "processing_error",
            type(exc).__name__,
            "processing raised; see worker log",
            stats,
        )
        await self.app.producer.send(out.topic, out.key, out.value, None, None, out.headers)

    def _dead_letter_out(
        self, message: Any, reason: str, error_class: str, detail: str, stats: BatchStats
    ) -> Outgoing:
        value = message.value
        size = len(value) if value is not None else 0
        if value is not None and size > self.max_message_bytes:
            # The producer could not carry it whole; keep its head and say so.
            value = value[: self.max_message_bytes]
        headers = dead_letter_headers(
            topic=message.topic,
            partition=message.partition,
            offset=message.offset,
            error_class=error_class,
            reason=reason,
            detail=detail,
            original=message.headers,
            original_size=size,
            truncated=value is not message.value,
        )
        stats.dead_lettered[(message.topic, reason)] += 1
        log.warning(
            "dead-lettered %s[%d]@%d: %s (%s)",
            message.topic,
            message.partition,
            message.offset,
            reason,
            error_class,
        )
        return Outgoing(self.topics.dead_letter(message.topic), message.key, value, headers)
