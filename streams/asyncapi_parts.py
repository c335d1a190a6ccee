"""Pieces of the AsyncAPI document: Kafka bindings, header schemas and the message examples.

Used by `streams.asyncapi` only. The examples come from the tests' builders (the seeded
sample and the foreign-shape builders) at a fixed time, and a window the pure core opens on
them, so the generated document is byte-stable.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from rules.offline.replay import replay
from rules.rulebook.loader import load_rulebook
from signals.codec import Rejected, decode_signal
from signals.sample import generate
from signals.sources.examples import (
    cloudevent_from_contract,
    segment_from_contract,
    segment_identify,
)
from signals.windows import WindowClosed

__all__ = [
    "DEAD_LETTER_HEADERS",
    "SINK_DEAD_LETTER_HEADERS",
    "examples",
    "kafka_channel",
    "kafka_message",
]

_BINDING = "0.5.0"


def _header(description: str) -> dict[str, Any]:
    return {"type": "string", "description": description}


_DLQ_FIELDS = {
    "followup.source.topic": "Topic the record was read from.",
    "followup.source.partition": "Its partition.",
    "followup.source.offset": "Its offset.",
    "followup.error.class": "Exception or check class, e.g. ValidationError.",
    "followup.error.reason": (
        "tombstone, oversized, not_utf8, not_json, not_object, unknown_type, "
        "missing_identity, invalid, unmapped, processing_error"
    ),
    "followup.error.detail": "Field locations and error kinds; never field values.",
    "followup.value.size": "Original value size in bytes.",
    "followup.value.truncated": "`true` when the value was cut to the size limit.",
}

DEAD_LETTER_HEADERS: dict[str, Any] = {
    "type": "object",
    "description": "The original headers, then ours (`followup.*`).",
    "properties": {name: _header(text) for name, text in _DLQ_FIELDS.items()},
    "required": [n for n in _DLQ_FIELDS if not n.startswith("followup.value.")],
}

SINK_DEAD_LETTER_HEADERS: dict[str, Any] = {
    "type": "object",
    "description": "The dead-letter headers, reason `delivery_failed` (or `invalid_window`), "
    "plus the sink and the last delivery status.",
    "properties": {
        **{name: _header(text) for name, text in _DLQ_FIELDS.items()},
        "followup.sink": _header("webhook or slack"),
        "followup.sink.target": _header("scheme://host:port of the endpoint (no path)."),
        "followup.delivery.status": _header("Last HTTP status, or timeout / connect_error."),
        "followup.delivery.attempts": _header("Attempts made."),
    },
    "required": ["followup.error.reason", "followup.sink"],
}


def kafka_channel(address: str | None, partitions: int, description: str) -> dict[str, Any]:
    binding: dict[str, Any] = {"partitions": partitions, "bindingVersion": _BINDING}
    if address is not None and "{" not in address:
        binding["topic"] = address
    return {"address": address, "description": description, "bindings": {"kafka": binding}}


def kafka_message(
    name: str,
    payload: dict[str, Any],
    key: str,
    samples: list[dict[str, Any]],
    *,
    headers: dict[str, Any] | None = None,
    content_type: str = "application/json",
) -> dict[str, Any]:
    message: dict[str, Any] = {
        "name": name,
        "contentType": content_type,
        "payload": payload,
        "bindings": {
            "kafka": {"key": {"type": "string", "description": key}, "bindingVersion": _BINDING}
        },
        "examples": [{"name": f"{name}{i + 1}", **sample} for i, sample in enumerate(samples)],
    }
    if headers is not None:
        message["headers"] = headers
    return message


def examples(at: datetime, rulebook_path: Path) -> dict[str, dict[str, Any]]:
    """Example payloads (and headers) by name; deterministic for a fixed `at`."""
    events = generate(7, end=at)
    first: dict[str, dict[str, Any]] = {}
    for kind, raw in events:
        first.setdefault(kind, orjson.loads(raw))
    signals = []
    for _, raw in events:
        signal = decode_signal(raw, default_type=None, max_bytes=10**6)
        if not isinstance(signal, Rejected):
            signals.append(signal)
    windows = replay(load_rulebook(rulebook_path), signals, clock=lambda: at).windows
    window = orjson.loads(orjson.dumps(windows[0].model_dump(mode="json")))
    opened = first["email_opened"]
    page = first["page_visited"]
    person, account = opened["person"], opened.get("account")
    closed = WindowClosed(
        window_id=windows[0].window_id,
        person_key=windows[0].person_key,
        account_key=windows[0].account_key,
        closed_at=at + timedelta(hours=2),
        reason="touched",
        event_id="touch-1",
        channel="email",
        play=windows[0].play,
    )
    dead_headers = {
        "followup.source.topic": "signals.page-visited",
        "followup.source.partition": "2",
        "followup.source.offset": "1041",
        "followup.error.class": "ValidationError",
        "followup.error.reason": "invalid",
        "followup.error.detail": "properties: value_error",
        "followup.value.size": "212",
    }
    return {
        **{kind: {"payload": body} for kind, body in first.items()},
        "crm_contact": {
            "payload": {
                "type": "crm_contact",
                "event_id": "crm-1",
                "occurred_at": at.isoformat(),
                "source": "crm",
                "person": person,
                "account": account or {"domain": person["email"].rpartition("@")[2]},
                "roles": ["champion"],
            }
        },
        "touch_sent": {
            "payload": {
                "type": "touch_sent",
                "event_id": "touch-1",
                "occurred_at": (at + timedelta(hours=2)).isoformat(),
                "source": "sequencer",
                "person": {"email": windows[0].person.email},
                "properties": {
                    "channel": "email",
                    "play": windows[0].play,
                    "window_id": windows[0].window_id,
                },
            }
        },
        "segment_page": {"payload": segment_from_contract(page)},
        "segment_track": {"payload": segment_from_contract(opened)},
        "segment_identify": {
            "payload": segment_identify("identify-1", at, person=person, account=account)
        },
        "cloudevent": {
            "payload": cloudevent_from_contract(first["funding_announced"], source="/crm")
        },
        "window_opened": {"payload": window},
        "erasure_request": {
            "payload": {
                "type": "erasure_request",
                "person": {"email": windows[0].person.email},
                "request_id": "forget-1",
                "requested_at": (at + timedelta(days=1)).isoformat(),
            }
        },
        "erasure_receipt": {
            "payload": {
                "type": "erasure_receipt",
                "schema_version": 1,
                "request_id": "forget-1",
                "keys_removed": 4,
                "partitions": 4,
                "erased_at": (at + timedelta(days=1, seconds=1)).isoformat(),
            }
        },
        "window_closed": {"payload": closed.model_dump(mode="json")},
        "dead_letter": {
            "payload": '{"type": "page_visited", "...": "the original bytes"}',
            "headers": dead_headers,
        },
        "undelivered": {
            "payload": window,
            "headers": {
                **dead_headers,
                "followup.source.topic": "followup.windows-opened",
                "followup.error.class": "DeliveryFailed",
                "followup.error.reason": "delivery_failed",
                "followup.error.detail": "last status 503 after 6 attempts",
                "followup.sink": "webhook",
                "followup.sink.target": "https://hooks.example.com",
                "followup.delivery.status": "503",
                "followup.delivery.attempts": "6",
            },
        },
    }
