"""Signal-to-window latency under a steady load, measured from outside with plain clients.

Used by `bench/pipeline.py` (its last line), and on its own:

    .venv/bin/python bench/latency.py [--rate 1000] [--seconds 30] [--worker-src DIR]

One pipeline worker (`followup run`, wall
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

import argparse
import asyncio
import math
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from signals.codec import decode_window
from signals.models import SignalType
from signals.sample import generate
from streams.broker import EmbeddedBroker, create_topics, free_port
from streams.kafka_security import client_kwargs
from streams.local import WorkerProcess, is_ready
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


def main(argv: Sequence[str] | None = None) -> int:
    """One broker, one worker, one steady load; prints the percentiles and the target line.
    `--worker-src` runs the worker from another checkout's source (an A/B of two commits
    in the same conditions: same broker binary, same venv, same load)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--rate", type=float, default=1000.0, help="signals per second")
    parser.add_argument("--seconds", type=float, default=30.0, help="duration of the load")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds left out at first")
    parser.add_argument("--partitions", type=int, default=4, help="partitions of every topic")
    parser.add_argument("--worker-src", type=Path, help="checkout whose streams/ the worker runs")
    args = parser.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="followup-latency-"))
    broker = EmbeddedBroker.start()
    workers: list[WorkerProcess] = []

    def start(settings: Settings) -> WorkerProcess:
        workers.append(WorkerProcess.start(settings, root / "worker.log", src=args.worker_src))
        return workers[-1]

    tag = uuid.uuid4().hex[:8]
    settings = Settings(
        broker_url=broker.url,
        partitions=args.partitions,
        app_id=f"latency-{tag}",
        state_dir=root / "state",
        web_port=free_port(),
    )
    try:
        result = asyncio.run(
            steady_latency(
                settings,
                start,
                rate=args.rate,
                seconds=args.seconds,
                warmup=args.warmup,
                say=lambda text: print(f"[latency] {text}", flush=True),
            )
        )
        print(
            f"[latency] {result.windows} windows, p50 {result.p50_ms:.0f} ms, "
            f"p95 {result.p95_ms:.0f} ms, p99 {result.p99_ms:.0f} ms"
        )
        print(result.line())
        return 0
    finally:
        for worker in workers:
            worker.stop(timeout=10)
        broker.stop()
        if os.environ.get("LATENCY_KEEP_LOG"):
            print(f"[latency] worker log kept in {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
