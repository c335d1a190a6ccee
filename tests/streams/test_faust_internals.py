"""The private parts of faust-streaming the worker relies on (`streams.faust_internals`):
an upgrade that moves one of them fails here, not in production."""

from __future__ import annotations

import inspect
from pathlib import Path

import faust
from faust.stores import memory as memory_store
from faust.stores import rocksdb as rocksdb_store
from faust.transport.drivers import aiokafka as driver

from streams.faust_internals import install_fetch_wait, shared_rocksdb_options
from streams.partition import TABLES
from streams.store import TableStore


def test_the_consumer_thread_hooks_exist_with_their_signatures() -> None:
    cls = driver.AIOKafkaConsumerThread
    assert list(inspect.signature(cls._create_worker_consumer).parameters) == ["self", "transport"]
    assert list(inspect.signature(cls._highwaters).parameters) == ["self", "partitions"]
    assert inspect.iscoroutinefunction(cls._highwaters)


def test_the_rocksdb_store_parts_exist() -> None:
    store = rocksdb_store.Store
    assert store.offset_key == b"__faust\0offset__"
    for name in ("_db_for_partition", "set_persisted_offset", "persisted_offset"):
        assert callable(getattr(store, name)), name
    assert "_dbs" in inspect.getsource(store.__init__)  # TableStore.purge reopens through it
    options = rocksdb_store.RocksDBOptions()
    for name in ("write_buffer_size", "max_write_buffer_number", "block_cache_size"):
        assert hasattr(options, name), name
    assert callable(options.as_options)
    assert hasattr(memory_store.Store, "apply_changelog_batch")


def test_a_table_store_reads_writes_and_scans_a_rocksdb_partition(tmp_path: Path) -> None:
    """The write path the score agent uses, against a real Faust RocksDB table."""
    app = faust.App("internals-test", store="rocksdb://", datadir=str(tmp_path))
    install_fetch_wait()
    table = app.Table("prospects", key_type=bytes, value_type=bytes, partitions=2)
    shared_rocksdb_options(
        table, block_cache_bytes=1 << 20, write_buffer_bytes=1 << 20, write_buffers=2
    )
    store = TableStore(table)
    assert store.is_rocksdb and store.changelog_topic == "internals-test-prospects-changelog"
    store.write(1, {b"a|x": b"1", b"a|y": b"2", b"b|z": b"3"}, offset=41)
    assert store.get(1, b"a|y") == b"2" and store.get(0, b"a|y") is None
    assert [k for k, _ in store.scan(1, b"a|")] == [b"a|x", b"a|y"]
    assert list(store.keys(1)) == [b"a|x", b"a|y", b"b|z"], "values unread, offset key left out"
    assert [k for k, _ in store.until(1, b"b")] == [b"a|x", b"a|y"]
    assert table.data.persisted_offset(_tp("internals-test-prospects-changelog", 1)) == 41
    store.write(1, {b"a|x": None}, offset=42)
    assert store.get(1, b"a|x") is None
    assert "prospects" in TABLES


def test_purge_leaves_no_byte_of_a_deleted_key_in_the_partition_directory(
    tmp_path: Path,
) -> None:
    """What an erasure relies on: after `purge`, the partition's files (table files, log,
    manifest) hold no trace of the deleted key, and the other keys are still there."""
    app = faust.App("purge-test", store="rocksdb://", datadir=str(tmp_path))
    table = app.Table("prospects", key_type=bytes, value_type=bytes, partitions=2)
    shared_rocksdb_options(
        table,
        block_cache_bytes=1 << 20,
        write_buffer_bytes=1 << 20,
        write_buffers=2,
        compression="none",  # so that a value in a table file is greppable
    )
    store = TableStore(table)
    secret = b"erase.me@example.com"
    flushed, unflushed = b"acme.com|" + secret, b"other.com|" + secret
    store.write(0, {flushed: b"state of " + secret, b"acme.com|keep": b"k"}, 1)
    db = table.data._db_for_partition(0)
    db.flush(True)  # into a table file, and the key into the manifest
    store.write(0, {unflushed: b"state of " + secret}, 2)  # only in the log and memtable
    store.write(0, {flushed: None, unflushed: None}, 3)
    directory = Path(db.path())
    assert any(secret in f.read_bytes() for f in directory.iterdir() if f.is_file())

    store.purge(0, [flushed, unflushed])

    assert not [f.name for f in directory.iterdir() if f.is_file() and secret in f.read_bytes()]
    assert store.get(0, b"acme.com|keep") == b"k" and store.get(0, b"acme.com|" + secret) is None
    store.write(0, {b"acme.com|later": b"l"}, 4)  # the reopened database takes writes
    assert store.get(0, b"acme.com|later") == b"l"

    # Written and deleted between two flushes, alone in its database: the flush keeps the
    # tombstone, which names the key, in a file of its own that must be rewritten, not moved.
    store.write(1, {flushed: b"state"}, 1)
    store.write(1, {flushed: None}, 2)
    other = Path(table.data._db_for_partition(1).path())
    store.purge(1, [flushed])
    assert not [f.name for f in other.iterdir() if f.is_file() and secret in f.read_bytes()]


def _tp(topic: str, partition: int) -> object:
    from faust.types import TP

    return TP(topic, partition)


def test_the_ack_and_rejoin_parts_streams_gaps_and_the_watchdog_use_exist() -> None:
    from aiokafka.consumer.group_coordinator import GroupCoordinator
    from faust.transport.consumer import Consumer

    # streams.gaps acks the offsets it filled with an object carrying just these.
    source = inspect.getsource(Consumer.ack)
    for part in ("message.acked", "message.tp", "message.offset", "message.topic"):
        assert part in source, part
    assert "_committed_offset" in inspect.getsource(Consumer._new_offset)
    # streams.watchdog asks the group to rejoin on the consumer's own thread.
    assert callable(GroupCoordinator.request_rejoin)
    assert inspect.iscoroutinefunction(driver.AIOKafkaConsumerThread.call_thread)


def test_recovery_still_clears_the_stream_queues_after_seeking() -> None:
    """Why streams.gaps exists: after resuming and seeking the stream partitions, faust's
    recovery resumes flow control, which clears every channel queue (and with it records
    already fetched). If an upgrade changes this, re-check whether the guard is needed."""
    from faust.tables.recovery import Recovery

    source = inspect.getsource(Recovery.on_recovery_completed)
    assert source.index("perform_seek") < source.index("flow_control.resume()")


def test_standbys_are_off_because_resuming_flow_drops_queued_changelog_records(
    tmp_path: Path,
) -> None:
    """Why the worker runs without standby replicas (`table_standby_replicas=0` in
    `streams.app`): faust's changelog queue is cleared whenever flow control resumes, and
    recovery resumes the standby partitions before `on_recovery_completed`, which resumes
    flow control again. Standby records fetched in between are dropped and never re-read,
    while the standby's offset moves past them. If an upgrade changes this, standbys can
    come back."""
    from faust.tables.recovery import Recovery

    from rules.rulebook.loader import load_rulebook
    from streams.app import create_app
    from streams.metrics import Metrics
    from streams.settings import DEFAULT_RULEBOOK, Settings

    settings = Settings(store="memory", state_dir=tmp_path / "state")
    app = create_app(settings, rulebook=load_rulebook(DEFAULT_RULEBOOK), metrics=Metrics())
    assert app.conf.table_standby_replicas == 0

    queue = app.tables.changelog_queue
    queue.put_nowait("a changelog record fetched for a standby")
    app.flow_control.resume()
    assert queue.empty(), "resuming flow no longer clears the changelog queue"

    source = inspect.getsource(Recovery._restart_recovery.fun)  # a mode Service.task
    resumed = source.index("resume_partitions)(standby_tps)")
    assert resumed < source.index("on_recovery_completed", resumed)


def test_the_router_can_stop_without_leaving_its_group() -> None:
    """`streams.router` stops its consumer without a LeaveGroup request by replacing the
    coordinator's `_maybe_leave_group`, the one place `close` sends it from."""
    from aiokafka.consumer.group_coordinator import GroupCoordinator

    close = inspect.getsource(GroupCoordinator.close)
    assert "self._maybe_leave_group()" in close
    assert "LeaveGroupRequest" in inspect.getsource(GroupCoordinator._maybe_leave_group)
    assert callable(GroupCoordinator.reset_generation)


def test_the_stream_acks_the_score_agent_turns_off_and_the_buffer_it_reads() -> None:
    """`streams.score` turns the stream's acks off and acks each event itself after its
    group's effects; `streams.group` asks the agent's buffer whether a frame waits."""
    stream = faust.Stream
    for iterate in (stream._c_aiter, stream._py_aiter):  # read on every event
        assert "do_ack = self.enable_acks" in inspect.getsource(iterate)
    assert (
        "do_ack = stream.enable_acks"
        in (Path(faust.__file__).parent / "_cython" / "streams.pyx").read_text()
    )
    assert inspect.iscoroutinefunction(stream.ack)
    assert list(inspect.signature(stream.ack).parameters) == ["self", "event"]
    app = faust.App("internals-acks", store="memory://")
    channel = app.topic("keyed", value_serializer="raw")
    assert channel.queue.empty()
