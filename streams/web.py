"""HTTP views on the worker's web port: `/metrics`, `/health/live`, `/health/ready`, and
the score API (`streams.score_api`: a person's live score, and its OpenAPI document).

The views run on the worker's event loop and never call the broker. Liveness only proves
the event loop answers, so a broker that is briefly away does not get the pod restarted.
Readiness needs stream partitions assigned, table recovery finished, a rulebook loaded and
no part of the pipeline blocked (a send that keeps failing, a crashed loop, the suppression
replica still reading: `streams.health`); a 503 names the checks that failed and what is
blocked.

The score API's two paths are always routed and answer 404 while no token is set.
Nothing else is served. Faust's own views would: `/table/...` serves table contents (personal
data), `/router/...`, `/graph`, `/stats` and `/performance` describe the cluster, and an index
page answers `/`. `streams.app` turns off each one that has a setting and `install_views`
drops Faust's blueprints altogether (the index has no setting). `SERVED_ROUTES` is the
allow-list: tests/integration/test_web_surface.py fails on any route the worker answers that
is not in it, so a new view is added here and there together.
"""

from __future__ import annotations

from typing import Any

import faust
import orjson
from faust.web import Request, Response, View
from faust.web.base import BlueprintManager
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from streams.metrics import Metrics
from streams.openapi import openapi_document
from streams.score_api import OPENAPI_PATH, PERSON_PATH, ScoreApi

__all__ = [
    "SERVED_ROUTES",
    "install_views",
    "readiness",
    "readiness_report",
    "stream_partitions",
    "tables_recovered",
]

#: Every (method, path) the worker's web server answers (aiohttp adds HEAD to each GET);
#: any other path is a 404, any other method a 405.
SERVED_ROUTES: frozenset[tuple[str, str]] = frozenset(
    {
        ("GET", "/metrics"),
        ("GET", "/health/live"),
        ("GET", "/health/ready"),
        ("GET", PERSON_PATH),
        ("GET", OPENAPI_PATH),
    }
)
# A path part may hold anything but `/`: aiohttp's default pattern also refuses `{` and `}`,
# which would get aiohttp's plain-text 404 instead of the API's JSON 400.
_PERSON_ROUTE = PERSON_PATH.replace("{domain}", "{domain:[^/]+}").replace(
    "{person_key}", "{person_key:[^/]+}"
)
_JSON = "application/json"


def readiness(app: Any) -> dict[str, bool]:
    """The readiness checks, each True or False. Called per request and by the observer's
    timer: cheap, no broker call, never raises (a check that cannot be evaluated fails)."""
    health = getattr(app, "followup_health", None)
    return {
        "partitions_assigned": _partitions_assigned(app),
        "tables_recovered": tables_recovered(app),
        "rulebook_loaded": getattr(app, "followup_rulebook", None) is not None,
        "pipeline_unblocked": health is not None and health.ok,
    }


def readiness_report(
    checks: dict[str, bool], blocked: dict[str, str] | None = None
) -> tuple[dict[str, Any], int]:
    """The body and status code of `/health/ready` for `checks`; `blocked` names the parts
    of the pipeline that cannot make progress, and why (`streams.health`)."""
    failed = sorted(name for name, ok in checks.items() if not ok)
    body: dict[str, Any] = {
        "status": "not_ready" if failed else "ready",
        "checks": checks,
        "failed": failed,
    }
    if blocked:
        body["blocked"] = dict(sorted(blocked.items()))
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


def tables_recovered(app: Any) -> bool:
    recovery = getattr(app.tables, "_recovery", None)
    return bool(recovery is not None and recovery.completed.is_set() and not recovery.in_recovery)


def install_views(app: faust.App, metrics: Metrics, score_api: ScoreApi, version: str) -> None:
    """Register our views on `app` and none of Faust's; called once by
    `streams.app.create_app`, before the web server starts (blueprints are mounted then).
    `version` is the build's, for the OpenAPI document."""
    app.web.blueprints = BlueprintManager([])
    document = orjson.dumps(openapi_document(version))
    off = orjson.dumps({"error": "not found"})

    @app.page(_PERSON_ROUTE)
    class PersonScoreView(View):
        async def get(self, request: Request, domain: str, person_key: str) -> Response:
            answer = await score_api.person(request, domain, person_key)
            return self.bytes(
                answer.body, content_type=_JSON, status=answer.status, headers=answer.headers
            )

    @app.page(OPENAPI_PATH)
    class OpenApiView(View):
        async def get(self, request: Request) -> Response:
            if not score_api.enabled:
                return self.bytes(off, content_type=_JSON, status=404)
            return self.bytes(document, content_type=_JSON)

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
            health = getattr(self.app, "followup_health", None)
            blocked = health.blocked if health is not None else None
            body, status = readiness_report(readiness(self.app), blocked)
            return self.json(body, status=status)
