"""FrameOrder: frames faust never delivered are found and applied first, in order.

The reader here is a list of records; `HoleReader` against the real broker runs in
tests/faults/test_worker_restart.py, where faust drops records after recovery."""

from __future__ import annotations

import asyncio
import weakref
from collections import namedtuple
from types import SimpleNamespace

from streams.gaps import FrameOrder

TP = namedtuple("TP", "topic partition")
P0, P1 = TP("keyed", 0), TP("keyed", 1)


class ListReader:
    def __init__(self, first: int = 0) -> None:
        self.reads: list[tuple[int, int, int]] = []
        self.first = first

    async def read(self, tp, start, stop):
        self.reads.append((tp.partition, start, stop))
        return [SimpleNamespace(partition=tp.partition, offset=o) for o in range(start, stop)]

    async def first_offset(self, tp):
        return self.first


class Consumer:
    def __init__(self, committed) -> None:
        self._committed_offset = committed
        self.acked: list[tuple[int, int]] = []
        self._unacked_messages: weakref.WeakSet = weakref.WeakSet()

    def ack(self, message) -> bool:
        """What faust-streaming 0.15.3's `Consumer.ack` does with the message object."""
        assert not message.acked and message.topic == message.tp.topic
        message.acked = True
        self._unacked_messages.discard(message)
        self.acked.append((message.tp.partition, message.offset))
        return True


def _run(order: FrameOrder, tp, offset) -> list[int]:
    message = SimpleNamespace(tp=tp, offset=offset)
    records = asyncio.run(order.skipped(message))
    for record in records:
        order.applied(message, record)
    return [r.offset for r in records]


def test_consecutive_frames_from_the_committed_offset_read_nothing():
    reader, consumer = ListReader(), Consumer({P0: 5})
    order = FrameOrder(reader, lambda: consumer)
    assert [_run(order, P0, o) for o in (5, 6, 7)] == [[], [], []]
    assert reader.reads == [] and consumer.acked == []


def test_a_jump_reads_the_hole_applies_it_first_and_acks_each_offset():
    reader, consumer = ListReader(), Consumer({P0: 1})
    filled: list[int] = []
    order = FrameOrder(reader, lambda: consumer, on_filled=filled.append)
    assert _run(order, P0, 1) == []
    assert _run(order, P0, 9) == [2, 3, 4, 5, 6, 7, 8]
    assert consumer.acked == [(0, o) for o in range(2, 9)] and filled == [7]
    assert _run(order, P0, 10) == []  # and the order goes on from the frame after the hole


def test_the_first_frame_after_assignment_is_checked_against_the_committed_offset():
    reader, consumer = ListReader(), Consumer({P0: 1, P1: None})
    order = FrameOrder(reader, lambda: consumer)
    assert _run(order, P0, 9) == list(range(1, 9))  # faust dropped 1..8 after recovery
    # Nothing committed yet: the partition's first offset is where it starts.
    reader.first = 0
    assert _run(order, P1, 3) == [0, 1, 2]


def test_a_replay_after_a_seek_is_applied_again_and_the_order_continues_from_it():
    reader, consumer = ListReader(), Consumer({P0: 0})
    order = FrameOrder(reader, lambda: consumer)
    for offset in range(0, 6):
        _run(order, P0, offset)
    assert _run(order, P0, 2) == []  # a rebalance seeks back: 2.. again, deduplicated
    assert _run(order, P0, 3) == []
    assert _run(order, P0, 5) == [4]  # a hole in the replay is still a hole
    assert reader.reads == [(0, 4, 5)]


def test_revoked_partitions_start_again_from_the_committed_offset():
    reader, consumer = ListReader(), Consumer({P0: 0, P1: 0})
    order = FrameOrder(reader, lambda: consumer)
    _run(order, P0, 0)
    _run(order, P1, 0)
    consumer._committed_offset = {P0: 7, P1: 3}
    order.forget({0})
    assert _run(order, P0, 7) == []  # from the new committed offset, not from 1
    assert _run(order, P1, 3) == [1, 2]  # kept: still expected 1
    order.forget(None)
    assert _run(order, P1, 4) == [3]
