"""Older state formats read as the current one (`rules.core.state.FORMAT_VERSION` 4).

`rules.core.state` calls `upgrade` when stored bytes carry an older format version; it
returns MessagePack of the same state in the current shape, which the typed decoder then
reads like any other. Nothing here validates: these are our own bytes. Raises what
msgspec raises on bytes that are not ours (the caller turns it into `StateFormatError`).

- 1 -> 2: `Seen.spilled` was a list of days; it is a `rules.core.dayset` now. Rule sums of
  format 1 are format 2 sums with no folded periods yet.
- 2 -> 3: the cadence state. Touches were whole records (time, event id, channel, play,
  window id, value flag); they are packed `rules.core.touches` records now, the ids
  dropped. Meeting bookings and deal stages kept an event id to order two of the same
  instant; they keep a fingerprint now, and a converted one orders as 0 (the source that
  would make the fingerprint was never stored). Vacations were ISO date strings; they are
  days since 1970 now. The person's email is read as stored (only format 3 leaves out an
  email equal to the key). Accounts and suppressions did not change.
- 3 -> 4: nothing to convert. Format 4 leaves out a prospect's account key (stored as "",
  the table key says it); a format 3 prospect holds it whole, and `decode_prospect` keeps
  what it holds. Accounts and suppressions did not change.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Final, Literal

import msgspec

from rules.core import dayset
from rules.core.touches import MAX_TOUCHES, Touch, pack

__all__ = ["Kind", "upgrade"]

Kind = Literal["prospect", "account", "suppression"]

_SEEN_AT: Final = {"prospect": 4, "account": 3}  # positions in ProspectState, AccountState
_CADENCE_AT: Final = 15  # in ProspectState
_EPOCH_DAY: Final = date(1970, 1, 1).toordinal()
_ENCODER = msgspec.msgpack.Encoder()


def upgrade(body: memoryview, version: int, kind: Kind) -> bytes | memoryview:
    """Format `version` bytes of a state of `kind` as current-format bytes."""
    if kind == "suppression" or version == 3:
        return body
    raw = msgspec.msgpack.decode(body)
    seen_at = _SEEN_AT[kind]
    if version == 1 and len(raw) > seen_at and len(raw[seen_at]) > 1:
        raw[seen_at][1] = dayset.of(raw[seen_at][1])
    cadence = raw[_CADENCE_AT] if kind == "prospect" and len(raw) > _CADENCE_AT else None
    if version <= 2 and cadence is not None:
        raw[_CADENCE_AT] = _cadence_from_v2(cadence)
    return _ENCODER.encode(raw)


def _cadence_from_v2(raw: list[Any]) -> list[Any]:
    out = list(raw)
    if out:
        out[0] = _touches_from_v2(out[0])
    for at in (4, 8):  # meeting_booked, deal_stage_as_of
        if len(out) > at and out[at] is not None:
            out[at] = [out[at][0], 0]
    if len(out) > 9:
        out[9] = [[_day(a), _day(b)] for a, b in out[9]]
    return out


def _touches_from_v2(touches: list[list[Any]]) -> bytes:
    """[at, event_id, channel, play, window_id=None, value_touch=True] each, as packed."""
    records = sorted(
        pack(Touch(t[0], t[2], t[3], bool(t[5]) if len(t) > 5 else True)) for t in touches
    )
    return b"".join(records[-MAX_TOUCHES:])


def _day(iso: str) -> int:
    return date.fromisoformat(iso).toordinal() - _EPOCH_DAY
