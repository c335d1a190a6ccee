"""HTTP views on the worker's web port: `/metrics`, `/health/live`, `/health/ready`.

The views run on the worker's event loop and never call the broker. Liveness only proves
the event loop answers, so a broker that is briefly away does not get the pod restarted.
Readiness needs stream partitions assigned, table recovery finished and a rulebook loaded;
a 503 names the checks that failed.

Faust's own `/table/...` views would serve table contents (personal data): `streams.app`
turns them off with `web_tables_enabled=False`, and the tests check they answer 404.
"""

from __future__ import annotations

from typing import Any

import faust
from faust.web import Request, Response, View
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from streams.metrics import Metrics

__all__ = ["install_views", "readiness", "readiness_report", "stream_partitions"]


def readiness(app: Any) -> dict[str, bool]:
    """The readiness checks, each True or False. Called per request and by the observer's
    timer: cheap, no broker call, never raises (a check that cannot be evaluated fails)."""
    return {
        "partitions_assigned": _partitions_assigned(app),
        "tables_recovered": _tables_recovered(app),
        "rulebook_loaded": getattr(app, "followup_rulebook", None) is not None,
    }


def readiness_report(checks: dict[str, bool]) -> tuple[dict[str, Any], int]:
    """The body and status code of `/health/ready` for `checks`."""
    failed = sorted(name for name, ok in checks.items() if not ok)
    body = {"status": "not_ready" if failed else "ready", "checks": checks, "failed": failed}
    return body, 503 if failed else 200


def stream_partitions(app: Any) -> set[Any]:
    """This worker's assigned partitions of the topics its agents read: no changelog
    (standby copies), no faust leader-election topic. Raises while faust's consumer is not
    started (`ConsumerNotStarted`)."""
    # `app._consumer` rather than `app.consumer`: the property would create a consumer.
    consumer = getattr(app, "_consumer", None)
    if consumer is None:
        return set()
    topics = {name for agent in app.agents.values() for name in agent.channel.topics}
    return {tp for tp in consumer.assignment() if tp.topic in topics}


def _partitions_assigned(app: Any) -> bool:
    try:
        return bool(stream_partitions(app))
    except Exception:  # the consumer cannot say yet: not ready
        return False


def _tables_recovered(app: Any) -> bool:
    recovery = getattr(app.tables, "_recovery", None)
    return bool(recovery is not None and recovery.completed.is_set() and not recovery.in_recovery)


def install_views(app: faust.App, metrics: Metrics) -> None:
    """Register the three views on `app`; called once by `streams.app.create_app`."""

    @app.page("/metrics")
    class MetricsView(View):
        async def get(self, request: Request) -> Response:
            metrics.ready.set(1 if all(readiness(self.app).values()) else 0)
            return self.bytes(
                generate_latest(metrics.registry),
                # aiohttp refuses a charset inside content_type; a full header is allowed.
                headers={"Content-Type": CONTENT_TYPE_LATEST},
            )

    @app.page("/health/live")
    class LiveView(View):
        async def get(self, request: Request) -> Response:
            return self.json({"status": "ok"})

    @app.page("/health/ready")
    class ReadyView(View):
        async def get(self, request: Request) -> Response:
            body, status = readiness_report(readiness(self.app))
            return self.json(body, status=status)
