"""The stall watchdog's judgement, on a fake clock (its rejoin runs in the fault tests)."""

from __future__ import annotations

from types import SimpleNamespace

from streams.watchdog import StallWatch, describe_partition

A, B = ("keyed", 0), ("keyed", 1)


def test_a_partition_with_lag_and_an_unmoved_commit_stalls_after_the_period():
    watch = StallWatch(15.0)
    assert watch.stalled({A: 2}, {A: 17}, now=0.0) == []
    assert watch.stalled({A: 2}, {A: 17}, now=14.9) == []
    assert watch.stalled({A: 2}, {A: 17}, now=15.0) == [A]


def test_any_commit_starts_the_period_again():
    watch = StallWatch(15.0)
    watch.stalled({A: 2}, {A: 17}, now=0.0)
    assert watch.stalled({A: 3}, {A: 16}, now=10.0) == []
    assert watch.stalled({A: 3}, {A: 16}, now=24.0) == []
    assert watch.stalled({A: 3}, {A: 16}, now=25.0) == [A]


def test_a_partition_without_lag_never_stalls_and_forgets_its_timer():
    watch = StallWatch(15.0)
    watch.stalled({A: 2}, {A: 5}, now=0.0)
    assert watch.stalled({A: 2}, {A: 0}, now=20.0) == []  # caught up: idle is fine
    assert watch.stalled({A: 2}, {A: 1}, now=21.0) == []  # new lag: a new period
    assert watch.stalled({A: 2}, {A: 1}, now=36.0) == [A]


def test_only_the_stalled_partitions_are_named_and_revoked_ones_are_forgotten():
    watch = StallWatch(15.0)
    watch.stalled({A: 2, B: 7}, {A: 3, B: 3}, now=0.0)
    assert watch.stalled({A: 2, B: 9}, {A: 3, B: 1}, now=16.0) == [A]
    assert watch.stalled({B: 9}, {B: 1}, now=17.0) == []  # A revoked
    assert watch.stalled({A: 2, B: 9}, {A: 3, B: 1}, now=18.0) == []  # A back: new period
    assert watch.stalled({A: 2, B: 9}, {A: 3, B: 1}, now=33.0) == [A, B]


def test_reset_starts_every_period_again():
    watch = StallWatch(15.0)
    watch.stalled({A: 2}, {A: 3}, now=0.0)
    watch.reset()
    assert watch.stalled({A: 2}, {A: 3}, now=16.0) == []
    assert watch.stalled({A: 2}, {A: 3}, now=31.0) == [A]


def test_the_diagnosis_never_raises_on_a_consumer_it_cannot_read():
    facts = describe_partition(SimpleNamespace(), A)
    assert set(facts) == {"unreadable"}
    consumer = SimpleNamespace(
        _active_partitions={A},
        _paused_partitions=set(),
        flow_active=True,
        _committed_offset={A: 2},
        _thread=None,
    )
    facts = describe_partition(consumer, A)
    assert facts["faust_active"] is True and facts["faust_committed"] == 2
    assert facts["unreadable"] == "AttributeError"
