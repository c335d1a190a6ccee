"""A set of UTC days as a few bytes: the first day (2 bytes, big-endian), then one bit per
day from it (bit `i % 8` of byte `2 + i // 8` is day `first + i`).

The stored states use it for the days whose dedup fingerprints spilled into overflow
records (`rules.core.state.Seen.spilled`): at most the horizon's days, so 2 + horizon/8
bytes (14 for 90 days) instead of 3 bytes per day as a list. Canonical: the first day is
always in the set and there are no trailing zero bytes, so equal sets give equal bytes;
the empty set is `b""`. Pure.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["contains", "days", "first", "of", "union"]


def of(day_list: Iterable[int]) -> bytes:
    """The dayset holding `day_list` (days since 1970-01-01, 0..65535)."""
    unique = sorted(set(day_list))
    if not unique:
        return b""
    base = unique[0]
    bits = bytearray((unique[-1] - base) // 8 + 1)
    for day in unique:
        offset = day - base
        bits[offset // 8] |= 1 << (offset % 8)
    return base.to_bytes(2, "big") + bytes(bits)


def first(ds: bytes) -> int | None:
    """The oldest day of the set, or None when it is empty."""
    return int.from_bytes(ds[:2], "big") if ds else None


def days(ds: bytes) -> list[int]:
    """The days of the set, oldest first."""
    if not ds:
        return []
    base = int.from_bytes(ds[:2], "big")
    return [
        base + i * 8 + bit for i, byte in enumerate(ds[2:]) for bit in range(8) if byte >> bit & 1
    ]


def contains(ds: bytes, day: int) -> bool:
    if not ds:
        return False
    offset = day - int.from_bytes(ds[:2], "big")
    if offset < 0 or offset // 8 >= len(ds) - 2:
        return False
    return bool(ds[2 + offset // 8] >> (offset % 8) & 1)


def union(ds: bytes, more: Iterable[int]) -> bytes:
    return of([*days(ds), *more])
