"""Table access for one partition's slice of a batch.

Faust routes a table read or write to the partition of the *current event*. A batch from
`take_events()` mixes partitions, so the agent groups events by partition and wraps each
group in `partition_scope(event)`, which makes one of that group's events current. Inside the
scope, `PartitionBatch` decodes each table value once and writes each changed key once at
`flush()`: one changelog record per key per batch instead of one per event.

`partition_scope` sets faust's `_current_event` context variable directly. That is a private
name of faust-streaming (pinned in pyproject); `tests/integration` checks that table state
and its changelog land on the source partition.
"""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Iterator, Mapping
from typing import Any

from faust.streams import _current_event

from rules.state import AccountState, ProspectState

__all__ = ["PartitionBatch", "partition_scope", "prospect_table_key"]


@contextlib.contextmanager
def partition_scope(event: Any) -> Iterator[None]:
    token = _current_event.set(weakref.ref(event))
    try:
        yield
    finally:
        _current_event.reset(token)


def prospect_table_key(account_key: str | None, person_key: str) -> bytes:
    return f"{account_key or ''}|{person_key}".encode()


class _ProspectView(Mapping[str, ProspectState]):
    """The people of one account, looked up lazily by person key."""

    def __init__(self, batch: PartitionBatch, account_key: str | None) -> None:
        self._batch = batch
        self._account_key = account_key

    def __getitem__(self, person_key: str) -> ProspectState:
        state = self._batch.prospect(self._account_key, person_key)
        if state is None:
            raise KeyError(person_key)
        return state

    def __iter__(self) -> Iterator[str]:  # the engine looks people up; it never lists them
        raise TypeError("prospects are looked up by key, not listed")

    def __len__(self) -> int:
        raise TypeError("prospects are looked up by key, not counted")


class PartitionBatch:
    def __init__(self, accounts: Any, prospects: Any) -> None:
        self._accounts_table = accounts
        self._prospects_table = prospects
        self._accounts: dict[bytes, AccountState | None] = {}
        self._prospects: dict[bytes, ProspectState | None] = {}
        self._dirty_accounts: set[bytes] = set()
        self._dirty_prospects: set[bytes] = set()

    def account(self, account_key: str | None) -> AccountState | None:
        if account_key is None:
            return None
        key = account_key.encode()
        if key not in self._accounts:
            raw = self._accounts_table.get(key)
            self._accounts[key] = AccountState.from_bytes(raw) if raw else None
        return self._accounts[key]

    def prospect(self, account_key: str | None, person_key: str) -> ProspectState | None:
        key = prospect_table_key(account_key, person_key)
        if key not in self._prospects:
            raw = self._prospects_table.get(key)
            self._prospects[key] = ProspectState.from_bytes(raw) if raw else None
        return self._prospects[key]

    def prospects(self, account_key: str | None) -> Mapping[str, ProspectState]:
        return _ProspectView(self, account_key)

    def put_account(self, account_key: str, state: AccountState) -> None:
        key = account_key.encode()
        self._accounts[key] = state
        self._dirty_accounts.add(key)

    def put_prospect(self, account_key: str | None, person_key: str, state: ProspectState) -> None:
        key = prospect_table_key(account_key, person_key)
        self._prospects[key] = state
        self._dirty_prospects.add(key)

    def flush(self) -> int:
        """Write every changed key once; return how many keys were written."""
        for key in self._dirty_accounts:
            state = self._accounts[key]
            assert state is not None
            self._accounts_table[key] = state.to_bytes()
        for key in self._dirty_prospects:
            pstate = self._prospects[key]
            assert pstate is not None
            self._prospects_table[key] = pstate.to_bytes()
        written = len(self._dirty_accounts) + len(self._dirty_prospects)
        self._dirty_accounts.clear()
        self._dirty_prospects.clear()
        return written
