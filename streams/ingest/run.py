"""Start and stop the HTTP ingest: settings in, a running aiohttp site and producer out."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from aiohttp import web
from aiokafka import AIOKafkaProducer

from signals.sources import SourceSet
from streams.errors import ConfigurationError
from streams.ingest.server import IngestService, create_ingest_app
from streams.kafka_security import client_kwargs
from streams.metrics import IngestMetrics
from streams.settings import Settings, secret_values
from streams.shutdown import until_terminated
from streams.topics import Topics

__all__ = ["RunningIngest", "ingest_tokens", "run_ingest", "start_ingest"]

log = logging.getLogger(__name__)


def ingest_tokens(settings: Settings) -> tuple[str, ...]:
    """The accepted bearer tokens. Raises `ConfigurationError` when there are none: the
    ingest never runs open."""
    try:
        tokens = secret_values(settings.ingest_token, settings.ingest_token_file)
    except OSError as exc:
        raise ConfigurationError(f"cannot read FOLLOWUP_INGEST_TOKEN_FILE: {exc}") from exc
    if not tokens:
        raise ConfigurationError(
            "set FOLLOWUP_INGEST_TOKEN or FOLLOWUP_INGEST_TOKEN_FILE: the ingest needs a token"
        )
    return tokens


@dataclass
class RunningIngest:
    runner: web.AppRunner
    producer: AIOKafkaProducer
    service: IngestService
    port: int

    async def stop(self) -> None:
        """Stop accepting requests, then flush and close the producer."""
        await self.runner.cleanup()
        await self.producer.stop()


async def start_ingest(
    settings: Settings, sources: SourceSet, *, metrics: IngestMetrics | None = None
) -> RunningIngest:
    """Connect the producer and bind the HTTP site. Raises `ConfigurationError` (no token)
    or the producer's connection error when the broker cannot be reached."""
    tokens = ingest_tokens(settings)
    producer = AIOKafkaProducer(
        **client_kwargs(settings),
        acks="all",
        linger_ms=2,
        max_request_size=settings.max_message_bytes + 256 * 1024,
    )
    await producer.start()
    service = IngestService(
        producer=producer,
        topics=Topics.from_settings(settings, sources=sources.topics),
        sources=sources,
        tokens=tokens,
        metrics=metrics or IngestMetrics(),
        max_message_bytes=settings.max_message_bytes,
    )
    service.connected = True
    app = create_ingest_app(service, max_body_bytes=settings.ingest_max_body_bytes)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, settings.ingest_host, settings.ingest_port)
    await site.start()
    port = runner.addresses[0][1] if runner.addresses else settings.ingest_port
    return RunningIngest(runner, producer, service, port)


def run_ingest(settings: Settings) -> None:
    """Block serving the ingest until SIGTERM or SIGINT. Raises `ConfigurationError`."""
    from streams.worker import load_sources_or_fail, prepare_topics

    sources = load_sources_or_fail(settings)
    ingest_tokens(settings)  # fail before touching the broker

    async def main() -> None:
        await prepare_topics(settings, sources)
        running = await start_ingest(settings, sources)
        log.info("ingest listening on http://%s:%d", settings.ingest_host, running.port)
        try:
            await until_terminated()
        finally:
            await running.stop()

    asyncio.run(main())
