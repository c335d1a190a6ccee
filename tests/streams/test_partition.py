"""PartitionState's own keys: the event clock survives a commit and a cold read."""

from __future__ import annotations

from datetime import UTC, datetime

from streams.partition import TABLES, PartitionState
from streams.store import Memo


class DictStore:
    """A TableStore's interface over a dict (the RocksDB one runs in tests/faults)."""

    def __init__(self, name: str) -> None:
        self.changelog_topic = f"{name}-changelog"
        self.data: dict[tuple[int, bytes], bytes] = {}

    def get(self, partition: int, key: bytes) -> bytes | None:
        return self.data.get((partition, key))

    def scan(self, partition: int, prefix: bytes):
        return sorted(
            (k, v) for (p, k), v in self.data.items() if p == partition and k.startswith(prefix)
        )

    def keys(self, partition: int):
        return sorted(k for (p, k) in self.data if p == partition)

    def until(self, partition: int, end: bytes):
        return sorted((k, v) for (p, k), v in self.data.items() if p == partition and k < end)

    def write(self, partition: int, items: dict, offset: int | None) -> None:
        for key, raw in items.items():
            if raw is None:
                self.data.pop((partition, key), None)
            else:
                self.data[(partition, key)] = raw


def _state(stores, memo) -> PartitionState:
    return PartitionState(2, stores, memo, lambda _person: None)


def test_the_event_clock_is_written_with_the_frame_and_read_back_cold():
    stores = {name: DictStore(name) for name in TABLES}
    state = _state(stores, Memo(1 << 20))
    assert state.clock() is None
    at = datetime(2026, 11, 30, 9, 15, 30, 250000, tzinfo=UTC)
    state.put_clock(at)
    records = state.changelog()
    assert [(r.topic, r.partition) for r in records] == [("accounts-changelog", 2)]
    state.commit_local({"accounts": 0})

    cold = _state(stores, Memo(1 << 20))  # a restarted worker: nothing memoised
    assert cold.clock() == at
    assert cold.account("acme.com") is None  # the clock is not an account
    assert _state(stores, Memo(1 << 20)).people("acme.com") == []
