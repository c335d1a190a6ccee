"""Running the engine locally: a worker subprocess, producing records, reading topics back,
and measuring how far a consumer group is behind. Used by the demo, the tests and the bench.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from streams.ends import EndProbe
from streams.kafka_security import client_kwargs
from streams.settings import SECRET_FIELDS, Settings

__all__ = [
    "Record",
    "WorkerProcess",
    "processed_through",
    "produce",
    "read_topic",
    "settings_env",
    "wait_until",
    "worker_stages",
]


@dataclass(frozen=True, slots=True)
class Record:
    topic: str
    value: bytes | None
    key: bytes | None = None
    headers: tuple[tuple[str, bytes], ...] = ()


class _Environment(dict[str, str]):
    """An environment for a child process whose repr masks the secrets it carries, so
    printing or logging it (a test failure, a debug line) shows none."""

    def __repr__(self) -> str:
        secret = {f"FOLLOWUP_{name.upper()}" for name in SECRET_FIELDS}
        return repr({k: "**********" if k in secret else v for k, v in self.items()})

    __str__ = __repr__


def settings_env(settings: Settings) -> dict[str, str]:
    """The `FOLLOWUP_*` environment that reproduces `settings` in another process.

    Secrets are passed as they are (the child needs them) but the mapping's repr masks
    them. A password given as a file stays a file: the child reads it itself."""
    env = _Environment()
    for name, value in settings.model_dump(exclude_none=True).items():
        raw = value.get_secret_value() if hasattr(value, "get_secret_value") else value
        if isinstance(raw, tuple):  # list settings are comma-separated in the environment
            raw = ",".join(str(part) for part in raw)
        env[f"FOLLOWUP_{name.upper()}"] = str(raw).lower() if isinstance(raw, bool) else str(raw)
    return env


def is_ready(port: int) -> bool:
    """Whether the worker (or sink, or ingest) on `port` answers `/health/ready` with
    ready. Never raises: no answer is not ready."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/ready", timeout=1) as r:
            return bool(json.load(r)["status"] == "ready")
    except (urllib.error.URLError, OSError, ValueError):
        return False


class WorkerProcess:
    """`followup run` in a child process, its output in a log file."""

    def __init__(self, process: subprocess.Popen[bytes], log_path: Path, log: IO[bytes]) -> None:
        self.process = process
        self.log_path = log_path
        self._log = log

    @classmethod
    def start(cls, settings: Settings, log_path: Path, *, src: Path | None = None) -> WorkerProcess:
        """`src`: run the worker from that checkout's source instead (a bench's A/B)."""
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log = log_path.open("ab")
        env = {**os.environ, **settings_env(settings), "PYTHONUNBUFFERED": "1"}
        if src is not None:
            env["PYTHONPATH"] = str(src.resolve())
        process = subprocess.Popen(
            [sys.executable, "-m", "streams.cli", "run"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=src,  # `-m` puts the working directory first on the path
        )
        return cls(process, log_path, log)

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = 20.0) -> int:
        """SIGTERM, then SIGKILL after `timeout`; return the exit code."""
        if self.alive:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()
        return self.process.returncode

    def kill(self) -> None:
        """SIGKILL: the crash a worker must survive."""
        if self.alive:
            self.process.kill()
            self.process.wait()
        self._log.close()

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


async def produce(
    settings: Settings,
    records: Sequence[Record],
    *,
    progress: Callable[[int, int], None] | None = None,
) -> None:
    """Send `records` with the security of `settings`; returns when the broker has
    acknowledged every one, and raises the first delivery error if one was refused
    (aiokafka's `flush` alone does not)."""
    producer = AIOKafkaProducer(**client_kwargs(settings), linger_ms=5)
    await producer.start()
    try:
        total = len(records)
        deliveries = []
        for n, record in enumerate(records, 1):
            deliveries.append(
                await producer.send(
                    record.topic, record.value, key=record.key, headers=list(record.headers)
                )
            )
            if progress is not None and (n % 100 == 0 or n == total):
                progress(n, total)
        await asyncio.gather(*deliveries)
    finally:
        await producer.stop()


async def read_topic(
    settings: Settings,
    topic: str,
    *,
    until: Callable[[list[Any]], bool],
    timeout: float,
    on_record: Callable[[Any], None] | None = None,
) -> list[Any]:
    """Read `topic` from the beginning (no group) until `until(records)` or `timeout`."""
    consumer = AIOKafkaConsumer(
        **client_kwargs(settings), auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    records: list[Any] = []
    try:
        partitions = await _partitions(consumer, topic, timeout=timeout)
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        deadline = time.monotonic() + timeout
        while not until(records) and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200)
            for messages in batch.values():
                for message in messages:
                    records.append(message)
                    if on_record is not None:
                        on_record(message)
        return records
    finally:
        await consumer.stop()


async def _partitions(
    consumer: AIOKafkaConsumer, topic: str, *, timeout: float
) -> list[TopicPartition]:
    deadline = time.monotonic() + timeout
    while True:
        found = consumer.partitions_for_topic(topic)
        if found:
            return [TopicPartition(topic, p) for p in sorted(found)]
        if time.monotonic() > deadline:
            raise TimeoutError(f"topic {topic} did not appear in {timeout}s")
        await consumer._client.force_metadata_update()
        await asyncio.sleep(0.2)


def worker_stages(settings: Settings, topics: Any) -> list[tuple[str, list[str]]]:
    """What a worker consumes, stage by stage, with the consumer group of each: the input
    topics (the router's group), then the keyed topic twice (the score agent's; a job change
    is forwarded once, from the old account to the new)."""
    inputs = [*topics.inputs, topics.contacts, topics.activity, *topics.sources, topics.erasure]
    return [
        (f"{settings.app_id}-router", inputs),
        (settings.app_id, [topics.keyed]),
        (settings.app_id, [topics.keyed]),
    ]


async def processed_through(
    settings: Settings,
    stages: Sequence[tuple[str, Sequence[str]]],
    *,
    timeout: float,
    interval: float = 0.2,
) -> None:
    """Wait until each stage's group has committed past everything produced so far.

    For each stage (a consumer group and its topics), the end offsets are read *after* the
    stage before was processed, so records that stage forwarded count too; ticks and other
    records arriving later do not hold the wait up. End offsets are the true ones
    (`streams.ends`: the embedded broker under-reports them after batched produces).
    Raises TimeoutError after `timeout` in all.
    """
    deadline = time.monotonic() + timeout
    admin = AIOKafkaAdminClient(**client_kwargs(settings))
    consumer = AIOKafkaConsumer(**client_kwargs(settings), enable_auto_commit=False)
    probe = EndProbe(client_kwargs(settings))  # its own consumer: probing assigns partitions
    await admin.start()
    await consumer.start()
    try:
        for group, topics in stages:
            tps: list[TopicPartition] = []
            for topic in topics:
                tps += await _partitions(consumer, topic, timeout=timeout)
            ends = await probe.ends(tps)
            while True:
                committed = await admin.list_consumer_group_offsets(group, partitions=tps)
                behind = [
                    tp
                    for tp in tps
                    if ends[tp] > 0
                    and (committed.get(tp) is None or committed[tp].offset < ends[tp])
                ]
                if not behind:
                    break
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"timed out after {timeout}s: {len(behind)} partitions of {topics} behind"
                    )
                await asyncio.sleep(interval)
    finally:
        await probe.stop()
        await consumer.stop()
        await admin.close()


async def wait_until(
    condition: Callable[[], Any], *, timeout: float, interval: float = 0.2, what: str = "condition"
) -> Any:
    """Await `condition()` (sync or async) until truthy; raise TimeoutError naming `what`."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(interval)
