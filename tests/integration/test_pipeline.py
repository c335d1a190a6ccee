"""The whole path on the embedded broker: signals in, windows and dead letters out.

Events are produced with a plain Kafka client (aiokafka) and windows read back from the
output topic; the worker is the real `followup run` process.
"""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta

import orjson
import pytest

from rules.rulebook.loader import load_rulebook
from streams.local import Record, produce
from tests.conftest import scrape
from tests.support import (
    cold_history,
    expected_windows,
    hot_history,
    read_all,
    read_windows,
    records_on_one_topic,
    wait_caught_up,
    wait_ready,
)

pytestmark = pytest.mark.integration

START = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)


def _metric(text: str, name: str, **labels: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name):
            continue
        m = re.match(rf"{re.escape(name)}(\{{.*\}})? (\S+)$", line)
        if not m:
            continue
        got = dict(re.findall(r'(\w+)="([^"]*)"', m.group(1) or ""))
        if all(got.get(k) == v for k, v in labels.items()):
            total += float(m.group(2))
    return total


def test_windows_appear_as_the_pure_core_decides(settings, start_worker):
    worker = start_worker(settings)
    wait_ready(worker)
    topic = settings.topic_page_visited
    second_person = {
        "email": "lee.cto@globex.example",
        "title": "CTO",
        "seniority": "c_level",
        "department": "engineering",
    }
    second_account = {
        "domain": "www.Globex.example",
        "name": "Globex",
        "industry": "saas",
        "employees": 900,
        "country": "GB",
    }
    records = records_on_one_topic(
        topic,
        [
            *hot_history("hot", START),
            *cold_history("cold", START),
            *hot_history("hot2", START, person=second_person, account=second_account),
        ],
    )
    expected = expected_windows(settings, records)
    assert {w.person_key for w in expected} == {
        "dana.vp@acme-data.example",
        "lee.cto@globex.example",
    }

    asyncio.run(produce(settings, records))
    windows = read_windows(settings, count=len(expected))
    wait_caught_up(settings)
    windows = read_windows(settings, count=len(expected) + 1, timeout=2.0)

    assert sorted(w.window_id for w in windows) == sorted(w.window_id for w in expected)
    rulebook = load_rulebook(settings.rulebook)
    produced_ids = {orjson.loads(r.value)["event_id"] for r in records}
    for window in windows:
        assert window.rulebook.hash == rulebook.hash
        assert window.account_key in {"acme-data.example", "globex.example"}
        assert window.score.total >= window.score.threshold
        assert window.reasons, "a window must say why"
        assert {r.event_id for r in window.reasons} <= produced_ids
        points = [r.points for r in window.reasons]
        assert points == sorted(points, reverse=True)
        assert window.draft.send_at >= window.as_of
    assert not any(w.person_key.startswith("sam@") for w in windows)

    metrics = scrape(worker.web_port)
    assert _metric(metrics, "followup_events_consumed_total") == len(records)
    assert _metric(metrics, "followup_windows_opened_total") == len(expected)


def test_a_redelivered_event_changes_nothing(settings, start_worker):
    worker = start_worker(settings)
    wait_ready(worker)
    records = records_on_one_topic(settings.topic_page_visited, hot_history("dup", START))
    expected = expected_windows(settings, records)
    assert len(expected) == 1

    asyncio.run(produce(settings, records))
    assert len(read_windows(settings, count=1)) == 1
    asyncio.run(produce(settings, records))  # the same event_ids again
    wait_caught_up(settings)

    windows = read_windows(settings, count=2, timeout=2.0)
    assert [w.window_id for w in windows] == [expected[0].window_id]
    metrics = scrape(worker.web_port)
    assert _metric(metrics, "followup_events_duplicate_total") == len(records)


def test_bad_records_are_dead_lettered_and_the_next_good_one_is_processed(settings, start_worker):
    worker = start_worker(settings)
    wait_ready(worker)
    topic = settings.topic_email_opened
    bad = [
        Record(topic, b"\xff\xfe\x00 not utf-8", key=b"k1", headers=(("trace-id", b"t-1"),)),
        Record(topic, b'{"event_id": "x", "occurred_at": ', key=b"k2"),
        Record(topic, None, key=b"k3"),  # a tombstone
        Record(
            topic,
            orjson.dumps(
                {
                    "event_id": "no-one",
                    "occurred_at": START.isoformat(),
                    "source": "test",
                    "person": {"name": "No Identity"},
                }
            ),
        ),
        Record(topic, b'{"type": "meeting_booked", "event_id": "m"}'),
        Record(topic, b"x" * (settings.max_message_bytes + 1)),
    ]
    good = records_on_one_topic(topic, hot_history("after-bad", START))
    asyncio.run(produce(settings, [*bad, *good]))

    assert len(read_windows(settings, count=1)) == 1  # the good records still open a window
    wait_caught_up(settings)
    dead = read_all(settings, f"{topic}{settings.dead_letter_suffix}")
    assert len(dead) == len(bad)
    by_value = {m.value: dict(m.headers) for m in dead}
    cut = next(m for m in dead if dict(m.headers).get("followup.value.truncated"))
    by_value[bad[5].value] = dict(cut.headers)
    expected_reasons = [
        "not_utf8",
        "not_json",
        "tombstone",
        "missing_identity",
        "unknown_type",
        "oversized",
    ]
    for record, reason in zip(bad, expected_reasons, strict=True):
        headers = by_value[record.value]
        assert headers["followup.error.reason"].decode() == reason
        assert headers["followup.source.topic"].decode() == topic
        assert headers["followup.source.partition"].isdigit()
        assert headers["followup.source.offset"].isdigit()
        assert headers["followup.error.class"]
    assert by_value[bad[0].value]["trace-id"] == b"t-1"  # original headers are kept
    # The dead letter as a whole (key, value, headers) fits the limit: the value is cut.
    assert dict(cut.headers)["followup.value.size"] == str(len(bad[5].value)).encode()
    assert bad[5].value.startswith(cut.value) and len(cut.value) > 0
    whole = len(cut.value) + len(cut.key or b"") + sum(len(k) + len(v) for k, v in cut.headers)
    assert whole <= settings.max_message_bytes
    assert b"No Identity" not in b"".join(by_value[bad[3].value].values())  # no PII in reasons

    metrics = scrape(worker.web_port)
    for reason in expected_reasons:
        assert _metric(metrics, "followup_events_dead_lettered_total", reason=reason) == 1
    log = worker.log_path.read_text()
    assert "No Identity" not in log and "dana.vp@" not in log
