"""Running the sinks: standalone (`followup sink`) or in a worker (`FOLLOWUP_SINK_IN_WORKER`)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from streams.errors import ConfigurationError
from streams.metrics import SinkMetrics
from streams.settings import Settings
from streams.shutdown import until_terminated
from streams.sinks.service import SinkService
from streams.sinks.targets import Target, targets_from_settings

__all__ = ["install_sinks", "run_sink", "sink_web_app"]

log = logging.getLogger(__name__)


def _targets(settings: Settings) -> list[Target]:
    targets = targets_from_settings(settings)
    if not targets:
        raise ConfigurationError(
            "no sink configured: set FOLLOWUP_SINK_WEBHOOK_URLS or FOLLOWUP_SINK_SLACK_WEBHOOK_URL"
        )
    return targets


def sink_web_app(service: SinkService, metrics: SinkMetrics) -> web.Application:
    """`/metrics`, `/health/live` and `/health/ready` (partitions assigned) of `followup sink`."""

    async def metrics_view(request: web.Request) -> web.Response:
        body = generate_latest(metrics.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def live(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def ready(request: web.Request) -> web.Response:
        ok = service.assigned.is_set()
        return web.json_response(
            {"status": "ready" if ok else "not_ready"}, status=200 if ok else 503
        )

    app = web.Application()
    app.router.add_get("/metrics", metrics_view)
    app.router.add_get("/health/live", live)
    app.router.add_get("/health/ready", ready)
    return app


def run_sink(settings: Settings) -> None:
    """Block delivering windows until SIGTERM or SIGINT. Raises `ConfigurationError`."""
    from streams.worker import prepare_topics

    targets = _targets(settings)

    async def main() -> None:
        await prepare_topics(settings)
        metrics = SinkMetrics()
        service = SinkService(settings, targets, metrics)
        runner = web.AppRunner(sink_web_app(service, metrics), access_log=None)
        await runner.setup()
        await web.TCPSite(runner, settings.web_host, settings.sink_port).start()
        stop = asyncio.Event()
        log.info("sink delivering to %s", ", ".join(f"{t.kind} {t.label}" for t in targets))
        delivering = asyncio.create_task(service.run(stop))
        terminated = asyncio.create_task(until_terminated())
        try:
            await asyncio.wait({delivering, terminated}, return_when=asyncio.FIRST_COMPLETED)
            stop.set()
            await delivering  # re-raises if the service failed on its own
        finally:
            terminated.cancel()
            await runner.cleanup()

    asyncio.run(main())


def install_sinks(app: Any, settings: Settings, registry: Any) -> SinkService | None:
    """Run the sinks as a task of the Faust `app` when `FOLLOWUP_SINK_IN_WORKER` is set.

    Called by `streams.worker.run_worker` after the app is built; the task is cancelled when
    the worker stops (the service commits what it finished). Returns the service, or None.
    """
    if not settings.sink_in_worker:
        return None
    service = SinkService(settings, _targets(settings), SinkMetrics(registry))

    async def _deliver_windows() -> None:
        await service.run()

    app.task(_deliver_windows)
    return service
