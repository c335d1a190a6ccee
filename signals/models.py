"""The inbound event contract: the signals data teams produce.

Every input topic carries one JSON object per message (UTF-8). All signal types share an
envelope (`event_id`, `occurred_at`, `source`, `person`, `account`) and differ in `type` and
`properties`. The models are *tolerant readers* (`extra="ignore"`): producers are not ours, and
Segment- or Snowplow-shaped events carry fields we do not use. Everything we do use is typed
and validated; a record that fails validation is dead-lettered by the codec, never guessed at.

The JSON Schemas in `signals/schemas/` are generated from these models (`followup schemas`).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import StrEnum
from functools import lru_cache
from typing import Annotated, Final, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from signals.text import (
    Id,
    Investors,
    Label,
    Name,
    Source,
    Subject,
    Technologies,
    Url,
    clean,
)

__all__ = [
    "SCHEMA_VERSION",
    "Account",
    "EmailOpened",
    "EmailOpenedProperties",
    "EventDate",
    "EventTime",
    "FundingAnnounced",
    "FundingProperties",
    "JobChanged",
    "JobChangedProperties",
    "PageVisited",
    "PageVisitedProperties",
    "Person",
    "Signal",
    "SignalType",
]

SCHEMA_VERSION: Final = 1

_INBOUND = ConfigDict(frozen=True, extra="ignore", str_strip_whitespace=True)


_FIRST_YEAR, _LAST_YEAR = 1970, 2999


def _utc_in_range(value: datetime) -> datetime:
    # Checked before converting: year 1 with a negative offset overflows in astimezone, and
    # such a date deep in the core would raise where no one can route the record.
    if not _FIRST_YEAR <= value.year <= _LAST_YEAR:
        raise ValueError(f"time out of range: years {_FIRST_YEAR} to {_LAST_YEAR} only")
    return value.astimezone(UTC)


def _date_in_range(value: date) -> date:
    if not _FIRST_YEAR <= value.year <= _LAST_YEAR:
        raise ValueError(f"date out of range: years {_FIRST_YEAR} to {_LAST_YEAR} only")
    return value


EventTime = Annotated[AwareDatetime, AfterValidator(_utc_in_range)]
"""RFC 3339 with an offset, between 1970 and 2999, converted to UTC."""
EventDate = Annotated[date, AfterValidator(_date_in_range)]


@lru_cache(maxsize=1024)
def _known_zone(name: str) -> bool:
    """Whether `name` is an IANA zone (remembered: the check reads tzdata from disk)."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        # OSError: a key naming a tzdata directory ("Europe") raises IsADirectoryError.
        return False
    return True


class SignalType(StrEnum):
    EMAIL_OPENED = "email_opened"
    PAGE_VISITED = "page_visited"
    JOB_CHANGED = "job_changed"
    FUNDING_ANNOUNCED = "funding_announced"


class Person(BaseModel):
    """Who the signal is about. At least one of `email` and `id` (a CRM id) is required."""

    model_config = _INBOUND

    email: Annotated[str, Field(max_length=320)] | None = None
    id: Id | None = None
    name: Name | None = None
    title: Name | None = None
    seniority: Label | None = None
    department: Label | None = None
    timezone: Annotated[str, Field(max_length=64)] | None = Field(
        default=None, description="IANA time zone name, e.g. Europe/Berlin"
    )

    @field_validator("email")
    @classmethod
    def _email_shape(cls, value: str | None) -> str | None:
        if value is None:
            return None
        local, at, domain = value.rpartition("@")
        if not at or not local or "." not in domain or " " in value:
            raise ValueError("not an email address")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not _known_zone(value):
            raise ValueError("unknown IANA time zone")
        return value

    @model_validator(mode="after")
    def _has_identity(self) -> Person:
        if not self.email and not self.id:
            raise ValueError("missing_identity: a person needs an email or an id")
        return self


class Account(BaseModel):
    """The company. `domain` is the account's identity (normalised by `signals.identity`)."""

    model_config = _INBOUND

    domain: Annotated[str, Field(min_length=3, max_length=253)]
    name: Name | None = None
    industry: Label | None = None
    employees: Annotated[int, Field(ge=0, le=10_000_000)] | None = None
    country: Annotated[str, Field(min_length=2, max_length=2)] | None = Field(
        default=None, description="ISO 3166-1 alpha-2 code"
    )
    technologies: Technologies = ()

    @field_validator("country")
    @classmethod
    def _upper_country(cls, value: str | None) -> str | None:
        return value.upper() if value else value

    @field_validator("domain")
    @classmethod
    def _domain_shape(cls, value: str) -> str:
        if "." not in value or " " in value or "@" in value:
            raise ValueError("not a domain name")
        return value


class EmailOpenedProperties(BaseModel):
    model_config = _INBOUND

    campaign_id: Id | None = None
    email_id: Id | None = None
    subject: Subject | None = None


class PageVisitedProperties(BaseModel):
    model_config = _INBOUND

    url: Url | None = None
    path: Url | None = None
    title: Name | None = None
    referrer: Url | None = None

    @model_validator(mode="after")
    def _path_from_url(self) -> PageVisitedProperties:
        if self.path is None and self.url is None:
            raise ValueError("a page visit needs a url or a path")
        if self.path is None and self.url is not None:
            from urllib.parse import urlsplit

            object.__setattr__(self, "path", urlsplit(self.url).path or "/")
        return self


class JobChangedProperties(BaseModel):
    model_config = _INBOUND

    previous_account: Account | None = None
    previous_title: Name | None = None
    new_title: Name | None = None
    previous_email: Annotated[str, Field(max_length=320)] | None = Field(
        default=None,
        description=(
            "The person's email at the previous account, when it differs from `person.email`; "
            "it finds their history there."
        ),
    )


class FundingProperties(BaseModel):
    model_config = _INBOUND

    round: Annotated[str, BeforeValidator(clean), Field(min_length=1, max_length=50)]
    amount_usd: Annotated[int, Field(ge=0)] | None = None
    investors: Investors = ()
    announced_on: EventDate | None = None


class _Envelope(BaseModel):
    model_config = _INBOUND

    schema_version: Literal[1] = SCHEMA_VERSION
    event_id: Id = Field(description="Unique per producer; the deduplication key.")
    occurred_at: EventTime = Field(description="RFC 3339 with offset; stored as UTC.")
    source: Source


class EmailOpened(_Envelope):
    type: Literal[SignalType.EMAIL_OPENED] = SignalType.EMAIL_OPENED
    person: Person
    account: Account | None = None
    properties: EmailOpenedProperties = EmailOpenedProperties()


class PageVisited(_Envelope):
    """A page view. `person` may be absent when only the account is known (reverse-IP)."""

    type: Literal[SignalType.PAGE_VISITED] = SignalType.PAGE_VISITED
    person: Person | None = None
    account: Account | None = None
    properties: PageVisitedProperties

    @model_validator(mode="after")
    def _has_someone(self) -> PageVisited:
        if self.person is None and self.account is None:
            raise ValueError("missing_identity: a page visit needs a person or an account")
        return self


class JobChanged(_Envelope):
    """A person moved: `account` is the new company, `properties.previous_account` the old."""

    type: Literal[SignalType.JOB_CHANGED] = SignalType.JOB_CHANGED
    person: Person
    account: Account
    properties: JobChangedProperties = JobChangedProperties()


class FundingAnnounced(_Envelope):
    """An account-level signal: `account` is required; a `person`, if sent, is not used."""

    type: Literal[SignalType.FUNDING_ANNOUNCED] = SignalType.FUNDING_ANNOUNCED
    person: Person | None = None
    account: Account
    properties: FundingProperties


Signal = Annotated[
    EmailOpened | PageVisited | JobChanged | FundingAnnounced,
    Field(discriminator="type"),
]
