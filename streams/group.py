"""Group commit for the score agent: every frame already waiting, in one group.

Each group costs the score agent two acknowledged round trips to the broker (its outputs,
then its changelog records; `streams.score` owns the order), whatever its size. One frame
at a time, those round trips capped the agent at a few dozen frames a second per worker:
under a steady load the router cuts small frames often, and a queue built up behind them.
Grouping makes the round trips scale with the groups, not the frames. No frame waits for
company: a group is what is already in the agent's buffer when its first frame arrives, so
an idle worker applies a lone frame at once, and under load groups grow by themselves.

`frame_groups` reads Faust's stream one event at a time and closes a group when nothing
more is waiting (`waiting()` is false), or at `max_frames` or `max_bytes` of frame values.
The caller acks each event itself once the group's effects are acknowledged (the stream's
own acks are off), so no offset is committed before its group is published.

A rebalance clears the agent's buffer (`flow_control.clear`) and then waits for every
event taken to be acked. An event asked for because the buffer looked full may then never
come: after `drain_wait` the group is closed with what it has, and the pending read
becomes the first event of the next group. That read is never cancelled while the agent
runs (a cancelled read could lose an event Faust already took from the buffer).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterable, AsyncIterator, Callable
from typing import Any

__all__ = ["frame_groups"]


async def frame_groups(
    events: AsyncIterable[Any],
    waiting: Callable[[], bool],
    *,
    max_frames: int,
    max_bytes: int,
    drain_wait: float = 0.01,
) -> AsyncIterator[list[Any]]:
    """Groups of `events` (in order), each at least one event. `waiting()` says whether
    the source holds an event that can be read at once; an event's size is the length of
    `event.message.value`. Ends when `events` ends."""
    it = aiter(events)
    pending: asyncio.Future[Any] | None = None
    try:
        while True:
            if pending is None:
                pending = asyncio.ensure_future(anext(it))
            try:
                first = await pending
            except StopAsyncIteration:
                return
            pending = None
            group = [first]
            size = _size(first)
            while len(group) < max_frames and size < max_bytes and waiting():
                pending = asyncio.ensure_future(anext(it))
                done, _ = await asyncio.wait((pending,), timeout=drain_wait)
                if not done:  # the buffer was cleared under us: keep the read for later
                    break
                try:
                    event = pending.result()
                except StopAsyncIteration:
                    yield group
                    return
                pending = None
                group.append(event)
                size += _size(event)
            yield group
    finally:
        if pending is not None and not pending.done():
            pending.cancel()  # the agent is stopping: unacked events are redelivered
            with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                await pending


def _size(event: Any) -> int:
    value = event.message.value
    return len(value) if value else 0
