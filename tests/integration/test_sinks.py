"""The sink service on the embedded broker, against local receivers that fail on purpose.

Windows are produced to the windows topic with a plain client; the real `SinkService`
reads them in its own consumer group and delivers them over HTTP to loopback receivers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from signals.codec import encode
from streams.kafka_security import client_kwargs
from streams.local import processed_through, read_topic, wait_until
from streams.metrics import SinkMetrics
from streams.settings import Settings
from streams.sinks.service import SinkService
from streams.sinks.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify
from streams.sinks.targets import SlackTarget, WebhookTarget
from streams.topics import Topics
from streams.worker import prepare_topics
from tests.http_receivers import FlakyReceiver, always, by_key, fail_then_ok
from tests.sink_windows import sample_window

pytestmark = pytest.mark.integration

SECRET = b"integration-secret"
OK = always(200)


def _settings(settings: Settings, **overrides: Any) -> Settings:
    base = {
        "sink_timeout_seconds": 0.5,
        "sink_backoff_seconds": 0.01,
        "sink_backoff_max_seconds": 0.05,
        "sink_max_attempts": 5,
        "session_timeout_seconds": 3.0,
        "rebalance_timeout_seconds": 3.0,
    }
    return settings.model_copy(update={**base, **overrides})


async def _produce(settings: Settings, windows: list[tuple[str, int]]) -> dict[str, bytes]:
    """Publish windows (id, partition) as the score agent does; return id -> bytes."""
    producer = AIOKafkaProducer(**client_kwargs(settings))
    await producer.start()
    sent = {}
    try:
        for window_id, partition in windows:
            window = sample_window(window_id, person_key=f"{window_id}@acme-data.example")
            raw = encode(window)
            await producer.send_and_wait(
                settings.topic_windows_opened,
                raw,
                key=window.person_key.encode(),
                partition=partition,
            )
            sent[window_id] = raw
    finally:
        await producer.stop()
    return sent


async def _with_sink(
    settings: Settings,
    targets: list[Any],
    body: Callable[[SinkService], Awaitable[None]],
    *,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> SinkService:
    service = SinkService(settings, targets, SinkMetrics(), sleep=sleep)
    stop = asyncio.Event()
    task = asyncio.create_task(service.run(stop))
    try:
        await body(service)
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
    return service


def test_flaky_slow_and_rate_limited_receivers_get_every_window_once(settings):
    settings = _settings(settings)
    scripts = {
        "w-0": fail_then_ok(2),
        "w-1": fail_then_ok(2, status=502),
        "w-2": lambda key, n: (429, {"Retry-After": "1"}) if n == 1 else (200, {}),
        "w-3": lambda key, n: "hang" if n == 1 else (200, {}),
    }
    ids = [f"w-{i}" for i in range(6)]
    delays: list[float] = []

    async def recording_sleep(seconds: float) -> None:
        delays.append(seconds)
        await asyncio.sleep(seconds)

    async def scenario() -> None:
        await prepare_topics(settings)
        hook, slack = FlakyReceiver(by_key(scripts, OK)), FlakyReceiver(OK)
        hook_url, slack_url = await hook.start(), await slack.start()
        targets = [WebhookTarget(hook_url, SECRET), SlackTarget(slack_url)]
        try:
            sent = await _produce(settings, [(w, i % 4) for i, w in enumerate(ids)])

            async def delivered(service: SinkService) -> None:
                await wait_until(
                    lambda: len(hook.accepted) == 6 and len(slack.requests) == 6,
                    timeout=60,
                    what="six deliveries to each target",
                )

            service = await _with_sink(settings, targets, delivered, sleep=recording_sleep)
            assert set(hook.accepted) == set(ids) and hook.accepted_twice == 0
            assert hook.accepted == sent  # the body is the window exactly as published
            assert (hook.attempts["w-0"], hook.attempts["w-1"], hook.attempts["w-2"]) == (3, 3, 2)
            assert hook.attempts["w-3"] == 2  # the hung attempt timed out, the retry landed
            assert 1.0 in delays  # Retry-After honoured
            for headers, body in hook.requests:
                assert verify(
                    SECRET,
                    headers[TIMESTAMP_HEADER],
                    body,
                    headers[SIGNATURE_HEADER],
                    now=float(headers[TIMESTAMP_HEADER]),
                )
            assert all(b'"blocks"' in body for _, body in slack.requests)
            registry = service.metrics.registry
            value = registry.get_sample_value
            assert (
                value("followup_sink_deliveries_total", {"sink": "webhook", "outcome": "delivered"})
                == 6
            )
            assert (
                value(
                    "followup_sink_failed_attempts_total",
                    {"sink": "webhook", "status_class": "5xx"},
                )
                == 4
            )
            assert (
                value(
                    "followup_sink_failed_attempts_total",
                    {"sink": "webhook", "status_class": "timeout"},
                )
                == 1
            )

            # A new sink process in the same group resumes after the committed windows.
            attempts_before = dict(hook.attempts)
            await _produce(settings, [("w-new", 1)])

            async def only_the_new_one(service: SinkService) -> None:
                await wait_until(lambda: "w-new" in hook.accepted, timeout=60, what="w-new")

            await _with_sink(settings, targets, only_the_new_one)
            assert {k: v for k, v in hook.attempts.items() if k != "w-new"} == attempts_before
        finally:
            await hook.stop()
            await slack.stop()

    asyncio.run(scenario())


def test_an_exhausted_window_goes_to_the_webhook_dlq_with_its_last_status(settings):
    settings = _settings(settings, sink_max_attempts=3)
    topics = Topics.from_settings(settings)

    async def scenario() -> None:
        await prepare_topics(settings)
        hook = FlakyReceiver(by_key({"w-dead": always(503)}, OK))
        url = await hook.start()
        try:
            sent = await _produce(settings, [("w-dead", 2), ("w-after", 2)])

            async def settled(service: SinkService) -> None:
                await wait_until(lambda: "w-after" in hook.accepted, timeout=60, what="w-after")

            await _with_sink(settings, [WebhookTarget(url, SECRET)], settled)
            dlq = topics.sink_dead_letter("webhook")
            dead = await read_topic(settings, dlq, until=lambda got: len(got) >= 1, timeout=20)
            assert len(dead) == 1 and dead[0].value == sent["w-dead"]
            headers = dict(dead[0].headers)
            assert headers["followup.delivery.status"] == b"503"
            assert headers["followup.delivery.attempts"] == b"3"
            assert headers["followup.error.reason"] == b"delivery_failed"
            assert headers["followup.sink"] == b"webhook"
            assert headers["followup.source.topic"] == settings.topic_windows_opened.encode()
            assert hook.attempts["w-dead"] == 3 and "w-dead" not in hook.accepted
            # Both outcomes are final, so the group committed past both.
            await processed_through(
                settings, [(settings.sink_group, [settings.topic_windows_opened])], timeout=20
            )
        finally:
            await hook.stop()

    asyncio.run(scenario())


def test_a_dead_receiver_on_one_partition_does_not_block_another(settings):
    settings = _settings(settings, sink_timeout_seconds=60.0)

    async def scenario() -> None:
        await prepare_topics(settings)
        hook = FlakyReceiver(by_key({"p0-a": lambda key, n: "hang"}, OK))
        url = await hook.start()
        order: list[str] = []
        try:
            await _produce(settings, [("p0-a", 0), ("p0-b", 0), ("p1-a", 1), ("p1-b", 1)])

            async def body(service: SinkService) -> None:
                await wait_until(
                    lambda: {"p1-a", "p1-b"} <= set(hook.accepted) and hook.hanging == 1,
                    timeout=60,
                    what="partition 1 delivered while partition 0 hangs",
                )
                assert "p0-b" not in hook.accepted  # partition 0 keeps its order
                order.extend(hook.accepted)
                hook.release.set()
                await wait_until(
                    lambda: {"p0-a", "p0-b"} <= set(hook.accepted), timeout=60, what="p0"
                )
                order.extend(k for k in hook.accepted if k not in order)

            await _with_sink(settings, [WebhookTarget(url, SECRET)], body)
            assert order.index("p0-a") < order.index("p0-b")
            assert max(order.index("p1-a"), order.index("p1-b")) < order.index("p0-a")
        finally:
            await hook.stop()

    asyncio.run(scenario())


def test_an_erasure_tombstone_is_skipped_not_delivered_nor_dead_lettered(settings):
    settings = _settings(settings)
    topics = Topics.from_settings(settings)

    async def scenario() -> None:
        await prepare_topics(settings)
        hook = FlakyReceiver(OK)
        url = await hook.start()
        try:
            await _produce(settings, [("w-before", 1)])
            producer = AIOKafkaProducer(**client_kwargs(settings))
            await producer.start()
            try:  # what an erasure publishes for the person's key
                await producer.send_and_wait(
                    settings.topic_windows_opened,
                    None,
                    key=b"w-before@acme-data.example",
                    partition=1,
                )
            finally:
                await producer.stop()
            await _produce(settings, [("w-after", 1)])

            async def settled(service: SinkService) -> None:
                await wait_until(lambda: "w-after" in hook.accepted, timeout=60, what="w-after")

            service = await _with_sink(settings, [WebhookTarget(url, SECRET)], settled)
            assert sorted(hook.accepted) == ["w-after", "w-before"]
            assert sum(hook.attempts.values()) == 2, "the tombstone was never sent"
            samples = {
                s.labels["outcome"]: s.value
                for metric in service.metrics.registry.collect()
                if metric.name == "followup_sink_deliveries"
                for s in metric.samples
                if s.name.endswith("_total")
            }
            assert samples == {"delivered": 2, "tombstone": 1}
            dlq = await read_topic(
                settings, topics.sink_dead_letter("webhook"), until=lambda _: False, timeout=2
            )
            assert dlq == []
        finally:
            await hook.stop()

    asyncio.run(scenario())
