"""What a person's state keeps of the outreach around them: the cadence per account, and
the suppression that follows the person everywhere.

Stored inside `rules.core.state.ProspectState` (the cadence) and on its own topic (the
suppression), with the same encoding (`rules.core.state.encode_state`): msgspec Structs,
frozen, positional, trailing defaults left out. `rules.core.cadence` reads and writes them.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime
from typing import Final

import msgspec

__all__ = ["CadenceState", "Suppression", "day_number", "suppression_key"]


class _S(msgspec.Struct, frozen=True, array_like=True, omit_defaults=True):
    pass


class CadenceState(_S, frozen=True):
    """What outreach tools told us about one person at one account, order-independent."""

    touches: bytes = b""  # packed and bounded by `rules.core.touches` (format 3)
    replied_at: datetime | None = None
    opted_out_at: datetime | None = None
    bounced_at: datetime | None = None
    meeting_booked: tuple[datetime, int] | None = None  # (at, fingerprint): merge order
    meeting_at: datetime | None = None
    meeting_held_at: datetime | None = None
    deal_stage: str | None = None
    deal_stage_as_of: tuple[datetime, int] | None = None  # (at, fingerprint): merge order
    vacation_days: tuple[tuple[int, int], ...] = ()  # sorted, inclusive local days (format 3)
    breakup_at: datetime | None = None

    @property
    def vacations(self) -> tuple[tuple[date, date], ...]:
        """The out-of-office spans as inclusive local dates (stored as days since 1970)."""
        return tuple((_date_of(a), _date_of(b)) for a, b in self.vacation_days)


_EPOCH_DAY: Final = date(1970, 1, 1).toordinal()


def _date_of(day: int) -> date:
    return date.fromordinal(_EPOCH_DAY + day)


def day_number(d: date) -> int:
    """`d` as days since 1970-01-01, how `CadenceState.vacation_days` stores it."""
    return d.toordinal() - _EPOCH_DAY


class Suppression(_S, frozen=True):
    """What follows a person everywhere, whichever account they are seen at: an opt-out
    (final), bounces per channel, and their latest reply (which pauses automated windows).

    Kept per person, not per account, on a person-keyed topic every worker reads, keyed by
    a salted hash of the person key (`suppression_key`): it holds no personal data, so it
    outlives an erasure of the person and an erased opt-out is still honoured.
    """

    opted_out_at: datetime | None = None
    bounced: tuple[tuple[str, datetime], ...] = ()  # (channel, latest bounce), sorted
    replied_at: datetime | None = None

    def bounced_on(self, channel: str) -> datetime | None:
        return next((at for c, at in self.bounced if c == channel), None)


def suppression_key(person_key: str, salt: str) -> str:
    """The key of a person's suppression record: no personal data, stable per salt."""
    digest = hashlib.blake2b(person_key.encode(), key=salt.encode()[:64], digest_size=16)
    return "s:" + digest.hexdigest()
