"""A worker killed mid-stream (SIGKILL) and restarted with empty local state recovers its
tables from the changelog and neither loses nor adds a window.

At-least-once delivery can publish a window twice if the kill lands between its publication
and the commit of its offset; the repeat carries the same `window_id`, so a consumer that
deduplicates on it sees each window once. The test holds the pipeline to exactly that.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import orjson
import pytest

from signals.codec import decode_window
from signals.sample import generate
from streams.local import produce, read_topic, wait_until
from tests.support import expected_windows, records_on_one_topic, wait_caught_up

pytestmark = pytest.mark.integration


def _history() -> list[dict]:
    end = datetime.now(UTC).replace(microsecond=0)
    bodies = []
    for kind, raw in generate(11, people=240, accounts=30, days=14, end=end):
        body = orjson.loads(raw)
        body["type"] = kind
        bodies.append(body)
    return bodies


def test_killed_worker_recovers_from_changelog_without_losing_or_adding_windows(
    settings, start_worker, tmp_path
):
    # Small batches slow the worker down enough to be killed part-way through.
    settings = settings.model_copy(update={"batch_size": 20})
    records = records_on_one_topic(settings.topic_page_visited, _history())
    expected = {w.window_id: w for w in expected_windows(settings, records)}
    assert len(expected) >= 10, "the history must open enough windows to be a real test"

    asyncio.run(produce(settings.bootstrap_servers, records))
    first = start_worker(settings, name="first")

    seen: list = []

    async def some_windows_out() -> bool:
        try:
            seen[:] = await read_topic(
                settings.bootstrap_servers,
                settings.topic_windows_opened,
                until=lambda got: len(got) >= len(expected) // 4,
                timeout=0.5,
            )
        except TimeoutError:  # the worker has not created its topics yet
            return False
        return len(seen) >= len(expected) // 4

    asyncio.run(wait_until(some_windows_out, timeout=90, what="a quarter of the windows"))
    first.kill()
    published_before_kill = len(seen)
    assert published_before_kill < len(expected), "killed too late to test a mid-stream crash"

    # A fresh state directory: the tables can only come back from the changelog topics.
    second = start_worker(
        settings.model_copy(update={"state_dir": tmp_path / "fresh-state"}), name="second"
    )
    wait_caught_up(settings, timeout=120)
    assert second.alive, second.log_tail()

    messages = asyncio.run(
        read_topic(
            settings.bootstrap_servers,
            settings.topic_windows_opened,
            until=lambda _: False,
            timeout=3.0,
        )
    )
    windows = [decode_window(m.value) for m in messages]
    by_id: dict[str, list] = {}
    for window in windows:
        by_id.setdefault(window.window_id, []).append(window)

    print(
        f"expected {len(expected)}, before kill {published_before_kill}, messages {len(messages)}"
    )
    assert set(by_id) == set(expected), "no window lost, none added"
    for window_id, copies in by_id.items():
        want = expected[window_id]
        for copy in copies:  # a redelivered window is the same window
            assert (copy.person_key, copy.trigger_event_id, copy.play) == (
                want.person_key,
                want.trigger_event_id,
                want.play,
            )
            assert copy.score.total == pytest.approx(want.score.total)

    # The recovered tables know every applied event: a redelivery now adds nothing.
    asyncio.run(produce(settings.bootstrap_servers, records[-50:]))
    wait_caught_up(settings, timeout=60)
    again = asyncio.run(
        read_topic(
            settings.bootstrap_servers,
            settings.topic_windows_opened,
            until=lambda _: False,
            timeout=2.0,
        )
    )
    assert len(again) == len(messages)
