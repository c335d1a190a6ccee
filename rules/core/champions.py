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

from dataclasses import dataclass
from typing import Any

from rules.core.scoring import engagement
from rules.core.state import MAX_PEOPLE, AccountState, ProspectState, remember
from rules.rulebook.model import Rulebook
from signals.contacts import CrmContact
from signals.identity import account_key, person_key
from signals.models import JobChanged, Person
from signals.windows import ChampionHistory

__all__ = ["Departure", "apply_contact", "champion_facts", "depart", "previous_person_key"]


@dataclass(frozen=True, slots=True)
class Departure:
    history: ChampionHistory
    account: AccountState | None  # the old account without the person, None = unchanged
    prospect: ProspectState | None  # the person's state there, marked departed


def previous_person_key(signal: JobChanged) -> str:
    """The person's key at the account they left (their old email when the event gives it)."""
    old_email = signal.properties.previous_email
    if old_email:
        return person_key(Person(email=old_email, id=signal.person.id))
    return person_key(signal.person)


def depart(
    rulebook: Rulebook,
    signal: JobChanged,
    *,
    account: AccountState | None,
    prospect: ProspectState | None,
) -> Departure:
    """The person's history at the previous account, and that account's state after they left.

    Called at the previous account's partition. Idempotent: a redelivery gives the same
    history (the new account deduplicates the forwarded event by its id).
    """
    previous = signal.properties.previous_account
    assert previous is not None  # the glue routes here only when there is one
    old_key = account_key(previous.domain)
    at = signal.occurred_at
    settings = rulebook.champions
    windows = 0
    points = 0.0
    roles: tuple[str, ...] = ()
    last_window_at = None
    if prospect is not None:
        contributions = prospect.contributions
        if account is not None:
            contributions = contributions + account.contributions
        points, _ = engagement(contributions, at, horizon_days=rulebook.engagement.horizon_days)
        windows = prospect.windows_opened
        last_window_at = prospect.last_window_at
        roles = prospect.crm_roles
    held = tuple(r for r in roles if r in settings.roles)
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
        previous_title=signal.properties.previous_title
        or (prospect.person.title if prospect is not None else None),
        windows_opened=windows,
        last_window_at=last_window_at,
        engagement=round(points, 2),
        roles=roles,
        is_champion=bool(evidence),
        evidence=tuple(evidence),
    )
    new_account = None
    pk = previous_person_key(signal)
    if account is not None and pk in account.people:
        people = {k: v for k, v in account.people.items() if k != pk}
        new_account = account.model_copy(update={"people": people})
    new_prospect = None
    if prospect is not None and (prospect.departed_at is None or prospect.departed_at < at):
        new_prospect = prospect.model_copy(update={"departed_at": at})
    return Departure(history=history, account=new_account, prospect=new_prospect)


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
) -> tuple[AccountState, ProspectState | None]:
    """Record the contact's CRM roles at their account; returns the new states.

    The latest record by event time wins, whatever the arrival order. A prospect the engine
    has not seen yet is created so that its roles are known when it first acts or moves.
    """
    key = account_key(contact.account.domain)
    pk = person_key(contact.person)
    at = contact.occurred_at
    if account is None:
        account = AccountState.model_construct(
            account_key=key,
            account=contact.account,
            contributions=(),
            seen_event_ids={},
            watermark=None,
            people={},
            attributes_as_of={},
        )
    people = remember(account.people, pk, at, MAX_PEOPLE)
    new_account = (
        account if people is account.people else account.model_copy(update={"people": people})
    )
    if (
        prospect is not None
        and prospect.crm_roles_as_of is not None
        and (prospect.crm_roles_as_of > at)
    ):
        return new_account, None  # an older CRM record than the one applied
    update: dict[str, Any] = {"crm_roles": contact.roles, "crm_roles_as_of": at}
    if prospect is None:
        return new_account, ProspectState(
            person_key=pk,
            account_key=key,
            person=contact.person,
            account=contact.account,
            **update,
        )
    return new_account, prospect.model_copy(update=update)
