from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import orjson
import pytest

from signals.codec import Rejected, decode_signal
from signals.identity import partition_key, person_key
from signals.models import (
    FundingAnnounced,
    JobChanged,
    PageVisited,
    Signal,
    SignalType,
)
from signals.sample import bad_records, generate

END = datetime(2024, 5, 14, 12, 0, tzinfo=UTC)
MAX = 64 * 1024


@pytest.fixture(scope="module")
def records() -> list[tuple[str, bytes]]:
    return generate(7, end=END)


@pytest.fixture(scope="module")
def decoded(records: list[tuple[str, bytes]]) -> list[Signal]:
    out = []
    for kind, raw in records:
        result = decode_signal(raw, default_type=SignalType(kind), max_bytes=MAX)
        assert not isinstance(result, Rejected), (kind, result)
        assert result.type == kind
        out.append(result)
    return out


def test_same_seed_same_bytes(records: list[tuple[str, bytes]]) -> None:
    assert generate(7, end=END) == records
    assert generate(8, end=END) != records


def test_counts_in_range(records: list[tuple[str, bytes]]) -> None:
    assert 1_500 <= len(records) <= 3_000
    kinds = Counter(kind for kind, _ in records)
    assert set(kinds) == {kind.value for kind in SignalType}
    assert kinds["email_opened"] > kinds["page_visited"] > kinds["job_changed"]
    assert 3 <= kinds["funding_announced"] <= 10


def test_sorted_and_inside_the_window(decoded: list[Signal]) -> None:
    times = [signal.occurred_at for signal in decoded]
    assert times == sorted(times)
    assert END - timedelta(days=21) <= times[0]
    assert times[-1] <= END


def test_duplicates_are_exact_resends(
    records: list[tuple[str, bytes]], decoded: list[Signal]
) -> None:
    ids = Counter(signal.event_id for signal in decoded)
    dupes = {event_id for event_id, n in ids.items() if n > 1}
    assert 3 <= len(dupes) <= 20
    assert all(ids[event_id] == 2 for event_id in dupes)
    by_id: dict[str, set[bytes]] = {}
    for (_, raw), signal in zip(records, decoded, strict=True):
        by_id.setdefault(signal.event_id, set()).add(raw)
    assert all(len(by_id[event_id]) == 1 for event_id in dupes)
    assert all(event_id.startswith("demo-7-") for event_id in ids)


def test_the_story_is_there(decoded: list[Signal]) -> None:
    pricing = Counter(
        person_key(s.person)
        for s in decoded
        if isinstance(s, PageVisited) and s.person is not None and s.properties.path == "/pricing"
    )
    assert sum(1 for n in pricing.values() if n >= 2) >= 10  # hot prospects
    moves = [s for s in decoded if isinstance(s, JobChanged)]
    assert moves
    for move in moves:
        previous = move.properties.previous_account
        assert previous is not None
        assert previous.domain != move.account.domain
        assert move.person.email is not None
        assert move.person.email.endswith("@" + move.account.domain)
    domains = {s.account.domain for s in decoded if s.account is not None}
    assert all(m.properties.previous_account.domain in domains for m in moves)  # type: ignore[union-attr]
    funding = [s for s in decoded if isinstance(s, FundingAnnounced)]
    assert all(f.properties.amount_usd and f.properties.investors for f in funding)
    personal = {
        partition_key(s.account, s.person)
        for s in decoded
        if s.person is not None and s.person.email and s.person.email.endswith("@gmail.com")
    }
    assert personal
    assert len({s.account.domain for s in decoded if s.account is not None}) >= 30
    assert {s.person.seniority for s in decoded if s.person is not None} >= {
        "c_level",
        "vp",
        "director",
        "manager",
        "individual_contributor",
        "intern",
    }


def test_timezones_match_countries(records: list[tuple[str, bytes]]) -> None:
    regions = {"US": "America/", "CA": "America/", "GB": "Europe/", "DE": "Europe/"}
    for kind, raw in records:
        event = orjson.loads(raw)
        if kind != "email_opened" or "account" not in event or "country" not in event["account"]:
            continue
        prefix = regions.get(event["account"]["country"])
        if prefix:
            assert event["person"]["timezone"].startswith(prefix)


def test_smaller_sets_work() -> None:
    small = generate(1, people=20, accounts=4, days=2, end=END)
    assert small
    for kind, raw in small:
        assert not isinstance(
            decode_signal(raw, default_type=SignalType(kind), max_bytes=MAX), Rejected
        )


def test_naive_end_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        generate(end=datetime(2024, 5, 14))  # noqa: DTZ001


def test_bad_records_are_rejected() -> None:
    bad = bad_records(7)
    assert bad == bad_records(7)
    reasons: Counter[str] = Counter()
    for kind, raw in bad:
        result = decode_signal(raw, default_type=SignalType(kind), max_bytes=MAX)
        assert isinstance(result, Rejected), raw
        reasons[result.reason] += 1
    assert set(reasons) == {
        "not_json",
        "not_utf8",
        "not_object",
        "unknown_type",
        "missing_identity",
        "invalid",
    }
