"""Erasure on request: what each keyed partition does with a `privacy.erasure` record, and
how the request's home partition knows that every partition is done.

A person may have state at many accounts, so on many partitions. The router sends the
request to every keyed partition (`streams.frames.BROADCAST`):

1. ERASE, on each partition: delete every key that holds the person (`PartitionState.
   erase_person`: their state at each account, spilled dedup records, timers). The
   changelog carries a tombstone for each key, and `streams.score` purges the deleted
   bytes from the RocksDB files once the frame is written. Then report the count to the
   request's home partition (the partition of `person:<person key>`) as an ERASED entry.
2. ERASED, on the home partition: note each partition's count (the largest seen, so a
   redelivered report after a crash changes nothing). When every partition has reported,
   publish the receipt on `privacy.erasure.done` (keyed by the request id, never by the
   person), tombstones for the person's key on `followup.windows-opened` and
   `followup.windows-closed` (compacted copies downstream drop them), and a tombstone for
   the request itself on `privacy.erasure` (its key is the person key). The note stays for
   a week, so that a late repeat of a report does not publish a second receipt, then a
   timer removes it.

At-least-once, like every effect: a crash repeats a step, and every step is idempotent.
What is kept: the person's suppression entry (a salted hash of the person key with no
other data, `streams.suppressions`), so an erased opt-out is still honoured.

A tombstone on `crm.contacts` (keyed by the person's email or CRM id) is broadcast too, as
UNCONTACT: it clears that contact's CRM roles at every account they have state at.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import msgspec

from rules.core.champions import clear_roles
from signals.codec import encode
from signals.erasure import ErasureReceipt, ErasureRequest, erased_keys
from streams.delivery import Out
from streams.frames import ERASED, Entry, encode_frame, partition_for
from streams.topics import Topics

if TYPE_CHECKING:
    from streams.effects import FrameWork

__all__ = [
    "NOTE_DAYS",
    "Erasure",
    "erase_body",
    "home_key",
    "tally_key",
    "uncontact_body",
]

NOTE_DAYS = 7
"""How long the home partition keeps a finished request's note (see the module docstring)."""


class _Erase(msgspec.Struct, frozen=True, array_like=True):
    request_id: str
    keys: tuple[str, ...]
    request_key: bytes | None  # the request's Kafka key, for its tombstone


class _Part(msgspec.Struct, frozen=True, array_like=True):
    request: _Erase
    partition: int
    removed: int


class _Tally(msgspec.Struct, frozen=True, array_like=True):
    removed: dict[int, int]  # partition -> keys removed there
    done: bool = False


class _Uncontact(msgspec.Struct, frozen=True, array_like=True):
    person_key: str
    at: float  # unix seconds: when the CRM said so (the tombstone's timestamp)


_ENC = msgspec.msgpack.Encoder()
_ERASE = msgspec.msgpack.Decoder(_Erase)
_PART = msgspec.msgpack.Decoder(_Part)
_TALLY = msgspec.msgpack.Decoder(_Tally)
_UNCONTACT = msgspec.msgpack.Decoder(_Uncontact)


def home_key(person_key: str) -> str:
    """The keyed-topic key whose partition collects a request's reports."""
    return f"person:{person_key}"


def tally_key(request_id: str) -> bytes:
    """The home partition's note of a request (accounts table; NUL: no account has it)."""
    return b"\x00erasure\x00" + request_id.encode()


def erase_body(request: ErasureRequest, request_key: bytes | None) -> bytes:
    return _ENC.encode(_Erase(request.request_id, erased_keys(request.person), request_key))


def uncontact_body(person_key: str, at: datetime) -> bytes:
    return _ENC.encode(_Uncontact(person_key, at.timestamp()))


class Erasure:
    """The ERASE, ERASED and UNCONTACT handlers (`streams.score` dispatches to them)."""

    def __init__(self, *, topics: Topics, partitions: int) -> None:
        self.topics = topics
        self.partitions = partitions

    def erase(self, entry: Entry, work: FrameWork) -> None:
        request = _ERASE.decode(entry.body)
        removed = work.state.erase_person(request.keys)
        for table, keys in removed.items():
            work.erased.setdefault(table, []).extend(keys)
        count = sum(len(keys) for keys in removed.values())
        work.stats.erased_keys += count
        report = Entry(
            ERASED,
            home_key(request.keys[0]),
            _ENC.encode(_Part(request, work.state.partition, count)),
            entry.origin,
        )
        home = partition_for(report.key, self.partitions)
        work.outputs.append(Out(self.topics.keyed, None, encode_frame([report]), home))

    def erased(self, entry: Entry, work: FrameWork) -> None:
        part = _PART.decode(entry.body)
        request = part.request
        state = work.state
        key = tally_key(request.request_id)
        raw = state.note(key)
        tally = _TALLY.decode(raw) if raw else _Tally({})
        if tally.done:
            return  # a repeat after the receipt went out
        removed = dict(tally.removed)
        removed[part.partition] = max(removed.get(part.partition, 0), part.removed)
        done = set(removed) >= set(range(self.partitions))
        state.put_note(key, _ENC.encode(_Tally(removed, done)))
        if not done:
            return
        now = work.now(None)
        receipt = ErasureReceipt(
            request_id=request.request_id,
            keys_removed=sum(removed.values()),
            partitions=self.partitions,
            erased_at=now.astimezone(UTC),
        )
        topics, outputs = self.topics, work.outputs
        outputs.append(Out(topics.erasure_done, request.request_id.encode(), encode(receipt)))
        for person_key in request.keys:
            outputs.append(Out(topics.windows_opened, person_key.encode(), None))
            outputs.append(Out(topics.windows_closed, person_key.encode(), None))
        if request.request_key is not None:
            outputs.append(Out(topics.erasure, request.request_key, None))
        state.add_timer(now + timedelta(days=NOTE_DAYS), "erasure", None, "", request.request_id)
        work.stats.erasures_done += 1

    def uncontact(self, entry: Entry, work: FrameWork) -> None:
        gone = _UNCONTACT.decode(entry.body)
        at = datetime.fromtimestamp(gone.at, tz=UTC)
        state = work.state
        for key in state.prospects_of(gone.person_key):
            account = key.partition(b"|")[0].decode() or None
            cleared = clear_roles(state.prospect(account, gone.person_key), at)
            if cleared is not None:
                state.put_prospect(cleared)
