"""The chaos history meets the tier's brief and its expected windows do not depend on timing.

Pure (no broker): it replays the history in orders the engine may use (tests/chaos/
orderings.py) and compares with the verifier's replay in produce order.
"""

from __future__ import annotations

import dataclasses
import random

import orjson
import pytest

from streams.settings import Settings
from streams.verifier import expect
from tests.chaos.history import Barrier, build_history
from tests.chaos.orderings import engine_order_windows


@pytest.fixture(scope="module")
def settings() -> Settings:
    return Settings(partitions=6, clock="event")


@pytest.fixture(scope="module")
def history(settings):
    return build_history(settings, 7)


def test_the_history_is_as_large_and_varied_as_the_brief_asks(settings, history):
    counts = history.counts
    assert counts["signals"] >= 3000
    assert (history.people, history.accounts) == (200, 30)
    assert counts["job_changes"] >= 5 and counts["fundings"] >= 5
    assert counts["activities"] >= 50 and counts["contacts"] >= 10
    plays = {w["play"] for w in expect(settings, history.records).windows.values()}
    # Fan-out, job changes, outreach and the cadence all show up in the windows.
    assert {"funding", "multi_thread", "champion_moved", "post_demo", "no_response"} <= plays


def test_the_same_seed_builds_the_same_history_and_another_seed_another(settings, history):
    assert build_history(settings, 7).steps == history.steps
    assert build_history(settings, 8).steps != history.steps


def test_every_barrier_waits_for_a_window_on_every_keyed_partition(settings, history):
    expectation = expect(settings, history.records)
    barriers = [s for s in history.steps if isinstance(s, Barrier)]
    assert [b.name for b in barriers] == ["contacts", "history", "outreach", "second", "end-1"]
    for barrier in barriers[1:]:
        ids = expectation.ids_triggered_by(barrier.events)
        assert sorted(expectation.partitions[i] for i in ids) == list(range(6))


@pytest.mark.parametrize("order", [1, 2, 3])
def test_any_order_the_engine_may_use_opens_the_same_windows(settings, history, order):
    expected = {w: orjson.dumps(v) for w, v in expect(settings, history.records).windows.items()}
    got = engine_order_windows(settings, history, random.Random(order), resets=0.02)
    assert set(got) == set(expected)
    differ = [w for w in expected if orjson.loads(got[w]) != orjson.loads(expected[w])]
    assert not differ


def test_the_check_catches_a_history_whose_windows_depend_on_timing(settings, history):
    """Without its barriers, outreach could reach the engine before the signals it answers."""
    steps = tuple(s for s in history.steps if not (isinstance(s, Barrier) and s.name != "contacts"))
    loose = dataclasses.replace(history, steps=steps)
    expected = set(expect(settings, loose.records).windows)
    assert set(engine_order_windows(settings, loose, random.Random(1))) != expected
