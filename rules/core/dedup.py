"""Deduplication that is both correct and bounded.

An event is identified by `rules.core.state.fingerprint(kind, source, event_id)`: two
producers may both send `evt-1001`, and they are two events. Each state remembers the
fingerprints it applied, with the UTC day of each event, for as long as the event could
still count: an event whose day is `horizon_days` or more before the state's reference day
(its watermark, or the clock when that is later) is **too late**, not a duplicate, and the
engine says so (the glue dead-letters it with reason `too_late`, and counts it apart from
redeliveries).

The newest fingerprints (between `MAX_SEEN_INLINE` and twice that) live in the state
itself; past that, the oldest half spills into one overflow record per day (`Spill`),
which the glue keeps beside the state and reads only when an event falls on a spilled day.
So a typical person carries a few hundred bytes of memory, and a person with a million
events a bounded state plus per-day records that expire with the horizon. Pure.
"""

from __future__ import annotations

from collections.abc import Callable

import msgspec

from rules.core import dayset
from rules.core.state import MAX_SEEN_INLINE, Seen

__all__ = [
    "Overflow",
    "Spill",
    "entry_days",
    "is_too_late",
    "prune_seen",
    "remember",
    "seen_before",
]

Overflow = Callable[[int], frozenset[int]]
"""The fingerprints spilled for one UTC day of the state being checked (glue lookup)."""


class Spill(msgspec.Struct, frozen=True):
    """Fingerprints to add to the overflow record of `day`, or the record to drop."""

    day: int
    fingerprints: tuple[int, ...] = ()
    drop: bool = False


def is_too_late(day: int, reference_day: int, horizon_days: float) -> bool:
    """Whether an event of UTC day `day` is past the horizon at `reference_day`."""
    return reference_day - day >= horizon_days


_ENTRY = 8  # bytes per remembered event: day (2) then 48 bits of fingerprint, big-endian
_FP_BITS = (1 << 48) - 1  # a false duplicate needs ~1e13 events at one person and day


def _pack(day: int, fp: int) -> bytes:
    return day.to_bytes(2, "big") + (fp & _FP_BITS).to_bytes(6, "big")


def _entries(ids: bytes) -> list[bytes]:
    return [ids[i : i + _ENTRY] for i in range(0, len(ids), _ENTRY)]


def entry_days(seen: Seen) -> list[int]:
    """The UTC day of each remembered event, oldest first (for tests and tools)."""
    return [int.from_bytes(e[:2], "big") for e in _entries(seen.ids)]


def _position(ids: bytes, entry: bytes) -> int:
    """Where `entry` is or would go in the sorted packed `ids` (binary search)."""
    lo, hi = 0, len(ids) // _ENTRY
    while lo < hi:
        mid = (lo + hi) // 2
        if ids[mid * _ENTRY : (mid + 1) * _ENTRY] < entry:
            lo = mid + 1
        else:
            hi = mid
    return lo * _ENTRY


def seen_before(seen: Seen, fp: int, day: int, overflow: Overflow | None) -> bool:
    """Whether the event with fingerprint `fp` on UTC day `day` was applied already."""
    entry = _pack(day, fp)
    at = _position(seen.ids, entry)
    if seen.ids[at : at + _ENTRY] == entry:
        return True
    if overflow is not None and dayset.contains(seen.spilled, day):
        return fp & _FP_BITS in overflow(day)
    return False


def remember(seen: Seen, fp: int, day: int) -> tuple[Seen, tuple[Spill, ...]]:
    """`seen` with the event added; the oldest fingerprints past `MAX_SEEN_INLINE` spill."""
    entry = _pack(day, fp)
    at = _position(seen.ids, entry)
    ids = seen.ids[:at] + entry + seen.ids[at:]
    if len(ids) <= 2 * MAX_SEEN_INLINE * _ENTRY:
        return Seen(ids, seen.spilled), ()
    # Spill the oldest half at once: a busy person writes an overflow record once per
    # `MAX_SEEN_INLINE` events, not on every one.
    spills: dict[int, list[int]] = {}
    cut = len(ids) - MAX_SEEN_INLINE * _ENTRY
    for old in _entries(ids[:cut]):
        old_day = int.from_bytes(old[:2], "big")
        spills.setdefault(old_day, []).append(int.from_bytes(old[2:], "big"))
    spilled = dayset.union(seen.spilled, spills)
    out = tuple(Spill(d, tuple(fps)) for d, fps in sorted(spills.items()))
    return Seen(ids[cut:], spilled), out


def prune_seen(
    seen: Seen, reference_day: int, horizon_days: float
) -> tuple[Seen, tuple[Spill, ...]]:
    """Forget what can no longer arrive in time; drop the overflow of expired days."""
    oldest = int.from_bytes(seen.ids[:2], "big") if seen.ids else None
    first_spilled = dayset.first(seen.spilled)
    if (oldest is None or not is_too_late(oldest, reference_day, horizon_days)) and (
        first_spilled is None or not is_too_late(first_spilled, reference_day, horizon_days)
    ):
        return seen, ()  # both sorted: nothing expires if the oldest does not
    ids = b"".join(
        e
        for e in _entries(seen.ids)
        if not is_too_late(int.from_bytes(e[:2], "big"), reference_day, horizon_days)
    )
    spilled = dayset.days(seen.spilled)
    kept = [d for d in spilled if not is_too_late(d, reference_day, horizon_days)]
    if len(ids) == len(seen.ids) and len(kept) == len(spilled):
        return seen, ()
    drops = tuple(Spill(d, drop=True) for d in spilled[: len(spilled) - len(kept)])
    return Seen(ids, dayset.of(kept)), drops
