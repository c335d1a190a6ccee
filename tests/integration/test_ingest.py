"""`followup ingest` on the embedded broker: auth, size limit, mixed batches, Segment's
webhook shapes, and records that really land on the topics, keyed by account."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import orjson
import pytest
from pydantic import SecretStr

from signals.sources import parse_sources
from signals.sources.examples import segment_page, segment_track
from streams.broker import free_port
from streams.ingest.run import start_ingest
from streams.local import read_topic, settings_env, wait_until
from streams.worker import prepare_topics
from tests.support import ICP_ACCOUNT, ICP_PERSON, event

pytestmark = pytest.mark.integration

TOKEN = "t0ken-for-tests"
AT = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)


def _sources(settings):
    topic = f"{settings.topic_page_visited}.segment"
    return parse_sources(f"sources:\n  - {{name: web, topic: {topic}, format: segment}}\n")


def _auth(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_contract_events_land_keyed_by_account_and_bad_ones_are_named(settings):
    settings = settings.model_copy(
        update={"ingest_token": SecretStr(TOKEN), "ingest_port": 0, "ingest_max_body_bytes": 20_000}
    )
    sources = _sources(settings)
    good = [
        event("page_visited", "h-1", AT, person=ICP_PERSON, account=ICP_ACCOUNT, path="/pricing"),
        event("email_opened", "h-2", AT, person=ICP_PERSON, subject="Hello"),
        {
            "type": "replied",
            "event_id": "h-3",
            "occurred_at": AT.isoformat(),
            "source": "seq",
            "person": {"email": ICP_PERSON["email"]},
        },
    ]
    bad = [
        {
            "type": "page_visited",
            "event_id": "h-4",
            "occurred_at": AT.isoformat(),
            "source": "t",
            "person": {"email": "dana.vp@acme-data.example"},
        },  # no url/path
        {"type": "meeting", "event_id": "h-5"},
        "not an object",
    ]

    async def scenario() -> None:
        await prepare_topics(settings, sources)
        running = await start_ingest(settings, sources)
        base = f"http://127.0.0.1:{running.port}"
        try:
            async with httpx.AsyncClient(base_url=base) as client:
                assert (await client.get("/health/ready")).status_code == 200
                r = await client.post("/v1/events", json=good)
                assert r.status_code == 401 and r.headers["WWW-Authenticate"] == "Bearer"
                r = await client.post("/v1/events", json=good, headers=_auth("wrong"))
                assert r.status_code == 401
                r = await client.post(
                    "/v1/events", content=b"[" + b" " * 20_000 + b"]", headers=_auth()
                )
                assert r.status_code == 413
                r = await client.post("/v1/events", content=b"{nope", headers=_auth())
                assert r.status_code == 400
                r = await client.post("/v1/events", json=[*good, *bad], headers=_auth())
                assert r.status_code == 202, r.text
                body = r.json()
                assert (body["accepted"], body["rejected"], body["unmapped"]) == (3, 3, 0)
                reasons = {item["index"]: item["reason"] for item in body["rejections"]}
                assert reasons == {3: "invalid", 4: "unknown_type", 5: "not_object"}
                assert all("dana" not in item["detail"] for item in body["rejections"])
                metrics = (await client.get("/metrics")).text
                assert (
                    'followup_ingest_records_total{endpoint="/v1/events",outcome="accepted"'
                    in metrics
                )
        finally:
            await running.stop()
        # The 202 came after the broker acknowledged: the records are there now.
        pages = await read_topic(
            settings,
            settings.topic_page_visited,
            until=lambda got: len(got) >= 1,
            timeout=10,
        )
        assert [(m.key, orjson.loads(m.value)["event_id"]) for m in pages] == [
            (b"acme-data.example", "h-1")
        ]
        opened = await read_topic(
            settings,
            settings.topic_email_opened,
            until=lambda got: len(got) >= 1,
            timeout=10,
        )
        assert opened[0].key == b"acme-data.example"  # the work email's domain
        activity = await read_topic(
            settings,
            settings.topic_outreach_activity,
            until=lambda got: len(got) >= 1,
            timeout=10,
        )
        assert orjson.loads(activity[0].value)["event_id"] == "h-3"

    asyncio.run(scenario())


def test_segment_webhook_batches_and_single_events_go_to_the_source_topic(settings):
    settings = settings.model_copy(update={"ingest_token": SecretStr(TOKEN), "ingest_port": 0})
    sources = _sources(settings)
    topic = f"{settings.topic_page_visited}.segment"
    page = segment_page("s-1", AT, path="/pricing", person=ICP_PERSON, account=ICP_ACCOUNT)
    clicked = segment_track("Button Clicked", "s-2", AT, person=ICP_PERSON)
    broken = {**segment_page("s-3", AT, path="/", person=ICP_PERSON), "type": "purchase"}
    opened = segment_track("Email Opened", "s-4", AT, person=ICP_PERSON)

    async def scenario() -> None:
        await prepare_topics(settings, sources)
        running = await start_ingest(settings, sources)
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{running.port}") as client:
                r = await client.post(
                    "/v1/segment", json={"batch": [page, clicked, broken]}, headers=_auth()
                )
                assert r.status_code == 202, r.text
                body = r.json()
                assert (body["accepted"], body["rejected"], body["unmapped"]) == (1, 1, 1)
                assert body["unmapped_events"] == [{"index": 1, "reason": "event"}]
                assert body["rejections"][0]["reason"] == "unmapped"
                r = await client.post("/v1/segment", json=opened, headers=_auth())
                assert r.status_code == 202 and r.json()["accepted"] == 1
                r = await client.post("/v1/events?source=web", json=[opened], headers=_auth())
                assert r.json()["accepted"] == 1
                r = await client.post("/v1/events?source=nope", json=[], headers=_auth())
                assert r.status_code == 404
        finally:
            await running.stop()
        landed = await read_topic(settings, topic, until=lambda got: len(got) >= 3, timeout=10)
        assert sorted(orjson.loads(m.value)["messageId"] for m in landed) == ["s-1", "s-4", "s-4"]
        assert all(m.key == b"acme-data.example" for m in landed)
        assert orjson.loads(landed[0].value) in (page, opened)  # as sent, not rewritten

    asyncio.run(scenario())


def test_the_ingest_command_refuses_to_run_without_a_token(settings, tmp_path: Path):
    env = {**settings_env(settings), "PATH": "/usr/bin:/bin"}
    env.pop("FOLLOWUP_INGEST_TOKEN", None)
    done = subprocess.run(
        [sys.executable, "-m", "streams.cli", "ingest"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2 and "FOLLOWUP_INGEST_TOKEN" in done.stderr


def test_the_ingest_command_serves_until_stopped(settings, tmp_path: Path):
    token_file = tmp_path / "tokens"
    token_file.write_text("first\nsecond\n")
    port = free_port()
    settings = settings.model_copy(update={"ingest_token_file": token_file, "ingest_port": port})
    env = {**settings_env(settings), "PATH": "/usr/bin:/bin"}
    log = (tmp_path / "ingest.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "streams.cli", "ingest"], env=env, stdout=log, stderr=log
    )
    try:

        async def up() -> bool:
            try:
                async with httpx.AsyncClient() as client:
                    r = await client.get(f"http://127.0.0.1:{port}/health/ready")
                    return r.status_code == 200
            except httpx.HTTPError:
                return process.poll() is not None  # exited: fail below

        asyncio.run(wait_until(up, timeout=60, what="ingest ready"))
        assert process.poll() is None, (tmp_path / "ingest.log").read_text()
        r = httpx.post(
            f"http://127.0.0.1:{port}/v1/events", json=[], headers=_auth("second"), timeout=10
        )
        assert r.status_code == 202 and r.json()["accepted"] == 0
    finally:
        process.terminate()
        assert process.wait(timeout=20) == 0
        log.close()
