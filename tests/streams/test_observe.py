"""`streams.observe` on a fake consumer and fake tables: lag, key counts, recoveries."""

from __future__ import annotations

import asyncio
import logging
from types import SimpleNamespace
from typing import Any

from faust.types import TP
from prometheus_client import CollectorRegistry

from streams.health import Health
from streams.metrics import Metrics
from streams.observe import Observer

CHANGELOG = "app-accounts-changelog"


class FakeConsumer:
    def __init__(self) -> None:
        self.assigned: set[TP] = set()
        self.ends: dict[TP, int] = {}
        self.earliest: dict[TP, int] = {}
        self._committed_offset: dict[TP, int | None] = {}
        self.fail: Exception | None = None
        self.requests = 0

    def assignment(self) -> set[TP]:
        return set(self.assigned)

    async def highwaters(self, *tps: TP) -> dict[TP, int]:
        self.requests += 1
        if self.fail is not None:
            raise self.fail
        return {tp: self.ends[tp] for tp in tps if tp in self.ends}

    async def earliest_offsets(self, *tps: TP) -> dict[TP, int]:
        self.requests += 1
        return {tp: self.earliest.get(tp, 0) for tp in tps}


class FakeTable:
    def __init__(self, name: str, keys: int) -> None:
        self.name = name
        self.data = object()  # not a memory store: the observer iterates
        self.keys_held = keys

    def __iter__(self) -> Any:
        return iter(range(self.keys_held))


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _setup(tables: tuple[Any, ...] = ()) -> tuple[Observer, FakeConsumer, CollectorRegistry, Any]:
    consumer = FakeConsumer()
    completed = asyncio.Event()
    completed.set()
    app = SimpleNamespace(
        _consumer=consumer,
        agents={
            "ingest": SimpleNamespace(channel=SimpleNamespace(topics=("a",))),
            "score": SimpleNamespace(channel=SimpleNamespace(topics=("b",))),
        },
        tables=SimpleNamespace(
            changelog_topics={CHANGELOG},
            _recovery=SimpleNamespace(completed=completed, in_recovery=False),
        ),
        followup_rulebook=object(),
        followup_health=Health(),
    )
    registry = CollectorRegistry()
    observer = Observer(
        app,
        Metrics(registry),
        tables=tables,
        broker_timeout=1.0,
        table_keys_interval=30.0,
        clock=Clock(),
    )
    return observer, consumer, registry, app


def _lag(registry: CollectorRegistry) -> dict[tuple[str, str], float]:
    out = {}
    for family in registry.collect():
        if family.name == "followup_consumer_lag_messages":
            for s in family.samples:
                out[(s.labels["topic"], s.labels["partition"])] = s.value
    return out


def test_lag_is_end_minus_committed_for_assigned_stream_partitions():
    observer, consumer, registry, _ = _setup()
    a0, a1, b0, log0 = TP("a", 0), TP("a", 1), TP("b", 0), TP(CHANGELOG, 0)
    leader = TP("app-__assignor-__leader", 0)  # faust's own: no agent reads it
    consumer.assigned = {a0, a1, b0, log0, leader}
    consumer.ends = {a0: 10, a1: 7, b0: 5, log0: 99, leader: 0}
    consumer._committed_offset = {a0: 4, a1: 7}  # b0: nothing committed yet
    consumer.earliest = {b0: 2}
    asyncio.run(observer.tick())
    assert _lag(registry) == {("a", "0"): 6, ("a", "1"): 0, ("b", "0"): 3}
    assert registry.get_sample_value("followup_worker_ready") == 1


def test_partitions_lost_in_a_rebalance_are_no_longer_exported():
    observer, consumer, registry, _ = _setup()
    a0, a1 = TP("a", 0), TP("a", 1)
    consumer.assigned = {a0, a1}
    consumer.ends = {a0: 3, a1: 3}
    consumer._committed_offset = {a0: 3, a1: 1}
    asyncio.run(observer.tick())
    assert set(_lag(registry)) == {("a", "0"), ("a", "1")}

    consumer.assigned = {a0}
    asyncio.run(observer.tick())
    assert _lag(registry) == {("a", "0"): 0}

    consumer.assigned = set()  # mid-rebalance: nothing is ours
    asyncio.run(observer.tick())
    assert _lag(registry) == {}
    assert registry.get_sample_value("followup_worker_ready") == 0


def test_a_broker_that_does_not_answer_keeps_the_last_values_and_logs_once(caplog):
    observer, consumer, registry, _ = _setup()
    a0 = TP("a", 0)
    consumer.assigned = {a0}
    consumer.ends = {a0: 9}
    consumer._committed_offset = {a0: 4}
    asyncio.run(observer.tick())

    consumer.fail = ConnectionError("broker down")
    with caplog.at_level(logging.WARNING, logger="streams.observe"):
        for _ in range(3):
            asyncio.run(observer.tick())  # never raises
    assert _lag(registry) == {("a", "0"): 5}
    assert len([r for r in caplog.records if "cannot read offsets" in r.message]) == 1

    consumer.fail = None
    consumer.ends = {a0: 12}
    asyncio.run(observer.tick())
    assert _lag(registry) == {("a", "0"): 8}


def test_a_hanging_broker_request_is_abandoned():
    observer, consumer, registry, _ = _setup()
    observer.broker_timeout = 0.05
    consumer.assigned = {TP("a", 0)}

    async def hang(*tps: TP) -> dict[TP, int]:
        await asyncio.sleep(60)
        return {}

    consumer.highwaters = hang  # type: ignore[method-assign]
    asyncio.run(asyncio.wait_for(observer.tick(), timeout=5))
    assert _lag(registry) == {}


def test_a_failing_step_does_not_stop_the_others(caplog):
    tables = (FakeTable("accounts", 3),)
    observer, _, registry, app = _setup(tables)
    app.agents = None  # the lag step cannot tell which topics count; readiness fails closed
    with caplog.at_level(logging.ERROR, logger="streams.observe"):
        asyncio.run(observer.tick())
    assert registry.get_sample_value("followup_worker_ready") == 0
    assert registry.get_sample_value("followup_table_keys", {"table": "accounts"}) == 3
    assert [r.getMessage() for r in caplog.records] == [
        "updating the consumer lag metric failed; keeping its last value"
    ]


def test_table_keys_are_counted_every_interval_and_after_a_rebalance():
    accounts, prospects = FakeTable("accounts", 25_001), FakeTable("prospects", 0)
    observer, _, registry, _ = _setup((accounts, prospects))
    clock = observer.clock
    assert isinstance(clock, Clock)

    def keys(table: str) -> float | None:
        return registry.get_sample_value("followup_table_keys", {"table": table})

    asyncio.run(observer.tick())
    assert (keys("accounts"), keys("prospects")) == (25_001, 0)

    accounts.keys_held = 7
    clock.now += 10
    asyncio.run(observer.tick())
    assert keys("accounts") == 25_001  # not yet: counting costs a pass over the keys
    clock.now += 25
    asyncio.run(observer.tick())
    assert keys("accounts") == 7

    accounts.keys_held = 3
    clock.now += 1
    asyncio.run(observer.on_rebalance_complete(object()))
    asyncio.run(observer.tick())
    assert keys("accounts") == 3


def test_a_memory_store_is_counted_with_len():
    from faust.stores.memory import Store

    table = SimpleNamespace(name="accounts", data=Store.__new__(Store))
    table.data.data = {b"a": b"1", b"b": b"2"}
    observer, _, registry, _ = _setup((table,))
    asyncio.run(observer.tick())
    assert registry.get_sample_value("followup_table_keys", {"table": "accounts"}) == 2


def test_only_a_rebalance_that_restored_active_state_counts_as_a_recovery():
    observer, _, registry, app = _setup()
    active, standby = TP(CHANGELOG, 0), TP(CHANGELOG, 1)
    app.tables.recovery = SimpleNamespace(active_tps={active}, standby_tps={standby})

    def record(tp: TP) -> Any:
        return SimpleNamespace(message=SimpleNamespace(tp=tp))

    def recoveries() -> float | None:
        return registry.get_sample_value("followup_table_recoveries_total")

    asyncio.run(observer.on_rebalance_complete(app, signal=None))  # nothing was read
    assert recoveries() == 0
    asyncio.run(observer.on_changelog_event(record(standby)))  # keeping a standby copy
    asyncio.run(observer.on_rebalance_complete(app, signal=None))
    assert recoveries() == 0
    for _ in range(3):
        asyncio.run(observer.on_changelog_event(record(active)))
    asyncio.run(observer.on_rebalance_complete(app, signal=None))
    assert recoveries() == 1
    asyncio.run(observer.on_rebalance_complete(app, signal=None))  # the next one read nothing
    assert recoveries() == 1


def test_install_observers_hooks_the_tables_the_signal_and_a_timer():
    from streams.observe import install_observers

    own_callback = object()
    mine = SimpleNamespace(name="accounts", _on_changelog_event=None)
    theirs = SimpleNamespace(name="prospects", _on_changelog_event=own_callback)
    connected: list[Any] = []
    timers: list[tuple[float, dict[str, Any], Any]] = []

    def timer(interval: float, **kwargs: Any) -> Any:
        return lambda fun: timers.append((interval, kwargs, fun))

    app = SimpleNamespace(
        on_rebalance_complete=SimpleNamespace(connect=connected.append), timer=timer
    )
    observer = install_observers(app, Metrics(CollectorRegistry()), tables=(mine, theirs))
    assert mine._on_changelog_event == observer.on_changelog_event
    assert theirs._on_changelog_event is own_callback
    assert connected == [observer.on_rebalance_complete]
    [(interval, kwargs, fun)] = timers
    assert interval == 5.0
    assert kwargs["on_leader"] is False  # every worker exports its own partitions
    assert fun == observer.tick
