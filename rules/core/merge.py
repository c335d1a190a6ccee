"""Attribute merge: newest non-empty value per field, whatever the arrival order.

Called by the engine for every applied signal, on the prospect's person and on the account
state's account. Each field keeps the value of the event with the greatest stamp
`(occurred_at, fingerprint)` that carried it (None and empty tuples carry nothing), so
applying the same events in any order merges to the same record and the same stamps.

Never raises: values come from validated records.
"""

from __future__ import annotations

from typing import TypeVar

import msgspec

from rules.core.state import Stamp, Stamps
from signals.records import AccountRec, PersonRec

__all__ = ["merge_account", "merge_person", "restamp"]

_R = TypeVar("_R", PersonRec, AccountRec)


def merge_person(
    current: PersonRec | None, incoming: PersonRec, stamps: Stamps, stamp: Stamp
) -> tuple[PersonRec, Stamps]:
    return _merge(current, incoming, "person", stamps, stamp)


def merge_account(
    current: AccountRec | None, incoming: AccountRec, stamps: Stamps, stamp: Stamp
) -> tuple[AccountRec, Stamps]:
    return _merge(current, incoming, "account", stamps, stamp)


def restamp(stamps: Stamps, updates: dict[str, Stamp]) -> Stamps:
    """`stamps` with `updates` applied, its table holding only the stamps still used."""
    paths = {name: stamps.table[index] for name, index in stamps.paths}
    paths.update(updates)
    table = sorted(set(paths.values()))
    index = {s: i for i, s in enumerate(table)}
    return Stamps(tuple(table), tuple(sorted((name, index[s]) for name, s in paths.items())))


def _merge(
    current: _R | None, incoming: _R, prefix: str, stamps: Stamps, stamp: Stamp
) -> tuple[_R, Stamps]:
    values = msgspec.structs.asdict(current) if current is not None else {}
    updates: dict[str, Stamp] = {}
    for name in incoming.__struct_fields__:
        value = getattr(incoming, name)
        if value is None or value == ():
            continue
        path = f"{prefix}.{name}"
        held = stamps.get(path)
        if held is not None and held >= stamp and current is not None:
            continue
        values[name] = value
        updates[path] = stamp
    if current is not None and not updates:
        return current, stamps
    return type(incoming)(**values), restamp(stamps, updates)
