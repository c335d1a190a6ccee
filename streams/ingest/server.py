"""`followup ingest`: an HTTP way in for teams that do not write to Kafka.

    POST /v1/events            JSON array of contract events (signals, outreach activity,
                               CRM contacts); `?source=NAME` (or header `X-Followup-Source`)
                               for an array in a declared source's format instead
    POST /v1/segment           what Segment's webhook destination sends: one event, an
                               array, or `{"batch": [...]}`; `?source=NAME` picks the source
                               (default: the first declared segment or rudderstack source)
    GET  /health/live|ready    liveness; readiness = the producer is connected
    GET  /metrics              Prometheus

Every POST needs `Authorization: Bearer <token>` (401 otherwise). Bodies past
`FOLLOWUP_INGEST_MAX_BODY_BYTES` get 413. A usable request gets 202 with the accepted,
rejected and unmapped counts and the reason of each rejection, and only after the broker
has acknowledged every accepted record: each delivery future is awaited. If any delivery
fails, the answer is 503 and the caller retries the whole request; redelivered records are
harmless (the engine deduplicates by `event_id`).
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import Sequence

from aiohttp import web
from aiokafka import AIOKafkaProducer
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from signals.sources import CompiledSource, SourceSet
from streams.ingest.plan import BodyError, Plan, plan_contract, plan_source, split_body
from streams.metrics import IngestMetrics
from streams.topics import Topics

__all__ = ["IngestService", "bearer_ok", "create_ingest_app"]

log = logging.getLogger(__name__)
MAX_BODY = web.AppKey("max_body", int)


def bearer_ok(header: str | None, tokens: Sequence[str]) -> bool:
    """True when `header` is `Bearer <one of tokens>` (constant-time comparison)."""
    if not header or not tokens:
        return False
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer" or not given:
        return False
    given_bytes = given.strip().encode()
    return any(hmac.compare_digest(given_bytes, t.encode()) for t in tokens)


class IngestService:
    """The handlers' shared state: producer, topics, sources, tokens, limits, metrics."""

    def __init__(
        self,
        *,
        producer: AIOKafkaProducer,
        topics: Topics,
        sources: SourceSet,
        tokens: Sequence[str],
        metrics: IngestMetrics,
        max_message_bytes: int,
    ) -> None:
        self.producer = producer
        self.topics = topics
        self.sources = sources
        self.tokens = tuple(tokens)
        self.metrics = metrics
        self.max_message_bytes = max_message_bytes
        self.connected = False

    async def events(self, request: web.Request) -> web.Response:
        name = request.query.get("source") or request.headers.get("X-Followup-Source")
        source = None
        if name:
            source = self.sources.named(name)
            if source is None:
                return _error(404, f"no source named {name!r} is declared")
        return await self._handle(request, "/v1/events", source, segment=False)

    async def segment(self, request: web.Request) -> web.Response:
        name = request.query.get("source")
        source = self.sources.named(name) if name else self._default_segment()
        if source is None or source.source.format not in ("segment", "rudderstack"):
            return _error(404, "no segment or rudderstack source is declared (FOLLOWUP_SOURCES)")
        return await self._handle(request, "/v1/segment", source, segment=True)

    def _default_segment(self) -> CompiledSource | None:
        return next(
            (s for s in self.sources if s.source.format in ("segment", "rudderstack")), None
        )

    async def _handle(
        self, request: web.Request, endpoint: str, source: CompiledSource | None, *, segment: bool
    ) -> web.Response:
        response = await self._answer(request, endpoint, source, segment=segment)
        self.metrics.requests.labels(endpoint, str(response.status)).inc()
        return response

    async def _answer(
        self, request: web.Request, endpoint: str, source: CompiledSource | None, *, segment: bool
    ) -> web.Response:
        if not bearer_ok(request.headers.get("Authorization"), self.tokens):
            return _error(401, "a valid bearer token is required", {"WWW-Authenticate": "Bearer"})
        try:
            raw = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return _error(413, f"body larger than {request.app[MAX_BODY]} bytes")
        items = split_body(raw, segment=segment)
        if isinstance(items, BodyError):
            return _error(400, items.detail)
        if source is None:
            plan = plan_contract(items, self.topics, max_bytes=self.max_message_bytes)
        else:
            plan = plan_source(items, source, max_bytes=self.max_message_bytes)
        failed = await self._produce(plan)
        self._count(endpoint, plan)
        body = {
            "accepted": len(plan.accepted),
            "rejected": len(plan.rejected),
            "unmapped": len(plan.unmapped),
            "rejections": plan.rejected,
            "unmapped_events": plan.unmapped,
        }
        if failed:
            body = {"error": "the broker did not acknowledge every record; retry", **body}
            body["accepted"] = len(plan.accepted) - failed
            return web.json_response(body, status=503, headers={"Retry-After": "1"})
        return web.json_response(body, status=202)

    async def _produce(self, plan: Plan) -> int:
        """Send every accepted record and wait for each acknowledgement; return failures."""
        if not plan.accepted:
            return 0
        futures = []
        failed = 0
        for _, out in plan.accepted:
            try:
                futures.append(
                    await self.producer.send(out.topic, out.value, key=out.key, headers=out.headers)
                )
            except Exception as exc:  # the producer refused it outright (closed, too large)
                log.error("ingest: send to %s failed: %s", out.topic, type(exc).__name__)
                failed += 1
        results = await asyncio.gather(*futures, return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                log.error("ingest: delivery failed: %s", type(result).__name__)
                failed += 1
        return failed

    def _count(self, endpoint: str, plan: Plan) -> None:
        records = self.metrics.records
        if plan.accepted:
            records.labels(endpoint, "accepted", "").inc(len(plan.accepted))
        for item in plan.rejected:
            records.labels(endpoint, "rejected", item["reason"]).inc()
        for item in plan.unmapped:
            records.labels(endpoint, "unmapped", item["reason"]).inc()

    async def live(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def ready(self, request: web.Request) -> web.Response:
        ok = self.connected
        return web.json_response(
            {"status": "ready" if ok else "not_ready"}, status=200 if ok else 503
        )

    async def metrics_view(self, request: web.Request) -> web.Response:
        return web.Response(
            body=generate_latest(self.metrics.registry),
            headers={"Content-Type": CONTENT_TYPE_LATEST},
        )


def _error(status: int, detail: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"error": detail}, status=status, headers=headers)


def create_ingest_app(service: IngestService, *, max_body_bytes: int) -> web.Application:
    """The aiohttp application; `client_max_size` makes aiohttp refuse larger bodies."""
    app = web.Application(client_max_size=max_body_bytes)
    app[MAX_BODY] = max_body_bytes
    app.router.add_post("/v1/events", service.events)
    app.router.add_post("/v1/segment", service.segment)
    app.router.add_get("/health/live", service.live)
    app.router.add_get("/health/ready", service.ready)
    app.router.add_get("/metrics", service.metrics_view)
    return app
