"""Facts: the flat, dotted-path view of a signal that rule conditions read.

Called by the engine once per rule pass (engagement matching reads the event's own facts,
fit reads the merged person and account). Pure and cheap: it walks the models' fields once
and never raises on a validated model. Missing values (None, empty tuples) are left out, so
a condition sees them as absent.

Keys:

- `person.email`, `person.email_domain`, `person.id`, `person.title`, `person.seniority`,
  `person.department`, `person.timezone`
- `account.domain` (the normalised account key), `account.name`, `account.industry`,
  `account.employees`, `account.country`, `account.technologies`
- `type`, `source`
- `properties.<name>`; nested models flatten further, e.g.
  `properties.previous_account.domain` (also normalised). Dates become ISO strings.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import msgspec
from pydantic import BaseModel

from signals.identity import account_key, email_domain
from signals.records import AccountRec, PersonRec, SignalRec

__all__ = ["ACCOUNT_FACT_FIELDS", "PERSON_FACT_FIELDS", "facts_for"]

# Fields that become facts as they are (besides the email and the domain, derived).
PERSON_FACT_FIELDS = ("id", "title", "seniority", "department", "timezone")
ACCOUNT_FACT_FIELDS = ("name", "industry", "employees", "country", "technologies")


def facts_for(
    signal: SignalRec | None, person: PersonRec | None, account: AccountRec | None
) -> dict[str, Any]:
    """Flatten a signal (optional) and a person and account into dotted-path facts."""
    facts: dict[str, Any] = {}
    if person is not None:
        if person.email:
            facts["person.email"] = person.email.lower()
            facts["person.email_domain"] = email_domain(person.email)
        for name in PERSON_FACT_FIELDS:
            value = getattr(person, name)
            if value is not None:
                facts[f"person.{name}"] = value
    if account is not None:
        _put_account(facts, "account", account)
    if signal is not None:
        facts["type"] = str(signal.type)
        facts["source"] = signal.source
        _flatten(facts, "properties", signal.properties)
    return facts


def _put_account(facts: dict[str, Any], prefix: str, account: AccountRec) -> None:
    facts[f"{prefix}.domain"] = account_key(account.domain)
    for name in ACCOUNT_FACT_FIELDS:
        value = getattr(account, name)
        if value is not None and value != ():
            facts[f"{prefix}.{name}"] = value


def _flatten(facts: dict[str, Any], prefix: str, model: msgspec.Struct | BaseModel) -> None:
    if isinstance(model, msgspec.Struct):
        items = [(name, getattr(model, name)) for name in model.__struct_fields__]
    else:
        items = list(model.__dict__.items())
    for name, value in items:
        if value is None or value == ():
            continue
        key = f"{prefix}.{name}"
        if isinstance(value, AccountRec):
            _put_account(facts, key, value)
        elif isinstance(value, msgspec.Struct | BaseModel):
            _flatten(facts, key, value)
        elif isinstance(value, date):
            facts[key] = value.isoformat()
        else:
            facts[key] = value
