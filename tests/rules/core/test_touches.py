"""Packed touches: what the cadence rules read of each touch, 5 bytes, bounded by count and
time, the same bytes in any arrival order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rules.core.touches import (
    CHANNELS,
    MAX_TOUCHES,
    PLAYS,
    TOUCH_BYTES,
    Touch,
    insert,
    pack,
    unpack,
)

T0 = datetime(2025, 3, 3, 15, 0, tzinfo=UTC)


@pytest.mark.parametrize("channel", CHANNELS)
@pytest.mark.parametrize("play", PLAYS)
@pytest.mark.parametrize("value_touch", [True, False])
def test_every_channel_play_and_flag_round_trips(
    channel: str, play: str, value_touch: bool
) -> None:
    touch = Touch(T0, channel, play, value_touch)  # type: ignore[arg-type]
    data = pack(touch)
    assert len(data) == TOUCH_BYTES
    assert unpack(data) == (touch,)


@pytest.mark.parametrize(
    ("at", "kept"),
    [
        (T0 + timedelta(microseconds=999_999), T0),  # to the second, rounded down
        (datetime(2999, 1, 1, tzinfo=UTC), datetime(2106, 2, 7, 6, 28, 15, tzinfo=UTC)),
        (datetime(1970, 1, 1, tzinfo=UTC), datetime(1970, 1, 1, tzinfo=UTC)),
    ],
)
def test_times_are_kept_to_the_second_within_four_bytes(at: datetime, kept: datetime) -> None:
    assert unpack(pack(Touch(at, "email", "no_response")))[0].at == kept


def test_foreign_bytes_are_refused() -> None:
    with pytest.raises(ValueError, match="packed touches"):
        unpack(b"\x00" * (TOUCH_BYTES + 1))


_TOUCHES = st.lists(
    st.builds(
        Touch,
        st.integers(0, 90 * 86_400).map(lambda s: T0 + timedelta(seconds=s)),
        st.sampled_from(CHANNELS),
        st.sampled_from(PLAYS),
        st.booleans(),
    ),
    max_size=30,
)


@given(_TOUCHES, st.randoms(use_true_random=False))
def test_the_same_touches_in_any_order_give_the_same_bytes(
    touches: list[Touch], rnd: object
) -> None:
    shuffled = list(touches)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    a = b = b""
    for t in touches:
        a = insert(a, t)
    for t in shuffled:
        b = insert(b, t)
    assert a == b
    assert sorted(unpack(a), key=lambda t: (t.at, pack(t))) == list(unpack(a))
    assert len(unpack(a)) == len(touches)  # alike touches are distinct events: all count


def test_the_newest_are_kept_up_to_the_count_bound() -> None:
    data = b""
    for i in range(MAX_TOUCHES + 7):
        data = insert(data, Touch(T0 + timedelta(hours=i), "email", "no_response"))
    kept = unpack(data)
    assert len(kept) == MAX_TOUCHES
    assert kept[0].at == T0 + timedelta(hours=7)
    assert kept[-1].at == T0 + timedelta(hours=MAX_TOUCHES + 6)


def test_touches_older_than_keep_since_are_dropped_when_one_is_added() -> None:
    data = insert(b"", Touch(T0, "email", "no_response"))
    data = insert(data, Touch(T0 + timedelta(days=5), "linkedin", "value_add"))
    later = Touch(T0 + timedelta(days=40), "phone", "breakup", value_touch=False)
    kept = unpack(insert(data, later, keep_since=T0 + timedelta(days=5)))
    assert [t.channel for t in kept] == ["linkedin", "phone"]  # at keep_since: still kept
    assert unpack(insert(data, later, keep_since=later.at)) == (later,)
