"""One keyed partition's state for one frame: what the engine reads, and what the frame
changed, written once per key.

The score agent makes a `PartitionState` per frame. Reads go through the memo, then the
store, decoding each key at most once per frame; writes stay in the frame's write cache.
It is the engine's `rules.core.engine.StateView` of the partition.

`changelog(...)` turns the changed keys into changelog records, one per key (the newest
value, or a tombstone). After the agent has them acknowledged, `commit_local(offsets)`
writes the values to the local stores with the changelog offset they reached, and updates
the memo. See `streams.score` for the order of a frame's effects.

Keys (all under the account's partition):

    accounts    <account key>
                \x00clock       the partition's event clock (unix seconds, as text)
    prospects   <account key>|<person key>          (fan-out scans the `<account>|` prefix)
    overflow    <owner>|<UTC day>                    (dedup fingerprints spilled by the core)
    timers      <due, 12 digits>|<kind>|<account>|<person>|<ref>  (in time order; the
                value repeats the parts, so keys are never parsed)

There is no person-to-accounts index: an erasure (`erase_person`) scans the partition's
keys instead, so the hot path writes nothing extra for a request that may never come.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from datetime import UTC, datetime
from typing import Any

import msgspec

from rules.core.dedup import Spill
from rules.core.state import (
    AccountState,
    ProspectState,
    Suppression,
    decode_account,
    decode_prospect,
    encode_state,
)
from streams.delivery import Out
from streams.store import Memo, TableStore

__all__ = ["TABLES", "PartitionState", "Timer", "prospect_key", "timer_key"]

TABLES = ("accounts", "prospects", "overflow", "timers")
_FPS = msgspec.msgpack.Decoder(tuple[int, ...])
_ENC = msgspec.msgpack.Encoder()

Timer = tuple[str, str | None, str, str]
"""A due timer: (kind, account key, person key, reference such as a window id)."""


def prospect_key(account_key: str | None, person_key: str) -> bytes:
    return f"{account_key or ''}|{person_key}".encode()


def timer_key(due: datetime, kind: str, account: str | None, person: str, ref: str) -> bytes:
    return f"{int(due.timestamp()):012d}|{kind}|{account or ''}|{person}|{ref}".encode()


_TIMER = msgspec.msgpack.Decoder(tuple[str, str | None, str, str])
_CLOCK_KEY = b"\x00clock"  # no account key starts with NUL
_NOTE = b"\x00"  # accounts-table keys of the glue's own notes start with NUL too


class PartitionState:
    def __init__(
        self,
        partition: int,
        stores: dict[str, TableStore],
        memo: Memo,
        suppressions: Callable[[str], Suppression | None],
    ) -> None:
        self.partition = partition
        self._stores = stores
        self._memo = memo
        self._suppression = suppressions
        self._read: dict[tuple[str, bytes], Any] = {}
        self._dirty: dict[tuple[str, bytes], Any] = {}  # value: state, bytes, or None (delete)
        self._encoded: dict[tuple[str, bytes], bytes | None] = {}  # by changelog()

    # -- reads (the engine's StateView) -------------------------------------------------

    def _get(self, table: str, key: bytes, decode: Callable[[bytes, bytes], Any]) -> Any:
        k = (table, key)
        if k in self._dirty:
            return self._dirty[k]
        if k in self._read:
            return self._read[k]
        state = self._memo.get(table, self.partition, key)
        if state is None:
            raw = self._stores[table].get(self.partition, key)
            state = decode(key, raw) if raw else None
            if state is not None:
                self._memo.put(table, self.partition, key, state, len(raw or b""))
        self._read[k] = state
        return state

    def account(self, account_key: str | None) -> AccountState | None:
        if account_key is None:
            return None
        state: AccountState | None = self._get(
            "accounts", account_key.encode(), lambda _k, raw: decode_account(raw)
        )
        return state

    def prospect(self, account_key: str | None, person_key: str) -> ProspectState | None:
        key = prospect_key(account_key, person_key)
        state: ProspectState | None = self._get(
            "prospects", key, lambda _k, raw: decode_prospect(raw, person_key, account_key)
        )
        return state

    def people(self, account_key: str) -> Iterable[ProspectState]:
        prefix = f"{account_key}|".encode()
        found: dict[bytes, ProspectState] = {}
        for key, _ in self._stores["prospects"].scan(self.partition, prefix):
            state = self.prospect(account_key, key.decode().split("|", 1)[1])
            if state is not None:
                found[key] = state
        for (table, key), value in self._dirty.items():  # people new in this frame
            if table == "prospects" and key.startswith(prefix) and value is not None:
                found[key] = value
        return list(found.values())

    def overflow(self, owner: str, day: int) -> frozenset[int]:
        raw = self._get("overflow", f"{owner}|{day}".encode(), lambda _k, raw: raw)
        return frozenset(_FPS.decode(raw)) if raw else frozenset()

    def clock(self) -> datetime | None:
        """The partition's event clock as last stored (`FOLLOWUP_CLOCK=event`)."""
        raw = self._get("accounts", _CLOCK_KEY, lambda _k, raw: raw)
        return datetime.fromtimestamp(float(raw), tz=UTC) if raw else None

    def put_clock(self, at: datetime) -> None:
        self._dirty[("accounts", _CLOCK_KEY)] = repr(at.timestamp()).encode()

    def note(self, key: bytes) -> bytes | None:
        """A note of the glue's own in the accounts table (`key` starts with NUL)."""
        assert key.startswith(_NOTE)
        raw: bytes | None = self._get("accounts", key, lambda _k, raw: raw)
        return raw

    def put_note(self, key: bytes, value: bytes | None) -> None:
        assert key.startswith(_NOTE) and key != _CLOCK_KEY
        self._dirty[("accounts", key)] = value

    def suppression(self, person_key: str) -> Suppression | None:
        return self._suppression(person_key)

    def due_timers(self, now: datetime) -> list[tuple[bytes, Timer]]:
        """Timers due at `now`, read in time order from the index (only what is due)."""
        end = f"{int(now.timestamp()) + 1:012d}".encode()
        out = []
        for key, value in self._stores["timers"].until(self.partition, end):
            if ("timers", key) in self._dirty and self._dirty[("timers", key)] is None:
                continue  # already fired in this frame
            out.append((key, _TIMER.decode(value)))
        return out

    # -- writes -------------------------------------------------------------------------

    def put_account(self, state: AccountState) -> None:
        self._dirty[("accounts", state.account_key.encode())] = state

    def put_prospect(self, state: ProspectState) -> None:
        self._dirty[("prospects", prospect_key(state.account_key, state.person_key))] = state

    def put_overflow(self, owner: str, spill: Spill) -> None:
        key = f"{owner}|{spill.day}".encode()
        if spill.drop:
            self._dirty[("overflow", key)] = None
            return
        held = self.overflow(owner, spill.day) | frozenset(spill.fingerprints)
        self._dirty[("overflow", key)] = _ENC.encode(tuple(sorted(held)))

    def add_timer(
        self, due: datetime, kind: str, account: str | None, person: str, ref: str
    ) -> None:
        key = timer_key(due, kind, account, person, ref)
        self._dirty[("timers", key)] = _ENC.encode((kind, account, person, ref))

    def drop_timer(self, key: bytes) -> None:
        self._dirty[("timers", key)] = None

    def erase_person(self, person_keys: Collection[str]) -> dict[str, list[bytes]]:
        """Delete every key of this partition that holds one of `person_keys`: their state
        at each account (engagement, cadence, memos of their windows), their spilled dedup
        records and their timers (window expiry). Returns the keys deleted, by table; the
        changelog then carries a tombstone for each."""
        wanted = {pk.encode() for pk in person_keys}
        names = set(person_keys)
        removed: dict[str, list[bytes]] = {}

        def drop(table: str, key: bytes) -> None:
            self._dirty[(table, key)] = None
            removed.setdefault(table, []).append(key)
            if table == "prospects":
                self._read[(table, key)] = None

        for person in person_keys:
            for key in self.prospects_of(person):
                drop("prospects", key)
        for key in self._keys("overflow"):  # <account>|<person>|<day>, or <account>|<day>
            owner = key.rpartition(b"|")[0]
            if owner.partition(b"|")[2] in wanted:
                drop("overflow", key)
        for key in self._keys("timers"):
            raw = self._dirty.get(("timers", key)) or self._stores["timers"].get(
                self.partition, key
            )
            if raw and _TIMER.decode(raw)[2] in names:
                drop("timers", key)
        return removed

    def prospects_of(self, person_key: str) -> list[bytes]:
        """The person's prospect keys at every account in this partition. A scan of the
        partition's keys (about 1 µs a key): for erasures and CRM tombstones only."""
        person = person_key.encode()
        return [k for k in self._keys("prospects") if k.partition(b"|")[2] == person]

    def _keys(self, table: str) -> list[bytes]:
        """Every key of the table in this partition, as this frame sees it."""
        keys = set(self._stores[table].keys(self.partition))
        for (t, key), value in self._dirty.items():
            if t == table:
                if value is None:
                    keys.discard(key)
                else:
                    keys.add(key)
        return sorted(keys)

    @property
    def changed(self) -> bool:
        return bool(self._dirty)

    def changelog(self) -> list[Out]:
        """One changelog record per changed key, for this partition's changelog topics."""
        out = []
        encoded = self._encoded
        for (table, key), value in self._dirty.items():
            encoded[(table, key)] = raw = _raw(value)
            out.append(Out(self._stores[table].changelog_topic, key, raw, self.partition))
        return out

    def commit_local(self, offsets: dict[str, int]) -> None:
        """Write the changed keys locally, with `offsets` (table -> newest changelog offset
        acknowledged for this partition). Call after `changelog()` was delivered."""
        by_table: dict[str, dict[bytes, bytes | None]] = {}
        encoded = self._encoded
        for (table, key), value in self._dirty.items():
            raw = encoded[(table, key)] if (table, key) in encoded else _raw(value)
            by_table.setdefault(table, {})[key] = raw
            if table in ("accounts", "prospects"):
                self._memo.put(table, self.partition, key, value, len(raw or b""))
        for table, items in by_table.items():
            self._stores[table].write(self.partition, items, offsets.get(table))
        self._dirty.clear()
        encoded.clear()


def _raw(value: Any) -> bytes | None:
    return value if value is None or isinstance(value, bytes) else encode_state(value)
