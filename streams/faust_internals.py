"""Every private part of faust-streaming (0.15.3, pinned with aiokafka 0.14.0) the worker
relies on, in one place. `tests/streams/test_faust_internals.py` fails if one moves.

- `AIOKafkaConsumerThread._create_worker_consumer`: set aiokafka's fetch wait, which
  Faust fixes at 1,500 ms (`install_fetch_wait`).
- `AIOKafkaConsumerThread._highwaters`: where table recovery learns each changelog's end;
  answered with true end offsets (`streams.ends.install_true_highwaters`).
- `faust.stores.rocksdb.Store`: `_db_for_partition`, `offset_key`, `rocksdb_options`;
  `RocksDBOptions.as_options` builds each partition DB's options (`streams.store` writes
  batches itself; `shared_rocksdb_options` gives every DB one block cache).
- `faust.stores.memory.Store.data`: the memory store's dict (development only).
- `Table.changelog_topic`, `Table.data`: a table's changelog topic and store.
- `Consumer.ack`, `Consumer._committed_offset`: `streams.gaps` acknowledges the offsets it
  read back itself (records `Recovery.on_recovery_completed` dropped when it cleared the
  stream queues after seeking), so that commits move past them.
- `Stream.enable_acks` (read by the stream iterator on every event), `Stream.ack(event)`
  and the agent's `stream.channel.queue`: the score agent acks each frame itself once its
  group's effects are acknowledged, and groups what the buffer already holds
  (`streams.group`). `Stream.take_events` was not used: it acks its batch in a `finally`,
  also when the agent stops mid-batch, and it waits `within` even for a lone frame.
- `TableManager.changelog_queue` is cleared by `app.flow_control.resume()`, which
  recovery calls after it has resumed the standby partitions: standby records fetched in
  between are lost and the standby's offset moves past them, so the worker runs with
  `table_standby_replicas=0` (`streams.app`).
- aiokafka's `GroupCoordinator._maybe_leave_group`, which `close` calls: the router
  replaces it so that a stopping router leaves its group by session expiry rather than
  LeaveGroup (`streams.router`).
- `Consumer._thread` (`AIOKafkaConsumerThread.call_thread`, `_ensure_consumer()`) and
  aiokafka's `GroupCoordinator.request_rejoin`: the stall watchdog's rejoin
  (`streams.watchdog`), and its diagnosis of a stalled partition.
"""

from __future__ import annotations

from typing import Any

__all__ = ["install_fetch_wait", "shared_rocksdb_options"]


def install_fetch_wait() -> None:
    """Let each app set its consumers' fetch wait (`app.followup_fetch_max_wait_ms`)."""
    from faust.transport.drivers import aiokafka as driver

    cls = driver.AIOKafkaConsumerThread
    if getattr(cls, "_followup_fetch_wait", False):
        return
    create = cls._create_worker_consumer

    def create_with_wait(self: Any, transport: Any) -> Any:
        consumer = create(self, transport)
        wait = getattr(self.app, "followup_fetch_max_wait_ms", None)
        if wait is not None:
            consumer._fetch_max_wait_ms = wait
        return consumer

    cls._create_worker_consumer = create_with_wait  # type: ignore[method-assign]
    cls._followup_fetch_wait = True  # type: ignore[attr-defined]


def shared_rocksdb_options(
    table: Any,
    *,
    block_cache_bytes: int,
    write_buffer_bytes: int,
    write_buffers: int,
    compression: str = "snappy",
) -> None:
    """Size a table's RocksDB: one block cache shared by every partition DB of every table
    (Faust's default gives each DB its own 2 GiB cache), and small write buffers (Faust's
    default is 3 x 64 MiB per DB). Call before the worker starts."""
    store = table.data
    options = getattr(store, "rocksdb_options", None)
    if options is None:  # the memory store
        return
    import rocksdict

    global _CACHE
    if _CACHE is None or _CACHE[0] != block_cache_bytes:
        _CACHE = (block_cache_bytes, rocksdict.Cache(block_cache_bytes))
    cache = _CACHE[1]
    options.block_cache_size = 1 << 20  # the default cache, never used: ours replaces it
    options.write_buffer_size = write_buffer_bytes
    options.max_write_buffer_number = write_buffers
    build = options.as_options

    def as_options() -> Any:
        db_options = build()
        db_options.set_compression_type(getattr(rocksdict.DBCompressionType, compression)())
        table_options = rocksdict.BlockBasedOptions()
        table_options.set_bloom_filter(options.bloom_filter_size, block_based=True)
        table_options.set_block_cache(cache)
        table_options.set_index_type(rocksdict.BlockBasedIndexType.binary_search())
        db_options.set_block_based_table_factory(table_options)
        return db_options

    options.as_options = as_options


_CACHE: tuple[int, Any] | None = None
