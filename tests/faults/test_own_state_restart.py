"""A worker SIGKILLed mid-stream restarts on its *own* state directory (a StatefulSet with a
volume), finishes the stream, and ends with exactly the tables a worker rebuilt from the
changelog alone holds: local state never ran ahead of its changelog.

Also the end-offset workaround on this broker: the restart replays the changelog from the
persisted offset, which Faust checks against the partition's end offset (Tansu under-reports
it after batched produces: `streams.ends`). Without the workaround the restart fails with
ConsistencyError.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
import rocksdict

from signals.codec import decode_window
from streams.local import produce, read_topic, wait_until
from streams.partition import TABLES
from tests.faults.test_worker_restart import _history
from tests.support import expected_windows, records_on_one_topic, wait_ready

pytestmark = pytest.mark.integration

_OFFSET_KEY = b"__faust\x00offset__"


def _tables(state_dir: Path, partitions: int) -> dict[tuple[str, int], dict[bytes, bytes]]:
    """Every table partition's keys and values, read from the RocksDB files (worker stopped)."""
    out = {}
    for table in TABLES:
        for p in range(partitions):
            path = state_dir / "v1" / "tables" / f"{table}-{p}.db"
            if not path.exists():
                out[(table, p)] = {}
                continue
            db = rocksdict.Rdict(
                str(path),
                options=rocksdict.Options(raw_mode=True),
                access_type=rocksdict.AccessType.read_only(),
            )
            try:
                out[(table, p)] = {k: v for k, v in db.items() if k != _OFFSET_KEY}
            finally:
                db.close()
    return out


def test_a_worker_killed_and_restarted_on_its_own_state_matches_a_rebuild_from_the_changelog(
    settings, start_worker, tmp_path
):
    settings = settings.model_copy(update={"batch_size": 20, "state_dir": tmp_path / "own"})
    records = records_on_one_topic(settings.topic_page_visited, _history())
    expected = {w.window_id for w in expected_windows(settings, records)}
    assert len(expected) >= 10

    asyncio.run(produce(settings, records))
    first = start_worker(settings, name="first")

    async def windows_out(share: float) -> bool:
        try:
            got = await read_topic(
                settings,
                settings.topic_windows_opened,
                until=lambda got: len(got) >= len(expected) * share,
                timeout=0.5,
            )
        except TimeoutError:
            return False
        return {decode_window(m.value).window_id for m in got} >= (
            expected if share >= 1 else set()
        ) and len(got) >= len(expected) * share

    asyncio.run(wait_until(lambda: windows_out(0.25), timeout=90, what="a quarter of the windows"))
    first.kill()
    time.sleep(settings.session_timeout_seconds + 2)  # see test_worker_restart

    again = start_worker(settings, name="again")  # the same state directory
    wait_ready(again)
    asyncio.run(wait_until(lambda: windows_out(1.0), timeout=120, what="every expected window"))
    assert again.alive, again.log_tail()
    assert "ConsistencyError" not in again.log_tail(400)
    assert again.stop() == 0
    own = _tables(settings.state_dir, settings.partitions)

    rebuilt_dir = tmp_path / "rebuilt"
    rebuilt = start_worker(settings.model_copy(update={"state_dir": rebuilt_dir}), name="rebuilt")
    wait_ready(rebuilt)  # ready only once every table is recovered from its changelog
    assert rebuilt.stop() == 0
    from_changelog = _tables(rebuilt_dir, settings.partitions)

    assert sum(len(v) for v in own.values()) > 100, "the tables hold the stream's state"
    differing = {
        part: sorted(
            k
            for k in set(own[part]) | set(from_changelog[part])
            if own[part].get(k) != from_changelog[part].get(k)
        )[:3]
        for part in own
        if own[part] != from_changelog[part]
    }
    assert not differing, f"local state and its changelog disagree: {differing}"
