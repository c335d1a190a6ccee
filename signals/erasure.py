"""Erasure on request (`privacy.erasure`) and its receipt (`privacy.erasure.done`).

A data team, or `followup forget EMAIL`, publishes one request per person, keyed by the
person key, on the compacted `privacy.erasure` topic:

    {"type": "erasure_request", "person": {"email": "..."} or {"id": "..."} or both,
     "request_id": "...", "requested_at": "2026-12-02T09:00:00Z"}

The engine removes the person's state under every key the person is known by (their email
and their CRM id, when the request names both), on every partition, and then publishes an
`ErasureReceipt` keyed by the request id (never by the person: the receipt topic keeps no
personal data). `streams.erasure` does the work; the README's "Security and privacy"
section says what is removed and what cannot be.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from signals.codec import Rejected, load_object, validate
from signals.identity import person_key
from signals.models import EventTime, Person
from signals.records import PersonRec
from signals.text import Id

__all__ = ["ErasureReceipt", "ErasureRequest", "decode_erasure", "erased_keys"]


class ErasureRequest(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", str_strip_whitespace=True)

    type: Literal["erasure_request"] = "erasure_request"
    schema_version: Literal[1] = 1
    person: Person = Field(description="Who to forget: their email, their CRM id, or both.")
    request_id: Id = Field(description="The requester's id for it; the receipt repeats it.")
    requested_at: EventTime


class ErasureReceipt(BaseModel):
    """Published on `privacy.erasure.done`, keyed by `request_id`, once every partition of the
    keyed topic has removed what it held of the person."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: Literal["erasure_receipt"] = "erasure_receipt"
    schema_version: Literal[1] = 1
    request_id: str
    keys_removed: int = Field(ge=0, description="State keys removed, in every table.")
    partitions: int = Field(ge=1, description="Keyed partitions that took part.")
    erased_at: datetime


def erased_keys(person: Person | PersonRec) -> tuple[str, ...]:
    """Every person key the engine may hold the person under: by email, and by CRM id."""
    keys = [person_key(person)]
    if person.email and person.id:
        keys.append(person_key(PersonRec(id=person.id)))
    return tuple(keys)


def decode_erasure(raw: bytes | None, *, max_bytes: int) -> ErasureRequest | Rejected:
    """Decode one `privacy.erasure` record; a record that cannot be used is a `Rejected`."""
    data = load_object(raw, max_bytes=max_bytes)
    if isinstance(data, Rejected):
        return data
    return validate(ErasureRequest.model_validate, data, tags=frozenset())
