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
from functools import lru_cache
from typing import Any

import msgspec
from pydantic import BaseModel

from rules.core.scoring import placeholders
from rules.core.state import FACT_KEYS
from rules.rulebook.conditions import fields_read
from rules.rulebook.model import Rulebook
from signals.identity import account_key, email_domain
from signals.records import AccountRec, PersonRec, SignalRec

__all__ = ["ACCOUNT_FACT_FIELDS", "PERSON_FACT_FIELDS", "event_reads", "facts_for"]

# Fields that become facts as they are (besides the email and the domain, derived).
PERSON_FACT_FIELDS = ("id", "title", "seniority", "department", "timezone")
ACCOUNT_FACT_FIELDS = ("name", "industry", "employees", "country", "technologies")


def facts_for(
    signal: SignalRec | None,
    person: PersonRec | None,
    account: AccountRec | None,
    *,
    reads: frozenset[str] | None = None,
) -> dict[str, Any]:
    """Flatten a signal (optional) and a person and account into dotted-path facts.

    A new dict each call (callers add to it). With `reads` (the keys a caller's rules can
    read), the person's and the account's facts are left out when no key under them is
    read, and a signal's properties flattened only where a key is read: every key left
    out is one no rule reads. The facts of a person and of an account are
    remembered by value (`_memo`): the same people and accounts recur in nearly every
    signal, and flattening them is much of the cost."""
    facts: dict[str, Any] = {}
    if person is not None and (reads is None or _reads_under(reads, "person.")):
        facts.update(_memo(_person_facts, person))
    if account is not None and (reads is None or _reads_under(reads, "account.")):
        facts.update(_memo(_account_facts, account))
    if signal is not None:
        facts["type"] = str(signal.type)
        facts["source"] = signal.source
        props = signal.properties
        if reads is not None and isinstance(props, msgspec.Struct):
            for name in _read_fields(type(props), reads):
                _put(facts, f"properties.{name}", getattr(props, name))
        else:
            _flatten(facts, "properties", props)
    return facts


@lru_cache(maxsize=256)
def _reads_under(reads: frozenset[str], prefix: str) -> bool:
    return any(k.startswith(prefix) for k in reads)


@lru_cache(maxsize=256)
def _read_fields(kind: type[msgspec.Struct], reads: frozenset[str]) -> tuple[str, ...]:
    """The fields of a properties Struct whose facts (theirs, or nested ones) are read."""
    return tuple(
        name
        for name in kind.__struct_fields__
        if any(k == f"properties.{name}" or k.startswith(f"properties.{name}.") for k in reads)
    )


_READS: dict[int, tuple[Rulebook, dict[str, frozenset[str]]]] = {}


def event_reads(rulebook: Rulebook, kind: str) -> frozenset[str]:
    """Every fact key the facts of an event of type `kind` are read at (for `facts_for`'s
    `reads`): its engagement rules and triggers (their conditions and details) and the
    facts a contribution keeps (`rules.core.contribution`). Remembered by the rulebook's
    identity, not its `hash`: computing that here would fix it earlier than before, and
    its value can depend on when it is first computed."""
    held = _READS.get(id(rulebook))
    if held is None or held[0] is not rulebook:
        if len(_READS) >= 8:  # rulebooks reloaded over a long run
            _READS.clear()
        held = _READS[id(rulebook)] = (rulebook, {})
    reads = held[1].get(kind)
    if reads is None:
        keys = set(FACT_KEYS)
        for r in rulebook.engagement.rules:
            if r.signal == kind:
                keys |= fields_read(r.when) | placeholders(r.detail)
        for t in rulebook.windows.triggers:
            if t.signal == kind:
                keys |= fields_read(t.when) | placeholders(t.detail)
        reads = held[1][kind] = frozenset(keys)
    return reads


def _memo(flatten: Any, value: msgspec.Struct) -> dict[str, Any]:
    """`flatten(value)` through its memo: read it, never change it."""
    try:
        return flatten(value)
    except TypeError:  # an unhashable value (a list where a tuple was expected): not kept
        return flatten.__wrapped__(value)


@lru_cache(maxsize=4096)
def _person_facts(person: PersonRec) -> dict[str, Any]:
    facts: dict[str, Any] = {}
    if person.email:
        facts["person.email"] = person.email.lower()
        facts["person.email_domain"] = email_domain(person.email)
    for name in PERSON_FACT_FIELDS:
        value = getattr(person, name)
        if value is not None:
            facts[f"person.{name}"] = value
    return facts


@lru_cache(maxsize=1024)
def _account_facts(account: AccountRec) -> dict[str, Any]:
    facts: dict[str, Any] = {}
    _put_account(facts, "account", account)
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
        _put(facts, f"{prefix}.{name}", value)


def _put(facts: dict[str, Any], key: str, value: Any) -> None:
    if value is None or value == ():
        return
    if isinstance(value, AccountRec):
        _put_account(facts, key, value)
    elif isinstance(value, msgspec.Struct | BaseModel):
        _flatten(facts, key, value)
    elif isinstance(value, date):
        facts[key] = value.isoformat()
    else:
        facts[key] = value
