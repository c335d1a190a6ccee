"""What one frame entry does: call the pure core, record its state changes, collect what
must be published. Called by `streams.score.Scorer` once per entry; never does I/O.

Each handler reads and writes the frame's `PartitionState` and appends records to
`FrameWork.outputs`; `streams.score` publishes them, then the state, in its order.

    SIGNAL     apply_signal at the account (fan-out for account-level signals)
    DEPARTURE  depart at the previous account, forward the job change as an ARRIVAL
    ARRIVAL    apply_signal at the new account with the person's history there
    ACTIVITY   apply_outreach: cadence, closes, post-demo windows, person-level suppression
    CONTACT    apply_contact: CRM roles and who the person is
    TICK       close windows past expiry; forget overflow records past the horizon, and
               finished erasure requests' notes

ERASE, ERASED and UNCONTACT are `streams.erasure.Erasure`'s.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from rules.core.champions import apply_contact, depart, previous_person_key
from rules.core.dedup import Spill
from rules.core.engine import Outcome, apply_signal, prospect_owner
from rules.core.fitcache import FitCache
from rules.core.outreach import apply_outreach, expire, replaced
from rules.core.state import Suppression
from rules.rulebook.model import Rulebook
from signals.activity import decode_activity
from signals.codec import Rejected, encode
from signals.contacts import decode_contact
from signals.identity import account_key, partition_key, person_key, signal_account_key
from signals.records import SignalRec, contract_json
from signals.windows import ChampionHistory, WindowClosed, WindowOpened
from streams.dead_letter import dead_letter_out
from streams.delivery import Out
from streams.erasure import tally_key
from streams.frames import ARRIVAL, Entry, decode_signal_body, encode_frame, partition_for
from streams.metrics import BatchStats
from streams.partition import PartitionState
from streams.topics import Topics

__all__ = ["FrameWork", "Handlers"]

_OUTCOMES = frozenset({"touch_sent", "replied", "meeting_booked", "meeting_held"})
_TOO_LATE = "older than the horizon: it can no longer count"


@dataclass
class FrameWork:
    """What one frame produced so far: records to publish, numbers for the metrics."""

    state: PartitionState
    now: Callable[[datetime | None], datetime]  # the clock for an entry (event or wall)
    outputs: list[Out] = field(default_factory=list)
    stats: BatchStats = field(default_factory=BatchStats)
    erased: dict[str, list[bytes]] = field(default_factory=dict)  # table -> keys to purge


class Handlers:
    """The entry handlers, sharing the worker's rulebook, fit memo and topics."""

    def __init__(
        self,
        *,
        topics: Topics,
        rulebook: Rulebook,
        partitions: int,
        max_bytes: int,
        publish_suppression: Callable[[str, Suppression], Out],
    ) -> None:
        self.topics = topics
        self.rulebook = rulebook
        self.partitions = partitions
        self.max_bytes = max_bytes
        self.publish_suppression = publish_suppression
        self.fits = FitCache()

    # -- signals ------------------------------------------------------------------------

    def signal(self, entry: Entry, work: FrameWork, history: ChampionHistory | None = None) -> None:
        rec = decode_signal_body(entry.body)
        key = signal_account_key(rec.account, rec.person)
        state = work.state
        started = time.perf_counter()
        outcome = apply_signal(
            self.rulebook,
            rec,
            account=state.account(key),
            view=state,
            now=work.now(rec.occurred_at),
            history=history,
            fits=self.fits,
        )
        work.stats.scoring_seconds.append(time.perf_counter() - started)
        self._record(entry, rec, outcome, work)

    def arrival(self, entry: Entry, work: FrameWork) -> None:
        history = ChampionHistory.model_validate_json(entry.history) if entry.history else None
        self.signal(entry, work, history)

    def departure(self, entry: Entry, work: FrameWork) -> None:
        """At the previous account: read the person's history there, mark them departed,
        and forward the job change to the new account's partition."""
        rec = decode_signal_body(entry.body)
        previous = getattr(rec.properties, "previous_account", None)
        assert previous is not None  # the router sends only job changes with one here
        old = account_key(previous.domain)
        pk = previous_person_key(rec)
        state = work.state
        left = depart(
            self.rulebook, rec, account=state.account(old), prospect=state.prospect(old, pk)
        )
        if left.prospect is not None:
            state.put_prospect(left.prospect)
        new_key = partition_key(rec.account, rec.person)
        forward = Entry(
            ARRIVAL, new_key, entry.body, entry.origin, left.history.model_dump_json().encode()
        )
        partition = partition_for(new_key, self.partitions)
        work.outputs.append(Out(self.topics.keyed, None, encode_frame([forward]), partition))

    def _record(self, entry: Entry, rec: SignalRec, outcome: Outcome, work: FrameWork) -> None:
        state, stats = work.state, work.stats
        if outcome.account is not None:  # a duplicate may still heal its account write
            state.put_account(outcome.account)
        self._spills(outcome.spills, work)
        if outcome.verdict == "too_late":
            self._dead_letter(entry, contract_json(rec), "too_late", _TOO_LATE, work)
            return
        if outcome.duplicate:
            stats.duplicates[rec.type] += 1
            return
        now = work.now(None)
        key = signal_account_key(rec.account, rec.person)
        for pk, prospect in outcome.prospects.items():
            closed = replaced(state.prospect(key, pk), prospect, now)
            if closed is not None:
                self._closed(closed, work)
            state.put_prospect(prospect)
        for suppressed in outcome.suppressed:
            stats.suppressed[suppressed.reason] += 1
        occurred = rec.occurred_at.timestamp()
        if stats.last_event_time is None or occurred > stats.last_event_time:
            stats.last_event_time = occurred
        for window in outcome.windows:
            self._opened(window, occurred, work)

    # -- outreach activity and CRM contacts ---------------------------------------------

    def activity(self, entry: Entry, work: FrameWork) -> None:
        activity = decode_activity(entry.body, max_bytes=1 << 31)
        if isinstance(activity, Rejected):  # only a foreign producer on our internal topic
            self._dead_letter(entry, entry.body, activity.reason, activity.detail, work)
            return
        state, stats = work.state, work.stats
        account = signal_account_key(activity.account, activity.person)
        pk = person_key(activity.person)
        owner = prospect_owner(account, pk)
        outcome = apply_outreach(
            self.rulebook,
            activity,
            prospect=state.prospect(account, pk),
            account=state.account(account),
            now=work.now(activity.occurred_at),
            suppression=state.suppression(pk),
            overflow=lambda day: state.overflow(owner, day),
            fits=self.fits,
        )
        self._spills(tuple((owner, s) for s in outcome.spills), work)
        if outcome.verdict == "too_late":
            self._dead_letter(entry, entry.body, "too_late", _TOO_LATE, work)
            return
        if outcome.duplicate:
            stats.duplicates[activity.type.value] += 1
            return
        if outcome.prospect is not None:
            state.put_prospect(outcome.prospect)
        if outcome.suppression is not None:
            work.outputs.append(self.publish_suppression(pk, outcome.suppression))
        if outcome.play is not None and activity.type.value in _OUTCOMES:
            stats.outcomes[(outcome.play, activity.type.value)] += 1
        if outcome.suppressed is not None:
            stats.suppressed[outcome.suppressed.reason] += 1
        if outcome.closed is not None:
            self._closed(outcome.closed, work)
        if outcome.window is not None:
            self._opened(outcome.window, activity.occurred_at.timestamp(), work)

    def contact(self, entry: Entry, work: FrameWork) -> None:
        contact = decode_contact(entry.body, max_bytes=1 << 31)
        if isinstance(contact, Rejected):
            self._dead_letter(entry, entry.body, contact.reason, contact.detail, work)
            return
        key = account_key(contact.account.domain)
        state = work.state
        account, prospect = apply_contact(
            contact,
            account=state.account(key),
            prospect=state.prospect(key, person_key(contact.person)),
        )
        if account is not None:
            state.put_account(account)
        if prospect is not None:
            state.put_prospect(prospect)

    # -- time ---------------------------------------------------------------------------

    def tick(self, entry: Entry, work: FrameWork) -> None:
        """Close this partition's windows past expiry; drop overflow records past the
        horizon. Reads only the timers that are due."""
        now = work.now(None)
        state = work.state
        for key, (kind, account, pk, ref) in state.due_timers(now):
            if kind == "expire":
                cleared, closed = expire(state.prospect(account, pk), ref, now)
                if cleared is not None and closed is not None:
                    state.put_prospect(cleared)
                    self._closed(closed, work)
            elif kind == "overflow":
                state.put_overflow(
                    f"{account or ''}|{pk}" if pk else account or "", Spill(int(ref), drop=True)
                )
            elif kind == "erasure":
                state.put_note(tally_key(ref), None)
            state.drop_timer(key)

    # -- helpers ------------------------------------------------------------------------

    def _spills(self, spills: tuple[tuple[str, Spill], ...], work: FrameWork) -> None:
        horizon = timedelta(days=self.rulebook.engagement.horizon_days + 1)
        for owner, spill in spills:
            work.state.put_overflow(owner, spill)
            if not spill.drop:  # forget it past the horizon even if the owner goes quiet
                due = datetime.fromtimestamp(spill.day * 86_400, tz=work.now(None).tzinfo) + horizon
                account, _, person = owner.partition("|")
                work.state.add_timer(due, "overflow", account or None, person, str(spill.day))

    def _opened(self, window: WindowOpened, occurred: float, work: FrameWork) -> None:
        work.stats.windows[window.play] += 1
        work.stats.window_latency_seconds.append(max(0.0, time.time() - occurred))
        work.state.add_timer(
            window.draft.expires_at,
            "expire",
            window.account_key,
            window.person_key,
            window.window_id,
        )
        work.outputs.append(
            Out(self.topics.windows_opened, window.person_key.encode(), encode(window))
        )

    def _closed(self, closed: WindowClosed, work: FrameWork) -> None:
        work.stats.closed[closed.reason] += 1
        work.outputs.append(
            Out(self.topics.windows_closed, closed.person_key.encode(), encode(closed))
        )

    def _dead_letter(
        self, entry: Entry, value: bytes, reason: str, detail: str, work: FrameWork
    ) -> None:
        topic, partition, offset = entry.origin
        work.outputs.append(
            dead_letter_out(
                self.topics.dead_letter(topic),
                topic=topic,
                partition=partition,
                offset=offset,
                key=entry.key.encode(),
                value=value,
                headers=None,
                reason=reason,
                error_class="ValueError",
                detail=detail,
                max_bytes=self.max_bytes,
            )
        )
        work.stats.dead_lettered[(topic, reason)] += 1
