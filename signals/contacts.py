"""The CRM contact feed (`crm.contacts`): who holds which role at which account.

Data teams publish one record per contact, keyed by the person's email or CRM id, on a
compacted topic; the latest record per key wins. A worker can also be fed a JSONL file of the
same records at start (`FOLLOWUP_CONTACTS_FILE`). Roles such as `champion` and
`customer_contact` make a person a champion at that account, which matters when they move.
To clear a contact's roles, publish it again with `roles: []`, or delete it: a tombstone keyed by
the person's email or CRM id clears their roles at every account (`streams.erasure`).

`roles: null` says the record does not speak for roles at all: an analytics `identify` call
mapped by a declared source (`signals.sources`) updates who the person is (title,
seniority, company) and leaves the CRM's roles as they are (`keep_roles_on_file`). Such
records never go to the compacted contacts topic, where they would replace the CRM's record.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from signals.codec import Rejected, load_object, validate
from signals.models import Account, EventTime, Person
from signals.text import Id, Source

__all__ = ["CrmContact", "decode_contact", "keep_roles_on_file"]


class CrmContact(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", str_strip_whitespace=True)

    type: Literal["crm_contact"] = "crm_contact"
    schema_version: Literal[1] = 1
    event_id: Id
    occurred_at: EventTime = Field(description="When the CRM record last changed.")
    source: Source = "crm"
    person: Person
    account: Account
    roles: tuple[Annotated[str, Field(min_length=1, max_length=50)], ...] | None = Field(
        default=(),
        description="CRM roles; null: not stated by this record (the roles on file are kept).",
    )

    @field_validator("roles")
    @classmethod
    def _lower(cls, roles: tuple[str, ...] | None) -> tuple[str, ...] | None:
        return None if roles is None else tuple(sorted({r.lower() for r in roles}))


def keep_roles_on_file(contact: CrmContact, on_file: tuple[str, ...]) -> CrmContact:
    """`contact` with the roles on file when it states none (`roles: null`); else itself.

    Called by the score agent before `rules.core.champions.apply_contact`, which records roles.
    """
    if contact.roles is not None:
        return contact
    return contact.model_copy(update={"roles": on_file})


def decode_contact(raw: bytes | None, *, max_bytes: int) -> CrmContact | Rejected:
    """Decode one `crm.contacts` record; a record that cannot be used is a `Rejected`."""
    data = load_object(raw, max_bytes=max_bytes)
    if isinstance(data, Rejected):
        return data
    return validate(CrmContact.model_validate, data, tags=frozenset())
