"""Frames on the keyed topic: round trip, refusal of foreign bytes, the partitioner."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from aiokafka.partitioner import DefaultPartitioner

from signals.records import AccountRec, PageProps, PersonRec, SignalRec
from streams.frames import (
    ACTIVITY,
    SIGNAL,
    Entry,
    FrameError,
    decode_frame,
    decode_signal_body,
    encode_frame,
    encode_signal_body,
    partition_for,
)

REC = SignalRec(
    "page_visited",
    "e1",
    "web",
    datetime(2026, 11, 30, 9, tzinfo=UTC),
    PersonRec(email="ana@acme.example", title="VP"),
    AccountRec("acme.example", technologies=("kafka",)),
    PageProps(path="/pricing"),
)


def test_a_frame_round_trips_its_entries_in_order() -> None:
    entries = [
        Entry(SIGNAL, "acme.example", encode_signal_body(REC), ("signals.page-visited", 2, 41)),
        Entry(ACTIVITY, "acme.example", b'{"type": "replied"}', ("outreach.activity", 0, 7)),
    ]
    again = decode_frame(encode_frame(entries))
    assert again == entries
    assert decode_signal_body(again[0].body) == REC


@pytest.mark.parametrize("data", [None, b"", b"\x02" + encode_frame([])[1:], b"\x01\xc1"])
def test_bytes_that_are_not_a_frame_are_refused(data: bytes | None) -> None:
    with pytest.raises(FrameError):
        decode_frame(data)


def test_the_partitioner_is_kafkas_default_so_producers_can_key_by_account() -> None:
    kafka = DefaultPartitioner()
    for key in ("acme.example", "person:ana@gmail.com", "xn--bcher-kva.example"):
        assert partition_for(key, 6) == kafka(key.encode(), list(range(6)), list(range(6)))
