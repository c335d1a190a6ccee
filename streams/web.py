"""HTTP views on the worker's web port: `/metrics`, `/health/live`, `/health/ready`.

Liveness only proves the event loop answers, so a broker that is briefly away does not get
the pod restarted. Readiness needs partitions assigned, table recovery finished and a
rulebook loaded.
"""

from __future__ import annotations

from typing import Any

import faust
from faust.web import Request, Response, View
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from streams.metrics import Metrics

__all__ = ["install_views", "readiness"]


def readiness(app: Any) -> dict[str, bool]:
    """The readiness checks, each True or False. Called per request: keep it cheap."""
    consumer = getattr(app, "_consumer", None)
    assigned = bool(consumer is not None and consumer.assignment())
    recovery = getattr(app.tables, "_recovery", None)
    recovered = bool(
        recovery is not None and recovery.completed.is_set() and not recovery.in_recovery
    )
    return {
        "partitions_assigned": assigned,
        "tables_recovered": recovered,
        "rulebook_loaded": getattr(app, "followup_rulebook", None) is not None,
    }


def install_views(app: faust.App, metrics: Metrics) -> None:
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
            checks = readiness(self.app)
            ok = all(checks.values())
            return self.json(
                {"status": "ready" if ok else "not_ready", "checks": checks},
                status=200 if ok else 503,
            )
