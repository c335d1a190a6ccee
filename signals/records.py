"""Our own compact form of a validated signal: what travels between our stages and what the
decision core reads.

A record from a producer is validated once, at the edge, with the pydantic models in
`signals.models`; `record_of` then turns it into these msgspec Structs. They carry exactly the
validated values (same field names as the models, so the core reads either), are encoded as
MessagePack arrays (field names are not repeated in every record), and are decoded by the
next stage without validating again: the bytes are ours.

Compatibility: fields are only ever added at the end of a Struct, with a default. An older
reader ignores trailing fields it does not know and a newer one fills missing ones with the
default, so workers of two adjacent versions read each other's records during a rolling
upgrade or a rollback.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import msgspec

from signals.models import (
    Account,
    EmailOpenedProperties,
    FundingProperties,
    JobChangedProperties,
    PageVisitedProperties,
    Person,
    SignalType,
)

__all__ = [
    "AccountRec",
    "EmailProps",
    "FundingProps",
    "JobProps",
    "PageProps",
    "PersonRec",
    "Props",
    "SignalRec",
    "account_model",
    "account_rec",
    "contract_json",
    "person_model",
    "person_rec",
    "record_of",
]


class _Rec(msgspec.Struct, frozen=True, array_like=True, omit_defaults=True):
    """Base: immutable, hashable, positional on the wire, trailing defaults omitted."""


class PersonRec(_Rec, frozen=True):
    email: str | None = None
    id: str | None = None
    name: str | None = None
    title: str | None = None
    seniority: str | None = None
    department: str | None = None
    timezone: str | None = None


class AccountRec(_Rec, frozen=True):
    domain: str
    name: str | None = None
    industry: str | None = None
    employees: int | None = None
    country: str | None = None
    technologies: tuple[str, ...] = ()


class EmailProps(_Rec, frozen=True, tag=1):
    campaign_id: str | None = None
    email_id: str | None = None
    subject: str | None = None


class PageProps(_Rec, frozen=True, tag=2):
    url: str | None = None
    path: str | None = None
    title: str | None = None
    referrer: str | None = None


class JobProps(_Rec, frozen=True, tag=3):
    previous_account: AccountRec | None = None
    previous_title: str | None = None
    new_title: str | None = None
    previous_email: str | None = None


class FundingProps(_Rec, frozen=True, tag=4):
    round: str = ""
    amount_usd: int | None = None
    investors: tuple[str, ...] = ()
    announced_on: date | None = None


Props = EmailProps | PageProps | JobProps | FundingProps


class SignalRec(_Rec, frozen=True):
    """One validated signal. `occurred_at` is aware UTC; `type` a `SignalType` value."""

    type: str
    event_id: str
    source: str
    occurred_at: datetime
    person: PersonRec | None = None
    account: AccountRec | None = None
    properties: Props = EmailProps()


def person_rec(person: Person) -> PersonRec:
    return PersonRec(
        person.email,
        person.id,
        person.name,
        person.title,
        person.seniority,
        person.department,
        person.timezone,
    )


def account_rec(account: Account) -> AccountRec:
    return AccountRec(
        account.domain,
        account.name,
        account.industry,
        account.employees,
        account.country,
        tuple(account.technologies),
    )


def person_model(rec: PersonRec) -> Person:
    """The contract model again (for a window); no validation: the values were validated."""
    return Person.model_construct(**msgspec.structs.asdict(rec))


def account_model(rec: AccountRec) -> Account:
    return Account.model_construct(**msgspec.structs.asdict(rec))


def _props(properties: Any) -> Props:
    if isinstance(properties, PageVisitedProperties):
        return PageProps(properties.url, properties.path, properties.title, properties.referrer)
    if isinstance(properties, JobChangedProperties):
        previous = properties.previous_account
        return JobProps(
            account_rec(previous) if previous is not None else None,
            properties.previous_title,
            properties.new_title,
            properties.previous_email,
        )
    if isinstance(properties, FundingProperties):
        return FundingProps(
            properties.round,
            properties.amount_usd,
            tuple(properties.investors),
            properties.announced_on,
        )
    if isinstance(properties, EmailOpenedProperties):
        return EmailProps(properties.campaign_id, properties.email_id, properties.subject)
    raise TypeError(f"no record for properties of type {type(properties).__name__}")


def record_of(signal: Any) -> SignalRec:
    """The record of a validated signal model (`signals.models.Signal`); a record is returned
    as it is. Raises TypeError for anything else."""
    if isinstance(signal, SignalRec):
        return signal
    person = signal.person
    account = signal.account
    return SignalRec(
        type=SignalType(signal.type).value,
        event_id=signal.event_id,
        source=signal.source,
        occurred_at=signal.occurred_at,
        person=person_rec(person) if person is not None else None,
        account=account_rec(account) if account is not None else None,
        properties=_props(signal.properties),
    )


def _plain(value: Any) -> Any:
    if isinstance(value, msgspec.Struct):
        return {
            name: _plain(getattr(value, name))
            for name in value.__struct_fields__
            if getattr(value, name) is not None and getattr(value, name) != ()
        }
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


def contract_json(record: SignalRec) -> bytes:
    """The contract JSON of a record (what a producer would have sent), e.g. for a dead
    letter written after the input record's own bytes are gone."""
    body = _plain(record)
    return msgspec.json.encode(body)
