"""A person's outreach touches as the cadence stores them: packed, bounded by count and time.

`rules.core.cadence` is the only reader. Its rules read, of each touch, only when it went
out (spacing, the cap per `touch_window_days`, the runs since a reply), its channel (the
channel switch, email after a bounce), whether it was a value touch (the breakup count) and
its play (which play a reply answers). So a touch is those four, in `TOUCH_BYTES` bytes:

- 4 bytes: `occurred_at` as whole unix seconds, big-endian (times past 2106-02-07 are kept
  as that second: the edge refuses events more than a few minutes ahead of the clock);
- 1 byte: `play index * 8 + channel index * 2 + value_touch` (indexes into `PLAYS`,
  `CHANNELS`).

The packed bytes are sorted record by record, so equal sets of touches give equal bytes
in any arrival order. Event and window ids are not kept: dedup is the prospect's memory of
applied events (`rules.core.dedup`, by source and event id), and the window a touch used is
closed when the touch arrives. `insert` keeps the newest `MAX_TOUCHES` and none older than
the caller's `keep_since` (the cadence memory, `rules.core.cadence.touch_memory`). Pure.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final, get_args

import msgspec

from signals.activity import TouchChannel
from signals.windows import Play

__all__ = ["CHANNELS", "MAX_TOUCHES", "PLAYS", "TOUCH_BYTES", "Touch", "insert", "pack", "unpack"]

MAX_TOUCHES: Final = 100  # the rulebook's counts (max_touches, ...) are at most 100
TOUCH_BYTES: Final = 5
PLAYS: Final[tuple[Play, ...]] = get_args(Play)
CHANNELS: Final[tuple[TouchChannel, ...]] = get_args(TouchChannel)
_LAST_SECOND: Final = 2**32 - 1


class Touch(msgspec.Struct, frozen=True):
    """One touch as the cadence rules read it (`at` to the second, aware UTC)."""

    at: datetime
    channel: TouchChannel
    play: Play
    value_touch: bool = True


def _seconds(at: datetime) -> int:
    return min(max(int(at.timestamp()), 0), _LAST_SECOND)


def pack(touch: Touch) -> bytes:
    code = PLAYS.index(touch.play) * 8 + CHANNELS.index(touch.channel) * 2 + touch.value_touch
    return _seconds(touch.at).to_bytes(4, "big") + bytes([code])


def unpack(data: bytes) -> tuple[Touch, ...]:
    """The touches in `data`, oldest first. Raises ValueError on bytes `pack` cannot write."""
    if len(data) % TOUCH_BYTES:
        raise ValueError(f"packed touches of {len(data)} bytes")
    out = []
    for i in range(0, len(data), TOUCH_BYTES):
        code = data[i + 4]
        out.append(
            Touch(
                datetime.fromtimestamp(int.from_bytes(data[i : i + 4], "big"), UTC),
                CHANNELS[(code >> 1) & 3],
                PLAYS[code >> 3],
                bool(code & 1),
            )
        )
    return tuple(out)


def _records(data: bytes) -> list[bytes]:
    return [data[i : i + TOUCH_BYTES] for i in range(0, len(data), TOUCH_BYTES)]


def insert(data: bytes, touch: Touch, *, keep_since: datetime | None = None) -> bytes:
    """`data` with `touch` added (in order), then the newest `MAX_TOUCHES` of those sent at
    or after `keep_since` (all when None). A touch equal to one held is added again: two
    distinct events may look alike here; a redelivered one never reaches this."""
    records = _records(data)
    records.append(pack(touch))
    records.sort()
    if keep_since is not None:
        floor = _seconds(keep_since).to_bytes(4, "big")
        records = [r for r in records if r[:4] >= floor]
    return b"".join(records[-MAX_TOUCHES:])
