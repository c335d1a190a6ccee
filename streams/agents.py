"""The two agents: validate-and-rekey, then score-and-decide.

    input topics ──ingest──▶ followup.signals-by-account ──score──▶ followup.windows-opened
    crm.contacts     │           (keyed by account)          │ tables: accounts, prospects
         │  (bad record)                                      │ job change: departure at the
         ▼                                                    │ old account, then arrival at
    <input>.dlq                                               ▼ the new one (streams.routing)
                                                 followup.signals-by-account.dlq

Both agents consume raw bytes in batches (`take_events`), never let an exception escape the
loop for a bad record (faust would ack and skip it), and hand every number they produce to
`Metrics.record_batch` as one plain `BatchStats`.

Delivery is at-least-once: faust flushes the producer before it commits offsets, and every
effect is idempotent (the score agent skips an `event_id` it has applied; window ids are
derived from the person and the triggering event).
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any

from rules.core.champions import apply_contact, depart, previous_person_key
from rules.core.engine import apply_signal, prospect_owner
from rules.core.fitcache import FitCache
from rules.core.outreach import apply_outreach, expire, replaced
from rules.rulebook.model import Rulebook
from signals.activity import decode_activity
from signals.codec import Rejected, decode_signal, encode, too_far_ahead
from signals.contacts import decode_contact, keep_roles_on_file
from signals.identity import account_key, partition_key, person_key, signal_account_key
from signals.models import JobChanged
from signals.records import record_of
from signals.sources import SourceSet, Unmapped
from signals.windows import ChampionHistory
from streams.clock import Clock
from streams.metrics import BatchStats, Metrics
from streams.publishing import Outgoing, Publisher
from streams.routing import (
    ACTIVITY,
    ARRIVAL,
    CHAMPION_HEADER,
    CONTACT,
    DEPARTURE,
    ROUTE_HEADER,
    TICK,
    header,
    route_signal,
)
from streams.source_ingest import ingest_source
from streams.table_batch import PartitionBatch, StateMemo, partition_scope
from streams.topics import Topics

__all__ = ["Pipeline"]

# The keyed topic is ours: its records were size-checked on the way in.
_INTERNAL_MAX_BYTES = 2**31
# Activities counted as outcomes of the play they answer (followup_play_outcomes_total).
_OUTCOMES = frozenset({"touch_sent", "replied", "meeting_booked", "meeting_held"})


class Pipeline(Publisher):
    """What the agents share: producer, tables, rulebook, metrics and clock."""

    def __init__(
        self,
        *,
        app: Any,
        topics: Topics,
        accounts: Any,
        prospects: Any,
        overflow: Any,
        expiries: Any,
        rulebook: Rulebook,
        metrics: Metrics,
        clock: Clock,
        max_message_bytes: int,
        batch_size: int,
        batch_seconds: float,
        event_clock: bool = False,
        max_future_skew_seconds: float = 300.0,
        sources: SourceSet | None = None,
    ) -> None:
        self.app = app
        self.topics = topics
        self.accounts = accounts
        self.prospects = prospects
        self.overflow = overflow
        self.expiries = expiries
        self.rulebook = rulebook
        self.metrics = metrics
        self.clock = clock
        self.max_message_bytes = max_message_bytes
        self.batch_size = batch_size
        self.batch_seconds = batch_seconds
        self.event_clock = event_clock
        self.max_future_skew_seconds = max_future_skew_seconds
        self.fits = FitCache()
        self.sources = sources if sources is not None else SourceSet.empty()
        # Newest event time seen per keyed partition: "now" under the event clock.
        self._event_time: dict[int, datetime] = {}
        self.memo = StateMemo()

    # -- agent bodies -------------------------------------------------------------------

    async def ingest(self, stream: Any) -> AsyncIterator[None]:
        """Faust agent over the input topics. Yields once per batch (for tests and sinks)."""
        async for events in stream.take_events(self.batch_size, within=self.batch_seconds):
            stats = BatchStats()
            for event in events:
                try:
                    await self._ingest_one(event, stats)
                except Exception as exc:  # never let one record stop the loop: faust would skip
                    await self._processing_error(event.message, exc, stats)
            self.metrics.record_batch(stats, now=time.time())
            yield None

    async def score(self, stream: Any) -> AsyncIterator[None]:
        """Faust agent over the keyed topic: one worker owns each account's partition.

        Order matters for at-least-once without loss: windows and forwarded job changes are
        published and flushed *before* the table state that records them is written, and
        dedup markers are written last. A crash in between repeats a window (same
        `window_id`) or a forward (same `event_id`) on restart; it can never lose one.
        """
        async for events in stream.take_events(self.batch_size, within=self.batch_seconds):
            stats = BatchStats()
            outbox: list[Outgoing] = []
            pending: list[tuple[Any, PartitionBatch]] = []
            for group in _by_partition(events):
                with partition_scope(group[0]):
                    batch = PartitionBatch(
                        self.accounts, self.prospects, self.overflow, self.expiries, self.memo
                    )
                    for event in group:
                        try:
                            outbox += self._score_one(event.message, batch, stats)
                        except Exception as exc:  # a bug in the core must not stop the worker
                            await self._processing_error(event.message, exc, stats)
                pending.append((group[0], batch))
            # Durable in this order: what we published, what events did to people, and
            # last the dedup markers (accounts, cadence); see streams.table_batch.
            if outbox:
                for out in outbox:
                    await self._publish(out, stats)
                await self.app.producer.flush()
            effects = 0
            for first_event, batch in pending:
                with partition_scope(first_event):
                    effects += batch.flush_effects()
            if effects:
                await self.app.producer.flush()
            for first_event, batch in pending:
                with partition_scope(first_event):
                    batch.flush_markers()
            self.metrics.record_batch(stats, now=time.time())
            yield None

    # -- ingest -------------------------------------------------------------------------

    async def _ingest_one(self, event: Any, stats: BatchStats) -> None:
        message = event.message
        if message.topic == self.topics.contacts:
            contact = decode_contact(message.value, max_bytes=self.max_message_bytes)
            if isinstance(contact, Rejected):
                await self._reject(message, contact, stats)
                return
            stats.consumed[(message.topic, contact.type)] += 1
            key, value = account_key(contact.account.domain), encode(contact)
            route: bytes | None = CONTACT
        elif message.topic == self.topics.activity:
            activity = decode_activity(message.value, max_bytes=self.max_message_bytes)
            if isinstance(activity, Rejected):
                await self._reject(message, activity, stats)
                return
            stats.consumed[(message.topic, activity.type.value)] += 1
            key, value = partition_key(activity.account, activity.person), encode(activity)
            route = ACTIVITY
        elif message.topic in self.sources.by_topic:
            # -- issue 9 wiring: a declared foreign source (streams.source_ingest) ----------
            routed = ingest_source(
                message, self.sources.by_topic[message.topic], max_bytes=self.max_message_bytes
            )
            if isinstance(routed, Rejected):
                await self._reject(message, routed, stats)
                return
            if isinstance(routed, Unmapped):
                stats.unmapped[(message.topic, routed.reason)] += 1
                return
            stats.consumed[(message.topic, routed.kind)] += 1
            key, value, route = routed.key, routed.value, routed.route
            # -- end issue 9 wiring -------------------------------------------------------
        else:
            signal = decode_signal(
                message.value,
                default_type=self.topics.inputs.get(message.topic),
                max_bytes=self.max_message_bytes,
            )
            if not isinstance(signal, Rejected):
                ahead = too_far_ahead(
                    signal.occurred_at, self.clock(), self.max_future_skew_seconds
                )
                signal = ahead if ahead is not None else signal
            if isinstance(signal, Rejected):
                await self._reject(message, signal, stats)
                return
            stats.consumed[(message.topic, signal.type.value)] += 1
            key, route = route_signal(signal)
            value = encode(signal)
        headers = [(ROUTE_HEADER, route)] if route is not None else None
        await self.app.producer.send(self.topics.keyed, key.encode(), value, None, None, headers)

    # -- score --------------------------------------------------------------------------

    def _score_one(self, message: Any, batch: PartitionBatch, stats: BatchStats) -> list[Outgoing]:
        """Apply one keyed record to `batch`; return what must be published for it."""
        route = header(message.headers, ROUTE_HEADER)
        if route == TICK:
            return self._sweep(message.partition, batch, stats)
        if route == CONTACT:
            return self._contact(message, batch, stats)
        if route == ACTIVITY:
            return self._activity(message, batch, stats)
        signal = decode_signal(message.value, default_type=None, max_bytes=_INTERNAL_MAX_BYTES)
        if isinstance(signal, Rejected):  # only a foreign producer on our internal topic
            return [
                self._dead_letter_out(
                    message, signal.reason, signal.error_class, signal.detail, stats
                )
            ]
        if route == DEPARTURE and isinstance(signal, JobChanged):
            return self._departure(message, signal, batch)
        history = None
        if route == ARRIVAL:
            raw = header(message.headers, CHAMPION_HEADER)
            history = ChampionHistory.model_validate_json(raw) if raw else None
        account = signal_account_key(signal.account, signal.person)
        started = time.perf_counter()
        outcome = apply_signal(
            self.rulebook,
            record_of(signal),
            account=batch.account(account),
            view=batch,
            now=self._now(message.partition, signal.occurred_at),
            history=history,
            fits=self.fits,
        )
        stats.scoring_seconds.append(time.perf_counter() - started)
        if outcome.account is not None:  # a duplicate may still heal its account write
            batch.put_account(outcome.account.account_key, outcome.account)
        for owner, spill in outcome.spills:
            batch.put_overflow(owner, spill)
        if outcome.verdict == "too_late":
            detail = "older than the horizon: it can no longer count"
            return [self._dead_letter_out(message, "too_late", "ValueError", detail, stats)]
        if outcome.duplicate:
            stats.duplicates[signal.type.value] += 1
            return []
        out: list[Outgoing] = []
        now = self._now(message.partition, None)
        for pk, state in outcome.prospects.items():
            closed = replaced(batch.prospect(account, pk), state, now)
            if closed is not None:
                stats.closed[closed.reason] += 1
                out.append(Outgoing(self.topics.windows_closed, pk.encode(), encode(closed)))
            batch.put_prospect(account, pk, state)
        for suppressed in outcome.suppressed:
            stats.suppressed[suppressed.reason] += 1
        occurred = signal.occurred_at.timestamp()
        if stats.last_event_time is None or occurred > stats.last_event_time:
            stats.last_event_time = occurred
        for w in outcome.windows:
            batch.index_expiry(
                message.partition, w.draft.expires_at, account, w.person_key, w.window_id
            )
        return out + [
            Outgoing(
                self.topics.windows_opened, w.person_key.encode(), encode(w), None, w, occurred
            )
            for w in outcome.windows
        ]

    def _departure(self, message: Any, signal: JobChanged, batch: PartitionBatch) -> list[Outgoing]:
        """At the old account: read the person's history, then forward to the new account."""
        assert signal.properties.previous_account is not None  # routed here only with one
        old = account_key(signal.properties.previous_account.domain)
        pk = previous_person_key(signal)
        departure = depart(
            self.rulebook,
            record_of(signal),
            account=batch.account(old),
            prospect=batch.prospect(old, pk),
        )
        if departure.prospect is not None:
            batch.put_prospect(old, pk, departure.prospect)
        headers = [
            (ROUTE_HEADER, ARRIVAL),
            (CHAMPION_HEADER, departure.history.model_dump_json().encode()),
        ]
        key = partition_key(signal.account, signal.person).encode()
        return [Outgoing(self.topics.keyed, key, message.value, headers)]

    def _activity(self, message: Any, batch: PartitionBatch, stats: BatchStats) -> list[Outgoing]:
        """What an outreach tool did: pace the cadence, close a window, maybe open one."""
        activity = decode_activity(message.value, max_bytes=_INTERNAL_MAX_BYTES)
        if isinstance(activity, Rejected):
            return [
                self._dead_letter_out(
                    message, activity.reason, activity.error_class, activity.detail, stats
                )
            ]
        account = signal_account_key(activity.account, activity.person)
        pk = person_key(activity.person)
        owner = prospect_owner(account, pk)
        outcome = apply_outreach(
            self.rulebook,
            activity,
            prospect=batch.prospect(account, pk),
            account=batch.account(account),
            now=self._now(message.partition, activity.occurred_at),
            suppression=batch.suppression(pk),
            overflow=lambda day: batch.overflow(owner, day),
            fits=self.fits,
        )
        for spill in outcome.spills:
            batch.put_overflow(owner, spill)
        if outcome.verdict == "too_late":
            detail = "older than the horizon: it can no longer count"
            return [self._dead_letter_out(message, "too_late", "ValueError", detail, stats)]
        if outcome.duplicate:
            stats.duplicates[activity.type.value] += 1
            return []
        if outcome.prospect is not None:
            batch.put_prospect(account, pk, outcome.prospect)
        if outcome.play is not None and activity.type.value in _OUTCOMES:
            stats.outcomes[(outcome.play, activity.type.value)] += 1
        if outcome.suppressed is not None:
            stats.suppressed[outcome.suppressed.reason] += 1
        out = []
        if outcome.closed is not None:
            stats.closed[outcome.closed.reason] += 1
            out.append(Outgoing(self.topics.windows_closed, pk.encode(), encode(outcome.closed)))
        if outcome.window is not None:
            window = outcome.window
            batch.index_expiry(
                message.partition, window.draft.expires_at, account, pk, window.window_id
            )
            out.append(
                Outgoing(
                    self.topics.windows_opened,
                    pk.encode(),
                    encode(window),
                    None,
                    window,
                    activity.occurred_at.timestamp(),
                )
            )
        return out

    def _sweep(self, partition: int, batch: PartitionBatch, stats: BatchStats) -> list[Outgoing]:
        """A tick: close this partition's windows that expired unused."""
        now = self._now(partition, None)
        out = []
        for key, account, pk, window_id in batch.due_expiries(partition, now):
            cleared, closed = expire(batch.prospect(account, pk), window_id, now)
            if cleared is not None and closed is not None:
                batch.put_prospect(account, pk, cleared)
                stats.closed[closed.reason] += 1
                out.append(Outgoing(self.topics.windows_closed, pk.encode(), encode(closed)))
            batch.unindex_expiry(key)
        return out

    def on_rebalance(self) -> None:
        """Called by the app after every rebalance: decoded states may be stale now."""
        self.memo.clear()
        self._event_time.clear()

    def _now(self, partition: int, event_time: datetime | None) -> datetime:
        """The clock for this record: wall time, or the partition's newest event time."""
        if not self.event_clock:
            return self.clock()
        newest = self._event_time.get(partition)
        if event_time is not None and (newest is None or event_time > newest):
            self._event_time[partition] = newest = event_time
        return newest if newest is not None else self.clock()

    def _contact(self, message: Any, batch: PartitionBatch, stats: BatchStats) -> list[Outgoing]:
        contact = decode_contact(message.value, max_bytes=_INTERNAL_MAX_BYTES)
        if isinstance(contact, Rejected):
            return [
                self._dead_letter_out(
                    message, contact.reason, contact.error_class, contact.detail, stats
                )
            ]
        key = account_key(contact.account.domain)
        pk = person_key(contact.person)
        prospect = batch.prospect(key, pk)
        # issue 9 wiring: a mapped `identify` states no roles (None): keep the CRM's on file.
        contact = keep_roles_on_file(contact, prospect.crm_roles if prospect is not None else ())
        account, prospect = apply_contact(contact, account=batch.account(key), prospect=prospect)
        if account is not None:
            batch.put_account(key, account)
        if prospect is not None:
            batch.put_prospect(key, pk, prospect)
        return []

    # -- publishing and errors ----------------------------------------------------------


def _by_partition(events: Sequence[Any]) -> list[list[Any]]:
    groups: dict[int, list[Any]] = defaultdict(list)
    for event in events:
        groups[event.message.partition].append(event)
    return list(groups.values())
