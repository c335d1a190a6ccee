"""Champions: a person's history at the account they leave, and the CRM roles they hold.

A job change concerns two accounts on two partitions (possibly two workers). The stream glue
first delivers it to the partition of the *previous* account, where `depart` reads the
person's history there (windows, engagement, CRM roles), takes them off that account's
people, and returns a `ChampionHistory`. The glue forwards the job change, with that history,
to the new account's partition, where `apply_signal(..., history=...)` scores it with
`champion.*` facts a rulebook can test (`{field: champion.is_champion, eq: true}`).

`apply_contact` records the CRM roles of a contact from the `crm.contacts` feed on the
prospect at that contact's account (the latest record by event time wins).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

from rules.core.budget import MAX_ROLE_BYTES, cite, stored_roles
from rules.core.decide import basis
from rules.core.engagement import score
from rules.core.merge import merge_person
from rules.core.state import AccountState, ProspectState, fingerprint
from rules.rulebook.model import Rulebook
from signals.contacts import CrmContact
from signals.identity import account_key, person_key
from signals.models import JobChanged
from signals.records import PersonRec, SignalRec, account_rec, person_rec
from signals.windows import ChampionHistory

__all__ = [
    "Departure",
    "apply_contact",
    "champion_facts",
    "clear_roles",
    "depart",
    "previous_person_key",
]


class Departure(msgspec.Struct, frozen=True):
    history: ChampionHistory
    prospect: ProspectState | None  # the person's state there, marked departed


def previous_person_key(signal: SignalRec | JobChanged) -> str:
    """The person's key at the account they left (their old email when the event gives it)."""
    assert signal.person is not None
    old_email = signal.properties.previous_email  # type: ignore[union-attr]
    if old_email:
        return person_key(PersonRec(email=old_email, id=signal.person.id))
    return person_key(signal.person)


def depart(
    rulebook: Rulebook,
    signal: SignalRec,
    *,
    account: AccountState | None,
    prospect: ProspectState | None,
) -> Departure:
    """The person's history at the previous account, and their state there after they left.

    Called at the previous account's partition with a job change record. Engagement is
    what the engine would score them on there (`rules.core.decide.basis`) at the later of
    the move and the newest event it knows. Idempotent: a redelivery gives the same history
    (the new account deduplicates the forwarded event by its id). Fan-out at the old
    account skips a departed person.
    """
    previous = signal.properties.previous_account  # type: ignore[union-attr]
    assert previous is not None  # the glue routes here only when there is one
    old_key = account_key(previous.domain)
    at = signal.occurred_at
    settings = rulebook.champions
    windows = 0
    points = 0.0
    roles: tuple[str, ...] = ()
    last_window_at = None
    if prospect is not None:
        sums, _, _ = basis(prospect, account)
        times = [t for t in (at, prospect.watermark) if t is not None]
        if account is not None and account.watermark is not None:
            times.append(account.watermark)
        points = score(sums, max(times), rulebook.engagement.horizon_days).total
        windows = prospect.windows_opened
        last_window_at = prospect.last_window_at
        roles = prospect.crm_roles
    named = {cite(r, MAX_ROLE_BYTES) for r in settings.roles}  # roles are stored cited
    held = tuple(r for r in roles if cite(r, MAX_ROLE_BYTES) in named)
    evidence: list[str] = []
    if windows >= settings.min_windows:
        evidence.append(f"{windows} follow-up window{'s' if windows != 1 else ''} opened there")
    if points >= settings.min_engagement:
        evidence.append(f"engagement {points:.0f} there when they left")
    if held:
        evidence.append("CRM role: " + ", ".join(held))
    history = ChampionHistory(
        previous_account_key=old_key,
        previous_account_name=previous.name or (account.account.name if account else None),
        previous_title=signal.properties.previous_title  # type: ignore[union-attr]
        or (prospect.person.title if prospect is not None else None),
        windows_opened=windows,
        last_window_at=last_window_at,
        engagement=round(points, 2),
        roles=roles,
        is_champion=bool(evidence),
        evidence=tuple(evidence),
    )
    new_prospect = None
    if prospect is not None and (prospect.departed_at is None or prospect.departed_at < at):
        new_prospect = msgspec.structs.replace(prospect, departed_at=at)
    return Departure(history=history, prospect=new_prospect)


def champion_facts(history: ChampionHistory | None) -> dict[str, Any]:
    """`champion.*` facts for rule conditions; empty when the signal carries no history."""
    if history is None:
        return {}
    return {
        "champion.is_champion": history.is_champion,
        "champion.windows_opened": history.windows_opened,
        "champion.engagement": history.engagement,
        "champion.roles": history.roles,
        "champion.previous_account": history.previous_account_key,
    }


def apply_contact(
    contact: CrmContact,
    *,
    account: AccountState | None,
    prospect: ProspectState | None,
) -> tuple[AccountState | None, ProspectState | None]:
    """Record the contact at their account: their CRM roles, and who they are (title,
    seniority... merged like a signal's person, newest value per field). Returns the
    states that changed (None: unchanged).

    The latest record by event time wins, whatever the arrival order. A prospect the engine
    has not seen yet is created, so that its roles are known when it first acts or moves,
    and so is the account, so that the person is found by fan-out. A contact whose
    `roles` is None (a mapped `identify` call, say) states none: the roles stay.
    """
    key = account_key(contact.account.domain)
    pk = person_key(contact.person)
    at = contact.occurred_at
    stamp = (at.timestamp(), fingerprint("contact", contact.source, contact.event_id))
    new_account = None
    if account is None:
        new_account = AccountState(key, account_rec(contact.account))
    base = prospect if prospect is not None else ProspectState(pk, key, person_rec(contact.person))
    person, stamps = merge_person(
        prospect.person if prospect is not None else None,
        person_rec(contact.person),
        base.stamps,
        stamp,
    )
    update: dict[str, Any] = {}
    if person is not base.person or prospect is None:
        update.update(person=person, stamps=stamps)
    older = base.crm_roles_as_of is not None and base.crm_roles_as_of > at
    if contact.roles is not None and not older:
        update.update(crm_roles=stored_roles(contact.roles), crm_roles_as_of=at)
    if not update:
        return new_account, None  # nothing newer than what is held
    return new_account, msgspec.structs.replace(base, **update)


def clear_roles(prospect: ProspectState | None, at: datetime) -> ProspectState | None:
    """The prospect without CRM roles, for a contact the CRM deleted at `at` (a tombstone on
    `crm.contacts`); None if there is nothing to clear or a newer record set the roles."""
    if prospect is None or not prospect.crm_roles:
        return None
    if prospect.crm_roles_as_of is not None and prospect.crm_roles_as_of > at:
        return None
    return msgspec.structs.replace(prospect, crm_roles=(), crm_roles_as_of=at)
