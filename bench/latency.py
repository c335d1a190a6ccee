"""Signal-to-window latency under a steady load, measured from outside with plain clients.

Used by `bench/pipeline.py` (its last line). One pipeline worker (`followup run`, wall
clock) is started and waited for until it is ready. Then fresh signals
(`signals.sample.generate`, dated within the last day) are produced at a steady `rate` per
second for `seconds`, in ticks of 10 ms, each record's send time noted by its `event_id`.
A plain consumer reads `followup.windows-opened` meanwhile; each window's latency is the
time it was read minus the send time of its triggering event. Windows whose trigger was
sent in the first `warmup` seconds (fetch sessions and batches settling) are left out. The
figure includes both hops (router, then score agent), the fetch waits and the producer's
linger, as a consumer of windows sees it.
"""

from __future__ import annotations

import asyncio
import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from signals.codec import decode_window
from signals.models import SignalType
from signals.sample import generate
from streams.broker import create_topics
from streams.kafka_security import client_kwargs
from streams.local import is_ready
from streams.settings import Settings
from streams.topics import Topics

__all__ = ["Latency", "steady_latency"]

_TICK = 0.01


@dataclass(frozen=True, slots=True)
class Latency:
    rate: float  # signals per second actually sent
    windows: int  # windows measured
    p50_ms: float
    p95_ms: float
    p99_ms: float

    def line(self, target_ms: float = 250.0) -> str:
        verdict = "MET" if self.p99_ms <= target_ms else "MISSED"
        return (
            f"signal-to-window p99 = {self.p99_ms:.0f} ms at {self.rate:.0f}/s "
            f"(target <= {target_ms:.0f} ms: {verdict})"
        )


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    rank = max(0, math.ceil(q * len(ordered)) - 1)
    return ordered[rank]


def signals(settings: Settings, n: int, seed: int = 99) -> list[tuple[str, bytes, str]]:
    """(topic, value, event_id) of `n` fresh signals in the sample's mix."""
    topics = Topics.from_settings(settings)
    end = datetime.now(UTC)
    out: list[tuple[str, bytes, str]] = []
    while len(out) < n:
        for kind, value in generate(seed, people=max(50, n // 5), accounts=30, days=1, end=end):
            out.append(
                (topics.for_signal(SignalType(kind)), value, orjson.loads(value)["event_id"])
            )
        seed += 1
    return out[:n]


async def steady_latency(
    settings: Settings,
    start_worker: Callable[[Settings], Any],
    *,
    rate: float = 1000.0,
    seconds: float = 30.0,
    warmup: float = 3.0,
    say: Callable[[str], None] = print,
) -> Latency:
    """Start a worker with `start_worker(settings)`, load it, return the latencies."""
    settings = settings.model_copy(update={"clock": "wall"})
    topics = Topics.from_settings(settings)
    await create_topics(settings, topics.all_created, partitions=settings.partitions)
    worker = start_worker(settings)
    deadline = time.monotonic() + 120
    while not is_ready(settings.web_port):
        if not worker.alive:
            raise RuntimeError(f"worker exited early:\n{worker.log_tail()}")
        if time.monotonic() > deadline:
            raise TimeoutError("the worker was not ready in 120 s")
        await asyncio.sleep(0.2)
    await asyncio.sleep(4.0)  # the router's own group join (a rebalance timeout here)
    records = signals(settings, int(rate * seconds))
    sent: dict[str, float] = {}
    latencies: list[float] = []
    done = asyncio.Event()

    consumer = AIOKafkaConsumer(
        topics.windows_opened,
        **client_kwargs(settings),
        enable_auto_commit=False,
        auto_offset_reset="latest",
        fetch_max_wait_ms=10,
    )
    await consumer.start()
    await consumer.getmany(timeout_ms=100)  # assigned at the end: only new windows count
    producer = AIOKafkaProducer(**client_kwargs(settings), linger_ms=1)
    await producer.start()
    started = time.time()

    async def read() -> None:
        while not done.is_set():
            batch = await consumer.getmany(timeout_ms=50)
            now = time.time()
            for messages in batch.values():
                for message in messages:
                    window = decode_window(message.value)
                    at = sent.get(window.trigger_event_id)
                    if at is not None and at - started >= warmup:
                        latencies.append(now - at)

    reader = asyncio.ensure_future(read())
    try:
        per_tick = rate * _TICK
        due = 0.0
        i = 0
        clock = time.monotonic()
        shown = clock
        while i < len(records):
            due += per_tick
            while i < len(records) and i < due:
                topic, value, event_id = records[i]
                sent[event_id] = time.time()
                await producer.send(topic, value)
                i += 1
            clock += _TICK
            await asyncio.sleep(max(0.0, clock - time.monotonic()))
            if clock - shown >= 5.0:
                shown = clock
                say(f"latency: {i} of {len(records)} signals sent, {len(latencies)} windows")
        actual = i / (time.time() - started)
        await producer.flush()
        await asyncio.sleep(5.0)  # the last windows: a quiet tail, then stop reading
    finally:
        done.set()
        await reader
        await producer.stop()
        await consumer.stop()
    if not latencies:
        raise RuntimeError("no window was opened under load: nothing to measure")
    ms = [x * 1000 for x in latencies]
    return Latency(
        actual,
        len(ms),
        statistics.median(ms),
        _percentile(ms, 0.95),
        _percentile(ms, 0.99),
    )
