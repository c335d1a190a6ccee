"""Gauges that need a look at the consumer and the tables: lag, table keys, readiness.

`install_observers` registers one Faust timer that runs on *every* worker (not only the
leader), each `interval` seconds, and a receiver for faust's `on_rebalance_complete` signal:

- `followup_consumer_lag_messages{topic,partition}`: end offset minus committed offset for
  each keyed partition assigned to this worker's score agent and each input partition
  assigned to its router. End offsets are the true ends (`streams.ends`: the embedded
  broker under-reports them after batched produces), read once per tick.
  Committed offsets are the ones faust tracks itself (`Consumer._committed_offset`, private
  in faust-streaming 0.15 as pinned: read from the group when partitions are assigned,
  updated on each commit; no broker call). A partition with nothing committed
  yet counts from its earliest offset, as `auto_offset_reset="earliest"` would read it.
  Label sets of partitions no longer assigned are removed, so after a rebalance a partition's
  lag is exported by exactly one worker. Only the topics the agents read count: changelog
  partitions (the group never commits on them) and faust's leader-election topic are left
  out.
- `followup_table_keys{table}`: keys in the partitions this worker is *active* for (standby
  copies excluded). Counted exactly by iterating the keys, yielding to the event loop every
  `_COUNT_CHUNK` keys, on the first tick after each rebalance and then at most every
  `table_keys_interval` seconds. RocksDB's `rocksdb.estimate-num-keys` is not used: it
  counts every overwrite still in the memtable (and faust rewrites its offset key on each
  commit), so it can be off by orders of magnitude. Iterating 200k RocksDB keys takes
  about 70 ms.
- `followup_worker_ready`: 1 when `streams.web.readiness` passes, else 0.
- `followup_table_recoveries_total`: incremented when a rebalance completes after this
  worker restored table state from a changelog (read at least one record of a changelog
  partition it is active for). faust runs its recovery on every rebalance, mostly with
  nothing to read; those are not counted, so the counter says when a worker had to rebuild
  state (a new worker, lost local state, a partition moving without a standby). faust has
  no signal for "records were restored": the tables' changelog-event callback (the one the
  `on_changelog_event=` argument of `app.Table` sets, `_on_changelog_event`) notes it, and
  the `on_rebalance_complete` signal, which faust sends when recovery completes, counts it.
  A table given its own callback keeps it and is left out (logged).

- the stall watchdog (`streams.watchdog`): the keyed partitions' committed offsets and lag
  from the same tick; a partition with lag whose committed offset stopped while the worker
  is ready gets the consumer group to rejoin.

`followup_rebalances_total` stays with the receiver in `streams.app`.

The timer never raises: each step logs its failure and the others still run. A step that
fails keeps its gauges at their last values; a broker that cannot answer is logged once
per outage, not every tick.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

from aiokafka import TopicPartition
from faust.exceptions import ConsumerNotStarted

from streams.ends import EndProbe
from streams.metrics import Metrics
from streams.watchdog import StallWatch, describe_partition, request_rejoin
from streams.web import readiness, stream_partitions

__all__ = ["Observer", "install_observers"]

log = logging.getLogger(__name__)

_COUNT_CHUNK = 10_000


class Observer:
    """The timer's state: which lag label sets it exported and when it last counted keys."""

    def __init__(
        self,
        app: Any,
        metrics: Metrics,
        *,
        tables: Iterable[Any],
        broker_timeout: float,
        table_keys_interval: float,
        probe: EndProbe | None = None,
        router: Any = None,
        stall_after: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.app = app
        self.watch = StallWatch(stall_after) if stall_after else None
        self._committed: dict[Any, int] = {}  # the score agent's partitions, last tick
        self.probe = probe
        self.router = router
        self.metrics = metrics
        self.tables = tuple(tables)
        self.broker_timeout = broker_timeout
        self.table_keys_interval = table_keys_interval
        self.clock = clock
        self._lag_labels: set[tuple[str, str]] = set()
        self._keys_counted_at: float | None = None
        self._broker_failing = False
        self._restored = False

    async def tick(self) -> None:
        """One round; called by the Faust timer. Never raises."""
        for name, step in (
            ("readiness", self.update_ready),
            ("consumer lag", self.update_lag),
            ("table keys", self.update_table_keys),
        ):
            try:
                await step()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("updating the %s metric failed; keeping its last value", name)

    async def update_ready(self) -> None:
        self.metrics.ready.set(1 if all(readiness(self.app).values()) else 0)
        health = getattr(self.app, "followup_health", None)
        if health is not None:
            for component in ("router", "score", "suppressions"):
                self.metrics.component_blocked.labels(component).set(
                    1 if component in health.blocked else 0
                )

    async def update_lag(self) -> None:
        """Refresh the lag gauge; drop label sets of partitions this worker lost."""
        consumer = getattr(self.app, "_consumer", None)
        try:
            tps = stream_partitions(self.app)
        except ConsumerNotStarted:  # nothing is assigned before the consumer thread runs
            tps = set()
        lag: dict[tuple[str, str], int] = {}
        if tps or self.router is not None:
            try:
                lag = await asyncio.wait_for(self._lag(consumer, tps), self.broker_timeout)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # timeouts, aiokafka's KafkaError, a rebalance under way
                self._broker_failed(exc)
                return
            if self._broker_failing:
                log.info("consumer lag: the broker answers again")
                self._broker_failing = False
        for labels in self._lag_labels - lag.keys():
            self.metrics.consumer_lag.remove(*labels)
        for labels, value in lag.items():
            self.metrics.consumer_lag.labels(*labels).set(value)
        self._lag_labels = set(lag)
        if self.watch is not None and tps:
            await self._watch(self.watch, consumer, lag)

    async def _watch(
        self, watch: StallWatch, consumer: Any, lag: dict[tuple[str, str], int]
    ) -> None:
        """Feed the stall watchdog; rejoin the group when a partition stalled."""
        if getattr(self.app, "rebalancing", False) or not all(readiness(self.app).values()):
            watch.reset()  # stopped on purpose, or not started: nothing is stalled
            return
        by_tp = {tp: lag.get((tp.topic, str(tp.partition)), 0) for tp in self._committed}
        stalled = watch.stalled(self._committed, by_tp, self.clock())
        if not stalled:
            return
        for tp in stalled:
            self.metrics.partition_stalls.labels(tp.topic).inc()
            log.warning(
                "partition %s-%d has lag %d and its committed offset %d has not moved for "
                "%.0f s: rejoining the consumer group (%s)",
                tp.topic,
                tp.partition,
                by_tp[tp],
                self._committed[tp],
                watch.stall_after,
                describe_partition(consumer, tp),
            )
        watch.reset()
        await request_rejoin(consumer)

    async def _lag(self, consumer: Any, tps: set[Any]) -> dict[tuple[str, str], int]:
        # faust's own record of committed offsets (None: nothing committed yet, or offset 0).
        tracked = getattr(consumer, "_committed_offset", {})
        committed: dict[Any, int] = {}
        missing = [tp for tp in tps if tracked.get(tp) is None]
        earliest = await consumer.earliest_offsets(*missing) if missing else {}
        for tp in tps:
            offset = tracked.get(tp)
            if offset is None:  # nothing committed: counts from the earliest offset kept
                offset = earliest.get(tp) or 0
            committed[TopicPartition(tp.topic, tp.partition)] = offset
        self._committed = {tp: committed[TopicPartition(tp.topic, tp.partition)] for tp in tps}
        if self.router is not None:  # the router's group, on the input topics
            committed.update(await self.router.committed())
        ends = await self._ends(committed.keys())
        lag: dict[tuple[str, str], int] = {}
        for tp, done in committed.items():
            end = ends.get(tp)
            if end is None:  # the broker did not answer for this one: leave it out this round
                continue
            lag[(tp.topic, str(tp.partition))] = max(0, end - done)
        return lag

    async def _ends(self, tps: Iterable[TopicPartition]) -> dict[TopicPartition, int]:
        """True end offsets (the embedded broker under-reports them: `streams.ends`)."""
        if self.probe is None:
            consumer = getattr(self.app, "_consumer", None)
            ends = await consumer.highwaters(*tps) if consumer is not None else {}
            return {TopicPartition(tp.topic, tp.partition): v for tp, v in ends.items()}
        return await self.probe.ends(tps)

    def _broker_failed(self, exc: BaseException) -> None:
        if not self._broker_failing:  # once per outage, with the traceback
            log.warning(
                "consumer lag: cannot read offsets (%s); keeping the last values until the "
                "broker answers",
                type(exc).__name__,
                exc_info=exc,
            )
        self._broker_failing = True

    async def update_table_keys(self) -> None:
        now = self.clock()
        if (
            self._keys_counted_at is not None
            and now - self._keys_counted_at < self.table_keys_interval
        ):
            return
        self._keys_counted_at = now
        for table in self.tables:
            try:
                count = await _count_keys(table)
            except RuntimeError:  # a rebalance opened or closed a partition DB mid-count
                log.info("table %s changed partitions while counting; next round", table.name)
                continue
            self.metrics.table_keys.labels(table.name).set(count)

    async def on_changelog_event(self, event: Any) -> None:
        """Table callback for each changelog record faust reads (recovery and standby)."""
        if not self._restored:
            try:
                recovery = self.app.tables.recovery
                self._restored = event.message.tp in recovery.active_tps
            except Exception:  # never fail faust's recovery loop over a metric
                log.exception("noting a restored changelog record failed")

    async def on_rebalance_complete(self, sender: Any, **kwargs: Any) -> None:
        """Receiver of faust's `on_rebalance_complete` signal. Never raises."""
        self._keys_counted_at = None  # the partitions changed: count again on the next tick
        if self._restored:
            self._restored = False
            self.metrics.recoveries.inc()


async def _count_keys(table: Any) -> int:
    store = table.data
    if type(store).__module__ == "faust.stores.memory":  # a dict underneath: O(1)
        return len(store)
    count = 0
    for _ in table:  # the store iterates the keys of its active partitions
        count += 1
        if count % _COUNT_CHUNK == 0:
            await asyncio.sleep(0)  # let the agents run between chunks
    return count


def install_observers(
    app: Any,
    metrics: Metrics,
    *,
    tables: Iterable[Any],
    router: Any = None,
    client_kwargs: dict[str, Any] | None = None,
    interval: float = 5.0,
    table_keys_interval: float = 30.0,
    stall_after: float | None = None,
) -> Observer:
    """Register the observer's timer and rebalance receiver on `app`; call before start.

    The first tick runs `interval` seconds after the app starts. A broker request that
    takes longer than `interval` is abandoned for that tick.
    """
    observer = Observer(
        app,
        metrics,
        tables=tables,
        broker_timeout=interval,
        table_keys_interval=table_keys_interval,
        probe=EndProbe(client_kwargs) if client_kwargs is not None else None,
        router=router,
        stall_after=stall_after,
    )
    for table in observer.tables:
        if getattr(table, "_on_changelog_event", None) is None:
            table._on_changelog_event = observer.on_changelog_event
        else:
            log.warning("table %s has a changelog callback: its recoveries are not counted", table)
    app.on_rebalance_complete.connect(observer.on_rebalance_complete)
    app.timer(interval, on_leader=False, name="followup.observe")(observer.tick)
    return observer
