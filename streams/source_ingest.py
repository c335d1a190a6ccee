"""Declared foreign sources in the ingest step: adapt a record, then route it like its kind.

The stream glue calls `ingest_source` once per record of a declared source topic (see
`signals.sources`). A contract record comes back as a `Routed` (key, value and route header
for the keyed topic, exactly as the built-in input topics route signals, activities and CRM
contacts); `Unmapped` is counted and dropped by the caller, `Rejected` dead-lettered. Never
raises for a bad record.

This is the interface the batched router carries over: `ingest_source(message, source,
max_bytes=...)` needs only the message's topic, key, value and headers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from signals.activity import Activity, ActivityType
from signals.codec import Rejected, encode
from signals.contacts import CrmContact
from signals.identity import account_key, partition_key
from signals.models import Signal
from signals.sources import CompiledSource, Unmapped, adapt
from streams.routing import ACTIVITY, CONTACT, route_signal

__all__ = ["Routed", "ingest_source", "route_record"]


@dataclass(frozen=True, slots=True)
class Routed:
    """A contract record ready for the keyed topic."""

    key: str
    value: bytes
    route: bytes | None  # the `followup.route` header value, None for a plain signal
    kind: str  # the contract type, for `followup_events_consumed_total`


def route_record(record: Signal | Activity | CrmContact) -> Routed:
    """Key and route a validated contract record as its own input topic would."""
    if isinstance(record, CrmContact):
        return Routed(account_key(record.account.domain), encode(record), CONTACT, record.type)
    if isinstance(record.type, ActivityType):
        key = partition_key(record.account, record.person)
        return Routed(key, encode(record), ACTIVITY, record.type.value)
    signal: Any = record
    key, route = route_signal(signal)
    return Routed(key, encode(signal), route, signal.type.value)


def ingest_source(
    message: Any, source: CompiledSource, *, max_bytes: int
) -> Routed | Unmapped | Rejected:
    """Adapt one message of `source` and route the result. Never raises for bad input."""
    adapted = adapt(
        message.topic, message.key, message.value, message.headers, source, max_bytes=max_bytes
    )
    if isinstance(adapted, Unmapped | Rejected):
        return adapted
    return route_record(adapted)
