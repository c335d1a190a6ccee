"""Attribute merge: newest non-empty value per field.

Called by the engine for every applied signal, on the prospect's person and on the account
state's account. A field takes the value an event carries when that event's stamp
`(occurred_at, fingerprint)` is newer than the stamp of the current value (None and empty
tuples carry nothing). An event that repeats the current value changes nothing, not even
the stamp: most events repeat who the person and the account are, and this way they leave
the stored state untouched, with no write and no changelog record.

So the same events in any order merge to the same record, except when a field changes and
changes back out of order (v at t1, w at t1.5, v again at t2, with t2 arriving before
t1.5): then the late w wins over the repeated v. That costs one stale attribute until the
next event carrying it, and saves a state write on nearly every signal.

Never raises: values come from validated records. Runs once or twice per signal, so it
walks the fields by position (`rules.core.state.Stamps`) and builds nothing when the
event changes nothing.
"""

from __future__ import annotations

from typing import TypeVar

import msgspec

from rules.core.budget import stored_person
from rules.core.state import NO_STAMP, Stamp, Stamps
from signals.records import AccountRec, PersonRec

__all__ = ["merge", "merge_account", "merge_person"]

_R = TypeVar("_R", PersonRec, AccountRec)
_NEW = 254  # placeholder index for the incoming stamp while merging


def merge_person(
    current: PersonRec | None, incoming: PersonRec, stamps: Stamps, stamp: Stamp
) -> tuple[PersonRec, Stamps]:
    """`merge` of `incoming` as the state keeps it (`rules.core.budget.stored_person`):
    its texts within their byte budgets, so a repeat compares equal to what is held."""
    return merge(current, stored_person(incoming), stamps, stamp)


def merge_account(
    current: AccountRec | None, incoming: AccountRec, stamps: Stamps, stamp: Stamp
) -> tuple[AccountRec, Stamps]:
    return merge(current, incoming, stamps, stamp)


def merge(current: _R | None, incoming: _R, stamps: Stamps, stamp: Stamp) -> tuple[_R, Stamps]:
    """`current` with the fields `incoming` carries newer than what `stamps` says it has."""
    if incoming == current:
        return current, stamps  # the common case: every field repeats the current value
    new = msgspec.structs.astuple(incoming)
    values = list(msgspec.structs.astuple(current)) if current is not None else list(new)
    held = stamps.index.ljust(len(new), bytes([NO_STAMP]))
    index = bytearray(held)
    changed = current is None
    for i, value in enumerate(new):
        if value is None or value == ():
            continue
        j = held[i]
        if current is not None and (
            value == values[i] or (j != NO_STAMP and stamps.table[j] >= stamp)
        ):
            continue
        index[i] = _NEW
        if current is not None:
            values[i] = value
        changed = True
    if not changed:
        return current, stamps  # type: ignore[return-value]
    return type(incoming)(*values), _restamp(stamps.table, index, stamp)


def _restamp(table: tuple[Stamp, ...], index: bytearray, stamp: Stamp) -> Stamps:
    """The stamps after a merge: a table of the distinct stamps still used, sorted."""
    if all(j in (_NEW, NO_STAMP) for j in index):  # the common case: one event's
        return Stamps((stamp,), bytes(NO_STAMP if j == NO_STAMP else 0 for j in index))
    used = {stamp if j == _NEW else table[j] for j in index if j != NO_STAMP}
    ordered = sorted(used)
    position = {s: n for n, s in enumerate(ordered)}
    out = bytes(
        NO_STAMP if j == NO_STAMP else position[stamp if j == _NEW else table[j]] for j in index
    )
    return Stamps(tuple(ordered), out)
