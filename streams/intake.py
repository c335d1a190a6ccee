"""Intake: one input record in, one frame entry (or the reason there is none) out.

The router calls `intake` once per record it consumes. It validates the record once (the
pydantic models of `signals/`, or a declared source's mapping), rejects an event dated
past the clock plus the allowed skew, and turns the result into a `streams.frames.Entry`
keyed by the account that owns it:

    signal            -> SIGNAL at its account (or `person:<key>` with no account)
    job change        -> DEPARTURE at the previous account, which forwards it (ARRIVAL)
    outreach activity -> ACTIVITY at the person's account
    CRM contact       -> CONTACT at its account
    CRM tombstone     -> UNCONTACT at every partition (its key names the person)
    erasure request   -> ERASE at every partition (`streams.erasure`)

A record that cannot be used is a `Rejected` (dead-lettered by the router with its reason);
an event a source mapping does not cover is an `Unmapped` (counted, dropped by rule).
Never raises for a bad record.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import msgspec

from signals.activity import Activity, ActivityType, decode_activity
from signals.codec import Rejected, decode_signal, encode, too_far_ahead
from signals.contacts import CrmContact, decode_contact
from signals.erasure import decode_erasure, erased_keys
from signals.identity import account_key, partition_key, person_key, signal_account_key
from signals.models import JobChanged, SignalType
from signals.records import PersonRec, record_of
from signals.sources import SourceSet, Unmapped, adapt
from streams.erasure import erase_body, home_key, uncontact_body
from streams.frames import (
    ACTIVITY,
    CONTACT,
    DEPARTURE,
    ERASE,
    SIGNAL,
    UNCONTACT,
    Entry,
    encode_signal_body,
)
from streams.topics import Topics

__all__ = ["Accepted", "Intake", "intake"]


class Accepted(msgspec.Struct, frozen=True):
    """A record ready for the keyed topic, and its kind for `followup_events_consumed_total`."""

    entry: Entry
    kind: str


Intake = Accepted | Rejected | Unmapped


def intake(
    message: Any,
    *,
    topics: Topics,
    sources: SourceSet,
    clock: Callable[[], datetime],
    max_bytes: int,
    max_future_skew_seconds: float,
) -> Intake:
    """Validate and route one consumed record (`message.topic/partition/offset/key/value/
    headers`). Never raises for a bad record."""
    topic = message.topic
    origin = (topic, message.partition, message.offset)
    record: Any
    if topic == topics.erasure:
        return _erasure(message, origin, max_bytes)
    if topic == topics.contacts:
        if message.value is None and message.key:
            return _uncontact(message, origin)
        record = decode_contact(message.value, max_bytes=max_bytes)
    elif topic == topics.activity:
        record = decode_activity(message.value, max_bytes=max_bytes)
    elif topic in sources.by_topic:
        record = adapt(
            topic,
            message.key,
            message.value,
            message.headers,
            sources.by_topic[topic],
            max_bytes=max_bytes,
        )
    else:
        record = decode_signal(
            message.value, default_type=topics.inputs.get(topic), max_bytes=max_bytes
        )
    if isinstance(record, Rejected | Unmapped):
        return record
    ahead = too_far_ahead(record.occurred_at, clock(), max_future_skew_seconds)
    if ahead is not None:
        return ahead
    return _accepted(record, origin)


def _erasure(message: Any, origin: tuple[str, int, int], max_bytes: int) -> Intake:
    if message.value is None:  # the engine's own, once a request is done (or compaction's)
        return Unmapped("tombstone", "an erasure request already carried out")
    request = decode_erasure(message.value, max_bytes=max_bytes)
    if isinstance(request, Rejected):
        return request
    keys = erased_keys(request.person)
    body = erase_body(request, message.key)
    return Accepted(Entry(ERASE, home_key(keys[0]), body, origin), request.type)


def _uncontact(message: Any, origin: tuple[str, int, int]) -> Intake:
    """A CRM contact's tombstone: the key is the person's email or CRM id."""
    try:
        name = message.key.decode().strip()
    except UnicodeDecodeError:
        return Rejected("invalid", "UnicodeDecodeError", "the tombstone's key is not UTF-8")
    if not name or len(name) > 320:
        return Rejected("invalid", "ValueError", "the tombstone's key names no person")
    person = PersonRec(email=name) if "@" in name else PersonRec(id=name)
    pk = person_key(person)
    at = datetime.fromtimestamp(message.timestamp / 1000, tz=UTC)
    return Accepted(Entry(UNCONTACT, home_key(pk), uncontact_body(pk, at), origin), "uncontact")


def _accepted(record: Any, origin: tuple[str, int, int]) -> Accepted:
    if isinstance(record, CrmContact):
        key = account_key(record.account.domain)
        return Accepted(Entry(CONTACT, key, encode(record), origin), record.type)
    if isinstance(record.type, ActivityType):
        activity: Activity = record
        key = partition_key(activity.account, activity.person)
        return Accepted(Entry(ACTIVITY, key, encode(activity), origin), activity.type.value)
    kind = SignalType(record.type).value
    body = encode_signal_body(record_of(record))
    if isinstance(record, JobChanged) and record.properties.previous_account is not None:
        old = account_key(record.properties.previous_account.domain)
        if old != signal_account_key(record.account, record.person):
            return Accepted(Entry(DEPARTURE, old, body, origin), kind)
    return Accepted(Entry(SIGNAL, partition_key(record.account, record.person), body, origin), kind)
