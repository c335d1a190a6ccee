"""The stall watchdog: an assigned keyed partition with lag whose committed offset stops.

Seen on the embedded broker (Tansu 0.6.0) with faust-streaming 0.15.3: after a worker is
killed and another joins, faust can leave one assigned partition of the score agent
unprocessed. The group says the partition is assigned, a plain consumer reads its records,
but the agent gets none of them and its committed offset never moves again. Nothing
fails, so nothing recovers: the partition's windows are simply never opened. The same
symptom follows faust's known commit stalls (faust-streaming issue 596).

The watchdog detects the symptom rather than the cause (which lies in faust's pause,
resume and seek bookkeeping around a rebalance). On each observer tick it is given each
assigned keyed partition's committed offset and lag. A partition that has lag and whose
committed offset has not moved for `stall_after` seconds, while the worker is ready (not
rebalancing, tables recovered, pipeline unblocked), is stalled. The watchdog then:

1. logs one warning naming the partition, with what faust and aiokafka report for it (in
   faust's active set, paused, aiokafka's position and highwater) so the cause can be read
   from production logs;
2. counts it in `followup_partition_stalls_total`;
3. asks the consumer group to rejoin. The rejoin revokes and reassigns every partition;
   faust then runs its recovery and seeks each partition to its committed offset, so the
   records never processed are fetched again. Nothing is skipped: offsets were only ever
   committed for processed records.

After a rejoin every partition's timer starts again, so a worker rejoins at most once per
`stall_after` seconds. A partition that is slow but moving is never stalled: any commit
resets its timer.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

__all__ = ["StallWatch", "describe_partition", "request_rejoin"]

log = logging.getLogger(__name__)


class StallWatch:
    """Which partitions have had lag and an unmoved committed offset for `stall_after` s."""

    def __init__(self, stall_after: float) -> None:
        self.stall_after = stall_after
        self._since: dict[Any, tuple[int, float]] = {}  # tp -> (committed offset, since)

    def stalled(self, committed: Mapping[Any, int], lag: Mapping[Any, int], now: float) -> list:
        """The stalled partitions among `committed`, in sorted order. Partitions not in
        `committed` (no longer assigned) are forgotten; one without lag is never stalled."""
        for tp in self._since.keys() - committed.keys():
            del self._since[tp]
        out = []
        for tp, offset in committed.items():
            if lag.get(tp, 0) <= 0:
                self._since.pop(tp, None)
                continue
            seen = self._since.get(tp)
            if seen is None or seen[0] != offset:
                self._since[tp] = (offset, now)
            elif now - seen[1] >= self.stall_after:
                out.append(tp)
        return sorted(out)

    def reset(self) -> None:
        """Start every partition's timer again (after a rejoin or a rebalance)."""
        self._since.clear()


def describe_partition(consumer: Any, tp: Any) -> dict[str, Any]:
    """What faust and aiokafka say of `tp`, for the stall warning. Reads private state of
    the pinned versions (`streams.faust_internals`); never raises."""
    facts: dict[str, Any] = {}
    try:
        facts["faust_active"] = tp in (consumer._active_partitions or set())
        facts["faust_paused"] = tp in consumer._paused_partitions
        facts["faust_flow_active"] = consumer.flow_active
        facts["faust_committed"] = consumer._committed_offset.get(tp)
        aio = consumer._thread._ensure_consumer()
        state = aio._fetcher._subscriptions.subscription.assignment.state_value(tp)
        if state is None:
            facts["aiokafka_assigned"] = False
        else:
            facts["aiokafka_assigned"] = True
            facts["aiokafka_paused"] = state.paused
            facts["aiokafka_position"] = state.position if state.has_valid_position else None
            facts["aiokafka_highwater"] = state.highwater
            facts["aiokafka_fetched_at_ms"] = state.timestamp
    except Exception as exc:  # a diagnosis must never stop the watchdog
        facts["unreadable"] = type(exc).__name__
    return facts


async def request_rejoin(consumer: Any) -> None:
    """Ask faust's aiokafka consumer to rejoin its group, on the consumer's own thread."""
    thread = consumer._thread

    async def _rejoin() -> None:
        thread._ensure_consumer()._coordinator.request_rejoin()

    await thread.call_thread(_rejoin)
