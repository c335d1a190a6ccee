"""Attribute merge: newest non-empty value per field, whatever the arrival order.

Called by the engine for every applied signal, on the prospect's person and account and on
the account state's account. Each field keeps the value of the event with the greatest
`(occurred_at, event_id)` stamp that carried it (None and empty tuples carry nothing), so
applying the same events in any order merges to the same model.

A prospect's account follows the person: an event naming a different account (a job change)
replaces the account when it is newer than the current one's domain, and is ignored when
older. Only a person who moves back and forth between two accounts inside the late-event
window can end in an order-dependent account; we accept that.

Never raises: values come from validated models and are rebuilt with `model_construct`.
"""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel

from rules.core.state import Stamp
from signals.identity import account_key
from signals.models import Account, Person

__all__ = ["merge_account", "merge_person", "merge_prospect_account"]

_M = TypeVar("_M", bound=BaseModel)


def merge_person(
    current: Person | None, incoming: Person, stamps: dict[str, Stamp], stamp: Stamp
) -> tuple[Person, dict[str, Stamp]]:
    return _merge(Person, current, incoming, "person", stamps, stamp)


def merge_account(
    current: Account | None, incoming: Account, stamps: dict[str, Stamp], stamp: Stamp
) -> tuple[Account, dict[str, Stamp]]:
    return _merge(Account, current, incoming, "account", stamps, stamp)


def merge_prospect_account(
    current: Account | None, incoming: Account, stamps: dict[str, Stamp], stamp: Stamp
) -> tuple[Account | None, dict[str, Stamp]]:
    """Like `merge_account`, but a newer event at another domain replaces the account."""
    if (
        current is not None
        and current.domain != incoming.domain
        and account_key(current.domain) != account_key(incoming.domain)
    ):
        held = stamps.get("account.domain")
        if held is not None and stamp < held:
            return current, stamps
        stamps = {k: v for k, v in stamps.items() if not k.startswith("account.")}
        current = None
    return merge_account(current, incoming, stamps, stamp)


def _merge(
    cls: type[_M],
    current: _M | None,
    incoming: _M,
    prefix: str,
    stamps: dict[str, Stamp],
    stamp: Stamp,
) -> tuple[_M, dict[str, Stamp]]:
    values = dict(current.__dict__) if current is not None else {}
    out = stamps
    for name, value in incoming.__dict__.items():
        if value is None or value == ():
            continue
        key = f"{prefix}.{name}"
        held = out.get(key)
        if held is not None and held >= stamp and current is not None:
            continue
        if out is stamps:
            out = dict(stamps)
        values[name] = value
        out[key] = stamp
    if current is not None and out is stamps:
        return current, stamps
    return cls.model_construct(**values), out
