"""frame_groups: the score agent's groups are what is already waiting, never more.

The source here is an asyncio queue standing in for the agent's buffer; the real stream
runs in tests/integration/test_pipeline.py and tests/faults."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import pytest

from streams.group import frame_groups

_END = object()


def _event(n: int, size: int = 10) -> Any:
    return SimpleNamespace(n=n, message=SimpleNamespace(value=b"x" * size))


async def _source(queue: asyncio.Queue[Any]) -> AsyncIterator[Any]:
    while (item := await queue.get()) is not _END:
        yield item


def _groups(
    queue: asyncio.Queue[Any], waiting: Any = None, **kwargs: Any
) -> AsyncIterator[list[Any]]:
    caps = {"max_frames": 100, "max_bytes": 1 << 20, "drain_wait": 0.01, **kwargs}
    return frame_groups(_source(queue), waiting or (lambda: not queue.empty()), **caps)


def _numbers(group: list[Any]) -> list[int]:
    return [event.n for event in group]


def test_a_lone_frame_is_a_group_at_once_and_waiting_frames_join_the_next() -> None:
    async def run() -> None:
        queue: asyncio.Queue[Any] = asyncio.Queue()
        groups = _groups(queue)
        queue.put_nowait(_event(0))
        assert _numbers(await anext(groups)) == [0], "nothing else waits for it"
        for n in range(1, 6):  # arrived while group 0 was being applied
            queue.put_nowait(_event(n))
        assert _numbers(await anext(groups)) == [1, 2, 3, 4, 5]
        queue.put_nowait(_END)
        with pytest.raises(StopAsyncIteration):
            await anext(groups)

    asyncio.run(run())


@pytest.mark.parametrize(
    ("caps", "expected"),
    [
        ({"max_frames": 2}, [[0, 1], [2, 3], [4]]),
        ({"max_bytes": 25}, [[0, 1, 2], [3, 4]]),  # closed once 25 bytes are reached
        ({"max_frames": 1}, [[0], [1], [2], [3], [4]]),
    ],
)
def test_groups_are_capped_by_frames_and_bytes_and_keep_the_order(
    caps: dict[str, int], expected: list[list[int]]
) -> None:
    async def run() -> list[list[int]]:
        queue: asyncio.Queue[Any] = asyncio.Queue()
        for n in range(5):
            queue.put_nowait(_event(n))
        queue.put_nowait(_END)
        return [_numbers(g) async for g in _groups(queue, **caps)]

    assert asyncio.run(run()) == expected


def test_a_buffer_cleared_under_the_group_closes_it_and_loses_no_frame() -> None:
    """A rebalance clears the buffer and waits for the group's acks: the group must not
    wait for a frame that will not come, and the read asked for must not be lost."""

    async def run() -> None:
        queue: asyncio.Queue[Any] = asyncio.Queue()
        looks_full = True
        groups = _groups(queue, lambda: looks_full)
        queue.put_nowait(_event(0))
        assert _numbers(await anext(groups)) == [0], "closed after drain_wait, not stuck"
        looks_full = False
        queue.put_nowait(_event(1))  # the rebalance is over: the pending read gets it
        queue.put_nowait(_event(2))
        assert _numbers(await anext(groups)) == [1]
        assert _numbers(await anext(groups)) == [2]

    asyncio.run(run())


def test_the_source_ending_mid_group_still_yields_the_group() -> None:
    async def run() -> list[list[int]]:
        queue: asyncio.Queue[Any] = asyncio.Queue()
        queue.put_nowait(_event(0))
        queue.put_nowait(_event(1))
        queue.put_nowait(_END)
        return [_numbers(g) async for g in _groups(queue)]

    assert asyncio.run(run()) == [[0, 1]]


def test_closing_the_groups_cancels_the_pending_read() -> None:
    async def run() -> None:
        queue: asyncio.Queue[Any] = asyncio.Queue()
        looks_full = True
        groups = _groups(queue, lambda: looks_full)
        queue.put_nowait(_event(0))
        await anext(groups)  # a read of the next event is pending now
        await groups.aclose()
        queue.put_nowait(_event(1))
        await asyncio.sleep(0.02)
        assert queue.qsize() == 1, "the cancelled read took nothing"

    asyncio.run(run())
