"""Table access for one partition's slice of a batch.

Faust routes a table read or write to the partition of the *current event*. A batch from
`take_events()` mixes partitions, so the agent groups events by partition and wraps each
group in `partition_scope(event)`, which makes one of that group's events current. Inside the
scope, `PartitionBatch` decodes each table value once and writes each changed key once per
batch: one changelog record per key instead of one per event.

One event's state can span three changelog topics, and faust ships them asynchronously, so
a crash can keep some writes and lose others. The agent therefore writes in phases with a
producer flush between them: prospects first (`flush_effects`), then the accounts and
the account states that hold the dedup markers of account-level events
(`flush_markers`). A marker is never durable before the effects it vouches for.

`partition_scope` sets faust's `_current_event` context variable directly. That is a private
name of faust-streaming (pinned in pyproject); `tests/integration` checks that table state
and its changelog land on the source partition (recovery after a crash, two workers).
"""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

import msgspec
from faust.streams import _current_event

from rules.core.dedup import Spill
from rules.core.state import (
    AccountState,
    ProspectState,
    Suppression,
    decode_account,
    decode_prospect,
    encode_state,
)

__all__ = ["PartitionBatch", "StateMemo", "expiry_key", "partition_scope", "prospect_table_key"]

S = TypeVar("S", AccountState, ProspectState)
_FPS = msgspec.msgpack.Decoder(tuple[int, ...])


@contextlib.contextmanager
def partition_scope(event: Any) -> Iterator[None]:
    token = _current_event.set(weakref.ref(event))
    try:
        yield
    finally:
        _current_event.reset(token)


def prospect_table_key(account_key: str | None, person_key: str) -> bytes:
    """Per-person tables are keyed by account and person: the account's partition holds them."""
    return f"{account_key or ''}|{person_key}".encode()


def expiry_key(partition: int, expires_at: datetime, account_key: str | None, pk: str) -> bytes:
    """Index key of an open window: its partition, then its expiry, sortable as text."""
    stamp = expires_at.astimezone(UTC).strftime("%Y%m%dT%H%M%S")
    return f"{partition:05d}|{stamp}|{account_key or ''}|{pk}".encode()


class StateMemo:
    """Decoded states that outlive a batch, per table, bounded; owned by the agent.

    A worker keeps seeing the same accounts on the partitions it owns, and decoding a stored
    state with pydantic costs more than scoring a signal. Entries are written at flush, so the
    memo only ever holds what the table holds. The agent clears it on every rebalance: a
    partition that moves away and comes back may have changed meanwhile.
    """

    def __init__(self, limit: int = 200_000) -> None:
        self.limit = limit
        self.tables: dict[str, dict[bytes, Any]] = {}

    def for_table(self, name: str) -> dict[bytes, Any]:
        return self.tables.setdefault(name, {})

    def clear(self) -> None:
        for values in self.tables.values():
            values.clear()


class _Cached(Generic[S]):
    """One table's values for this batch: decoded at first read, written once at flush."""

    def __init__(
        self,
        table: Any,
        decode: Callable[[bytes, bytes], S],
        memo: dict[bytes, Any] | None = None,
        limit: int = 0,
    ) -> None:
        self._table = table
        self._decode: Callable[[bytes, bytes], S] = decode
        self._values: dict[bytes, S | None] = {}
        self._dirty: set[bytes] = set()
        self._memo = memo
        self._limit = limit

    def get(self, key: bytes) -> S | None:
        if key not in self._values:
            if self._memo is not None and key in self._memo:
                self._values[key] = self._memo[key]
            else:
                raw = self._table.get(key)
                self._values[key] = self._decode(key, raw) if raw else None
        return self._values[key]

    def pending(self) -> list[tuple[bytes, S]]:
        """Values read or written in this batch (written ones are not in the table yet)."""
        return [(k, v) for k, v in self._values.items() if v is not None]

    def put(self, key: bytes, state: S) -> None:
        self._values[key] = state
        self._dirty.add(key)

    def flush(self) -> int:
        memo = self._memo
        if memo is not None and len(memo) + len(self._dirty) > self._limit:
            memo.clear()
        for key in self._dirty:
            state = self._values[key]
            assert state is not None
            self._table[key] = encode_state(state)
            if memo is not None:
                memo[key] = state
        written = len(self._dirty)
        self._dirty.clear()
        return written


class PartitionBatch:
    """One partition's tables for one batch; also the engine's `StateView` of them."""

    def __init__(
        self,
        accounts: Any,
        prospects: Any,
        overflow: Any,
        expiries: Any,
        memo: StateMemo | None = None,
    ) -> None:
        def cached(table: Any, name: str, decode: Callable[[bytes, bytes], S]) -> _Cached[S]:
            if memo is None:
                return _Cached(table, decode)
            return _Cached(table, decode, memo.for_table(name), memo.limit)

        self._accounts = cached(accounts, "accounts", lambda _key, raw: decode_account(raw))
        self._prospects = cached(
            prospects,
            "prospects",
            lambda key, raw: decode_prospect(raw, key.decode().split("|", 1)[1]),
        )
        self._prospect_table = prospects
        self._overflow = overflow
        self._overflow_writes: dict[bytes, bytes | None] = {}
        self._expiries = expiries
        self._indexed: dict[bytes, bytes] = {}
        self._unindexed: list[bytes] = []

    def account(self, account_key: str | None) -> AccountState | None:
        return None if account_key is None else self._accounts.get(account_key.encode())

    def put_account(self, account_key: str, state: AccountState) -> None:
        self._accounts.put(account_key.encode(), state)

    def prospect(self, account_key: str | None, person_key: str) -> ProspectState | None:
        return self._prospects.get(prospect_table_key(account_key, person_key))

    def put_prospect(self, account_key: str | None, person_key: str, state: ProspectState) -> None:
        self._prospects.put(prospect_table_key(account_key, person_key), state)

    def people(self, account_key: str) -> list[ProspectState]:
        """Every prospect under the account: the table's, and this batch's newer ones."""
        prefix = f"{account_key}|".encode()
        found: dict[bytes, ProspectState] = {}
        for key in list(self._prospect_table.keys()):
            if key.startswith(prefix):
                state = self._prospects.get(key)
                if state is not None:
                    found[key] = state
        for key, state in self._prospects.pending():
            if key.startswith(prefix):
                found[key] = state
        return list(found.values())

    def overflow(self, owner: str, day: int) -> frozenset[int]:
        key = f"{owner}|{day}".encode()
        raw = (
            self._overflow_writes[key] if key in self._overflow_writes else self._overflow.get(key)
        )
        return frozenset(_FPS.decode(raw)) if raw else frozenset()

    def put_overflow(self, owner: str, spill: Spill) -> None:
        key = f"{owner}|{spill.day}".encode()
        if spill.drop:
            self._overflow_writes[key] = None
            return
        held = self.overflow(owner, spill.day) | frozenset(spill.fingerprints)
        self._overflow_writes[key] = msgspec.msgpack.encode(tuple(sorted(held)))

    def suppression(self, person_key: str) -> Suppression | None:
        return None  # person-level suppressions arrive with the hot-path rework

    def index_expiry(
        self, partition: int, expires_at: datetime, account_key: str | None, pk: str, window_id: str
    ) -> None:
        """Remember an opened window so the sweep can close it when nobody used it."""
        self._indexed[expiry_key(partition, expires_at, account_key, pk)] = window_id.encode()

    def due_expiries(
        self, partition: int, now: datetime
    ) -> list[tuple[bytes, str | None, str, str]]:
        """Index entries of this partition due at `now`: (key, account key, person, window)."""
        prefix = f"{partition:05d}|".encode()
        until = expiry_key(partition, now, None, "")[: len(prefix) + 15]
        due = []
        for key in list(self._expiries.keys()):
            if key.startswith(prefix) and key[: len(until)] <= until:
                _, _, account, pk = key.decode().split("|", 3)
                window = self._expiries.get(key)
                if window:
                    due.append((key, account or None, pk, window.decode()))
        return due

    def unindex_expiry(self, key: bytes) -> None:
        self._unindexed.append(key)

    def flush_effects(self) -> int:
        """Write changed prospects, overflow records and new expiry index entries; return
        how many keys."""
        for key, window in self._indexed.items():
            self._expiries[key] = window
        for key, value in self._overflow_writes.items():
            if value is None:
                self._overflow.pop(key, None)
            else:
                self._overflow[key] = value
        written = len(self._indexed) + len(self._overflow_writes) + self._prospects.flush()
        self._indexed.clear()
        self._overflow_writes.clear()
        return written

    def flush_markers(self) -> int:
        """Write changed accounts, which hold the dedup markers of account-level events,
        and drop swept index entries; call after `flush_effects` is durable."""
        for key in self._unindexed:
            self._expiries.pop(key, None)
        dropped = len(self._unindexed)
        self._unindexed.clear()
        return self._accounts.flush() + dropped

    def flush(self) -> int:
        """Write every changed key once; return how many keys were written."""
        return self.flush_effects() + self.flush_markers()
