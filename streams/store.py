"""Table storage as the score agent uses it: Faust's stores, read and written directly.

Faust keeps the tables: their changelog topics, recovery from them on every rebalance,
standby replicas, the RocksDB directory per table partition. What it does not have is a
batched write: `table[key] = value` writes RocksDB at once and ships one changelog record
later, unchecked, so local state can run ahead of its changelog after a crash. Here a
frame's changed keys are written the other way round (`streams.partition`): their
changelog records first, each acknowledged, then one RocksDB write batch holding the
values and the persisted changelog offset. Local state is never ahead of the changelog,
and a worker restarting on its own state directory replays the changelog from that
offset. A test rebuilds a worker from the changelog alone and compares.

`TableStore` is the one place that knows the store's internals (private to the pinned
faust-streaming; `tests/streams/test_faust_internals.py` pins them):
`Store._db_for_partition`, `Store._dbs`, `Store.offset_key`, the rocksdict `WriteBatch`, and
the memory store's `data` dict (`FOLLOWUP_STORE=memory`, for development).

A RocksDB delete only writes a tombstone: the old value stays in the write-ahead log and in
table files until a compaction passes over it. `purge` is what an erasure adds, so that the
bytes leave the disk now and not some day.

`Memo` keeps decoded states across frames, least recently used first out, bounded by an
estimate of their size in memory (`FOLLOWUP_STATE_MEMO_BYTES`).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

__all__ = ["Memo", "TableStore"]

# Decoded msgspec states take several times their encoded size in Python objects.
_DECODED_PER_ENCODED_BYTE = 8
_ENTRY_OVERHEAD = 200


class TableStore:
    """One Faust table's storage, by partition."""

    def __init__(self, table: Any) -> None:
        self.table = table
        self.name: str = table.name

    @property
    def changelog_topic(self) -> str:
        return str(self.table.changelog_topic.get_topic_name())

    @property
    def _store(self) -> Any:
        return self.table.data

    @property
    def is_rocksdb(self) -> bool:
        return hasattr(self._store, "_db_for_partition")

    def get(self, partition: int, key: bytes) -> bytes | None:
        store = self._store
        if self.is_rocksdb:
            value = store._db_for_partition(partition).get(key)
            return value if value is not None else None
        value = store.data.get(key)
        return value if isinstance(value, bytes) else None

    def scan(self, partition: int, prefix: bytes) -> Iterator[tuple[bytes, bytes]]:
        """The partition's keys that start with `prefix`, in key order."""
        store = self._store
        if not self.is_rocksdb:
            yield from sorted((k, v) for k, v in store.data.items() if k.startswith(prefix))
            return
        offset_key = store.offset_key
        for key, value in store._db_for_partition(partition).items(from_key=prefix):
            if not key.startswith(prefix):
                return
            if key != offset_key:
                yield key, value

    def keys(self, partition: int) -> Iterator[bytes]:
        """Every key of the partition, in key order, without reading values."""
        store = self._store
        if not self.is_rocksdb:
            yield from sorted(store.data)
            return
        offset_key = store.offset_key
        for key in store._db_for_partition(partition).keys():  # noqa: SIM118 (an Rdict)
            if key != offset_key:
                yield key

    def until(self, partition: int, end: bytes) -> Iterator[tuple[bytes, bytes]]:
        """The partition's keys below `end`, in key order (a time index's due entries)."""
        store = self._store
        if not self.is_rocksdb:
            yield from sorted((k, v) for k, v in store.data.items() if k < end)
            return
        offset_key = store.offset_key
        for key, value in store._db_for_partition(partition).items():
            if key >= end:
                return
            if key != offset_key:
                yield key, value

    def write(
        self, partition: int, items: Mapping[bytes, bytes | None], offset: int | None
    ) -> None:
        """Write values (None deletes) and, with them, the persisted changelog offset. Call
        only after the changelog records of `items` are acknowledged."""
        store = self._store
        if not self.is_rocksdb:
            for key, value in items.items():
                if value is None:
                    store.data.pop(key, None)
                else:
                    store.data[key] = value
            return
        import rocksdict

        batch = rocksdict.WriteBatch(raw_mode=True)
        for key, value in items.items():
            if value is None:
                batch.delete(key)
            else:
                batch.put(key, value)
        if offset is not None:
            batch.put(store.offset_key, str(offset).encode())
        store._db_for_partition(partition).write(batch)

    def purge(self, partition: int, keys: Iterable[bytes]) -> None:
        """Make deleted `keys` leave the disk: flush the memtable, compact the files that
        cover each key (the tombstone and the old value meet and both go), then reopen the
        database, which rewrites its manifest (it names each file's first and last key) and
        starts a new write-ahead log. Call after `write` deleted them. Costs a compaction of
        the files involved: for erasures, not for the hot path."""
        store = self._store
        if not self.is_rocksdb:
            return  # the memory store forgets at once
        import rocksdict

        db = store._db_for_partition(partition)
        db.flush(True)
        # Rewrite even files at the last level (a lone flushed file is otherwise moved down
        # as it is), so that the tombstone itself, which names the key, goes as well.
        force = rocksdict.CompactOptions()
        force.set_bottommost_level_compaction(rocksdict.BottommostLevelCompaction.force())
        for key in sorted(set(keys)):
            db.compact_range(key, key + b"\x00", force)
        store._dbs.pop(partition, None)
        db.close()
        store._db_for_partition(partition)


class Memo:
    """Decoded states by (table, partition, key), least recently used out first."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.bytes = 0
        self._items: OrderedDict[tuple[str, int, bytes], tuple[Any, int]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    def get(self, table: str, partition: int, key: bytes) -> Any | None:
        item = self._items.get((table, partition, key))
        if item is None:
            return None
        self._items.move_to_end((table, partition, key))
        return item[0]

    def put(self, table: str, partition: int, key: bytes, state: Any, encoded_size: int) -> None:
        k = (table, partition, key)
        size = encoded_size * _DECODED_PER_ENCODED_BYTE + _ENTRY_OVERHEAD
        old = self._items.pop(k, None)
        if old is not None:
            self.bytes -= old[1]
        if state is None or size > self.max_bytes:
            return
        self._items[k] = (state, size)
        self.bytes += size
        while self.bytes > self.max_bytes:
            _, (_, dropped) = self._items.popitem(last=False)
            self.bytes -= dropped

    def forget(self, partitions: set[int] | None = None) -> None:
        """Drop everything (None) or the states of `partitions` (revoked on a rebalance)."""
        if partitions is None:
            self._items.clear()
            self.bytes = 0
            return
        for k in [k for k in self._items if k[1] in partitions]:
            self.bytes -= self._items.pop(k)[1]
