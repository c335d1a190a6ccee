"""CloudEvents 1.0 over Kafka (structured and binary content modes) as a plain dict.

Parsing is the `cloudevents` SDK's (`cloudevents.core.bindings.kafka.from_kafka`): binary
mode when any `ce_` header is present, structured mode (`application/cloudevents+json` in
the value) otherwise. The result is the event's attributes (extensions included, `time` as
a datetime), its `data`, and `source_id` = `<source>#<id>` (CloudEvents only promise that
pair to be unique). Called by the adapter once per record; never raises.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cloudevents.core.bindings.kafka import KafkaMessage, from_kafka
from cloudevents.core.exceptions import BaseCloudEventException, CloudEventValidationError
from cloudevents.core.formats.json import JSONFormat

from signals.codec import Rejected, load_object

__all__ = ["cloudevent_view", "header_dict"]

_FORMAT = JSONFormat()
_REQUIRED = frozenset({"specversion", "id", "source", "type"})


def header_dict(headers: Any) -> dict[str, bytes]:
    """Kafka headers (pairs or a mapping, str or bytes names) as `{name: bytes}`."""
    if not headers:
        return {}
    items = headers.items() if isinstance(headers, Mapping) else headers
    out: dict[str, bytes] = {}
    for name, value in items:
        key = name.decode("utf-8", "replace") if isinstance(name, bytes) else str(name)
        out[key] = value if isinstance(value, bytes) else str(value or "").encode()
    return out


def cloudevent_view(
    value: bytes | None, headers: Any, *, max_bytes: int
) -> dict[str, Any] | Rejected:
    """The CloudEvent in a Kafka record, or why it is not one (no values in the detail)."""
    names = header_dict(headers)
    present = {name.lower()[3:] for name in names if name.lower().startswith("ce_")}
    binary = bool(present)
    if binary:
        if value is not None and len(value) > max_bytes:
            return Rejected("oversized", "ValueError", f"{len(value)} bytes > max {max_bytes}")
    else:
        data = load_object(value, max_bytes=max_bytes)
        if isinstance(data, Rejected):
            return data
        if "specversion" not in data:
            return Rejected(
                "unmapped",
                "ValueError",
                "not a CloudEvent: no ce_ headers (binary mode) and no specversion (structured)",
            )
        present = set(data)
    # The SDK's event class fills a missing `id` (a new UUID) and `time` (now) for producers;
    # a consumer must not: a made-up id defeats deduplication, a made-up time is a lie.
    missing = sorted(_REQUIRED - present)
    if missing:
        return Rejected(
            "invalid",
            "MissingRequiredAttributeError",
            "cloudevent attributes " + ", ".join(f"{name}: missing" for name in missing),
        )
    try:
        # The key is not passed: it would become the `partitionkey` extension, which we do not
        # use, and a key that is not UTF-8 would fail a valid event.
        event = from_kafka(KafkaMessage(names, None, value or b""), _FORMAT)
    except CloudEventValidationError as exc:
        fields = ", ".join(f"{name}: invalid" for name in sorted(exc.errors))
        return Rejected("invalid", type(exc).__name__, f"cloudevent attributes {fields}")
    except (BaseCloudEventException, ValueError, TypeError, KeyError) as exc:
        # dateutil's ParserError (a bad `time`), bad UTF-8 in a header, a non-object value.
        return Rejected("invalid", type(exc).__name__, "not a valid CloudEvent")
    view: dict[str, Any] = dict(event.get_attributes())
    if "time" not in present:
        del view["time"]
    view["data"] = event.get_data()
    view["source_id"] = f"{view.get('source')}#{view.get('id')}"
    return view
