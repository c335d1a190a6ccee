"""The score agent: groups of frames of the keyed topic in; windows, closes and state out.

**The order of a group's effects** (this module is the one place that owns it). A group is
every frame already waiting when its first frame arrives (`streams.group`: at most
`_GROUP_FRAMES` frames or `_GROUP_BYTES` of them; a lone frame when idle), across the
worker's keyed partitions, in the order Faust delivered them:

1. Each entry is applied, frame after frame, to its partition's `PartitionState` (one per
   partition per group, so a later frame reads what an earlier one wrote) by
   `streams.effects.Handlers`. An entry that fails (a bug in the core, bytes we did not
   write) becomes a dead letter with reason `processing_error`; the rest of the group goes
   on. Nothing is written or sent yet.
2. Everything the group publishes (windows, closes, forwarded job changes, person-level
   suppressions, dead letters) is delivered in one batch, every record acknowledged by the
   broker (`streams.delivery.Sender`, retried until it is).
3. The changelog records of every key the group changed (one per key and partition) are
   delivered in one batch, each acknowledged.
4. Only then are the values written to each partition's local stores, together with the
   changelog offsets they reached. Keys an erasure deleted are then purged from the files.
5. Only then does the agent ack the group's frames to Faust (the stream's own acks are
   off: Faust would ack a frame when the agent asks for the next one), the frames
   `streams.gaps` read back first included; their offsets are committed on Faust's commit
   interval.

A crash at any point repeats work, never loses it: before 2 completes, the frames are
redelivered and publish the same records again (window ids are deterministic); between
2 and 3, the state is not recorded and the redelivered frames repeat the windows (same
ids); between 3 and 4, the changelog is ahead of the local store, and recovery replays it
before the frames are redelivered and found to be duplicates; after 4, the redelivered
frames are duplicates. Local state is never ahead of its changelog.

A group never raises out of `process`: Faust would ack a frame whose agent raised and skip
it on restart. A send that keeps failing keeps the group here (readiness is false
meanwhile), so no offset passes an unpublished window.
"""

from __future__ import annotations

import asyncio
import logging
import time
import traceback
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rules.rulebook.model import Rulebook
from streams.dead_letter import dead_letter_out
from streams.delivery import Out, Sender
from streams.effects import FrameWork, Handlers
from streams.erasure import Erasure
from streams.frames import (
    ACTIVITY,
    ARRIVAL,
    CONTACT,
    DEPARTURE,
    ERASE,
    ERASED,
    SIGNAL,
    TICK,
    UNCONTACT,
    Entry,
    FrameError,
    decode_frame,
)
from streams.gaps import FrameOrder
from streams.group import frame_groups
from streams.health import Health
from streams.metrics import Metrics
from streams.partition import TABLES, PartitionState
from streams.store import Memo, TableStore
from streams.suppressions import Suppressions
from streams.topics import Topics

__all__ = ["Scorer"]

log = logging.getLogger(__name__)

_GROUP_FRAMES = 256  # frames applied and published together at most
_GROUP_BYTES = 2 * 1024 * 1024  # of frame values: bounds a group's work under a backlog

Frame = tuple[int, bytes | None, Any]
"""(keyed partition, value, message) of one frame to apply."""


class Scorer:
    def __init__(
        self,
        *,
        topics: Topics,
        tables: dict[str, Any],
        rulebook: Rulebook,
        sender: Sender,
        suppressions: Suppressions,
        metrics: Metrics,
        health: Health,
        clock: Callable[[], datetime],
        event_clock: bool,
        partitions: int,
        max_bytes: int,
        memo_bytes: int,
    ) -> None:
        self.topics = topics
        self.stores = {name: TableStore(tables[name]) for name in TABLES}
        self.sender = sender
        self.suppressions = suppressions
        self.metrics = metrics
        self.health = health
        self.clock = clock
        self.event_clock = event_clock
        self.max_bytes = max_bytes
        self.memo = Memo(memo_bytes)
        self.handlers = Handlers(
            topics=topics,
            rulebook=rulebook,
            partitions=partitions,
            max_bytes=max_bytes,
            publish_suppression=suppressions.publish,
        )
        erasure = Erasure(topics=topics, partitions=partitions)
        self._event_time: dict[int, datetime] = {}
        self.ready_to_send: asyncio.Event | None = None  # set once the output producer runs
        self.order: FrameOrder | None = None  # streams.gaps: no frame skipped, none reordered
        self._dispatch = {
            SIGNAL: self.handlers.signal,
            ARRIVAL: self.handlers.arrival,
            DEPARTURE: self.handlers.departure,
            ACTIVITY: self.handlers.activity,
            CONTACT: self.handlers.contact,
            TICK: self.handlers.tick,
            ERASE: erasure.erase,
            ERASED: erasure.erased,
            UNCONTACT: erasure.uncontact,
        }

    @property
    def rulebook(self) -> Rulebook:
        return self.handlers.rulebook

    @rulebook.setter
    def rulebook(self, rulebook: Rulebook) -> None:  # a reload (streams.reload)
        self.handlers.rulebook = rulebook

    async def agent(self, stream: Any) -> AsyncIterator[None]:
        """Faust agent body over the keyed topic: one group of frames at a time
        (concurrency 1), acked by hand after its effects (step 5)."""
        stream.enable_acks = False
        queue = stream.channel.queue
        groups = frame_groups(
            stream.events(),
            lambda: not queue.empty(),
            max_frames=_GROUP_FRAMES,
            max_bytes=_GROUP_BYTES,
        )
        async for events in groups:
            if self.ready_to_send is not None:
                await self.ready_to_send.wait()
            frames: list[Frame] = []
            filled: list[tuple[Any, Any]] = []
            for event in events:
                message = event.message
                if self.order is not None:  # frames faust never delivered come first
                    for record in await self.order.skipped(message):
                        frames.append((record.partition, record.value, record))
                        filled.append((message, record))
                frames.append((message.partition, message.value, message))
            await self.process(frames)
            if self.order is not None:
                for message, record in filled:
                    self.order.applied(message, record)
            for event in events:
                await stream.ack(event)
            yield None

    async def process(self, frames: list[Frame]) -> None:
        """Apply a group of frames in the order of the module docstring. Never raises,
        except `asyncio.CancelledError` when the worker stops (the group is then
        redelivered)."""
        parts: dict[int, _Part] = {}
        for partition, value, message in frames:
            part = parts.get(partition)
            if part is None:
                part = parts[partition] = self._part(partition)
            self._apply(part.work, value, message)
        outputs: list[Out] = []
        changelog: list[Out] = []
        spans: list[tuple[_Part, int, int]] = []  # each partition's slice of the changelog
        for part in parts.values():
            p = part.work.state.partition
            if self.event_clock and self._event_time.get(p) != part.clock_at_start:
                part.work.state.put_clock(self._event_time[p])
            outputs.extend(part.work.outputs)
            if part.work.state.changed:
                records = part.work.state.changelog()
                spans.append((part, len(changelog), len(changelog) + len(records)))
                changelog.extend(records)
        if outputs:
            await self.sender.deliver(outputs)
        metadata = await self.sender.deliver(changelog) if changelog else []
        by_topic = {self.stores[t].changelog_topic: t for t in TABLES}
        for part, start, stop in spans:
            offsets: dict[str, int] = {}
            for out, md in zip(changelog[start:stop], metadata[start:stop], strict=True):
                table = by_topic[out.topic]
                offsets[table] = max(offsets.get(table, -1), md.offset)
            part.work.state.commit_local(offsets)
        now = time.time()
        for part in parts.values():
            for table, keys in part.work.erased.items():  # an erasure: the bytes leave the disk
                self.stores[table].purge(part.work.state.partition, keys)
            self.metrics.record_batch(part.work.stats, now=now)

    def _part(self, partition: int) -> _Part:
        """A partition's state and work for one group, its event clock loaded."""
        state = PartitionState(partition, self.stores, self.memo, self.suppressions.get)
        if self.event_clock and partition not in self._event_time:
            stored = state.clock()  # the partition's clock survives restarts and moves
            if stored is not None:
                self._event_time[partition] = stored

        def now(event_time: datetime | None) -> datetime:
            return self._now(partition, event_time)

        return _Part(FrameWork(state, now), self._event_time.get(partition))

    def _apply(self, work: FrameWork, value: bytes | None, message: Any) -> None:
        """Apply one frame's entries to its partition's work (step 1)."""
        try:
            entries = decode_frame(value)
        except FrameError as exc:  # only a foreign producer on our internal topic
            self._broken_frame(message, value, str(exc), work)
            entries = []
        for entry in entries:
            handler = self._dispatch.get(entry.kind)
            try:
                if handler is None:
                    raise ValueError(f"unknown entry kind {entry.kind}")
                handler(entry, work)
            except Exception as exc:  # a bug must not stop the partition, nor skip the rest
                self._processing_error(entry, exc, work)

    def on_rebalance(self, revoked: set[int] | None = None) -> None:
        """Decoded states of partitions that moved may be stale when they come back."""
        self.memo.forget(revoked)
        if self.order is not None:
            self.order.forget(revoked)
        if revoked is None:
            self._event_time.clear()
        for p in revoked or ():
            self._event_time.pop(p, None)

    def _now(self, partition: int, event_time: datetime | None) -> datetime:
        """The clock for an entry: wall time, or the partition's newest event time."""
        if not self.event_clock:
            return self.clock()
        newest = self._event_time.get(partition)
        if event_time is not None and (newest is None or event_time > newest):
            self._event_time[partition] = newest = event_time
        return newest if newest is not None else self.clock()

    def _processing_error(self, entry: Entry, exc: Exception, work: FrameWork) -> None:
        # The traceback's frames name code, not data; the exception's text may quote a
        # field value, so it is left out of the log and of the dead letter.
        topic, partition, offset = entry.origin
        log.error(
            "processing failed for %s[%d]@%d: %s\n%s",
            topic,
            partition,
            offset,
            type(exc).__name__,
            "".join(traceback.format_tb(exc.__traceback__)),
        )
        work.outputs.append(
            dead_letter_out(
                self.topics.dead_letter(topic or self.topics.keyed),
                topic=topic,
                partition=partition,
                offset=offset,
                key=entry.key.encode(),
                value=entry.body,
                headers=None,
                reason="processing_error",
                error_class=type(exc).__name__,
                detail="processing raised; see worker log",
                max_bytes=self.max_bytes,
            )
        )
        work.stats.dead_lettered[(topic or self.topics.keyed, "processing_error")] += 1

    def _broken_frame(self, message: Any, value: bytes | None, why: str, work: FrameWork) -> None:
        topic = self.topics.keyed
        work.outputs.append(
            dead_letter_out(
                self.topics.dead_letter(topic),
                topic=topic,
                partition=message.partition,
                offset=message.offset,
                key=message.key,
                value=value,
                headers=message.headers,
                reason="invalid",
                error_class="FrameError",
                detail=why,
                max_bytes=self.max_bytes,
            )
        )
        work.stats.dead_lettered[(topic, "invalid")] += 1


@dataclass
class _Part:
    """One keyed partition's share of a group."""

    work: FrameWork
    clock_at_start: datetime | None  # its event clock before the group
