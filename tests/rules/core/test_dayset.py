"""`rules.core.dayset`: a set of UTC days as a bitmap, canonical bytes for equal sets."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from rules.core import dayset

DAYS = st.sets(st.integers(20_000, 20_200), max_size=40)


@given(DAYS, st.integers(19_990, 20_210))
def test_a_dayset_holds_exactly_its_days(days: set[int], probe: int) -> None:
    ds = dayset.of(days)
    assert dayset.days(ds) == sorted(days)
    assert dayset.contains(ds, probe) is (probe in days)
    assert dayset.first(ds) == (min(days) if days else None)


@given(DAYS, DAYS)
def test_equal_sets_give_equal_bytes_however_built(a: set[int], b: set[int]) -> None:
    assert dayset.union(dayset.of(a), b) == dayset.of(a | b) == dayset.union(dayset.of(b), a)


def test_the_horizon_of_days_is_a_few_bytes() -> None:
    assert dayset.of([]) == b""
    assert len(dayset.of(range(20_000, 20_090))) == 2 + 12  # 90 days: 14 bytes
    assert dayset.of([20_149]) == (20_149).to_bytes(2, "big") + b"\x01"
