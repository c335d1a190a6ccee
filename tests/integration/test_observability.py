"""What an SRE sees: the worker's metrics read back through a real Prometheus server, its
health views, and the gauges that follow rebalances and table recovery.

Prometheus (Debian's `prometheus` binary, installed by `make tools`) scrapes the real
`followup run` process every second; values are read back with its HTTP query API.
"""

from __future__ import annotations

import asyncio
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from rules.rulebook.loader import load_rulebook
from streams.broker import free_port
from streams.local import WorkerProcess, produce, wait_until
from streams.local import is_ready as ready
from streams.settings import Settings
from streams.topics import Topics
from tests.conftest import scrape
from tests.prom import PrometheusServer, promtool_check_metrics
from tests.support import (
    cold_history,
    expected_windows,
    hot_history,
    read_windows,
    records_on_one_topic,
    wait_caught_up,
)

pytestmark = pytest.mark.integration

START = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)
ALERTS = Path(__file__).resolve().parents[2] / "deploy" / "prometheus" / "alerts.yml"


@pytest.fixture
def prometheus(tmp_path: Path) -> Iterator[Callable[..., PrometheusServer]]:
    """Start Prometheus servers scraping given targets; each is stopped at teardown."""
    started: list[PrometheusServer] = []

    def start(*targets: str) -> PrometheusServer:
        server = PrometheusServer.start(
            tmp_path / f"prometheus-{len(started)}",
            port=free_port(),
            targets=list(targets),
            rule_files=[ALERTS],
        )
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def _eventually(
    fetch: Callable[[], Any],
    what: str,
    *,
    until: Callable[[Any], bool] = bool,
    timeout: float = 60.0,
) -> Any:
    """Poll `fetch()` until `until(value)`; on timeout, say what it last returned."""
    last: list[Any] = [None]

    def probe() -> bool:
        last[0] = fetch()
        return until(last[0])

    try:
        asyncio.run(wait_until(probe, timeout=timeout, interval=0.5, what=what))
    except TimeoutError as exc:
        raise AssertionError(f"{exc}; last value: {last[0]!r}") from None
    return last[0]


def _wait_ready(worker: WorkerProcess, timeout: float = 90.0) -> None:
    def check() -> bool:
        if not worker.alive:
            raise AssertionError("worker exited:\n" + worker.log_tail())
        return ready(worker.web_port)  # type: ignore[attr-defined]

    _eventually(check, "worker readiness", timeout=timeout)


def _status(port: int, path: str) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def _samples(port: int, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    """The samples named `name` in one scrape of the worker, by their sorted labels."""
    out = {}
    for family in text_string_to_metric_families(scrape(port)):
        for sample in family.samples:
            if sample.name == name:
                out[tuple(sorted(sample.labels.items()))] = sample.value
    return out


def _lag_partitions(port: int) -> set[tuple[str, str]]:
    return {
        (dict(labels)["topic"], dict(labels)["partition"])
        for labels in _samples(port, "followup_consumer_lag_messages")
    }


def _stream_partitions(settings: Settings) -> set[tuple[str, str]]:
    topics = Topics.from_settings(settings)
    return {
        (topic, str(p))
        for topic in (*topics.inputs, topics.keyed)
        for p in range(settings.partitions)
    }


def test_prometheus_reads_back_what_the_worker_did(settings, start_worker, prometheus):
    worker = start_worker(settings)
    port = worker.web_port
    _wait_ready(worker)
    records = records_on_one_topic(
        settings.topic_page_visited, [*hot_history("obs", START), *cold_history("cold", START)]
    )
    windows = len(expected_windows(settings, records))
    assert windows > 0
    asyncio.run(produce(settings, records))
    wait_caught_up(settings)

    # Health views, and faust's /table views (they would serve personal data) are off.
    assert _status(port, "/health/live") == 200
    assert _status(port, "/health/ready") == 200
    for path in ("/table/", "/table/accounts/", "/table/prospects/", "/table/accounts/x/"):
        assert _status(port, path) == 404, path

    promtool_check_metrics(scrape(port))

    prom = prometheus(f"127.0.0.1:{port}")
    inputs = "|".join(Topics.from_settings(settings).inputs)
    partitions = _stream_partitions(settings)

    _eventually(
        lambda: prom.scalar("sum(followup_events_consumed_total)"),
        "Prometheus to see every consumed event",
        until=lambda value: value == len(records),
    )
    _eventually(
        lambda: prom.scalar("sum(followup_windows_opened_total)"),
        "Prometheus to see the windows opened",
        until=lambda value: value == windows,
    )
    assert prom.scalar('up{job="followup-worker"}') == 1
    assert prom.scalar("followup_worker_ready") == 1
    # Lag: a series for each partition this (only) worker consumes, 0 once caught up.
    _eventually(
        lambda: {
            (s["metric"]["topic"], s["metric"]["partition"]): float(s["value"][1])
            for s in prom.query("followup_consumer_lag_messages")
        },
        "one lag series per stream partition, all at 0",
        until=lambda lag: partitions <= set(lag) and {lag[p] for p in partitions} == {0.0},
        timeout=30,
    )
    input_lag = prom.query(f'followup_consumer_lag_messages{{topic=~"{inputs}"}}')
    assert len(input_lag) == 4 * settings.partitions
    assert {float(s["value"][1]) for s in input_lag} == {0.0}

    rulebook = load_rulebook(settings.rulebook)
    [info] = prom.query("followup_rulebook_info")
    assert info["metric"]["version"] == rulebook.version
    assert info["metric"]["hash"] == rulebook.hash
    assert (prom.scalar("followup_rebalances_total") or 0) >= 1
    assert prom.scalar("followup_table_recoveries_total") == 0  # nothing to restore: fresh
    assert {"accounts", "prospects"} <= {
        s["metric"]["table"] for s in prom.query("followup_table_keys")
    }

    # Every alert rule evaluates against the real series without an error.
    groups = prom.api("rules")["groups"]
    rules = [rule for group in groups for rule in group["rules"]]
    assert rules, "alerts.yml was not loaded"
    _eventually(
        lambda: (
            [
                (r["name"], r.get("lastError"))
                for g in prom.api("rules")["groups"]
                for r in g["rules"]
                if r["health"] != "ok"
            ]
            == []
        ),
        "every alert rule to evaluate healthy",
        timeout=20,
    )


def test_lag_and_table_gauges_follow_rebalances_and_recovery(settings, start_worker, tmp_path):
    first = start_worker(settings, name="first")
    _wait_ready(first)
    records = records_on_one_topic(settings.topic_page_visited, hot_history("rec", START))
    asyncio.run(produce(settings, records))
    # The window proves the score agent ran, so the tables and their changelogs hold state.
    assert len(read_windows(settings, count=1)) == 1
    wait_caught_up(settings)
    # Alone in the group, the first worker exports the lag of every partition it consumes.
    everything = _eventually(
        lambda: _lag_partitions(first.web_port),
        "lag on every partition",
        until=lambda exported: _stream_partitions(settings) <= exported,
    )
    assert first.stop() == 0

    # A replacement with empty local state restores the tables from their changelogs.
    second = start_worker(
        settings.model_copy(update={"state_dir": tmp_path / "state-second"}), name="second"
    )
    _wait_ready(second)
    assert _samples(second.web_port, "followup_table_recoveries_total") == {(): 1.0}
    _eventually(
        lambda: _samples(second.web_port, "followup_table_keys").get((("table", "accounts"),)),
        "the restored accounts to be counted",
        timeout=30,
    )

    # A second worker joins: each partition's lag is exported by exactly one of them.
    third = start_worker(
        settings.model_copy(update={"state_dir": tmp_path / "state-third"}), name="third"
    )
    _wait_ready(third)

    def split() -> tuple[set[tuple[str, str]], set[tuple[str, str]]]:
        return _lag_partitions(second.web_port), _lag_partitions(third.web_port)

    _eventually(
        split,
        "lag series split between the two workers",
        until=lambda ab: (
            bool(ab[0]) and bool(ab[1]) and not ab[0] & ab[1] and ab[0] | ab[1] == everything
        ),
        timeout=60,
    )
    for worker in (second, third):
        rebalances = _samples(worker.web_port, "followup_rebalances_total")[()]
        assert rebalances >= 1
