"""True end offsets, on any broker, and Faust's recovery reading them.

The embedded broker (Tansu 0.6.0) reports a partition's end offset as the first offset of
its last record batch plus one: after a batch of five records at offsets 10-14 it answers
11, not 15. Every "caught up" check and lag figure reads wrong, and Faust's table recovery
raises `ConsistencyError` (persisted offset 14 > highwater 10) when a worker restarts on its
own state directory, or when a running worker's partitions come back after a rebalance.

`true_end_offsets` asks for the end offsets, then fetches from `end - 1`: a fetch returns
whole record batches, so the last record fetched is the true last one. On Kafka the fetch
confirms the answer; here it corrects it. It costs one small fetch per partition, and is
used where correctness needs it: table recovery (`install_true_highwaters`, which wraps
the one place Faust asks, `AIOKafkaConsumerThread._highwaters`) and the lag metric.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

__all__ = ["EndProbe", "install_true_highwaters", "true_end_offsets"]

log = logging.getLogger(__name__)

_PROBE_TIMEOUT_MS = 2000


async def true_end_offsets(
    consumer: AIOKafkaConsumer, partitions: Iterable[TopicPartition]
) -> dict[TopicPartition, int]:
    """The offset after the last record of each partition. `consumer` has no group; its
    assignment is replaced."""
    tps = list(partitions)
    if not tps:
        return {}
    reported: dict[TopicPartition, int] = await consumer.end_offsets(tps)
    probe = [tp for tp in tps if reported.get(tp)]
    ends = dict(reported)
    if not probe:
        return ends
    consumer.assign(probe)
    for tp in probe:
        consumer.seek(tp, reported[tp] - 1)
    remaining = set(probe)
    for _ in range(10):  # each round reads at least one batch per partition
        if not remaining:
            break
        fetched = await consumer.getmany(*remaining, timeout_ms=_PROBE_TIMEOUT_MS)
        if not fetched:
            break
        for tp, records in fetched.items():
            if records:
                ends[tp] = max(ends[tp], records[-1].offset + 1)
        # Past the reported end there is nothing more once a fetch comes back short.
        remaining = {tp for tp in remaining if tp in fetched and len(fetched[tp]) >= 500}
    return ends


class EndProbe:
    """A long-lived group-less consumer for `true_end_offsets`, started on first use."""

    def __init__(self, client_kwargs: dict[str, Any]) -> None:
        self._kwargs = client_kwargs
        self._consumer: AIOKafkaConsumer | None = None

    async def ends(self, partitions: Iterable[TopicPartition]) -> dict[TopicPartition, int]:
        if self._consumer is None:
            consumer = AIOKafkaConsumer(
                **self._kwargs, enable_auto_commit=False, auto_offset_reset="earliest"
            )
            await consumer.start()
            self._consumer = consumer
        return await true_end_offsets(self._consumer, partitions)

    async def stop(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None


def install_true_highwaters(client_kwargs: dict[str, Any]) -> None:
    """Make Faust's consumer answer highwaters (recovery's end of each changelog) from the
    true end offsets. Wraps the private `AIOKafkaConsumerThread._highwaters` of the pinned
    faust-streaming; `tests/streams/test_faust_internals.py` pins it. Runs in the consumer
    thread's event loop, so the probe lives there."""
    from faust.transport.drivers import aiokafka as driver

    cls = driver.AIOKafkaConsumerThread
    if getattr(cls, "_followup_true_highwaters", False):
        return
    original = cls._highwaters

    async def _highwaters(self: Any, partitions: list[Any]) -> Any:
        reported = await original(self, partitions)
        if self.consumer.in_transaction:
            return reported
        probe = getattr(self, "_followup_end_probe", None)
        if probe is None:
            probe = self._followup_end_probe = EndProbe(client_kwargs)
        try:
            ends = await probe.ends(TopicPartition(tp.topic, tp.partition) for tp in partitions)
        except Exception:  # the probe is a correction: never fail recovery over it
            log.exception("true end offsets unavailable; using the broker's answer")
            return reported
        return {
            tp: ends.get(TopicPartition(tp.topic, tp.partition), reported[tp]) for tp in reported
        }

    cls._highwaters = _highwaters  # type: ignore[method-assign]
    cls._followup_true_highwaters = True  # type: ignore[attr-defined]
