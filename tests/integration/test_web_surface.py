"""The worker's HTTP surface is exactly `streams.web.SERVED_ROUTES`, nothing of Faust's.

Two views of the same app: the aiohttp router that `create_app` builds (every route it
holds, listed after Faust mounts its blueprints, as the worker does at start), and a real
`followup run` probed over HTTP for the allowed routes, other methods on them, and every
route of every Faust built-in blueprint (`/router/...`, `/table/...`, `/graph`, `/stats`,
`/performance`, the index at `/`).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest
from faust.web import base as faust_web
from mode.utils.imports import symbol_by_name
from pydantic import SecretStr

from rules.rulebook.loader import load_rulebook
from streams.app import create_app
from streams.broker import free_port
from streams.metrics import Metrics
from streams.settings import Settings
from streams.web import SERVED_ROUTES
from tests.support import wait_ready

pytestmark = pytest.mark.integration


def _router_routes(settings: Settings) -> set[tuple[str, str]]:
    settings = settings.model_copy(update={"web_port": free_port()})
    app = create_app(settings, rulebook=load_rulebook(settings.rulebook), metrics=Metrics())
    app.web.init_server()  # what the web service does when it starts: mount blueprints
    routes = set()
    for route in app.web.web_app.router.routes():  # type: ignore[attr-defined]
        info = route.resource.get_info() if route.resource is not None else {}
        routes.add((route.method, info.get("path") or info.get("formatter") or str(info)))
    # aiohttp answers HEAD wherever GET is served; that is part of declaring the GET.
    return {(m, p) for m, p in routes if not (m == "HEAD" and ("GET", p) in routes)}


def _faust_builtin_paths() -> set[str]:
    """Every path Faust's own blueprints would serve, with placeholders filled in."""
    blueprints = [
        *faust_web.DEFAULT_BLUEPRINTS,
        *faust_web.PRODUCTION_BLUEPRINTS,
        *faust_web.DEBUG_BLUEPRINTS,
        *faust_web.OPTIONAL_BLUEPRINTS,
    ]
    paths = set()
    for prefix, name in blueprints:
        for route in symbol_by_name(name).routes:
            uri = f"{prefix}{route.uri}".replace("{name}", "accounts").replace("{key}", "k")
            paths |= {uri, uri.rstrip("/") or "/"}
    return paths


def _status(
    port: int, path: str, method: str = "GET", headers: dict[str, str] | None = None
) -> int:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", method=method, headers=headers or {}
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def test_the_router_holds_only_the_declared_routes(settings: Settings) -> None:
    routes = _router_routes(settings)
    assert routes - SERVED_ROUTES == set(), "routes nobody declared in SERVED_ROUTES"
    assert SERVED_ROUTES - routes == set(), "declared routes the app does not serve"


def test_a_real_worker_answers_the_declared_routes_and_nothing_else(
    settings: Settings, start_worker: Any
) -> None:
    builtin = _faust_builtin_paths()
    assert {"/", "/router", "/table/accounts/", "/graph", "/assignment/"} <= builtin
    worker = start_worker(settings.model_copy(update={"score_api_token": SecretStr("tok")}))
    wait_ready(worker)
    port = worker.web_port
    auth = {"Authorization": "Bearer tok"}
    for method, path in sorted(SERVED_ROUTES):
        # A templated path is asked about someone nobody knows: the route answers, 404.
        concrete = path.format(domain="nobody.example", person_key="no@nobody.example")
        expected = 404 if concrete != path else 200
        assert _status(port, concrete, method, auth) == expected, path
        for other in ("POST", "PUT", "DELETE", "PATCH"):
            assert _status(port, concrete, other, auth) == 405, (other, path)
    # That 404 is the score API's own answer (the owner read its state), not a missing route.
    unknown = urllib.request.Request(
        f"http://127.0.0.1:{port}/v1/accounts/nobody.example/people/no@nobody.example",
        headers=auth,
    )
    with pytest.raises(urllib.error.HTTPError) as answer:
        urllib.request.urlopen(unknown, timeout=5)
    assert json.loads(answer.value.read()) == {"error": "no such account is known"}
    served = {path for _, path in SERVED_ROUTES}
    for path in [*sorted(builtin - served), "/nothing-here", "/metrics/x"]:
        assert _status(port, path) == 404, path
