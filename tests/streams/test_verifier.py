"""The delivery verifier: expected windows from a history, and the verdict on deliveries.

The pure half runs without a broker; one integration test reads windows back from the
embedded broker with `collect`.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from signals.codec import decode_signal
from signals.identity import partition_key
from signals.models import Account
from streams.local import Record, produce
from streams.settings import Settings
from streams.verifier import expect, judge, keyed_partition, marker_records
from tests.support import (
    ICP_ACCOUNT,
    ICP_PERSON,
    event,
    hot_history,
    records_on_one_topic,
)

START = datetime(2025, 10, 6, 9, tzinfo=UTC)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(partitions=6, clock="event", state_dir=tmp_path)


def _hot(settings: Settings, prefix: str, domain: str, start: datetime = START) -> list[Record]:
    account = {**ICP_ACCOUNT, "domain": domain}
    person = {**ICP_PERSON, "email": f"dana@{domain}"}
    return records_on_one_topic(
        settings.topic_page_visited, hot_history(prefix, start, person=person, account=account)
    )


def _encoded(expectation) -> list[bytes]:
    return [orjson.dumps(w) for w in expectation.windows.values()]


def test_delivering_every_expected_window_once_passes(settings):
    expectation = expect(settings, _hot(settings, "a", "acme-data.example"))
    assert len(expectation.windows) == 1
    verdict = judge(expectation, _encoded(expectation))
    assert verdict.ok
    assert verdict.line() == (
        "verifier: expected 1, distinct delivered 1, lost 0, extra 0, repeats 0 (same id)"
    )


def test_a_window_dropped_on_purpose_fails_the_verdict(settings):
    records = _hot(settings, "a", "acme-data.example") + _hot(settings, "b", "beta-data.example")
    expectation = expect(settings, records)
    assert len(expectation.windows) == 2
    delivered = _encoded(expectation)
    dropped = orjson.loads(delivered.pop())["window_id"]
    verdict = judge(expectation, delivered)
    assert not verdict.ok
    assert verdict.lost == (dropped,)
    assert "lost 1, extra 0" in verdict.line()
    partition = keyed_partition("beta-data.example", settings.partitions)
    assert verdict.lost_by_partition == {partition: 1}
    assert any(dropped in line for line in verdict.details(expectation))


def test_a_window_nobody_expected_fails_the_verdict(settings):
    expectation = expect(settings, _hot(settings, "a", "acme-data.example"))
    other = expect(settings, _hot(settings, "z", "zeta-data.example"))
    verdict = judge(expectation, _encoded(expectation) + _encoded(other))
    assert not verdict.ok
    assert verdict.extra == tuple(other.windows)
    assert "lost 0, extra 1" in verdict.line()
    [wid] = other.windows
    assert f"extra {wid} (trigger z-2, not expected)" in "\n".join(verdict.details(expectation))


def test_repeats_with_the_same_payload_are_counted_and_pass(settings):
    expectation = expect(settings, _hot(settings, "a", "acme-data.example"))
    once = _encoded(expectation)
    verdict = judge(expectation, once * 3)
    assert verdict.ok
    assert (verdict.distinct, verdict.repeats) == (1, 2)
    assert verdict.line().endswith("repeats 2 (same id)")


def test_a_repeat_with_another_payload_fails_the_verdict(settings):
    expectation = expect(settings, _hot(settings, "a", "acme-data.example"))
    [window] = expectation.windows.values()
    changed = {**window, "play": "value_add"}
    verdict = judge(expectation, [orjson.dumps(window), orjson.dumps(changed)])
    assert not verdict.ok
    assert verdict.conflicting == (window["window_id"],)
    assert "conflicting 1 (same id, other payload)" in verdict.line()


def test_a_window_unlike_the_replay_fails_even_when_delivered_once(settings):
    expectation = expect(settings, _hot(settings, "a", "acme-data.example"))
    [window] = expectation.windows.values()
    score = {**window["score"], "total": window["score"]["total"] + 1}
    verdict = judge(expectation, [orjson.dumps({**window, "score": score})])
    assert not verdict.ok
    assert verdict.unlike == (window["window_id"],)
    assert not verdict.lost and not verdict.extra
    assert "differs in score.total" in "\n".join(verdict.details(expectation))


def test_an_undecodable_record_on_the_windows_topic_fails_the_verdict(settings):
    expectation = expect(settings, _hot(settings, "a", "acme-data.example"))
    verdict = judge(expectation, [*_encoded(expectation), b"\xff not json", None])
    assert not verdict.ok
    assert verdict.undecodable == 2
    assert verdict.repeats == 0


def test_refused_records_are_expected_dead_letters_with_their_reason(settings):
    signal_topic, dlq = settings.topic_email_opened, settings.topic_email_opened + ".dlq"
    future = event("email_opened", "f-1", datetime.now(UTC) + timedelta(days=400))
    future |= {"person": ICP_PERSON, "account": ICP_ACCOUNT}
    records = [
        Record(signal_topic, b"{not json"),
        Record(signal_topic, None),
        Record(signal_topic, b"[1, 2]"),
        Record(signal_topic, orjson.dumps(future)),
        Record(settings.topic_outreach_activity, b'{"type": "waved"}'),
        Record(settings.topic_crm_contacts, b'{"person": {}}'),
    ]
    expectation = expect(settings, records)
    assert expectation.dead_letters == {
        (dlq, "not_json"): 1,
        (dlq, "tombstone"): 1,
        (dlq, "not_object"): 1,
        (dlq, "future_event"): 1,
        (settings.topic_outreach_activity + ".dlq", "unknown_type"): 1,
        (settings.topic_crm_contacts + ".dlq", "missing_identity"): 1,
    }
    assert expectation.consumed == {}
    assert not expectation.windows


def test_a_signal_older_than_the_horizon_is_consumed_then_dead_lettered_as_too_late(settings):
    history = _hot(settings, "a", "acme-data.example")
    old = event(
        "email_opened",
        "old-1",
        START - timedelta(days=3650),
        person={**ICP_PERSON, "email": "dana@acme-data.example"},
        account={**ICP_ACCOUNT, "domain": "acme-data.example"},
    )
    history += records_on_one_topic(settings.topic_page_visited, [old])
    expectation = expect(settings, history)
    assert expectation.dead_letters == {(settings.topic_page_visited + ".dlq", "too_late"): 1}
    assert expectation.consumed == {settings.topic_page_visited: 5}
    assert len(expectation.windows) == 1


def test_the_event_clock_is_per_keyed_partition(settings):
    """A late event on another partition must not make this partition's signals stale."""
    here, there = "acme-data.example", "north-data.example"
    while keyed_partition(there, 6) == keyed_partition(here, 6):
        there = "x" + there
    later = _hot(settings, "late", there, START + timedelta(days=20))[:1]
    expectation = expect(settings, later + _hot(settings, "a", here))
    assert {p for p in expectation.partitions.values()} == {keyed_partition(here, 6)}
    # Under one clock for every partition the same history opens nothing: the pricing
    # visits would be judged 20 days late.
    one = settings.model_copy(update={"partitions": 1})
    single = expect(one, later + _hot(settings, "a", here))
    assert not single.windows


def test_the_wall_clock_setting_uses_the_wall_clock(settings):
    wall = settings.model_copy(update={"clock": "wall"})
    history = _hot(settings, "a", "acme-data.example")
    assert len(expect(wall, history, wall=lambda: START + timedelta(hours=21)).windows) == 1
    assert not expect(wall, history, wall=lambda: START + timedelta(days=30)).windows


def test_a_record_on_a_topic_the_engine_does_not_read_is_an_error(settings):
    with pytest.raises(ValueError, match="reads no topic"):
        expect(settings, [Record("somewhere.else", b"{}")])


@pytest.mark.parametrize("partitions", [1, 4, 6])
@pytest.mark.parametrize("activity", [False, True])
def test_markers_open_one_window_on_every_keyed_partition(settings, partitions, activity):
    settings = settings.model_copy(update={"partitions": partitions})
    markers = marker_records(settings, "m1", START, activity=activity)
    expectation = expect(settings, markers)
    assert len(markers) == len(expectation.windows) == partitions
    assert sorted(expectation.partitions.values()) == list(range(partitions))
    events = [orjson.loads(m.value)["event_id"] for m in markers]
    assert expectation.ids_triggered_by(events) == frozenset(expectation.windows)
    for record in markers:
        body = orjson.loads(record.value)
        assert record.key is not None
        assert record.key.decode() == _partition_key_of(body)
    # A second round needs its own tag: the same people would be in their cooldown.
    again = expect(settings, markers + marker_records(settings, "m2", START, activity=activity))
    assert len(again.windows) == 2 * partitions


def _partition_key_of(body: dict) -> str:
    if body["type"] == "meeting_held":
        return Account.model_validate(body["account"]).domain
    signal = decode_signal(orjson.dumps(body), default_type=None, max_bytes=10**6)
    return partition_key(signal.account, signal.person)  # type: ignore[union-attr]


def _on_broker(broker, tmp_path: Path) -> Settings:
    """Settings on the session's broker with a windows topic of this test's own."""
    from streams.broker import create_topics

    settings = Settings(
        broker_url=broker.url,
        partitions=6,
        clock="event",
        state_dir=tmp_path,
        topic_windows_opened=f"t-{tmp_path.name}.windows",
    )
    asyncio.run(create_topics(settings, [settings.topic_windows_opened], partitions=6))
    return settings


@pytest.mark.integration
def test_collect_reads_windows_back_from_the_broker(broker, tmp_path):
    from streams.verifier_kafka import collect

    settings = _on_broker(broker, tmp_path)
    records = _hot(settings, "a", "acme-data.example") + marker_records(settings, "m", START)
    expectation = expect(settings, records)
    windows = [
        Record(settings.topic_windows_opened, raw, key=orjson.loads(raw)["person_key"].encode())
        for raw in _encoded(expectation)
    ]
    dropped, kept = windows[0], windows[1:]
    asyncio.run(produce(settings, [*kept, kept[0]]))
    verdict, messages = asyncio.run(collect(settings, expectation, timeout=4.0, quiet=0.5))
    assert len(messages) == len(kept) + 1
    assert verdict.lost == (orjson.loads(dropped.value)["window_id"],)  # type: ignore[arg-type]
    assert verdict.repeats == 1 and not verdict.ok

    asyncio.run(produce(settings, [dropped]))
    verdict, _ = asyncio.run(collect(settings, expectation, timeout=30.0, quiet=0.5))
    assert verdict.ok, verdict.line()
    assert verdict.line().endswith("lost 0, extra 0, repeats 1 (same id)")


@pytest.mark.integration
def test_the_command_line_prints_the_line_and_fails_on_a_lost_window(
    broker, tmp_path, monkeypatch, capsys
):
    from streams.local import settings_env
    from streams.verifier_kafka import load_history, main

    settings = _on_broker(broker, tmp_path)
    for name, value in settings_env(settings).items():
        monkeypatch.setenv(name, value)
    records = _hot(settings, "a", "acme-data.example") + _hot(settings, "b", "beta-data.example")
    history = tmp_path / "history.jsonl"
    rows = [
        {"topic": r.topic, "key": r.key.decode(), "value": orjson.loads(r.value)} for r in records
    ]
    history.write_bytes(b"\n".join(orjson.dumps(row) for row in rows) + b"\n")
    assert load_history(history) == records

    windows = _encoded(expect(settings, records))
    asyncio.run(produce(settings, [Record(settings.topic_windows_opened, windows[0])]))
    assert main([str(history), "--timeout", "3", "--quiet", "0.5"]) == 1
    assert "lost 1, extra 0" in capsys.readouterr().out

    asyncio.run(produce(settings, [Record(settings.topic_windows_opened, windows[1])]))
    assert main([str(history), "--timeout", "30", "--quiet", "0.5"]) == 0
    out = capsys.readouterr().out
    assert out.strip() == (
        "verifier: expected 2, distinct delivered 2, lost 0, extra 0, repeats 0 (same id)"
    )
