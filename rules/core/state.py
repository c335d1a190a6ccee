"""Engine state: what the streaming tables store per prospect and per account.

The engine (`rules.core.engine.apply_signal`) reads these and returns new ones; the stream glue
stores them with `to_bytes()` and reads them back with `from_bytes()` (orjson, keys sorted,
so equal states give equal bytes). `from_bytes` raises `pydantic.ValidationError` on bytes
it did not write; the glue treats that as a corrupt table entry.

Everything here is bounded and independent of arrival order:

- `contributions` are sorted by `(occurred_at, event_id)`, pruned to `horizon_days` before
  the watermark, and at most `MAX_CONTRIBUTIONS` (newest kept).
- `seen_event_ids` maps event id -> event time; at most `MAX_SEEN` (newest by event time).
  Membership (`event_id in state.seen_event_ids`) is the dedup test.
- `people` maps person key -> event time of that person's latest signal at the account;
  at most `MAX_PEOPLE` (most recently active kept).
- `attributes_as_of` records, per attribute path, the `(occurred_at, event_id)` of the event
  the value came from, so a merge keeps the newest value whatever the arrival order.
"""

from __future__ import annotations

import bisect
from datetime import datetime, timedelta
from typing import Annotated, Self

import orjson
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from signals.models import Account, Person, SignalType
from signals.windows import Play

__all__ = [
    "MAX_CONTRIBUTIONS",
    "MAX_PEOPLE",
    "MAX_SEEN",
    "AccountState",
    "Contribution",
    "ProspectState",
    "Stamp",
    "Stored",
    "add_contribution",
    "is_seen",
    "remember",
    "scoring_basis",
]

MAX_CONTRIBUTIONS = 200
MAX_SEEN = 1000
MAX_PEOPLE = 1000

_STATE = ConfigDict(frozen=True, extra="forbid")

Stamp = tuple[AwareDatetime, str]
"""`(occurred_at, event_id)` of the event a value came from; the order of merges."""


class Stored(BaseModel):
    """Base of every state the tables hold: frozen, strict, canonical bytes."""

    model_config = _STATE

    def to_bytes(self) -> bytes:
        """Canonical JSON (sorted keys): equal states give equal bytes."""
        return orjson.dumps(self.model_dump(), option=orjson.OPT_SORT_KEYS)

    @classmethod
    def from_bytes(cls, data: bytes) -> Self:
        """Read back `to_bytes()` output. Raises `pydantic.ValidationError` on anything else."""
        return cls.model_validate_json(data)


class Contribution(Stored):
    """One scored engagement signal, as it was scored when it arrived (points before decay)."""

    event_id: str
    signal_type: SignalType
    rule: str
    points: float
    half_life_days: Annotated[float, Field(gt=0)]
    cap: float | None = None
    cap_per_day: float | None = Field(
        default=None, description="The rule's cap on one UTC day's points, before decay."
    )
    within_days: float | None = Field(
        default=None, description="The rule's recency window: older, it counts 0."
    )
    occurred_at: AwareDatetime
    detail: str
    play: Play
    facts: dict[str, str] = Field(
        default_factory=dict,
        description="A few event facts the draft's talking points use (path, subject, round).",
    )

    @property
    def sort_key(self) -> tuple[datetime, str]:
        return (self.occurred_at, self.event_id)


class ProspectState(Stored):
    person_key: str
    account_key: str | None = None
    person: Person
    account: Account | None = None
    contributions: tuple[Contribution, ...] = ()
    seen_event_ids: dict[str, AwareDatetime] = Field(default_factory=dict)
    watermark: AwareDatetime | None = None
    last_window_at: AwareDatetime | None = None
    last_window_id: str | None = None
    windows_opened: int = 0
    attributes_as_of: dict[str, Stamp] = Field(default_factory=dict)
    crm_roles: tuple[str, ...] = ()
    crm_roles_as_of: AwareDatetime | None = None
    departed_at: AwareDatetime | None = Field(
        default=None, description="When a job change took the person away from this account."
    )
    open_window_id: str | None = Field(
        default=None, description="The latest window, until a touch uses it or it expires."
    )
    open_window_expires_at: AwareDatetime | None = None


class AccountState(Stored):
    account_key: str
    account: Account
    contributions: tuple[Contribution, ...] = ()
    seen_event_ids: dict[str, AwareDatetime] = Field(default_factory=dict)
    watermark: AwareDatetime | None = None
    people: dict[str, AwareDatetime] = Field(default_factory=dict)
    attributes_as_of: dict[str, Stamp] = Field(default_factory=dict)


def scoring_basis(
    prospect: ProspectState, account: AccountState | None
) -> tuple[tuple[Contribution, ...], Account | None]:
    """What a prospect is scored on: their contributions, plus the account's when it is their
    current account, and the account as every person's events there describe it."""
    if account is not None and account.account_key == prospect.account_key:
        return prospect.contributions + account.contributions, account.account
    return prospect.contributions, prospect.account


def is_seen(seen: dict[str, datetime], event_id: str, occurred_at: datetime) -> bool:
    """True if the event was applied, or is older than everything a full memory still holds.

    The second case is the price of bounded memory: once `MAX_SEEN` newer ids are held, an
    older event cannot be told apart from a redelivery, so it is treated as one.
    """
    if event_id in seen:
        return True
    if len(seen) >= MAX_SEEN:
        oldest = min((at, eid) for eid, at in seen.items())
        return (occurred_at, event_id) < oldest
    return False


def remember(
    memory: dict[str, datetime], key: str, at: datetime, limit: int
) -> dict[str, datetime]:
    """A copy of `memory` with `key` at the later of its time and `at`, newest `limit` kept."""
    previous = memory.get(key)
    if previous is not None and previous >= at:
        return memory
    out = dict(memory)
    out[key] = at
    if len(out) > limit:
        newest = sorted(out.items(), key=lambda kv: (kv[1], kv[0]))[-limit:]
        out = dict(newest)
    return out


def _sort_key(c: Contribution) -> tuple[datetime, str]:
    return (c.occurred_at, c.event_id)


def add_contribution(
    contributions: tuple[Contribution, ...],
    new: Contribution | None,
    watermark: datetime,
    horizon_days: float,
) -> tuple[Contribution, ...]:
    """Insert `new` in event-time order, drop those past the horizon, keep the newest."""
    items = list(contributions)
    if new is not None:
        # Almost always the newest: an append. A late event is inserted in its place.
        bisect.insort(items, new, key=_sort_key)
    cutoff = watermark - timedelta(days=horizon_days)
    if items and items[0].occurred_at < cutoff:
        items = [c for c in items if c.occurred_at >= cutoff]
    if len(items) > MAX_CONTRIBUTIONS:
        items = items[-MAX_CONTRIBUTIONS:]
    return tuple(items)
