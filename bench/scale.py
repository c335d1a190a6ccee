"""A million people through one worker: peak memory, stored bytes per person, rebuild time.

    .venv/bin/python bench/scale.py [--people 1000000] [--accounts 50000] [--partitions 4]

One embedded broker. `--people` distinct people at `--accounts` accounts each send one
email open (dated within the last day), produced to the input topic before the worker
starts. Then:

1. one worker (`followup run`, RocksDB state) processes them; its resident memory (RSS,
   from /proc) is sampled every second and progress is shown every 10 s, until its router
   group has committed every input record and its score agent the true end of the keyed
   topic (`streams.ends`);
2. stored bytes per person: the size on disk of the worker's table state (RocksDB files,
   after it stopped and flushed) divided by the people;
3. a second worker starts on an empty state directory: the time until it answers
   `/health/ready` (tables recovered from the changelog) is the rebuild time.

The last line is for tools:

    scale: N people, peak RSS N MiB, N bytes/person, rebuild N s

It takes a while (minutes at a million people on two cores); progress is printed.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
from aiokafka import AIOKafkaProducer

from streams.broker import EmbeddedBroker, create_topics, free_port
from streams.kafka_security import client_kwargs
from streams.local import WorkerProcess, is_ready
from streams.settings import Settings
from streams.topics import Topics

sys.path.insert(0, str(Path(__file__).resolve().parent))  # run as a script: its siblings
from pipeline import GroupWatch

__all__ = ["main"]


def say(text: str) -> None:
    print(f"[scale] {text}", flush=True)


def signal(i: int, accounts: int, at: datetime) -> bytes:
    account = i % accounts
    return orjson.dumps(
        {
            "event_id": f"scale-{i}",
            "type": "email_opened",
            "source": "esp",
            "occurred_at": at.isoformat(),
            "person": {"email": f"p{i}@acct{account}.example", "title": "VP Operations"},
            "account": {"domain": f"acct{account}.example", "employees": 200},
            "properties": {"campaign_id": "cmp-scale", "email_id": f"em-{i}"},
        }
    )


async def produce_people(settings: Settings, people: int, accounts: int) -> None:
    topic = settings.topic_email_opened
    now = datetime.now(UTC)
    producer = AIOKafkaProducer(**client_kwargs(settings), linger_ms=20, max_batch_size=1 << 20)
    await producer.start()
    try:
        started = time.monotonic()
        for i in range(people):
            at = now - timedelta(seconds=(i * 86_000) // people)
            await producer.send(topic, signal(i, accounts, at))
            if (i + 1) % 100_000 == 0:
                say(f"produced {i + 1:,} of {people:,} ({time.monotonic() - started:.0f} s)")
        await producer.flush()
    finally:
        await producer.stop()


def rss_mib(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def start(settings: Settings, log: Path) -> WorkerProcess:
    return WorkerProcess.start(settings, log)


async def run(args: argparse.Namespace, settings: Settings, root: Path) -> str:
    topics = Topics.from_settings(settings)
    await create_topics(settings, topics.all_created, partitions=settings.partitions)
    await produce_people(settings, args.people, args.accounts)

    worker = start(settings, root / "worker.log")
    peak = 0.0
    started = time.monotonic()
    shown = started
    router = f"{settings.app_id}-router"
    async with GroupWatch(settings) as watch:
        inputs = await watch.partitions(list(topics.inputs))
        keyed = await watch.partitions([topics.keyed])
        while True:
            if not worker.alive:
                raise RuntimeError(f"worker exited:\n{worker.log_tail()}")
            peak = max(peak, rss_mib(worker.process.pid))
            routed = await watch.committed(router, inputs)
            scored = await watch.committed(settings.app_id, keyed)
            ends = await watch.ends([*inputs, *keyed])
            done = sum(routed.values())
            lag = sum(ends[tp] - scored[tp] for tp in keyed)
            now = time.monotonic()
            if now - shown >= 10:
                shown = now
                say(
                    f"{now - started:5.0f} s: {done:,} of {args.people:,} routed, keyed lag "
                    f"{lag:,}, RSS {rss_mib(worker.process.pid):,.0f} MiB (peak {peak:,.0f})"
                )
            caught_up = all(ends[tp] == routed[tp] for tp in inputs)
            if done >= args.people and lag == 0 and caught_up:
                break
            await asyncio.sleep(1.0)
    took = time.monotonic() - started
    say(f"processed {args.people:,} people in {took:.0f} s; peak RSS {peak:,.0f} MiB")
    worker.stop(timeout=60)

    tables = settings.state_dir
    stored = sum(f.stat().st_size for f in tables.rglob("*") if f.is_file())
    per_person = stored / args.people
    say(f"table state on disk: {stored / 2**20:,.0f} MiB, {per_person:,.0f} bytes/person")

    fresh = settings.model_copy(update={"state_dir": root / "rebuilt", "web_port": free_port()})
    rebuilt = start(fresh, root / "rebuild.log")
    began = shown = time.monotonic()
    try:
        while not is_ready(fresh.web_port):
            if not rebuilt.alive:
                raise RuntimeError(f"rebuild worker exited:\n{rebuilt.log_tail()}")
            await asyncio.sleep(0.5)
            if time.monotonic() - shown >= 10:
                shown = time.monotonic()
                say(f"rebuilding from the changelog: {shown - began:.0f} s")
        rebuild = time.monotonic() - began
    finally:
        rebuilt.stop(timeout=60)
    return (
        f"scale: {args.people} people, peak RSS {peak:.0f} MiB, {per_person:.0f} bytes/person, "
        f"rebuild {rebuild:.0f} s"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--people", type=int, default=1_000_000)
    parser.add_argument("--accounts", type=int, default=50_000)
    parser.add_argument("--partitions", type=int, default=4)
    args = parser.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="followup-scale-"))
    broker = EmbeddedBroker.start()
    try:
        tag = uuid.uuid4().hex[:8]
        settings = Settings(
            broker_url=broker.url,
            app_id=f"scale-{tag}",
            partitions=args.partitions,
            state_dir=root / "state",
            web_port=free_port(),
        )
        settings = settings.model_copy(
            update={
                name: f"scale-{tag}.{field.default}"
                for name, field in Settings.model_fields.items()
                if name.startswith("topic_")
            }
        )
        say(f"{args.people:,} people at {args.accounts:,} accounts, {args.partitions} partitions")
        line = asyncio.run(run(args, settings, root))
        print(line, flush=True)
        return 0
    finally:
        broker.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
