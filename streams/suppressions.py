"""Person-level suppressions, replicated on every worker.

An opt-out, a bounce or a reply applies to the person wherever they are seen: at another
account, after a job change. The score agent that applies such an activity publishes the
person's merged `rules.core.state.Suppression` on the suppressions topic (compacted on
Kafka), keyed by a salted hash of the person key; every worker reads the whole topic from
the beginning into memory and keeps reading it, so any partition can ask about anyone. The
records hold no personal data, and the salted key outlives an erasure of the person: an
erased opt-out is still honoured.

Readiness waits until the replica has read up to the topic's true end at start
(`streams.ends`). A worker that publishes a record applies it to its own replica at once;
others see it within their next fetch (a second, typically). A window decided in that gap
at another worker could still open: the window is suppressed at the latest when the
person's next window is evaluated, and outreach tools receive the opt-out themselves.

Merges are commutative (earliest opt-out, latest bounce and reply), so records read in any
order, or twice, give the same replica.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from rules.core.cadence import merge_suppressions
from rules.core.state import (
    StateFormatError,
    Suppression,
    decode_suppression,
    encode_state,
    suppression_key,
)
from streams.delivery import Out
from streams.ends import true_end_offsets
from streams.health import Health

__all__ = ["Suppressions"]

log = logging.getLogger(__name__)
_COMPONENT = "suppressions"


class Suppressions:
    def __init__(
        self, *, topic: str, salt: str, client_kwargs: dict[str, Any], health: Health
    ) -> None:
        self.topic = topic
        self.salt = salt
        self._kwargs = client_kwargs
        self._health = health
        self._records: dict[str, Suppression] = {}
        self.caught_up = asyncio.Event()

    def __len__(self) -> int:
        return len(self._records)

    def get(self, person_key: str) -> Suppression | None:
        if not self._records:
            return None  # nobody is suppressed: no key to hash
        return self._records.get(suppression_key(person_key, self.salt))

    def publish(self, person_key: str, record: Suppression) -> Out:
        """Apply `record` here at once and return the record to produce for everyone."""
        key = suppression_key(person_key, self.salt)
        merged = merge_suppressions(self._records.get(key), record)
        assert merged is not None
        self._records[key] = merged
        return Out(self.topic, key.encode(), encode_state(merged))

    async def run(self) -> None:
        """Read the topic from the beginning, then follow it. Runs until cancelled."""
        self._health.block(_COMPONENT, "reading person-level suppressions")
        consumer = AIOKafkaConsumer(
            **self._kwargs, enable_auto_commit=False, auto_offset_reset="earliest"
        )
        await consumer.start()
        try:
            partitions = await self._partitions(consumer)
            ends = await true_end_offsets(consumer, partitions)
            consumer.assign(partitions)
            await consumer.seek_to_beginning(*partitions)
            while True:
                batch = await consumer.getmany(timeout_ms=500, max_records=5000)
                for records in batch.values():
                    for record in records:
                        self._apply(record.key, record.value)
                if not self.caught_up.is_set() and await _read_to(consumer, ends):
                    self.caught_up.set()
                    self._health.clear(_COMPONENT)
                    log.info("suppressions: %d people held, following the topic", len(self))
        finally:
            await consumer.stop()

    async def _partitions(self, consumer: AIOKafkaConsumer) -> list[TopicPartition]:
        for _ in range(100):
            found = consumer.partitions_for_topic(self.topic)
            if found:
                return [TopicPartition(self.topic, p) for p in sorted(found)]
            await consumer._client.force_metadata_update()
            await asyncio.sleep(0.1)
        raise RuntimeError(f"topic {self.topic} not found")

    def _apply(self, key: bytes | None, value: bytes | None) -> None:
        if key is None or value is None:
            return  # a tombstone: suppressions are never removed, only merged
        try:
            record = decode_suppression(value)
        except StateFormatError:
            log.error("suppressions: a record that is not a suppression was skipped")
            return
        name = key.decode()
        merged = merge_suppressions(self._records.get(name), record)
        assert merged is not None
        self._records[name] = merged


async def _read_to(consumer: AIOKafkaConsumer, ends: dict[TopicPartition, int]) -> bool:
    """Whether `consumer` has read every partition up to `ends`."""
    for tp, end in ends.items():
        if await consumer.position(tp) < end:
            return False
    return True
