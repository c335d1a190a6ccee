"""The rulebook's `cadence:` section: how often, how long, on which channel, and when not.

Defaults follow the field's rules of thumb (shared/DOMAIN.md): the first follow-up within
24 hours of a meeting; 2-3 days between touches (next-day follow-ups lower replies); at most
8 touches in 3 weeks; after 3 email touches without engagement switch channel (LinkedIn,
then phone; SMS is for reminders only, never recommended); after 5 unanswered value
touches a breakup note, then a long silence; Tuesday and Thursday mornings in the person's
own zone; stop on reply; never contact an opted-out person.

Read by `rules.core.cadence.gate` and `rules.core.sendtime.send_at`; validated once at rulebook load
(a bad value is a `RulebookError` naming the line), never at run time.
"""

from __future__ import annotations

import datetime as dt
from datetime import timedelta
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from signals.windows import Channel, Play

__all__ = [
    "DEFAULT_EXPIRE_HOURS",
    "WEEKDAYS",
    "BusinessHours",
    "CadenceRules",
    "Holiday",
    "Weekday",
    "expires_for",
]

_STRICT = ConfigDict(frozen=True, extra="forbid")

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

_Days = Annotated[float, Field(ge=0, le=3650)]
_Hours = Annotated[float, Field(gt=0, le=24 * 90)]
_Count = Annotated[int, Field(ge=1, le=100)]

DEFAULT_EXPIRE_HOURS: dict[Play, float] = {
    # A hot signal cools within days; nudges and value drops can wait for a good slot.
    "signal_triggered": 48.0,
    "champion_moved": 72.0,
    "funding": 72.0,
    "no_response": 72.0,
    "multi_thread": 120.0,
    "value_add": 120.0,
    "breakup": 120.0,
    "post_purchase": 168.0,
}


class Holiday(BaseModel):
    """A day nobody should be contacted: all countries, or only people in `country`."""

    model_config = _STRICT

    date: dt.date
    country: Annotated[str, Field(min_length=2, max_length=2)] | None = Field(
        default=None, description="ISO 3166-1 alpha-2; absent = everywhere"
    )
    name: Annotated[str, Field(max_length=100)] | None = None

    @field_validator("country")
    @classmethod
    def _upper(cls, value: str | None) -> str | None:
        return value.upper() if value else value


def _no_number(value: Any) -> Any:
    # YAML 1.1 reads an unquoted 17:00 as the base-60 number 1020 (= 00:17 as a time).
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise ValueError("write times in quotes, e.g. '17:00' (unquoted YAML reads a number)")
    return value


class BusinessHours(BaseModel):
    """Local working hours in the person's zone; `morning_end` bounds "a morning slot"."""

    model_config = _STRICT

    start: dt.time = dt.time(9, 0)
    morning_end: dt.time = dt.time(12, 0)
    end: dt.time = dt.time(17, 0)

    _times = field_validator("start", "morning_end", "end", mode="before")(_no_number)

    @model_validator(mode="after")
    def _ordered(self) -> BusinessHours:
        if not self.start < self.morning_end <= self.end:
            raise ValueError("business hours need start < morning_end <= end")
        return self


class CadenceRules(BaseModel):
    """Cadence settings; every field has a default, so `cadence:` may be left out."""

    model_config = _STRICT

    min_days_between_touches: _Days = Field(
        default=2.0, description="Hot signals and post-demo recaps may come sooner."
    )
    max_touches: _Count = Field(default=8, description="Per person in any touch_window_days.")
    touch_window_days: Annotated[float, Field(gt=0, le=365)] = 21.0
    value_after_touches: _Count = Field(
        default=3, description="Unanswered touches after which the play becomes value_add."
    )
    switch_channel_after_email_touches: _Count = 3
    channel_sequence: Annotated[tuple[Channel, ...], Field(min_length=1)] = (
        "email",
        "linkedin",
        "phone",
    )
    breakup_after_unanswered_value_touches: _Count = 5
    breakup_silence_days: _Days = 90.0
    reply_pause_days: _Days = Field(
        default=30.0,
        description="After a reply (or a booking without a time) no automated windows.",
    )
    post_demo_expire_hours: _Hours = 24.0
    expire_hours: dict[Play, _Hours] = Field(
        default_factory=lambda: dict(DEFAULT_EXPIRE_HOURS),
        description="Window lifetime per play (post_demo: post_demo_expire_hours).",
    )
    hot_plays: tuple[Play, ...] = Field(
        default=("champion_moved", "funding"),
        description="Trigger plays that count as hot signals.",
    )
    hot_rules: tuple[str, ...] = Field(
        default=(), description="Engagement rule names that count as hot, e.g. pricing-page."
    )
    won_stages: tuple[str, ...] = ("won", "closed_won", "customer")
    lost_stages: tuple[str, ...] = ("lost", "closed_lost")
    company_holidays: tuple[Holiday, ...] = ()
    business_hours: BusinessHours = BusinessHours()
    working_days: Annotated[tuple[Weekday, ...], Field(min_length=1)] = (
        "mon",
        "tue",
        "wed",
        "thu",
        "fri",
    )
    preferred_days: tuple[Weekday, ...] = ("tue", "thu")
    prefer_within_days: Annotated[float, Field(ge=0, le=14)] = Field(
        default=4.0, description="How far a flexible window may wait for a preferred morning."
    )
    default_timezone: Annotated[str, Field(max_length=64)] = Field(
        default="UTC",
        description="The zone for people with no zone of their own and no known country.",
    )
    max_vacation_days: Annotated[int, Field(ge=1, le=366)] = Field(
        default=30,
        description=(
            "An out_of_office span counts for at most this many days from its first day: "
            "an auto-reply claiming a year away cannot silence a person for a year."
        ),
    )

    @field_validator("default_timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
            raise ValueError("unknown IANA time zone") from exc
        return value

    @field_validator("won_stages", "lost_stages")
    @classmethod
    def _lower(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(v.lower() for v in value)

    @model_validator(mode="after")
    def _consistent(self) -> CadenceRules:
        if "post_demo" in self.expire_hours:
            raise ValueError("set post_demo's lifetime with post_demo_expire_hours")
        if len(set(self.channel_sequence)) != len(self.channel_sequence):
            raise ValueError("channel_sequence repeats a channel")
        if set(self.won_stages) & set(self.lost_stages):
            raise ValueError("a stage cannot be both won and lost")
        return self

    def is_hot(self, *, play: Play, rule: str | None) -> bool:
        """Whether a trigger counts as hot: its play or its engagement rule is listed."""
        return play in self.hot_plays or (rule is not None and rule in self.hot_rules)


def expires_for(play: Play, rules: CadenceRules) -> timedelta:
    """How long a window of this play stays open (72 h for a play not listed)."""
    if play == "post_demo":
        return timedelta(hours=rules.post_demo_expire_hours)
    return timedelta(hours=rules.expire_hours.get(play, 72.0))
