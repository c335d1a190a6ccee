"""`streams.web`: readiness logic on fakes, and the real views of an app whose broker is
down (the app is built but never started, as while the broker is unreachable)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from faust.types import TP

from rules.rulebook.loader import load_rulebook
from streams.app import create_app
from streams.broker import free_port
from streams.health import Health
from streams.metrics import Metrics
from streams.settings import DEFAULT_RULEBOOK, Settings
from streams.web import readiness, readiness_report

CHANGELOG = "app-accounts-changelog"
ASSIGNED = frozenset({TP("signals", 0)})


class _Consumer:
    def __init__(self, assigned: frozenset[TP] | set[TP] | Exception) -> None:
        self.assigned = assigned

    def assignment(self) -> set[TP]:
        if isinstance(self.assigned, Exception):
            raise self.assigned
        return set(self.assigned)


def _app(
    *,
    assigned: frozenset[TP] | set[TP] | Exception | None = ASSIGNED,
    completed: bool = True,
    in_recovery: bool = False,
    rulebook: object | None = object(),
    blocked: dict[str, str] | None = None,
) -> Any:
    event = asyncio.Event()
    if completed:
        event.set()
    return SimpleNamespace(
        _consumer=None if assigned is None else _Consumer(assigned),
        agents={"ingest": SimpleNamespace(channel=SimpleNamespace(topics=("signals",)))},
        tables=SimpleNamespace(
            changelog_topics={CHANGELOG},
            _recovery=SimpleNamespace(completed=event, in_recovery=in_recovery),
        ),
        followup_rulebook=rulebook,
        followup_health=Health(dict(blocked or {})),
    )


ALL_OK = {
    "partitions_assigned": True,
    "tables_recovered": True,
    "rulebook_loaded": True,
    "pipeline_unblocked": True,
}


@pytest.mark.parametrize(
    ("app", "failed"),
    [
        (_app(), None),
        (_app(assigned=None), "partitions_assigned"),  # consumer not created yet
        (_app(assigned=RuntimeError("consumer not started")), "partitions_assigned"),
        (_app(assigned=set()), "partitions_assigned"),
        (_app(assigned={TP(CHANGELOG, 0)}), "partitions_assigned"),  # standby copies only
        (_app(assigned={TP("app-__assignor-__leader", 0)}), "partitions_assigned"),
        (_app(completed=False), "tables_recovered"),
        (_app(in_recovery=True), "tables_recovered"),
        (_app(rulebook=None), "rulebook_loaded"),
        (
            _app(blocked={"score": "produce failing (KafkaTimeoutError); retrying"}),
            "pipeline_unblocked",
        ),
    ],
)
def test_readiness_checks(app: Any, failed: str | None):
    expected = dict(ALL_OK)
    if failed is not None:
        expected[failed] = False
    assert readiness(app) == expected


def test_readiness_report_names_the_failed_checks():
    assert readiness_report(ALL_OK) == ({"status": "ready", "checks": ALL_OK, "failed": []}, 200)
    checks = {**ALL_OK, "tables_recovered": False, "partitions_assigned": False}
    body, status = readiness_report(checks)
    assert status == 503
    assert body == {
        "status": "not_ready",
        "checks": checks,
        "failed": ["partitions_assigned", "tables_recovered"],
    }


def test_readiness_report_says_what_is_blocked():
    blocked = {"router": "produce failing (KafkaTimeoutError); retrying"}
    body, status = readiness_report({**ALL_OK, "pipeline_unblocked": False}, blocked)
    assert status == 503 and body["blocked"] == blocked
    assert body["failed"] == ["pipeline_unblocked"]


def test_views_of_an_app_whose_broker_is_down(tmp_path: Path):
    settings = Settings(
        broker_url=f"kafka://127.0.0.1:{free_port()}",  # nothing listens there
        store="memory",
        state_dir=tmp_path / "state",
        web_port=free_port(),  # not bound: the test server below serves the views
    )
    metrics = Metrics()
    app = create_app(settings, rulebook=load_rulebook(DEFAULT_RULEBOOK), metrics=metrics)
    app.web.init_server()

    async def get_all() -> dict[str, tuple[int, Any]]:
        out = {}
        async with TestClient(TestServer(app.web.web_app)) as client:
            for path in (
                "/health/live",
                "/health/ready",
                "/metrics",
                "/table/",
                "/table/accounts/",
            ):
                response = await client.get(path)
                body = await (response.json() if path.startswith("/health") else response.text())
                out[path] = (response.status, body)
        return out

    got = asyncio.run(asyncio.wait_for(get_all(), timeout=20))
    assert got["/health/live"] == (200, {"status": "ok"})
    status, body = got["/health/ready"]
    assert status == 503
    assert body["status"] == "not_ready"
    assert body["failed"] == ["partitions_assigned", "tables_recovered"]
    status, text = got["/metrics"]
    assert status == 200
    assert "followup_worker_ready 0.0" in text
    # Faust's /table views would serve table contents: they must not exist.
    assert got["/table/"][0] == 404
    assert got["/table/accounts/"][0] == 404
