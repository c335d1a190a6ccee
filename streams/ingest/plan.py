"""What an ingest request asks for, decided record by record before anything is produced.

Pure: the HTTP handler (`streams.ingest.server`) calls `split_body` on the request body and
then `plan_contract` or `plan_source` on its items, and produces the `Plan.accepted`
records. Each item is validated exactly as the worker will validate it, so a rejection is
reported to the caller now instead of reaching a dead-letter topic later.

- Contract events go to the input topic of their type (signals by type, outreach activity,
  CRM contacts), keyed as the contract advises (`signals.identity.partition_key`; a CRM
  contact by its person key, as the compacted contacts topic wants).
- A declared source's events go, as sent, to that source's topic, keyed by the account of
  the record they map to; the worker adapts them again. Events the mapping does not cover
  are reported as unmapped and not produced.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from signals.activity import ActivityType, decode_activity
from signals.codec import Rejected, decode_signal
from signals.contacts import CrmContact, decode_contact
from signals.identity import account_key, partition_key, person_key
from signals.models import SignalType
from signals.sources import CompiledSource, Unmapped, adapt
from streams.topics import Topics

__all__ = ["BodyError", "Plan", "Produce", "plan_contract", "plan_source", "split_body"]

_CE_STRUCTURED = [("content-type", b"application/cloudevents+json")]
_SIGNALS = frozenset(t.value for t in SignalType)
_ACTIVITIES = frozenset(t.value for t in ActivityType)


@dataclass(frozen=True, slots=True)
class BodyError:
    """The body as a whole is unusable (400)."""

    detail: str


@dataclass(frozen=True, slots=True)
class Produce:
    topic: str
    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]] | None = None


@dataclass
class Plan:
    accepted: list[tuple[int, Produce]] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)  # index, reason, detail
    unmapped: list[dict[str, Any]] = field(default_factory=list)  # index, reason

    def reject(self, index: int, rejected: Rejected) -> None:
        self.rejected.append({"index": index, "reason": rejected.reason, "detail": rejected.detail})


def split_body(raw: bytes, *, segment: bool) -> list[Any] | BodyError:
    """The items of a request body: a JSON array; for Segment also `{"batch": [...]}` or
    one event object (what Segment's webhook destination sends)."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return BodyError(f"body is not JSON (char {exc.pos})")
    if isinstance(data, list):
        return data
    if segment and isinstance(data, dict):
        batch = data.get("batch")
        if isinstance(batch, list):
            return batch
        if "batch" not in data:
            return [data]
        return BodyError("batch is not an array")
    return BodyError("body must be a JSON array" + (" or a Segment batch" if segment else ""))


def plan_contract(items: list[Any], topics: Topics, *, max_bytes: int) -> Plan:
    """Validate contract events (signals, activities, CRM contacts) and route them."""
    plan = Plan()
    for index, item in enumerate(items):
        raw = orjson.dumps(item)
        kind = item.get("type") if isinstance(item, dict) else None
        if kind in _ACTIVITIES:
            activity = decode_activity(raw, max_bytes=max_bytes)
            if isinstance(activity, Rejected):
                plan.reject(index, activity)
                continue
            key = partition_key(activity.account, activity.person)
            plan.accepted.append((index, Produce(topics.activity, key.encode(), raw)))
        elif kind == "crm_contact":
            contact = decode_contact(raw, max_bytes=max_bytes)
            if isinstance(contact, Rejected):
                plan.reject(index, contact)
                continue
            if contact.roles is None:
                # Only a declared source's identify may leave roles unstated: on the
                # compacted contacts topic it would replace the CRM's record.
                plan.reject(index, Rejected("invalid", "ValueError", "roles: null"))
                continue
            key = person_key(contact.person)
            plan.accepted.append((index, Produce(topics.contacts, key.encode(), raw)))
        else:
            signal = decode_signal(raw, default_type=None, max_bytes=max_bytes)
            if isinstance(signal, Rejected):
                plan.reject(index, signal)
                continue
            key = partition_key(signal.account, signal.person)
            topic = topics.for_signal(signal.type)
            plan.accepted.append((index, Produce(topic, key.encode(), raw)))
    return plan


def plan_source(items: list[Any], source: CompiledSource, *, max_bytes: int) -> Plan:
    """Validate a declared source's events through its mapping; keep them as sent."""
    plan = Plan()
    headers = _CE_STRUCTURED if source.source.format == "cloudevents" else None
    for index, item in enumerate(items):
        raw = orjson.dumps(item)
        adapted = adapt(source.topic, None, raw, headers, source, max_bytes=max_bytes)
        if isinstance(adapted, Rejected):
            plan.reject(index, adapted)
        elif isinstance(adapted, Unmapped):
            plan.unmapped.append({"index": index, "reason": adapted.reason})
        else:
            if isinstance(adapted, CrmContact):
                key = account_key(adapted.account.domain)
            else:
                key = partition_key(adapted.account, adapted.person)
            plan.accepted.append((index, Produce(source.topic, key.encode(), raw, headers)))
    return plan
