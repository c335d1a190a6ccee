"""The two agents: validate-and-rekey, then score-and-decide.

    input topics ──ingest──▶ followup.signals-by-account ──score──▶ followup.windows-opened
         │  (bad record)           (keyed by account)        │ tables: accounts, prospects
         ▼                                                    ▼
    <input>.dlq                                  followup.signals-by-account.dlq

Both agents consume raw bytes in batches (`take_events`), never let an exception escape the
loop for a bad record (faust would ack and skip it), and hand every number they produce to
`Metrics.record_batch` as one plain `BatchStats`.

Delivery is at-least-once: faust flushes the producer before it commits offsets, and every
effect is idempotent (the score agent skips an `event_id` it has applied; window ids are
derived from the person and the triggering event).
"""

from __future__ import annotations

import logging
import time
import traceback
from collections import defaultdict
from collections.abc import AsyncIterator, Sequence
from typing import Any

from rules.engine import apply_signal
from rules.rulebook import Rulebook
from signals.codec import Rejected, decode_signal, encode
from signals.identity import partition_key, signal_account_key
from signals.windows import WindowOpened
from streams.clock import Clock
from streams.dead_letter import dead_letter_headers
from streams.metrics import BatchStats, Metrics
from streams.table_batch import PartitionBatch, partition_scope
from streams.topics import Topics

__all__ = ["Pipeline"]

log = logging.getLogger(__name__)


class Pipeline:
    """What the agents share: producer, tables, rulebook, metrics and clock."""

    def __init__(
        self,
        *,
        app: Any,
        topics: Topics,
        accounts: Any,
        prospects: Any,
        rulebook: Rulebook,
        metrics: Metrics,
        clock: Clock,
        max_message_bytes: int,
        batch_size: int,
        batch_seconds: float,
    ) -> None:
        self.app = app
        self.topics = topics
        self.accounts = accounts
        self.prospects = prospects
        self.rulebook = rulebook
        self.metrics = metrics
        self.clock = clock
        self.max_message_bytes = max_message_bytes
        self.batch_size = batch_size
        self.batch_seconds = batch_seconds

    # -- agent bodies -------------------------------------------------------------------

    async def ingest(self, stream: Any) -> AsyncIterator[None]:
        """Faust agent over the input topics. Yields once per batch (for tests and sinks)."""
        async for events in stream.take_events(self.batch_size, within=self.batch_seconds):
            stats = BatchStats()
            for event in events:
                try:
                    await self._ingest_one(event, stats)
                except Exception as exc:  # never let one record stop the loop: faust would skip
                    await self._processing_error(event.message, exc, stats)
            self.metrics.record_batch(stats, now=time.time())
            yield None

    async def score(self, stream: Any) -> AsyncIterator[None]:
        """Faust agent over the keyed topic: one worker owns each account's partition.

        Order matters for at-least-once without loss: windows are published and flushed
        *before* the table state that records them is written. A crash in between repeats a
        window (same `window_id`) on restart; it can never lose one.
        """
        async for events in stream.take_events(self.batch_size, within=self.batch_seconds):
            stats = BatchStats()
            windows: list[tuple[WindowOpened, float]] = []
            pending: list[tuple[Any, PartitionBatch]] = []
            for group in _by_partition(events):
                with partition_scope(group[0]):
                    batch = PartitionBatch(self.accounts, self.prospects)
                    for event in group:
                        windows += await self._score_one(event, batch, stats)
                pending.append((group[0], batch))
            if windows:
                for window, occurred in windows:
                    await self._publish(window, occurred, stats)
                await self.app.producer.flush()
            for first_event, batch in pending:
                with partition_scope(first_event):
                    batch.flush()
            self.metrics.record_batch(stats, now=time.time())
            yield None

    # -- per record ---------------------------------------------------------------------

    async def _ingest_one(self, event: Any, stats: BatchStats) -> None:
        message = event.message
        result = decode_signal(
            message.value,
            default_type=self.topics.inputs.get(message.topic),
            max_bytes=self.max_message_bytes,
        )
        if isinstance(result, Rejected):
            await self._dead_letter(message, result.reason, result.error_class, result.detail)
            stats.dead_lettered[(message.topic, result.reason)] += 1
            return
        stats.consumed[(message.topic, result.type.value)] += 1
        key = partition_key(result.account, result.person)
        await self.app.producer.send(
            self.topics.keyed, key.encode(), encode(result), None, None, None
        )

    async def _score_one(
        self, event: Any, batch: PartitionBatch, stats: BatchStats
    ) -> list[tuple[WindowOpened, float]]:
        """Score one signal into `batch`; return the windows it opened with its event time."""
        message = event.message
        signal = decode_signal(message.value, default_type=None, max_bytes=2**31)
        if isinstance(signal, Rejected):  # only a foreign producer on our internal topic
            await self._dead_letter(message, signal.reason, signal.error_class, signal.detail)
            stats.dead_lettered[(message.topic, signal.reason)] += 1
            return []
        account_key = signal_account_key(signal.account, signal.person)
        started = time.perf_counter()
        try:
            outcome = apply_signal(
                self.rulebook,
                signal,
                account=batch.account(account_key),
                prospects=batch.prospects(account_key),
                now=self.clock(),
            )
        except Exception as exc:  # a bug in the core must not stop the worker
            await self._processing_error(message, exc, stats)
            return []
        stats.scoring_seconds.append(time.perf_counter() - started)
        signal_type = signal.type.value
        if outcome.duplicate:
            stats.duplicates[signal_type] += 1
            return []
        if outcome.account is not None:
            batch.put_account(outcome.account.account_key, outcome.account)
        for person_key, state in outcome.prospects.items():
            batch.put_prospect(account_key, person_key, state)
        for suppressed in outcome.suppressed:
            stats.suppressed[suppressed.reason] += 1
        occurred = signal.occurred_at.timestamp()
        if stats.last_event_time is None or occurred > stats.last_event_time:
            stats.last_event_time = occurred
        return [(window, occurred) for window in outcome.windows]

    async def _publish(self, window: WindowOpened, occurred: float, stats: BatchStats) -> None:
        await self.app.producer.send(
            self.topics.windows_opened, window.person_key.encode(), encode(window), None, None, None
        )
        stats.windows[window.play] += 1
        stats.window_latency_seconds.append(max(0.0, time.time() - occurred))

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
        await self._dead_letter(
            message, "processing_error", type(exc).__name__, "processing raised; see worker log"
        )
        stats.dead_lettered[(message.topic, "processing_error")] += 1

    async def _dead_letter(self, message: Any, reason: str, error_class: str, detail: str) -> None:
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
        await self.app.producer.send(
            self.topics.dead_letter(message.topic), message.key, value, None, None, headers
        )
        log.warning(
            "dead-lettered %s[%d]@%d: %s (%s)",
            message.topic,
            message.partition,
            message.offset,
            reason,
            error_class,
        )


def _by_partition(events: Sequence[Any]) -> list[list[Any]]:
    groups: dict[int, list[Any]] = defaultdict(list)
    for event in events:
        groups[event.message.partition].append(event)
    return list(groups.values())
