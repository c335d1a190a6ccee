"""Build the worker from settings: the Faust app, its tables and score agent, and the
services around them (router, output producer, suppression replica), plus web views.

    input topics ─▶ [router] ─▶ frames on followup.signals-by-account ─▶ [score agent]
                    validate      (keyed by account)                    tables, pure core
                    (aiokafka)                                           windows, closes ─▶

Nothing here runs at import time; `create_app` is called once per worker process.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import faust
import mode
from aiokafka import AIOKafkaProducer

from rules.rulebook.model import Rulebook
from signals.sources import SourceSet
from streams.clock import Clock, utc_now
from streams.delivery import Out, Sender
from streams.ends import install_true_highwaters
from streams.faust_internals import install_fetch_wait, shared_rocksdb_options
from streams.frames import TICK, Entry, encode_frame
from streams.gaps import FrameOrder, HoleReader
from streams.health import Health
from streams.kafka_security import client_kwargs, faust_credentials
from streams.metrics import Metrics
from streams.observe import install_observers
from streams.partition import TABLES
from streams.reload import install_reload
from streams.router import Router
from streams.score import Scorer
from streams.score_api import ScoreApi, score_api_tokens
from streams.settings import Settings
from streams.suppressions import Suppressions
from streams.topics import Topics
from streams.web import install_views, tables_recovered

__all__ = ["Runtime", "create_app"]


class Runtime(mode.Service):
    """The worker's parts Faust does not run: one output producer (for the router's frames
    and everything the score agent publishes), the router loop and the suppression replica.
    Started with the app and stopped with it; the score agent waits for `sending` before it
    publishes anything."""

    def __init__(
        self,
        producer_kwargs: dict[str, Any],
        health: Health,
        router: Router,
        suppressions: Suppressions,
        closers: tuple[Any, ...] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._closers = closers
        self._producer_kwargs = producer_kwargs
        self._producer: AIOKafkaProducer | None = None
        self.followup_health = health
        self.router = router
        self.suppressions = suppressions
        self.sending = asyncio.Event()
        self._loops: list[asyncio.Future[None]] = []

    def producer(self) -> AIOKafkaProducer:
        assert self._producer is not None, "the runtime is not started"
        return self._producer

    async def on_start(self) -> None:
        self._producer = AIOKafkaProducer(**self._producer_kwargs)
        await self._producer.start()
        self.sending.set()
        self._loops = [
            asyncio.ensure_future(self._forever("suppressions", self.suppressions.run)),
            asyncio.ensure_future(self._forever("router", self.router.run)),
        ]

    async def on_stop(self) -> None:
        for loop in self._loops:
            loop.cancel()
        for loop in self._loops:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await loop
        for close in self._closers:
            with contextlib.suppress(Exception):
                await close()
        if self._producer is not None:
            await self._producer.stop()

    async def _forever(self, name: str, run: Any) -> None:
        """Run a loop; if it crashes, say so (readiness false) and start it again."""
        health = self.followup_health
        delay = 0.5
        while True:
            try:
                await run()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.log.exception("%s crashed; restarting", name)
                health.block(name, f"crashed ({type(exc).__name__}); restarting")
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)


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
    kafka = client_kwargs(settings)
    install_fetch_wait()
    install_true_highwaters(kafka)
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
        # No standby replicas: faust-streaming 0.15.3 feeds standby changelog records
        # through a queue that `flow_control.resume()` clears when recovery completes,
        # after the standby partitions were already resumed and fetched from; the records
        # dropped are never read again, and the standby's persisted offset moves past the
        # hole. A standby promoted to active then serves keys that lack those records
        # (found by the chaos tier's kill rotation: accounts recreated from nothing).
        # Without standbys a partition that moves recovers from its own local offset, or
        # from the changelog's start on an empty state dir. `streams.faust_internals`.
        table_standby_replicas=0,
        producer_max_request_size=settings.max_message_bytes + 256 * 1024,
        key_serializer="raw",
        value_serializer="raw",
    )
    app.followup_fetch_max_wait_ms = settings.fetch_max_wait_ms  # type: ignore[attr-defined]
    health = Health()
    keyed = app.topic(
        topics.keyed,
        key_serializer="raw",
        value_serializer="raw",
        partitions=settings.partitions,
        internal=True,
    )
    # Table values are our own bytes (rules.core.state): raw serializers on the app make
    # the changelog carry exactly those bytes.
    tables = {
        name: app.Table(name, key_type=bytes, value_type=bytes, partitions=settings.partitions)
        for name in TABLES
    }
    for table in tables.values():
        shared_rocksdb_options(
            table,
            block_cache_bytes=settings.rocksdb_block_cache_bytes,
            write_buffer_bytes=settings.rocksdb_write_buffer_bytes,
            write_buffers=2,
            compression=settings.rocksdb_compression,
        )
    producer_kwargs = {
        **kafka,
        "acks": "all",
        "linger_ms": settings.producer_linger_ms,
        "max_batch_size": settings.producer_batch_bytes,
        "max_request_size": settings.max_message_bytes + 256 * 1024,
    }
    runtime: Runtime | None = None

    def produce_with() -> AIOKafkaProducer:
        assert runtime is not None
        return runtime.producer()

    def sender(component: str) -> Sender:
        return Sender(
            produce_with,
            health=health,
            component=component,
            max_bytes=settings.max_message_bytes,
            dead_letter_suffix=settings.dead_letter_suffix,
            on_failure=lambda topic, error: metrics.delivery_failures.labels(topic, error).inc(),
        )

    suppressions = Suppressions(
        topic=topics.suppressions,
        salt=settings.suppression_salt.get_secret_value(),
        client_kwargs=kafka,
        health=health,
    )
    scorer = Scorer(
        topics=topics,
        tables=tables,
        rulebook=rulebook,
        sender=sender("score"),
        suppressions=suppressions,
        metrics=metrics,
        health=health,
        clock=clock,
        event_clock=settings.clock == "event",
        partitions=settings.partitions,
        max_bytes=settings.max_message_bytes,
        memo_bytes=settings.state_memo_bytes,
    )
    router = Router(
        consumer_kwargs={
            **kafka,
            "group_id": f"{settings.app_id}-router",
            "enable_auto_commit": False,
            "auto_offset_reset": "earliest",
            "fetch_max_wait_ms": settings.fetch_max_wait_ms,
            "max_partition_fetch_bytes": settings.max_message_bytes + 256 * 1024,
            "session_timeout_ms": int(settings.session_timeout_seconds * 1000),
            "rebalance_timeout_ms": int(settings.rebalance_timeout_seconds * 1000),
            "heartbeat_interval_ms": int(min(1.0, settings.session_timeout_seconds / 3) * 1000),
        },
        topics=topics,
        sources=sources,
        sender=sender("router"),
        metrics=metrics,
        health=health,
        clock=clock,
        partitions=settings.partitions,
        max_bytes=settings.max_message_bytes,
        max_future_skew_seconds=settings.max_future_skew_seconds,
        batch_size=settings.batch_size,
    )
    holes = HoleReader(kafka)
    scorer.order = FrameOrder(holes, lambda: app.consumer, on_filled=metrics.frames_refilled.inc)
    runtime = Runtime(producer_kwargs, health, router, suppressions, closers=(holes.stop,))

    @app.task
    async def _start_runtime() -> None:
        await app.add_runtime_dependency(runtime)

    scorer.ready_to_send = runtime.sending

    @app.agent(keyed, name="score")
    async def score(stream: Any) -> Any:
        async for _ in scorer.agent(stream):
            yield None

    app.followup_rulebook = rulebook  # type: ignore[attr-defined]
    app.followup_pipeline = scorer  # type: ignore[attr-defined]
    app.followup_health = health  # type: ignore[attr-defined]
    app.followup_runtime = runtime  # type: ignore[attr-defined]
    install_observers(
        app,
        metrics,
        tables=tables.values(),
        router=router,
        client_kwargs=kafka,
        stall_after=settings.stall_after_seconds,
    )
    install_reload(app, scorer, settings.rulebook, metrics)
    score_api = ScoreApi(
        app,
        scorer=scorer,
        tokens=score_api_tokens(settings),
        keyed_topic=topics.keyed,
        partitions=settings.partitions,
        recovered=lambda: tables_recovered(app),
        clock=clock,
        metrics=metrics,
    )
    from streams.worker import build_version  # streams.worker builds apps: import late

    install_views(app, metrics, score_api, build_version())

    @app.timer(settings.expiry_sweep_seconds)
    async def _expiry_ticks() -> None:
        """Ask every keyed partition this worker owns to run its due timers."""
        await runtime.sending.wait()
        ticks = [
            Out(topics.keyed, None, encode_frame([Entry(TICK, "")]), tp.partition)
            for tp in app.consumer.assignment()
            if tp.topic == topics.keyed
        ]
        if ticks:
            await scorer.sender.deliver(ticks)

    @app.on_rebalance_complete.connect  # type: ignore[arg-type]
    async def _count_rebalance(sender: Any, **kwargs: Any) -> None:
        metrics.rebalances.inc()

    @app.on_partitions_revoked.connect  # type: ignore[arg-type]
    async def _forget_states(sender: Any, revoked: Any = None, **kwargs: Any) -> None:
        partitions = {tp.partition for tp in revoked or () if tp.topic == topics.keyed}
        scorer.on_rebalance(partitions or None)

    return app
