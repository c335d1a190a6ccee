"""Fixtures shared by the broker-backed tiers (tests/integration, tests/faults).

One embedded broker per test session (started only if a test asks for it); every test gets
its own uuid-suffixed topics, consumer group and state directory, so tests never see each
other's records.
"""

from __future__ import annotations

import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from hypothesis import settings as hypothesis_settings

from streams.broker import EmbeddedBroker
from streams.local import WorkerProcess
from streams.settings import Settings

if TYPE_CHECKING:
    from tests.secured_broker import SecuredBroker

# Shared 2-core machines: a per-example deadline fails tests on load, not on bugs.
hypothesis_settings.register_profile("default", deadline=None, print_blob=True)
hypothesis_settings.load_profile("default")


@pytest.fixture(scope="session")
def broker() -> Iterator[EmbeddedBroker]:
    b = EmbeddedBroker.start()
    try:
        yield b
    finally:
        b.stop()


@pytest.fixture(scope="session")
def secured_broker(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[[str], SecuredBroker]]:
    """`secured_broker(kind)`: the embedded broker behind TLS and/or SASL terminators (kind
    sasl, ssl, mtls or sasl_ssl; see tests/secured_broker.py), one per kind per session.
    Its `.security` holds the settings a client needs, credentials aside (`USERS`)."""
    from tests.pki import make_pki
    from tests.secured_broker import start_secured

    directory = tmp_path_factory.mktemp("secured")
    pki = make_pki(directory / "pki")
    started: dict[str, SecuredBroker] = {}

    def get(kind: str) -> SecuredBroker:
        if kind not in started:
            started[kind] = start_secured(kind, pki, directory)
        return started[kind]

    try:
        yield get
    finally:
        for secured in started.values():
            secured.stop()


@pytest.fixture
def settings(broker: EmbeddedBroker, tmp_path: Path) -> Settings:
    """Settings for one test: every topic and the consumer group carry a fresh suffix."""
    suffix = uuid.uuid4().hex[:10]
    topics = {
        name: f"t-{suffix}.{field.default}"
        for name, field in Settings.model_fields.items()
        if name.startswith("topic_")
    }
    return Settings(
        broker_url=broker.url,
        app_id=f"test-{suffix}",
        state_dir=tmp_path / "state",
        web_port=0,
        partitions=4,
        batch_seconds=0.02,
        commit_interval_seconds=0.3,
        # A stalled partition is found and rejoined within a test's deadlines.
        stall_after_seconds=15.0,
        log_level="info",
        # Tests replay histories from days ago: judge freshness by their event time, as
        # a backfill would (tests/integration/test_freshness.py covers the wall clock).
        clock="event",
        **topics,
    )


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        return str(response.read().decode())


@pytest.fixture
def start_worker(
    tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Callable[..., WorkerProcess]]:
    """Start `followup run` processes; each is stopped (and its log shown on failure)."""
    from streams.broker import free_port

    started: list[WorkerProcess] = []

    def start(settings: Settings, *, name: str = "worker") -> WorkerProcess:
        if settings.web_port == 0:
            settings = settings.model_copy(update={"web_port": free_port()})
        worker = WorkerProcess.start(settings, tmp_path / f"{name}-{len(started)}.log")
        worker.web_port = settings.web_port  # type: ignore[attr-defined]
        started.append(worker)
        return worker

    yield start
    failed = getattr(request.node, "rep_call", None)
    for worker in started:
        worker.stop()
        if failed is not None and failed.failed:
            print(f"--- {worker.log_path} ---\n{worker.log_tail(80)}")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    report = yield
    if report.when == "call":
        item.rep_call = report  # type: ignore[attr-defined]
    return report
