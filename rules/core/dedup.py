"""Deduplication that is both correct and bounded.

An event is identified by `rules.core.state.fingerprint(kind, source, event_id)`: two
producers may both send `evt-1001`, and they are two events. Each state remembers the
fingerprints it applied, with the UTC day of each event, for as long as the event could
still count: an event whose day is `horizon_days` or more before the state's reference day
(its watermark, or the clock when that is later) is **too late**, not a duplicate, and the
engine says so (the glue dead-letters it with reason `too_late`, and counts it apart from
redeliveries).

The newest `MAX_SEEN_INLINE` fingerprints live in the state itself; older ones spill into
one overflow record per day (`Spill`), which the glue keeps beside the state and reads only
when an event falls on a spilled day. So a typical person carries a few hundred bytes of
memory, and a person with a million events a bounded state plus per-day records that expire
with the horizon. Pure.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rules.core.state import MAX_SEEN_INLINE, Seen

__all__ = ["Overflow", "Spill", "is_too_late", "prune_seen", "remember", "seen_before"]

Overflow = Callable[[int], frozenset[int]]
"""The fingerprints spilled for one UTC day of the state being checked (glue lookup)."""


@dataclass(frozen=True, slots=True)
class Spill:
    """Fingerprints to add to the overflow record of `day`, or the record to drop."""

    day: int
    fingerprints: tuple[int, ...] = ()
    drop: bool = False


def is_too_late(day: int, reference_day: int, horizon_days: float) -> bool:
    """Whether an event of UTC day `day` is past the horizon at `reference_day`."""
    return reference_day - day >= horizon_days


def seen_before(seen: Seen, fp: int, day: int, overflow: Overflow | None) -> bool:
    """Whether the event with fingerprint `fp` on UTC day `day` was applied already."""
    if (day, fp) in seen.ids:
        return True
    if day in seen.spilled and overflow is not None:
        return fp in overflow(day)
    return False


def remember(seen: Seen, fp: int, day: int) -> tuple[Seen, tuple[Spill, ...]]:
    """`seen` with the event added; the oldest fingerprints past `MAX_SEEN_INLINE` spill."""
    ids = sorted({*seen.ids, (day, fp)})
    spills: dict[int, list[int]] = {}
    if len(ids) > MAX_SEEN_INLINE:
        for old_day, old_fp in ids[: len(ids) - MAX_SEEN_INLINE]:
            spills.setdefault(old_day, []).append(old_fp)
        ids = ids[len(ids) - MAX_SEEN_INLINE :]
    spilled = tuple(sorted({*seen.spilled, *spills}))
    out = tuple(Spill(d, tuple(fps)) for d, fps in sorted(spills.items()))
    return Seen(tuple(ids), spilled), out


def prune_seen(
    seen: Seen, reference_day: int, horizon_days: float
) -> tuple[Seen, tuple[Spill, ...]]:
    """Forget what can no longer arrive in time; drop the overflow of expired days."""
    ids = tuple(p for p in seen.ids if not is_too_late(p[0], reference_day, horizon_days))
    kept = tuple(d for d in seen.spilled if not is_too_late(d, reference_day, horizon_days))
    if len(ids) == len(seen.ids) and len(kept) == len(seen.spilled):
        return seen, ()
    drops = tuple(Spill(d, drop=True) for d in seen.spilled if d not in kept)
    return Seen(ids, kept), drops
