"""Fixtures of the chaos tier: a broker of its own per scenario, tight worker settings, the
seeded history and the fleet of workers.

The seed comes from `CHAOS_SEED` (default 7) and is printed by every scenario; the same
seed gives the same history, fault choices and fault timing.
"""

from __future__ import annotations

import asyncio
import os
import signal
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from streams.broker import EmbeddedBroker
from streams.settings import Settings
from tests.chaos.fleet import Fleet
from tests.chaos.history import History, build_history
from tests.chaos.runner import Faults, Scenario

DEFAULT_SEED = 7


@pytest.fixture
def seed() -> int:
    value = int(os.environ.get("CHAOS_SEED", DEFAULT_SEED))
    print(f"chaos seed {value} (set CHAOS_SEED to replay another)")
    return value


@pytest.fixture
def chaos_broker() -> Iterator[EmbeddedBroker]:
    """A broker for this scenario alone: scenarios stop, pause and flood it."""
    broker = EmbeddedBroker.start()
    try:
        yield broker
    finally:
        if broker.process.poll() is None:
            broker.process.send_signal(signal.SIGCONT)  # a paused broker cannot terminate
        broker.stop()


@pytest.fixture
def chaos_settings(chaos_broker: EmbeddedBroker, tmp_path: Path) -> Settings:
    suffix = uuid.uuid4().hex[:10]
    topics = {
        name: f"c-{suffix}.{field.default}"
        for name, field in Settings.model_fields.items()
        if name.startswith("topic_")
    }
    return Settings(
        broker_url=chaos_broker.url,
        app_id=f"chaos-{suffix}",
        state_dir=tmp_path / "state",
        web_port=0,
        partitions=6,
        # Small batches and fast commits: a kill lands between many commits.
        batch_size=50,
        batch_seconds=0.02,
        commit_interval_seconds=0.3,
        session_timeout_seconds=6.0,
        rebalance_timeout_seconds=6.0,
        stall_after_seconds=15.0,  # streams.watchdog: rejoin a stalled partition
        log_level="info",
        clock="event",  # the history is dated in the past: judge it by its own time
        **topics,
    )


@pytest.fixture
def history(chaos_settings: Settings, seed: int) -> History:
    return build_history(chaos_settings, seed)


@pytest.fixture
def fleet(chaos_settings: Settings, tmp_path: Path) -> Iterator[Fleet]:
    workers = Fleet(chaos_settings, tmp_path)
    try:
        yield workers
    finally:
        workers.stop_all()


def play(
    request: pytest.FixtureRequest,
    name: str,
    settings: Settings,
    history: History,
    fleet: Fleet,
    *,
    workers: int,
    rate: float,
    faults: Faults | None = None,
) -> Scenario:
    """Start `workers` workers (w1, w2, ...), run the scenario with `faults` and `finish` it."""
    for n in range(1, workers + 1):
        fleet.start(f"w{n}")
    scenario = Scenario(name, settings, history, fleet, rate=rate)
    asyncio.run(scenario.run(faults))
    finish(scenario, request)
    return scenario


def finish(
    scenario: Scenario, request: pytest.FixtureRequest, problems: list[str] | None = None
) -> None:
    """Print and keep the scenario's figures; on failure (a failed run, the verifier's
    verdict, a worker crash or one of the scenario's own `problems`) explain and fail."""
    report = scenario.report()
    cache = getattr(request.config, "cache", None)  # absent under -p no:cacheprovider
    if cache is not None:
        cache.set(f"chaos/{scenario.name}", report)
    print(f"chaos[{scenario.name}] figures {report}")
    problems = list(problems or ())
    if scenario.failure:
        problems.append(scenario.failure)
    assert scenario.verdict is not None
    if not scenario.verdict.ok:
        problems.append(scenario.verdict.line())
    if scenario.fleet.crashes:
        problems.append(f"{len(scenario.fleet.crashes)} worker crashes")
    problems += [f"agent crashed: {line}" for line in scenario.fleet.agent_crashes()]
    if os.environ.get("CHAOS_KEEP_TOPICS") and not problems:
        print(f"chaos[{scenario.name}] topics kept in {asyncio.run(scenario.dump_topics())}")
    if problems:
        for line in asyncio.run(scenario.explain()):
            print(f"chaos[{scenario.name}] {line}")
        for problem in problems:  # printed too: an xfail report does not show the message
            print(f"chaos[{scenario.name}] problem: {problem}")
        pytest.fail("; ".join(problems), pytrace=False)
