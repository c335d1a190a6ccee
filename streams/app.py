"""Build the Faust app from settings: topics, tables, agents and web views.

Nothing here runs at import time; `create_app` is called once per worker process.
"""

from __future__ import annotations

from typing import Any

import faust

from rules.rulebook.model import Rulebook
from signals.sources import SourceSet
from streams.agents import Pipeline
from streams.clock import Clock, utc_now
from streams.kafka_security import faust_credentials
from streams.metrics import Metrics
from streams.observe import install_observers
from streams.reload import install_reload
from streams.routing import ROUTE_HEADER, TICK
from streams.settings import Settings
from streams.topics import Topics
from streams.web import install_views

__all__ = ["create_app"]


def _install_fetch_wait() -> None:
    """Let each app set its consumers' fetch wait (faust-streaming fixes it at 1,500 ms).

    aiokafka reads `_fetch_max_wait_ms` when the consumer starts, so setting it right after
    Faust creates the consumer is enough. Private names of the pinned faust-streaming and
    aiokafka versions; the demo's live step measures the effect.
    """
    from faust.transport.drivers import aiokafka as driver

    cls = driver.AIOKafkaConsumerThread
    if getattr(cls, "_followup_fetch_wait", False):
        return
    create = cls._create_worker_consumer

    def create_with_wait(self: Any, transport: Any) -> Any:
        consumer = create(self, transport)
        wait = getattr(self.app, "followup_fetch_max_wait_ms", None)
        if wait is not None:
            consumer._fetch_max_wait_ms = wait
        return consumer

    cls._create_worker_consumer = create_with_wait  # type: ignore[method-assign]
    cls._followup_fetch_wait = True  # type: ignore[attr-defined]


def create_app(
    settings: Settings,
    *,
    rulebook: Rulebook,
    metrics: Metrics,
    clock: Clock = utc_now,
    sources: SourceSet | None = None,
) -> faust.App:
    sources = sources if sources is not None else SourceSet.empty()
    topics = Topics.from_settings(settings, sources=sources.topics)
    app = faust.App(
        settings.app_id,
        broker=settings.broker_url,
        broker_credentials=faust_credentials(settings),
        store="rocksdb://" if settings.store == "rocksdb" else "memory://",
        datadir=str(settings.state_dir),
        topic_partitions=settings.partitions,
        topic_replication_factor=settings.replication_factor,
        # The embedded broker has no transactions: at-least-once, idempotent effects.
        processing_guarantee="at_least_once",
        broker_commit_interval=settings.commit_interval_seconds,
        broker_rebalance_timeout=settings.rebalance_timeout_seconds,
        broker_session_timeout=settings.session_timeout_seconds,
        broker_heartbeat_interval=min(1.0, settings.session_timeout_seconds / 3),
        broker_max_poll_records=settings.batch_size * 2,
        stream_buffer_maxsize=settings.batch_size * 8,
        consumer_auto_offset_reset="earliest",
        web_enabled=True,
        web_bind=settings.web_host,
        web_port=settings.web_port,
        web_host=settings.web_host,
        # Faust's own views are off: /table would serve table contents (personal data),
        # /router, /graph, /stats and /performance describe the cluster to anyone asking.
        # `streams.web` drops the index page at / too; only our views are served.
        web_tables_enabled=False,
        web_router_enabled=False,
        web_graph_enabled=False,
        web_stats_enabled=False,
        web_metrics_enabled=False,
        table_cleanup_interval=3600.0,
        # Room for a dead letter of the largest accepted record plus its headers.
        producer_max_request_size=settings.max_message_bytes + 256 * 1024,
        key_serializer="raw",
        value_serializer="raw",
    )
    inputs = app.topic(
        *topics.inputs,
        topics.contacts,
        topics.activity,
        *topics.sources,
        key_serializer="raw",
        value_serializer="raw",
    )
    keyed = app.topic(
        topics.keyed,
        key_serializer="raw",
        value_serializer="raw",
        partitions=settings.partitions,
        internal=True,
    )
    # Table values are our own orjson bytes (see rules.core.state): raw serializers on the app
    # make the changelog carry exactly those bytes.
    accounts, prospects, overflow, expiries = (
        app.Table(name, key_type=bytes, value_type=bytes, partitions=settings.partitions)
        for name in ("accounts", "prospects", "overflow", "expiries")
    )
    pipeline = Pipeline(
        app=app,
        topics=topics,
        accounts=accounts,
        prospects=prospects,
        overflow=overflow,
        expiries=expiries,
        rulebook=rulebook,
        metrics=metrics,
        clock=clock,
        max_message_bytes=settings.max_message_bytes,
        batch_size=settings.batch_size,
        batch_seconds=settings.batch_seconds,
        event_clock=settings.clock == "event",
        max_future_skew_seconds=settings.max_future_skew_seconds,
        sources=sources,
    )
    app.agent(inputs, name="ingest")(pipeline.ingest)
    app.agent(keyed, name="score")(pipeline.score)
    _install_fetch_wait()
    app.followup_fetch_max_wait_ms = settings.fetch_max_wait_ms  # type: ignore[attr-defined]
    app.followup_rulebook = rulebook  # type: ignore[attr-defined]
    app.followup_pipeline = pipeline  # type: ignore[attr-defined]
    install_observers(app, metrics, tables=(accounts, prospects, overflow, expiries))
    install_reload(app, pipeline, settings.rulebook, metrics)
    install_views(app, metrics)

    @app.timer(settings.expiry_sweep_seconds)
    async def _expiry_ticks() -> None:
        """Ask every keyed partition this worker owns to close windows past expiry."""
        for tp in list(app.consumer.assignment()):
            if tp.topic == topics.keyed:
                await app.producer.send(
                    topics.keyed, None, b"", tp.partition, None, [(ROUTE_HEADER, TICK)]
                )

    @app.on_rebalance_complete.connect  # type: ignore[arg-type]
    async def _count_rebalance(sender: Any, **kwargs: Any) -> None:
        metrics.rebalances.inc()
        pipeline.on_rebalance()

    @app.on_partitions_revoked.connect  # type: ignore[arg-type]
    async def _forget_states(sender: Any, *args: Any, **kwargs: Any) -> None:
        pipeline.on_rebalance()

    return app
