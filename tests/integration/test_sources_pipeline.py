"""Declared sources on the embedded broker: Segment (produced with confluent-kafka, the
client most data teams use) and CloudEvents in both Kafka binding modes (produced with
aiokafka) open the same windows as the equivalent contract events."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from confluent_kafka import Producer

from signals.sources.examples import (
    cloudevent_binary,
    cloudevent_from_contract,
    segment_from_contract,
    segment_track,
)
from streams.local import Record, processed_through, produce, worker_stages
from streams.topics import Topics
from tests.conftest import scrape
from tests.support import (
    expected_windows,
    hot_history,
    read_all,
    read_windows,
    records_on_one_topic,
    wait_ready,
)

pytestmark = pytest.mark.integration

START = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)
GLOBEX = (
    {
        "email": "lee.cto@globex.example",
        "title": "CTO",
        "seniority": "c_level",
        "department": "engineering",
    },
    {
        "domain": "globex.example",
        "name": "Globex",
        "industry": "saas",
        "employees": 900,
        "country": "GB",
    },
)
INITECH = (
    {
        "email": "ana.vp@initech.example",
        "title": "VP Engineering",
        "seniority": "vp",
        "department": "engineering",
        "timezone": "Europe/Berlin",
    },
    {
        "domain": "initech.example",
        "name": "Initech",
        "industry": "software",
        "employees": 250,
        "country": "DE",
    },
)


def _metric(text: str, name: str, **labels: str) -> float:
    total = 0.0
    for line in text.splitlines():
        m = re.match(rf"{re.escape(name)}(\{{.*\}})? (\S+)$", line)
        if m:
            got = dict(re.findall(r'(\w+)="([^"]*)"', m.group(1) or ""))
            if all(got.get(k) == v for k, v in labels.items()):
                total += float(m.group(2))
    return total


def _confluent_produce(bootstrap: str, topic: str, bodies: list[dict]) -> None:
    """Produce with confluent-kafka (librdkafka from PyPI) and check every delivery report."""
    errors: list[object] = []
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all"})
    for body in bodies:
        producer.produce(
            topic,
            orjson.dumps(body),
            # One key per person, as a Segment-to-Kafka pipeline keys by user: their events
            # stay in order, which is what the contract replay assumes.
            key=str(body.get("context", {}).get("traits", {}).get("email", "")).encode(),
            on_delivery=lambda err, msg: errors.append(err) if err is not None else None,
        )
    assert producer.flush(30) == 0, "confluent-kafka did not deliver everything"
    assert errors == []


def test_segment_and_cloudevents_open_the_windows_contract_events_would(
    settings, start_worker, tmp_path: Path
):
    segment_topic = f"{settings.topic_page_visited}.segment"
    ce_topic = f"{settings.topic_page_visited}.cloudevents"
    sources_file = tmp_path / "sources.yaml"
    sources_file.write_text(
        "sources:\n"
        f"  - {{name: web, topic: {segment_topic}, format: segment}}\n"
        f"  - {{name: services, topic: {ce_topic}, format: cloudevents}}\n"
    )
    settings = settings.model_copy(update={"sources": sources_file})
    worker = start_worker(settings)
    wait_ready(worker)

    by_segment = hot_history("seg", START)
    by_structured = hot_history("ces", START, *GLOBEX)
    by_binary = hot_history("ceb", START, *INITECH)
    # What the contract path would be given: the declared source's name is the event's
    # `source` (half of the dedup key), and CloudEvents ids are `<source>#<id>`.
    contract = [
        *({**e, "source": "web"} for e in by_segment),
        *({**e, "source": "services", "event_id": f"/svc#{e['event_id']}"} for e in by_structured),
        *({**e, "source": "services", "event_id": f"/svc#{e['event_id']}"} for e in by_binary),
    ]
    expected = expected_windows(settings, records_on_one_topic("contract", contract))
    assert {w.person_key for w in expected} == {
        "dana.vp@acme-data.example",
        "lee.cto@globex.example",
        "ana.vp@initech.example",
    }

    noise = [
        segment_track("Button Clicked", "noise-1", START, person={"email": "x@acme-data.example"}),
        {"type": "screen", "messageId": "noise-2", "name": "Home"},
        {"messageId": "noise-3", "event": "Email Opened"},  # claims Segment, no call type
    ]
    _confluent_produce(
        settings.bootstrap_servers,
        segment_topic,
        [segment_from_contract(e) for e in by_segment] + noise,
    )
    ce_records = [
        Record(
            ce_topic,
            orjson.dumps(cloudevent_from_contract(e, source="/svc")),
            key=b"globex.example",
            headers=(("content-type", b"application/cloudevents+json"),),
        )
        for e in by_structured
    ]
    for e in by_binary:
        headers, value = cloudevent_binary(e, source="/svc")
        ce_records.append(Record(ce_topic, value, key=b"initech.example", headers=tuple(headers)))
    broken_headers, broken_value = cloudevent_binary(by_binary[0], source="/svc")
    ce_records.append(
        Record(ce_topic, broken_value, headers=tuple(h for h in broken_headers if h[0] != "ce_id"))
    )
    asyncio.run(produce(settings, ce_records))

    windows = read_windows(settings, count=len(expected))
    topics = Topics.from_settings(settings, sources=(segment_topic, ce_topic))
    asyncio.run(processed_through(settings, worker_stages(settings, topics), timeout=60))
    windows = read_windows(settings, count=len(expected) + 1, timeout=2.0)

    got = sorted((w.person_key, w.trigger_event_id, w.window_id) for w in windows)
    assert got == sorted((w.person_key, w.trigger_event_id, w.window_id) for w in expected)
    want = {w.window_id: w for w in expected}
    for window in windows:
        twin = want[window.window_id]
        assert (window.play, window.person_key, window.account_key) == (
            twin.play,
            twin.person_key,
            twin.account_key,
        )
        assert window.score.total == pytest.approx(twin.score.total, abs=0.5)
        assert [r.event_id for r in window.reasons] == [r.event_id for r in twin.reasons]

    dead_segment = read_all(settings, f"{segment_topic}.dlq")
    assert [dict(m.headers)["followup.error.reason"] for m in dead_segment] == [b"unmapped"]
    dead_ce = read_all(settings, f"{ce_topic}.dlq")
    assert [dict(m.headers)["followup.error.reason"] for m in dead_ce] == [b"invalid"]
    assert b"ce_id" not in dict(dead_ce[0].headers)  # the record as it came, plus our reasons
    assert b"id: missing" in dict(dead_ce[0].headers)["followup.error.detail"]

    metrics = scrape(worker.web_port)
    assert _metric(metrics, "followup_events_unmapped_total", topic=segment_topic) == 2
    assert _metric(metrics, "followup_events_unmapped_total", reason="event") == 1
    assert _metric(metrics, "followup_events_unmapped_total", reason="call") == 1
    assert _metric(metrics, "followup_events_consumed_total", topic=ce_topic) == 8
    log = worker.log_path.read_text()
    assert "x@acme-data.example" not in log and "lee.cto@" not in log
