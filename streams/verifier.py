"""The delivery verifier's pure half: the windows a history must open, and the verdict.

A *history* is the records a test or a benchmark produced to the engine's input topics, in
the order it produced them (anything with `topic`, `key` and `value`, such as
`streams.local.Record`). `expect` runs them through the pure core the way a worker would:

- each record is decoded as the ingest agent decodes its topic (`decode_signal` with the
  topic's default type, `decode_activity`, `decode_contact`), and a future-dated signal is
  refused against the wall clock; a refused record is an expected dead letter on
  `<topic>.dlq`, with the codec's reason;
- what is accepted is applied with `rules.offline.replay.Replay` (job changes at the
  previous account, then at the new one) under the worker's clock: with `clock="event"`
  each keyed partition's newest event time so far, otherwise the wall clock;
- what the core finds too late is an expected dead letter on its source topic's `.dlq`.

The expected windows are exact only if the engine sees each account's records in the
order of the history: produce one account's signals to one topic, keyed by
`signals.identity.partition_key`, and separate records on different topics that concern
the same people by a barrier (see `marker_records`). `judge` then compares what was
delivered on `followup.windows-opened` with the expectation, and `Verdict.line` is the
one line the chaos tier and the benchmark print:

    verifier: expected N, distinct delivered N, lost 0, extra 0, repeats K (same id)

Delivery is at-least-once, so repeats are allowed if each carries the payload of the
first; lost windows, extra windows, a repeat with another payload, a window unlike the
replay's or an undecodable record fail the verdict. `streams.verifier_kafka` reads the
topics and has the command line.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import orjson
from aiokafka.partitioner import murmur2

from rules.offline.replay import Replay
from rules.rulebook.loader import load_rulebook
from rules.rulebook.model import Rulebook
from signals.activity import decode_activity
from signals.codec import Rejected, decode_signal, encode, too_far_ahead
from signals.contacts import CrmContact, decode_contact
from signals.identity import partition_key
from streams.local import Record
from streams.settings import Settings
from streams.topics import Topics

__all__ = [
    "Expectation",
    "Produced",
    "Verdict",
    "decode_as_ingest",
    "expect",
    "judge",
    "keyed_partition",
    "marker_records",
]

MARKER_SOURCE = "verifier"


class Produced(Protocol):
    """One record of a history, as produced to an input topic."""

    @property
    def topic(self) -> str: ...
    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes | None: ...


@dataclass(frozen=True, slots=True)
class Expectation:
    """What a history must produce. Built by `expect`; read by `judge` and the tests."""

    windows: Mapping[str, Any]  # window id -> the window as JSON data (orjson.loads)
    triggers: Mapping[str, str]  # window id -> the triggering event's id
    partitions: Mapping[str, int]  # window id -> keyed partition that opens it
    dead_letters: Mapping[tuple[str, str], int]  # (dead-letter topic, reason) -> records
    consumed: Mapping[str, int]  # input topic -> records the ingest agent accepts
    records: int = 0
    duplicates: int = 0

    def ids_triggered_by(self, event_ids: Iterable[str]) -> frozenset[str]:
        """The expected windows whose trigger is one of `event_ids` (barriers, markers)."""
        wanted = set(event_ids)
        return frozenset(w for w, e in self.triggers.items() if e in wanted)


@dataclass(frozen=True, slots=True)
class Verdict:
    """The comparison of delivered windows with an `Expectation`."""

    expected: int
    distinct: int
    delivered: int  # records read, repeats included
    lost: tuple[str, ...] = ()
    extra: tuple[str, ...] = ()
    conflicting: tuple[str, ...] = ()  # one id, copies with different payloads
    unlike: tuple[str, ...] = ()  # delivered payload differs from the replay's
    undecodable: int = 0
    lost_by_partition: Mapping[int, int] = field(default_factory=dict)
    extra_triggers: Mapping[str, str] = field(default_factory=dict)  # extra id -> its trigger
    unlike_fields: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # id -> paths

    @property
    def repeats(self) -> int:
        return self.delivered - self.undecodable - self.distinct

    @property
    def ok(self) -> bool:
        return not (self.lost or self.extra or self.conflicting or self.unlike or self.undecodable)

    def line(self) -> str:
        """The one-line summary; fields past `repeats` appear only when not zero."""
        text = (
            f"verifier: expected {self.expected}, distinct delivered {self.distinct}, "
            f"lost {len(self.lost)}, extra {len(self.extra)}, repeats {self.repeats} (same id)"
        )
        if self.conflicting:
            text += f", conflicting {len(self.conflicting)} (same id, other payload)"
        if self.unlike:
            text += f", unlike the replay {len(self.unlike)}"
        if self.undecodable:
            text += f", undecodable {self.undecodable}"
        return text

    def details(self, expectation: Expectation, limit: int = 10) -> list[str]:
        """Lines naming the failing windows: ids, trigger event ids and keyed partitions
        only (no person data), at most `limit` per kind."""
        out = []
        for kind, ids in (
            ("lost", self.lost),
            ("extra", self.extra),
            ("conflicting", self.conflicting),
            ("unlike the replay", self.unlike),
        ):
            for wid in ids[:limit]:
                if wid in expectation.windows:
                    trigger = expectation.triggers[wid]
                    where = f"keyed partition {expectation.partitions.get(wid, '?')}"
                else:
                    trigger, where = self.extra_triggers.get(wid, "?"), "not expected"
                differs = self.unlike_fields.get(wid) if kind == "unlike the replay" else None
                fields = f"; differs in {', '.join(differs)}" if differs else ""
                out.append(f"verifier: {kind} {wid} (trigger {trigger}, {where}{fields})")
            if len(ids) > limit:
                out.append(f"verifier: ... {len(ids) - limit} more {kind}")
        if self.lost_by_partition:
            spread = ", ".join(f"{p}: {n}" for p, n in sorted(self.lost_by_partition.items()))
            out.append(f"verifier: lost by keyed partition {{{spread}}}")
        return out


def keyed_partition(key: str, partitions: int) -> int:
    """The partition Kafka's default partitioner (murmur2) gives a key."""
    return (murmur2(key.encode()) & 0x7FFFFFFF) % partitions


def expect(
    settings: Settings,
    history: Iterable[Produced],
    *,
    rulebook: Rulebook | None = None,
    wall: Callable[[], datetime] | None = None,
) -> Expectation:
    """Replay `history` (in produce order) through the pure core; see the module docs.

    Raises `ValueError` for a record on a topic the engine does not read (declared foreign
    sources are not modelled)."""
    topics = Topics.from_settings(settings)
    core = Replay(rulebook if rulebook is not None else load_rulebook(settings.rulebook))
    wall = wall or (lambda: datetime.now(UTC))
    newest: dict[int, datetime] = {}
    dead: Counter[tuple[str, str]] = Counter()
    consumed: Counter[str] = Counter()
    partitions: dict[str, int] = {}
    count = 0

    def clock(key: str, at: datetime) -> tuple[int, datetime]:
        p = keyed_partition(key, settings.partitions)
        if settings.clock != "event":
            return p, wall()
        newest[p] = max(newest.get(p, at), at)
        return p, newest[p]

    for record in history:
        count += 1
        decoded = decode_as_ingest(topics, record, settings, wall())
        if isinstance(decoded, Rejected):
            dead[(topics.dead_letter(record.topic), decoded.reason)] += 1
            continue
        consumed[record.topic] += 1
        if isinstance(decoded, CrmContact):
            core.apply_contact(decoded)  # roles and who the person is: no window, no clock
            continue
        # A job change is scored at its new account, on that account's partition.
        p, now = clock(partition_key(decoded.account, decoded.person), decoded.occurred_at)
        opened = len(core.windows)
        if record.topic == topics.activity:
            verdict = core.apply_activity(decoded, now).verdict
        else:
            verdict = core.apply(decoded, now).verdict
        if verdict == "too_late":
            dead[(topics.dead_letter(record.topic), "too_late")] += 1
        for window in core.windows[opened:]:
            partitions.setdefault(window.window_id, p)

    windows: dict[str, Any] = {}
    triggers: dict[str, str] = {}
    for window in core.windows:
        if window.window_id not in windows:
            windows[window.window_id] = orjson.loads(encode(window))
            triggers[window.window_id] = window.trigger_event_id
    return Expectation(
        windows=windows,
        triggers=triggers,
        partitions=partitions,
        dead_letters=dict(dead),
        consumed=dict(consumed),
        records=count,
        duplicates=core.duplicates,
    )


def decode_as_ingest(topics: Topics, record: Produced, settings: Settings, wall: datetime) -> Any:
    """The record as the ingest agent decodes it from its topic (a signal, an activity or
    a CRM contact), or the `Rejected` it dead-letters. Raises `ValueError` for a topic the
    engine does not read."""
    limit = settings.max_message_bytes
    if record.topic == topics.contacts:
        return decode_contact(record.value, max_bytes=limit)
    if record.topic == topics.activity:
        return decode_activity(record.value, max_bytes=limit)
    if record.topic not in topics.inputs:
        raise ValueError(f"the engine reads no topic {record.topic!r}")
    default = topics.inputs[record.topic]
    signal = decode_signal(record.value, default_type=default, max_bytes=limit)
    if isinstance(signal, Rejected):
        return signal
    ahead = too_far_ahead(signal.occurred_at, wall, settings.max_future_skew_seconds)
    return ahead if ahead is not None else signal


def judge(expectation: Expectation, delivered: Iterable[bytes | None]) -> Verdict:
    """Compare the values read from the windows topic with `expectation`. Pure."""
    copies: dict[str, list[Any]] = {}
    undecodable = total = 0
    for raw in delivered:
        total += 1
        try:
            data = orjson.loads(raw) if raw is not None else None
            wid = data["window_id"] if isinstance(data, dict) else None
        except (orjson.JSONDecodeError, KeyError):
            wid = None
        if not isinstance(wid, str):
            undecodable += 1
            continue
        copies.setdefault(wid, []).append(data)
    want = expectation.windows
    lost = tuple(sorted(set(want) - set(copies)))
    lost_by = Counter(expectation.partitions[w] for w in lost if w in expectation.partitions)
    extra = tuple(sorted(set(copies) - set(want)))
    unlike = tuple(sorted(w for w, c in copies.items() if w in want and c[0] != want[w]))
    return Verdict(
        expected=len(want),
        distinct=len(copies),
        delivered=total,
        lost=lost,
        extra=extra,
        conflicting=tuple(sorted(w for w, c in copies.items() if any(x != c[0] for x in c))),
        unlike=unlike,
        undecodable=undecodable,
        lost_by_partition=dict(lost_by),
        extra_triggers={w: str(copies[w][0].get("trigger_event_id", "?")) for w in extra},
        unlike_fields={w: _differing(copies[w][0], want[w]) for w in unlike},
    )


def _differing(got: Any, want: Any, prefix: str = "", depth: int = 2) -> tuple[str, ...]:
    """Dotted paths (names only, never values) where two windows differ, a few levels deep."""
    if not (isinstance(got, dict) and isinstance(want, dict)) or depth == 0:
        return (prefix or "<window>",) if got != want else ()
    out: list[str] = []
    for key in sorted(set(got) | set(want)):
        if got.get(key) != want.get(key):
            out += _differing(got.get(key), want.get(key), f"{prefix}{key}.", depth - 1)
    return tuple(p.rstrip(".") for p in out)


def marker_records(
    settings: Settings, tag: str, at: datetime, *, activity: bool = False
) -> list[Record]:
    """One record per keyed partition that opens exactly one window there, at `at`.

    A barrier or the end of a history: once every marker's window is delivered, each keyed
    partition has scored everything produced to the same topic before it. Each marker is
    a new senior person at an ICP account kept for markers (`*.verifier.example`), so it
    touches nobody else's state. Date markers at or after every record produced before
    them: under the event clock they move their partition's clock to `at`. Signal markers
    are pricing visits on the page-visited topic; `activity=True` gives meetings held
    (post-demo windows) on the activity topic, for a barrier behind outreach activity.
    `tag` must be new for every call in one history (it names the people and events).
    """
    out = []
    for p in range(settings.partitions):
        domain = _marker_domain(p, settings.partitions)
        person = {
            "email": f"{tag}-{p}@{domain}",
            "title": "VP Engineering",
            "seniority": "vp",
            "department": "engineering",
            "timezone": "America/New_York",
        }
        account = {
            "domain": domain,
            "name": "Verifier Marker",
            "industry": "software",
            "employees": 400,
            "country": "US",
        }
        body: dict[str, Any] = {
            "event_id": f"marker-{tag}-{p}",
            "occurred_at": at.isoformat(),
            "source": MARKER_SOURCE,
            "person": person,
            "account": account,
        }
        if activity:
            body["type"] = "meeting_held"
            topic = settings.topic_outreach_activity
        else:
            body |= {"type": "page_visited", "properties": {"path": "/pricing"}}
            topic = settings.topic_page_visited
        out.append(Record(topic, orjson.dumps(body), key=domain.encode()))
    return out


def _marker_domain(partition: int, partitions: int) -> str:
    """The first `marker-<n>.verifier.example` whose key lands on `partition`."""
    n = 0
    while keyed_partition(f"marker-{n}.verifier.example", partitions) != partition:
        n += 1
    return f"marker-{n}.verifier.example"
