"""The whole way round, as the demo runs it: events posted to the HTTP ingest, scored by a
real worker, and the window delivered by the sink inside that worker to a local webhook."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from pydantic import SecretStr

from streams.broker import free_port
from streams.ingest.run import start_ingest
from streams.local import wait_until
from streams.sinks.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify
from streams.worker import load_sources_or_fail
from tests.http_receivers import FlakyReceiver, fail_then_ok
from tests.support import expected_windows, hot_history, records_on_one_topic, wait_ready

pytestmark = pytest.mark.integration

SECRET = "webhook-secret"


def test_posted_events_arrive_as_a_signed_window_at_the_webhook(settings, start_worker):
    port = free_port()
    settings = settings.model_copy(
        update={
            "ingest_token": SecretStr("tok"),
            "ingest_port": 0,
            "sink_webhook_urls": (f"http://127.0.0.1:{port}/hook",),
            "sink_webhook_secret": SecretStr(SECRET),
            "sink_in_worker": True,
            "sink_skip_expired": False,
            "sink_backoff_seconds": 0.05,
            "sink_backoff_max_seconds": 0.2,
        }
    )
    events = hot_history("http", datetime.now(UTC).replace(microsecond=0) - timedelta(hours=21))
    expected = expected_windows(settings, records_on_one_topic("x", events))
    assert len(expected) == 1
    worker = start_worker(settings)
    wait_ready(worker)

    async def scenario() -> None:
        # The receiver fails the first attempt: the worker's sink must retry it.
        receiver = FlakyReceiver(fail_then_ok(1))
        await receiver.start(port)
        ingest = await start_ingest(settings, load_sources_or_fail(settings))
        try:
            async with httpx.AsyncClient() as client:
                r = await client.post(
                    f"http://127.0.0.1:{ingest.port}/v1/events",
                    json=events,
                    headers={"Authorization": "Bearer tok"},
                )
            assert r.status_code == 202 and r.json()["accepted"] == len(events)
            await wait_until(
                lambda: expected[0].window_id in receiver.accepted,
                timeout=90,
                what="the window at the webhook",
            )
        finally:
            await ingest.stop()
            await receiver.stop()
        assert receiver.attempts[expected[0].window_id] == 2
        headers, body = receiver.requests[-1]
        assert verify(
            SECRET.encode(),
            headers[TIMESTAMP_HEADER],
            body,
            headers[SIGNATURE_HEADER],
            now=float(headers[TIMESTAMP_HEADER]),
        )

    asyncio.run(scenario())
