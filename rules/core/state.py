"""Engine state: what the tables store per prospect (account x person) and per account.

`rules.core.engine.apply_signal` reads these and returns new ones. They are msgspec Structs,
frozen and hashable, and they are our own bytes: `encode_state` writes a one-byte format
version and a MessagePack array per Struct; `decode_prospect`/`decode_account` read them back
without validating again (untrusted input was validated once, at the edge).

Size does not grow with history:

- engagement is a set of decayed running sums per rule: per UTC day for the recent days
  where per-day caps and recency windows need them, and per calendar period of
  `PERIOD_DAYS` days for older ones (`rules.core.folding` bounds the error), plus the few
  largest contributions kept for the reasons a window shows;
- remembered event fingerprints are pruned at the horizon; past twice `MAX_SEEN_INLINE`
  of them the oldest half spills into per-day overflow records (`rules.core.dedup`), so
  one busy person cannot inflate the state every signal reads and writes; the days that
  spilled are a bitmap (`rules.core.dayset`);
- an account holds no list of its people: they are the prospect keys under the account
  key, which fan-out reads with a prefix scan;
- a prospect is at most `MAX_PROSPECT_BYTES` (4 KiB) stored, whatever its history and
  input: what it keeps of a producer's text is budgeted in UTF-8 bytes, the rest is
  bounded by design, and `encode_state` enforces the whole (`rules.core.budget`).

Compatibility: fields are added only at the end of a Struct, with a default, so an older
reader ignores what it does not know (a rollback reads newer states) and a newer reader fills
defaults. A change that cannot be made that way bumps `FORMAT_VERSION`; readers reject
versions they do not know with `StateFormatError` (the glue counts it and keeps the record
for an operator, it never guesses). `tests/rules/core/fixtures/` holds bytes of every format
version, and a test decodes them.

Versions: 1 kept every day of the horizon per rule and the spilled days as a list; 2 folds
old days into periods (`RuleSum.periods`) and stores the spilled days as a dayset; 3 packs
the cadence's touches (`rules.core.touches`: 5 bytes each, no ids), orders meetings and
deal stages by fingerprint, stores vacations as day numbers and leaves out an email equal
to the person key; 4 leaves out the prospect's account key (the table key says it:
`decode_prospect` takes it back). Older bytes are converted on read (`rules.core.formats`;
the next prune folds old days and drops old touches). A reader rejects newer versions: a
rollback past version 4 cannot read what version 4 wrote.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Final, TypeVar, get_args

import msgspec

from rules.core import formats
from rules.core.budget import MAX_PROSPECT_BYTES
from rules.core.cadence_state import CadenceState, Suppression, day_number, suppression_key
from signals.records import AccountRec, PersonRec
from signals.windows import Play

__all__ = [
    "FACT_KEYS",
    "FORMAT_VERSION",
    "KNOWN_VERSIONS",
    "MAX_SEEN_INLINE",
    "PERIOD_DAYS",
    "PLAYS",
    "SIGNAL_TYPES",
    "AccountState",
    "CadenceState",
    "DaySum",
    "Engagement",
    "Notable",
    "Number",
    "Period",
    "ProspectState",
    "RuleSum",
    "Seen",
    "Stamp",
    "Stamps",
    "StateFormatError",
    "Suppression",
    "day_number",
    "decode_account",
    "decode_prospect",
    "decode_suppression",
    "encode_state",
    "fingerprint",
    "num",
    "suppression_key",
]

FORMAT_VERSION: Final = 4
SIGNAL_TYPES: Final = ("email_opened", "page_visited", "job_changed", "funding_announced")
PLAYS: Final = get_args(Play)
FACT_KEYS: Final = (
    # Event facts a contribution keeps for the draft's talking points; stored by index.
    "properties.path",
    "properties.title",
    "properties.subject",
    "properties.round",
    "properties.amount_usd",
    "properties.investors",
    "properties.announced_on",
    "properties.new_title",
    "properties.previous_title",
    "properties.previous_account.name",
    "properties.previous_account.domain",
)
KNOWN_VERSIONS: Final = frozenset({1, 2, 3, 4})
PERIOD_DAYS: Final = 14
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


Number = int | float
"""Stored numbers: integral values go on the wire as MessagePack integers (1-3 bytes
instead of 9); `num` makes them so. Arithmetic treats both alike."""


def num(value: float) -> Number:
    """`value` as an int when it is integral (and exactly representable), else as is."""
    if value == int(value) and -(2**53) < value < 2**53:
        return int(value)
    return value


class DaySum(_S, frozen=True):
    """One rule's contributions on one UTC day (`day` = days since 1970-01-01).

    `raw` is the sum of their points before decay (what `cap_per_day` limits); `weighted`
    is the sum of `points * 2 ** ((t - day_start) / half_life)`, so the day's decayed value
    at any later time `at` is `weighted * 2 ** (-(at - day_start) / half_life)`, exactly.
    `cap` is the smallest per-day cap among them (None: no cap).
    """

    day: int
    weighted: float
    raw: Number
    cap: Number | None = None
    count: int = 1


class Period(_S, frozen=True):
    """Older days of one rule folded together: the calendar period of `PERIOD_DAYS` days
    starting at UTC day `start` (a multiple of `PERIOD_DAYS`).

    `weighted` is the sum over its folded days of `factor * weighted * 2 ** ((day - start) /
    half_life)`, each day capped when it was folded: the decayed sum carried to the
    period's start, so its value at `at` is `weighted * 2 ** (-(at - start_of_day) / h)`,
    exactly like a day. `count` contributions went in, the oldest on day `start + first`.
    """

    start: int
    weighted: float
    count: int = 1
    first: int = 0


class RuleSum(_S, frozen=True):
    """The running sums of one engagement rule (as scored: its parameters at the time).

    `days` keeps each recent UTC day (what per-day caps, late events and recency windows
    need) and `periods` the older days folded by calendar period (`rules.core.folding`);
    `value` is their sum, each capped and weighted as
    `factor * weighted * 2 ** ((day - anchor) / half_life_days)`, so that a score reads one
    number per rule however long the history: `value * 2 ** (-(at - anchor_start) / h)`.
    A new event updates `value` by the change of its own day; folding, expiry and
    re-anchoring recompute it from `days` and `periods` (`rules.core.engagement`).
    """

    rule: str
    half_life_days: Number
    within_days: Number | None
    capped_per_day: bool  # whether its contributions carry a per-day cap
    cap: Number | None  # of the newest contribution: the cap in force
    play_code: int  # of the newest contribution, an index into PLAYS
    newest: Number  # unix seconds of the newest contribution
    days: tuple[DaySum, ...] = ()  # sorted
    recent: tuple[Number, ...] = ()  # newest contribution times, for count triggers
    value: float = 0.0
    anchor: int = 0  # the day `value` is anchored at
    periods: tuple[Period, ...] = ()  # sorted by start, all older than `days` (format 2)

    @property
    def play(self) -> str:
        return PLAYS[self.play_code]


class Notable(_S, frozen=True):
    """One contribution kept whole for the reasons and draft of a window."""

    event_id: str
    kind: int  # the signal type, an index into SIGNAL_TYPES
    rule: str
    occurred_at: datetime
    points: Number  # before per-day caps and decay
    half_life_days: Number
    detail: str
    facts: tuple[tuple[int, str], ...] = ()  # (index into FACT_KEYS, value)

    @property
    def signal_type(self) -> str:
        return SIGNAL_TYPES[self.kind]

    def fact_map(self) -> dict[str, str]:
        return {FACT_KEYS[i]: value for i, value in self.facts}


class Engagement(_S, frozen=True):
    sums: tuple[RuleSum, ...] = ()
    notable: tuple[Notable, ...] = ()  # the largest few at the last update, largest first
    last_positive: datetime | None = None  # newest contribution with points > 0


class Seen(_S, frozen=True):
    """Fingerprints of applied events inside the horizon, packed: 8 bytes per event (the
    UTC day as 2 bytes, then 48 bits of the fingerprint, big-endian: bytes sort as pairs),
    sorted; `spilled` is the set of days whose older fingerprints live in overflow records,
    as a `rules.core.dayset`. `rules.core.dedup` reads and writes them."""

    ids: bytes = b""
    spilled: bytes = b""


class Stamps(_S, frozen=True):
    """For each field of one record (a person, an account), the stamp of the event its
    value came from: `index[i]` points into `table` for field `i`, 255 for no value yet.

    The fields of a record mostly come from the same event, so this is a few bytes: one
    table entry per distinct event, one byte per field.
    """

    table: tuple[Stamp, ...] = ()
    index: bytes = b""

    def of(self, field: int) -> Stamp | None:
        if field >= len(self.index) or self.index[field] == NO_STAMP:
            return None
        return self.table[self.index[field]]


NO_STAMP: Final = 255


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
    bytes (Structs encode positionally; no dicts). A prospect's person and account keys are
    left out: they are the table key already (`decode_prospect` puts them back; an account
    key is stored as "", None as nil), and so is the person's email when it is the key as
    it stands (stored as "", which no email keyed by it can be).

    A prospect is at most `MAX_PROSPECT_BYTES`: over it, its lowest-ranked kept
    contributions go, one by one, then the last one's facts (`_shed`). They are what a
    window quotes as reasons; no decision reads them, so the rules decide the same."""
    if not isinstance(state, ProspectState):
        return _VERSION_BYTE + _ENCODER.encode(state)
    person = state.person
    if person.email and person.email == state.person_key and not _by_id(state.person_key):
        person = msgspec.structs.replace(person, email="")
    account_key = None if state.account_key is None else ""
    state = msgspec.structs.replace(state, person_key="", account_key=account_key, person=person)
    data = _VERSION_BYTE + _ENCODER.encode(state)
    notable = state.engagement.notable
    while len(data) > MAX_PROSPECT_BYTES and notable:
        notable = _shed(notable)
        engagement = msgspec.structs.replace(state.engagement, notable=notable)
        data = _VERSION_BYTE + _ENCODER.encode(
            msgspec.structs.replace(state, engagement=engagement)
        )
    return data


def _shed(notable: tuple[Notable, ...]) -> tuple[Notable, ...]:
    """One step smaller: the last (lowest-ranked) kept contribution goes; the only one
    left loses its facts first, cited by its rule's name (as `decide.resolved` does for a
    rule the rulebook lost)."""
    if len(notable) > 1:
        return notable[:-1]
    only = notable[0]
    if only.facts or only.detail != only.rule:
        return (msgspec.structs.replace(only, facts=(), detail=only.rule),)
    return ()


def _by_id(person_key: str) -> bool:
    # A person with an empty email is keyed by CRM id; so "" is unambiguous for the others.
    return person_key.startswith("id:")


def _decode(decoder: msgspec.msgpack.Decoder[_S_T], data: bytes, kind: formats.Kind) -> _S_T:
    if not data or data[0] not in KNOWN_VERSIONS:
        version = data[0] if data else None
        raise StateFormatError(f"unknown state format version {version!r}")
    body: bytes | memoryview = memoryview(data)[1:]
    try:
        if data[0] != FORMAT_VERSION:
            body = formats.upgrade(memoryview(data)[1:], data[0], kind)
        return decoder.decode(body)
    except (msgspec.DecodeError, TypeError, ValueError, IndexError, KeyError) as exc:
        raise StateFormatError(f"not a state of format {data[0]}: {exc}") from None


def decode_prospect(data: bytes, person_key: str, account_key: str | None) -> ProspectState:
    """Read `encode_state` output of the prospect stored under `person_key` at
    `account_key` (its table key's two parts). Raises `StateFormatError` on anything
    else."""
    state = _decode(_PROSPECT, data, "prospect")
    person = state.person
    if person.email == "" and not _by_id(person_key):
        person = msgspec.structs.replace(person, email=person_key)
    account = account_key if state.account_key == "" else state.account_key  # format < 4
    return msgspec.structs.replace(state, person_key=person_key, account_key=account, person=person)


def decode_account(data: bytes) -> AccountState:
    return _decode(_ACCOUNT, data, "account")


def decode_suppression(data: bytes) -> Suppression:
    return _decode(_SUPPRESSION, data, "suppression")
