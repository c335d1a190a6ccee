"""Drive one chaos scenario: feed the history, inject faults, verify, report.

    scenario = Scenario("kill-rotation", settings, history, fleet)
    await scenario.run(faults)            # faults: async callable, started after set-up
    scenario.assert_ok()

`run` produces the history at a steady rate (so faults land mid-stream), waits at each
barrier on its condition with a deadline, supervises the workers (a crash is recorded and
the worker restarted), lets the fault task finish, then asks the verifier
(`streams.verifier_kafka.collect`) for its verdict. Every wait is a condition with a
deadline; the only sleeps are the feeder's pacing and the fault task's timing.

`report()` is the scenario's figures (printed, and kept in pytest's cache under
`chaos/<name>` for the README); on failure it adds what a reliability engineer needs:
the verifier's details, crash logs, and per keyed partition what the group committed
against what a plain consumer reads there.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from streams.ends import true_end_offsets
from streams.kafka_security import client_kwargs
from streams.local import Record, read_topic, wait_until
from streams.settings import Settings
from streams.topics import Topics
from streams.verifier import Expectation, Verdict, expect
from streams.verifier_kafka import collect, dead_letters
from tests.chaos.fleet import Fleet
from tests.chaos.history import Barrier, History
from tests.chaos.replay_keyed import compare

__all__ = ["Faults", "Scenario", "partition_report"]

Faults = Callable[["Scenario"], Awaitable[None]]


@dataclass
class Scenario:
    name: str
    settings: Settings
    history: History
    fleet: Fleet
    rate: float = 120.0  # records per second
    barrier_timeout: float = 45.0
    final_timeout: float = 75.0
    expectation: Expectation = field(init=False)
    verdict: Verdict | None = None
    faults: list[str] = field(default_factory=list)  # one line per fault injected
    events: list[str] = field(default_factory=list)  # and per thing seen: crashes, restarts
    failure: str | None = None
    dead: dict[tuple[str, str], int] = field(default_factory=dict)
    produced_done: asyncio.Event = field(default_factory=asyncio.Event)
    _started: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        self.expectation = expect(self.settings, self.history.records)

    def note(self, text: str, *, fault: bool = True) -> None:
        """Print a timed line; `fault=False` for what is seen rather than injected."""
        line = f"{self.elapsed():6.1f}s {text}"
        (self.faults if fault else self.events).append(line)
        print(f"chaos[{self.name}] {line}", flush=True)

    def elapsed(self) -> float:
        return time.monotonic() - self._started

    # -- the run ------------------------------------------------------------------------

    async def run(self, faults: Faults | None = None, *, dead_letter_topics: bool = False) -> None:
        print(f"chaos[{self.name}] seed {self.history.seed}: {self.history.summary()}")
        print(f"chaos[{self.name}] expects {len(self.expectation.windows)} windows")
        supervisor = asyncio.create_task(self._supervise())
        fault_task: asyncio.Task[None] | None = None
        try:
            await self._wait_ready(list(self.fleet.slots))
            steps = list(self.history.steps)
            first = next(i for i, s in enumerate(steps) if isinstance(s, Barrier)) + 1
            await self._feed(steps[:first])  # set-up: contacts, before any fault
            if faults is not None:
                fault_task = asyncio.create_task(faults(self))
            await self._feed(steps[first:])
            self.produced_done.set()
            if fault_task is not None:
                await fault_task
            self.verdict, _ = await collect(
                self.settings, self.expectation, timeout=self.final_timeout, quiet=3.0
            )
            if dead_letter_topics:
                await self._dead_letters()
        except Exception as exc:
            self.failure = f"{type(exc).__name__}: {exc}"
            if fault_task is not None:
                fault_task.cancel()
            if self.verdict is None:
                self.verdict, _ = await collect(
                    self.settings, self.expectation, timeout=10.0, quiet=1.0
                )
        finally:
            supervisor.cancel()
        print(f"chaos[{self.name}] {self.verdict.line()}", flush=True)

    async def _feed(self, steps: list[Any]) -> None:
        # Hostile records may be bigger than any good one (a 1 MB key): the broker takes them.
        producer = AIOKafkaProducer(
            **client_kwargs(self.settings),
            linger_ms=5,
            request_timeout_ms=120_000,
            max_request_size=4 * 2**20,
        )
        await producer.start()
        try:
            sent: list[asyncio.Future[Any]] = []
            began, n = time.monotonic(), 0
            for step in steps:
                if isinstance(step, Barrier):
                    await producer.flush()
                    for future in sent:
                        future.result()  # a failed send would make the history a lie
                    sent.clear()
                    await self._barrier(step)
                    began, n = time.monotonic(), 0
                    continue
                sent.append(await _send(producer, step))
                n += 1
                ahead = n / self.rate - (time.monotonic() - began)
                if ahead > 0.05:
                    await asyncio.sleep(ahead)  # pacing, not synchronisation
            await producer.flush()
            for future in sent:
                future.result()
        finally:
            await producer.stop()

    async def _barrier(self, barrier: Barrier) -> None:
        started = time.monotonic()
        if barrier.consumed:
            for topic, n in barrier.consumed.items():
                await wait_until(
                    lambda t=topic, n=n: (
                        self.fleet.metric("followup_events_consumed_total", topic=t) >= n
                    ),
                    timeout=self.barrier_timeout,
                    interval=0.3,
                    what=f"barrier {barrier.name}: ingest consumed {n} from {topic}",
                )
        ids = self.expectation.ids_triggered_by(barrier.events)
        if ids:
            seen: set[str] = set()

            def note(message: Any) -> None:
                seen.add(_window_id(message.value))

            await read_topic(
                self.settings,
                self.settings.topic_windows_opened,
                until=lambda _: ids <= seen,
                timeout=self.barrier_timeout,
                on_record=note,
            )
            if not ids <= seen:
                missing = sorted(self.expectation.partitions[i] for i in ids - seen)
                raise TimeoutError(
                    f"barrier {barrier.name}: no marker window from keyed partitions "
                    f"{missing} within {self.barrier_timeout:.0f}s"
                )
        took = time.monotonic() - started
        print(f"chaos[{self.name}] {self.elapsed():6.1f}s barrier {barrier.name} ({took:.1f}s)")

    async def _supervise(self) -> None:
        while True:
            for crash in self.fleet.supervise():
                self.note(f"CRASH {crash.worker} exit {crash.exit_code}; restarted", fault=False)
                for line in crash.lines[-6:]:
                    print(f"chaos[{self.name}]     {line}")
            await asyncio.sleep(0.5)

    async def _wait_ready(self, names: list[str], timeout: float = 120.0) -> None:
        await wait_until(
            lambda: all(self.fleet.ready(n) for n in names),
            timeout=timeout,
            interval=0.5,
            what=f"workers {names} ready",
        )

    async def _dead_letters(self) -> None:
        topics = Topics.from_settings(self.settings)
        names = [topics.dead_letter(t) for t in (*topics.inputs, topics.contacts)]
        names += [topics.dead_letter(topics.activity), topics.dead_letter(topics.keyed)]
        want = sum(self.expectation.dead_letters.values())
        found, _ = await dead_letters(self.settings, names, expected=want, timeout=20.0)
        self.dead = dict(found)

    # -- outcome ------------------------------------------------------------------------

    def report(self) -> dict[str, Any]:
        verdict = self.verdict
        assert verdict is not None
        return {
            "scenario": self.name,
            "seed": self.history.seed,
            **self.history.counts,
            "faults": len(self.faults),
            "crashes": len(self.fleet.crashes),
            "expected": verdict.expected,
            "delivered": verdict.delivered,
            "distinct": verdict.distinct,
            "lost": len(verdict.lost),
            "extra": len(verdict.extra),
            "repeats": verdict.repeats,
            "conflicting": len(verdict.conflicting),
            "unlike": len(verdict.unlike),
            "dead_letters": sum(self.dead.values()),
            "verifier": verdict.line(),
            "failure": self.failure,
        }

    async def explain(self) -> list[str]:
        """Everything that helps to see why a scenario failed."""
        lines = []
        if self.failure:
            lines.append(f"failure: {self.failure}")
        if self.verdict is not None:
            lines += self.verdict.details(self.expectation)
        for crash in self.fleet.crashes:
            lines.append(f"crash of {crash.worker} at {crash.at}s, exit {crash.exit_code}:")
            lines += [f"    {line}" for line in crash.lines]
        lines += ["worker log lines reporting errors:"] + [
            f"    {line}" for line in self.fleet.trouble()
        ]
        lines += await partition_report(self.settings)
        kept = await self.dump_topics()
        lines.append(
            f"topics kept for offline replay in {kept} (python -m tests.chaos.replay_keyed)"
        )
        lines += compare(kept, self.settings)
        return lines

    async def dump_topics(self) -> Path:
        """Write the keyed and output topics as read back (`<dir>/topics/<topic>.jsonl`,
        one record per line: partition, offset, key and value in base64), so that a
        failed run can be replayed offline after its memory-only broker is gone."""
        topics = Topics.from_settings(self.settings)
        out = self.fleet.directory / "topics"
        out.mkdir(parents=True, exist_ok=True)
        for name in (topics.keyed, topics.windows_opened, topics.windows_closed):
            ends = await _true_ends(self.settings, name)
            last: dict[int, int] = {}

            def seen(m: Any, last: dict[int, int] = last) -> None:
                last[m.partition] = max(last.get(m.partition, -1), m.offset)

            def complete(
                _: list[Any], ends: dict[int, int] = ends, last: dict[int, int] = last
            ) -> bool:
                return all(last.get(p, -1) + 1 >= end for p, end in ends.items() if end)

            records = await read_topic(
                self.settings, name, until=complete, timeout=60.0, on_record=seen
            )
            with (out / f"{name}.jsonl").open("w") as f:
                for m in records:
                    row = {"partition": m.partition, "offset": m.offset, "ts": m.timestamp}
                    row["key"] = base64.b64encode(m.key or b"").decode()
                    row["value"] = None if m.value is None else base64.b64encode(m.value).decode()
                    f.write(json.dumps(row) + "\n")
        return out


async def _true_ends(settings: Settings, topic: str) -> dict[int, int]:
    """The offset after each partition's last record (`streams.ends`: not as reported)."""
    consumer = AIOKafkaConsumer(**client_kwargs(settings), enable_auto_commit=False)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(settings.partitions)]
        return {tp.partition: end for tp, end in (await true_end_offsets(consumer, tps)).items()}
    finally:
        await consumer.stop()


async def partition_report(settings: Settings) -> list[str]:
    """Per partition of the input and keyed topics: records a plain consumer reads and the
    committed offset of the group that reads it (the router's for input topics)."""
    topics = Topics.from_settings(settings)
    names = [settings.topic_page_visited, topics.activity, topics.keyed]
    admin = AIOKafkaAdminClient(**client_kwargs(settings))
    await admin.start()
    lines = []
    try:
        for name in names:
            messages = await read_topic(settings, name, until=lambda _: False, timeout=3.0)
            last: dict[int, int] = {}
            for m in messages:
                last[m.partition] = max(last.get(m.partition, -1), m.offset)
            tps = [TopicPartition(name, p) for p in range(settings.partitions)]
            group = settings.app_id if name == topics.keyed else f"{settings.app_id}-router"
            committed = await admin.list_consumer_group_offsets(group, partitions=tps)
            for tp in tps:
                read = last.get(tp.partition, -1) + 1
                meta = committed.get(tp)
                at = meta.offset if meta is not None else None
                flag = "  <-- behind" if at is None or at < read else ""
                lines.append(f"{name}[{tp.partition}]: read to {read}, committed {at}{flag}")
    finally:
        await admin.close()
    return lines


async def _send(producer: AIOKafkaProducer, record: Record) -> asyncio.Future[Any]:
    return await producer.send(
        record.topic, record.value, key=record.key, headers=list(record.headers) or None
    )


def _window_id(raw: bytes | None) -> str:
    import orjson

    try:
        return str(orjson.loads(raw or b"{}").get("window_id", ""))
    except orjson.JSONDecodeError:
        return ""
