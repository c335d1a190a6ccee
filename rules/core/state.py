"""Engine state: what the tables store per prospect (account x person) and per account.

`rules.core.engine.apply_signal` reads these and returns new ones. They are msgspec Structs,
frozen and hashable, and they are our own bytes: `encode_state` writes a one-byte format
version and a MessagePack array per Struct; `decode_prospect`/`decode_account` read them back
without validating again (untrusted input was validated once, at the edge).

Size does not grow with history:

- engagement is a set of decayed running sums per rule and UTC day inside the horizon
  (`rules.core.engagement`), plus the few largest contributions kept for the reasons a
  window shows;
- remembered event fingerprints are pruned at the horizon; past `MAX_SEEN_INLINE` of them
  the oldest spill into per-day overflow records (`rules.core.dedup`), so one busy person
  cannot inflate the state every signal reads and writes;
- an account holds no list of its people: they are the prospect keys under the account
  key, which fan-out reads with a prefix scan.

Compatibility: fields are added only at the end of a Struct, with a default, so an older
reader ignores what it does not know (a rollback reads newer states) and a newer reader fills
defaults. A change that cannot be made that way bumps `FORMAT_VERSION`; readers reject
versions they do not know with `StateFormatError` (the glue counts it and keeps the record
for an operator, it never guesses). `tests/rules/core/fixtures/` holds bytes of every format
version, and a test decodes them.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime
from typing import Final, TypeVar

import msgspec

from signals.records import AccountRec, PersonRec

__all__ = [
    "FORMAT_VERSION",
    "KNOWN_VERSIONS",
    "MAX_SEEN_INLINE",
    "AccountState",
    "CadenceState",
    "DaySum",
    "Engagement",
    "Notable",
    "ProspectState",
    "RuleSum",
    "Seen",
    "Stamp",
    "Stamps",
    "StateFormatError",
    "Suppression",
    "Touch",
    "decode_account",
    "decode_prospect",
    "decode_suppression",
    "encode_state",
    "fingerprint",
    "suppression_key",
]

FORMAT_VERSION: Final = 1
KNOWN_VERSIONS: Final = frozenset({1})
MAX_SEEN_INLINE: Final = 32

Stamp = tuple[float, int]
"""`(occurred_at as unix seconds, fingerprint)` of the event a value came from: merge order."""


class StateFormatError(ValueError):
    """Stored bytes this version cannot read (unknown format version or not our encoding)."""


def fingerprint(kind: str, source: str, event_id: str) -> int:
    """63-bit id of an event: its kind (signal, activity, contact), source and event id.

    The dedup key is (`source`, `event_id`): the contract promises ids unique per producer,
    not across producers. Collisions need ~3e9 events at one person to become likely.
    """
    digest = hashlib.blake2b(f"{kind}\x1f{source}\x1f{event_id}".encode(), digest_size=8)
    return int.from_bytes(digest.digest(), "big") >> 1


class _S(msgspec.Struct, frozen=True, array_like=True, omit_defaults=True):
    pass


class DaySum(_S, frozen=True):
    """One rule's contributions on one UTC day (`day` = days since 1970-01-01).

    `raw` is the sum of their points before decay (what `cap_per_day` limits); `weighted`
    is the sum of `points * 2 ** ((t - day_start) / half_life)`, so the day's decayed value
    at any later time `at` is `weighted * 2 ** (-(at - day_start) / half_life)`, exactly.
    `cap` is the smallest per-day cap among them (None: no cap).
    """

    day: int
    raw: float
    weighted: float
    count: int
    cap: float | None = None


class RuleSum(_S, frozen=True):
    """The running sums of one engagement rule (as scored: its parameters at the time).

    Recent days are kept one by one (`days`); older ones (`cold`) are also summed into one
    value anchored at the newest of them (`cold_value`, `cold_anchor`), so that scoring
    reads a handful of numbers per rule however long the history is. The cold days stay
    for what needs them one by one: a late event into one of them, and expiry at the
    horizon; either recomputes the summary exactly (`rules.core.engagement`).
    """

    rule: str
    half_life_days: float
    within_days: float | None
    capped_per_day: bool  # whether its contributions carry a per-day cap
    cap: float | None  # of the newest contribution: the cap in force
    play: str  # of the newest contribution
    newest: float  # unix seconds of the newest contribution
    days: tuple[DaySum, ...] = ()  # recent days, sorted
    recent: tuple[float, ...] = ()  # newest contribution times, for count triggers
    cold: tuple[DaySum, ...] = ()  # older days, sorted, all before `days`
    cold_value: float = 0.0  # sum over `cold` of factor * weighted * 2 ** ((start - anchor) / h)
    cold_anchor: int = 0  # the day `cold_value` is anchored at: the newest cold day


class Notable(_S, frozen=True):
    """One contribution kept whole for the reasons and draft of a window."""

    event_id: str
    signal_type: str
    rule: str
    occurred_at: datetime
    points: float  # before per-day caps and decay
    half_life_days: float
    detail: str
    facts: tuple[tuple[str, str], ...] = ()


class Engagement(_S, frozen=True):
    sums: tuple[RuleSum, ...] = ()
    notable: tuple[Notable, ...] = ()  # the largest few at the last update, largest first
    last_positive: datetime | None = None  # newest contribution with points > 0


class Seen(_S, frozen=True):
    """Fingerprints of applied events inside the horizon, as `(day, fingerprint)` pairs,
    sorted; `spilled` lists the days whose older fingerprints live in overflow records."""

    ids: tuple[tuple[int, int], ...] = ()
    spilled: tuple[int, ...] = ()


class Stamps(_S, frozen=True):
    """Per attribute path, the stamp of the event its value came from.

    Stored as a small table of distinct stamps and one index per path: the fields of one
    record mostly come from the same event, so this is a few bytes per field.
    """

    table: tuple[Stamp, ...] = ()
    paths: tuple[tuple[str, int], ...] = ()

    def get(self, path: str) -> Stamp | None:
        for name, index in self.paths:
            if name == path:
                return self.table[index]
        return None


class Touch(_S, frozen=True):
    at: datetime
    event_id: str
    channel: str
    play: str
    window_id: str | None = None
    value_touch: bool = True


class CadenceState(_S, frozen=True):
    """What outreach tools told us about one person at one account, order-independent."""

    touches: tuple[Touch, ...] = ()  # by (at, event_id), newest MAX_TOUCHES kept
    replied_at: datetime | None = None
    opted_out_at: datetime | None = None
    bounced_at: datetime | None = None
    meeting_booked: tuple[datetime, str] | None = None
    meeting_at: datetime | None = None
    meeting_held_at: datetime | None = None
    deal_stage: str | None = None
    deal_stage_as_of: tuple[datetime, str] | None = None
    vacations: tuple[tuple[date, date], ...] = ()  # sorted, inclusive local dates
    breakup_at: datetime | None = None


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


class ProspectState(_S, frozen=True):
    person_key: str
    account_key: str | None
    person: PersonRec
    engagement: Engagement = Engagement()
    seen: Seen = Seen()
    watermark: datetime | None = None
    stamps: Stamps = Stamps()
    last_window_at: datetime | None = None
    last_window_id: str | None = None
    windows_opened: int = 0
    crm_roles: tuple[str, ...] = ()
    crm_roles_as_of: datetime | None = None
    departed_at: datetime | None = None  # a job change took the person away from here
    open_window_id: str | None = None  # the latest window, until used or expired
    open_window_expires_at: datetime | None = None
    cadence: CadenceState | None = None


class AccountState(_S, frozen=True):
    account_key: str
    account: AccountRec
    engagement: Engagement = Engagement()  # account-level signals (funding, anonymous visits)
    seen: Seen = Seen()
    watermark: datetime | None = None
    stamps: Stamps = Stamps()


_S_T = TypeVar("_S_T", ProspectState, AccountState, Suppression)
_ENCODER = msgspec.msgpack.Encoder()
_PROSPECT = msgspec.msgpack.Decoder(ProspectState)
_ACCOUNT = msgspec.msgpack.Decoder(AccountState)
_SUPPRESSION = msgspec.msgpack.Decoder(Suppression)
_VERSION_BYTE = bytes([FORMAT_VERSION])


def encode_state(state: ProspectState | AccountState | msgspec.Struct) -> bytes:
    """Our bytes for a state: the format version, then MessagePack. Equal states give equal
    bytes (Structs encode positionally; no dicts)."""
    return _VERSION_BYTE + _ENCODER.encode(state)


def _decode(decoder: msgspec.msgpack.Decoder[_S_T], data: bytes) -> _S_T:
    if not data or data[0] not in KNOWN_VERSIONS:
        version = data[0] if data else None
        raise StateFormatError(f"unknown state format version {version!r}")
    try:
        return decoder.decode(memoryview(data)[1:])
    except msgspec.DecodeError as exc:
        raise StateFormatError(f"not a state of format {data[0]}: {exc}") from None


def decode_prospect(data: bytes) -> ProspectState:
    """Read `encode_state` output. Raises `StateFormatError` on anything else."""
    return _decode(_PROSPECT, data)


def decode_account(data: bytes) -> AccountState:
    return _decode(_ACCOUNT, data)


def decode_suppression(data: bytes) -> Suppression:
    return _decode(_SUPPRESSION, data)
