"""The AsyncAPI 3.0 document for every topic, generated from the models (never by hand).

`asyncapi()` builds it from the contract models (`signals.*`), the documented foreign
shapes (`signals.sources.shapes`), the default topic names and the dead-letter headers; the
committed copy is `asyncapi.json` at the repository root and a test fails when it drifts.
Regenerate with `followup schemas`. Message examples are the tests' builders: the seeded
sample (`signals.sample`), the foreign-shape builders (`signals.sources.examples`) and a
window the pure core opens on them, all at a fixed time so the document is stable.

The document is from the engine's point of view: it receives the input topics and sends
windows, closings and dead letters. Schemas use pydantic's JSON Schema output with
references into `components.schemas`; pydantic's OpenAPI-style `discriminator` object is
reduced to the property name, which is what the AsyncAPI schema object takes.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import orjson
from pydantic import TypeAdapter

from signals.activity import Activity
from signals.contacts import CrmContact
from signals.erasure import ErasureReceipt, ErasureRequest
from signals.models import EmailOpened, FundingAnnounced, JobChanged, PageVisited, Signal
from signals.sources.shapes import SegmentCall, StructuredCloudEvent
from signals.windows import WindowClosed, WindowOpened
from streams.asyncapi_parts import (
    DEAD_LETTER_HEADERS,
    SINK_DEAD_LETTER_HEADERS,
    examples,
    kafka_channel,
    kafka_message,
)
from streams.settings import Settings
from streams.topics import Topics

__all__ = ["DEFAULT_PATH", "asyncapi", "render", "write_asyncapi"]

DEFAULT_PATH: Final = Path(__file__).resolve().parent.parent / "asyncapi.json"
_AT: Final = datetime(2024, 5, 14, 9, 30, tzinfo=UTC)

# (schema name, mode, model): inbound contracts validate, outbound ones serialise.
_MODELS: Final[list[tuple[str, Any, Any]]] = [
    ("Signal", "validation", Signal),
    ("EmailOpened", "validation", EmailOpened),
    ("PageVisited", "validation", PageVisited),
    ("JobChanged", "validation", JobChanged),
    ("FundingAnnounced", "validation", FundingAnnounced),
    ("Activity", "validation", Activity),
    ("CrmContact", "validation", CrmContact),
    ("SegmentCall", "validation", SegmentCall),
    ("StructuredCloudEvent", "validation", StructuredCloudEvent),
    ("WindowOpened", "serialization", WindowOpened),
    ("WindowClosed", "serialization", WindowClosed),
    ("ErasureRequest", "validation", ErasureRequest),
    ("ErasureReceipt", "serialization", ErasureReceipt),
]


def _schemas() -> tuple[dict[str, Any], dict[str, Any]]:
    """(name -> $ref or schema of each top model, every definition)."""
    keyed, top = TypeAdapter.json_schemas(
        [(name, mode, TypeAdapter(model)) for name, mode, model in _MODELS],
        ref_template="#/components/schemas/{model}",
    )
    definitions = top.get("$defs", {})
    refs: dict[str, Any] = {}
    for (name, _mode), schema in keyed.items():
        if "$ref" in schema:
            refs[name] = {"$ref": schema["$ref"]}
        else:  # a union: it becomes a named component of its own
            definitions[name] = schema
            refs[name] = {"$ref": f"#/components/schemas/{name}"}
    return refs, _asyncapi_schema(definitions)


def _asyncapi_schema(node: Any) -> Any:
    if isinstance(node, dict):
        out = {k: _asyncapi_schema(v) for k, v in node.items()}
        if isinstance(out.get("discriminator"), dict):
            out["discriminator"] = out["discriminator"]["propertyName"]
        return out
    if isinstance(node, list):
        return [_asyncapi_schema(v) for v in node]
    return node


def asyncapi(settings: Settings | None = None) -> dict[str, Any]:
    """The document for `settings` (default: the defaults, whatever the environment says)."""
    from streams.worker import build_version

    settings = settings or Settings.model_construct()
    topics = Topics.from_settings(settings)
    refs, definitions = _schemas()
    ex = examples(_AT, settings.rulebook)
    partitions = settings.partitions
    account_key = "The account key (normalised domain), else `person:<person key>`."
    person_key = "The person key (normalised email, else `id:<crm id>`)."
    messages: dict[str, Any] = {}
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}

    def add(
        channel_id: str,
        address: str | None,
        message: dict[str, Any],
        *,
        action: str,
        description: str,
        parameters: dict[str, Any] | None = None,
    ) -> None:
        name = message["name"]
        messages[name] = message
        channel = kafka_channel(address, partitions, description)
        channel["messages"] = {name: {"$ref": f"#/components/messages/{name}"}}
        if parameters:
            channel["parameters"] = parameters
        channels[channel_id] = channel
        operation: dict[str, Any] = {
            "action": action,
            "channel": {"$ref": f"#/channels/{channel_id}"},
            "messages": [{"$ref": f"#/channels/{channel_id}/messages/{name}"}],
        }
        if action == "receive":
            operation["bindings"] = {
                "kafka": {
                    "groupId": {"type": "string", "enum": [settings.app_id]},
                    "bindingVersion": "0.5.0",
                }
            }
        operations[f"{action}{channel_id[0].upper()}{channel_id[1:]}"] = operation

    for topic, kind in topics.inputs.items():
        model = {
            "email_opened": "EmailOpened",
            "page_visited": "PageVisited",
            "job_changed": "JobChanged",
            "funding_announced": "FundingAnnounced",
        }[kind.value]
        add(
            f"{model[0].lower()}{model[1:]}",
            topic,
            kafka_message(model, refs[model], account_key, [ex[kind.value]]),
            action="receive",
            description=f"Input: {kind.value} signals (a record without `type` is one).",
        )
    add(
        "crmContacts",
        topics.contacts,
        kafka_message("CrmContact", refs["CrmContact"], person_key, [ex["crm_contact"]]),
        action="receive",
        description="CRM contacts and their roles; compacted, the latest record per key wins.",
    )
    add(
        "outreachActivity",
        topics.activity,
        kafka_message("Activity", refs["Activity"], account_key, [ex["touch_sent"]]),
        action="receive",
        description="What outreach tools did: touches, replies, bounces, opt-outs, meetings.",
    )
    add(
        "segmentSource",
        None,
        kafka_message(
            "SegmentCall",
            refs["SegmentCall"],
            "Any (records are re-keyed by account).",
            [ex["segment_page"], ex["segment_track"], ex["segment_identify"]],
        ),
        action="receive",
        description="A declared `segment` or `rudderstack` source (topic from FOLLOWUP_SOURCES).",
    )
    add(
        "cloudEventsSource",
        None,
        kafka_message(
            "StructuredCloudEvent",
            refs["StructuredCloudEvent"],
            "Any (records are re-keyed by account).",
            [ex["cloudevent"]],
            content_type="application/cloudevents+json",
        ),
        action="receive",
        description="A declared `cloudevents` source, structured or binary (`ce_*` headers) mode.",
    )
    add(
        "windowsOpened",
        topics.windows_opened,
        kafka_message("WindowOpened", refs["WindowOpened"], person_key, [ex["window_opened"]]),
        action="send",
        description="Follow-up windows. `window_id` is deterministic: deduplicate on it.",
    )
    add(
        "windowsClosed",
        topics.windows_closed,
        kafka_message("WindowClosed", refs["WindowClosed"], person_key, [ex["window_closed"]]),
        action="send",
        description=(
            "Windows used, expired, superseded, answered or opted out. An erasure publishes a "
            "tombstone (null value) for the person's key here and on windows opened."
        ),
    )
    add(
        "privacyErasure",
        topics.erasure,
        kafka_message(
            "ErasureRequest", refs["ErasureRequest"], person_key, [ex["erasure_request"]]
        ),
        action="receive",
        description=(
            "Erasure requests (`followup forget`), compacted. The engine tombstones each "
            "request once it is carried out."
        ),
    )
    add(
        "privacyErasureDone",
        topics.erasure_done,
        kafka_message(
            "ErasureReceipt",
            refs["ErasureReceipt"],
            "The request id (never the person).",
            [ex["erasure_receipt"]],
        ),
        action="send",
        description="One receipt per request, once every keyed partition erased the person.",
    )
    sources = [*topics.inputs, topics.contacts, topics.activity, topics.erasure, topics.keyed]
    add(
        "deadLetters",
        f"{{sourceTopic}}{topics.dead_letter_suffix}",
        kafka_message(
            "DeadLetter",
            {"description": "The original value, untouched (any bytes)."},
            "The original key.",
            [ex["dead_letter"]],
            headers=DEAD_LETTER_HEADERS,
            content_type="application/octet-stream",
        ),
        action="send",
        description="Records that could not be used, with the reason in `followup.*` headers.",
        parameters={
            "sourceTopic": {
                "enum": sources,
                "description": "The input topic (or a declared source topic) it came from.",
            }
        },
    )
    operations["receiveWindowsOpenedInSinks"] = {
        "action": "receive",
        "summary": "The sinks read the windows in their own consumer group.",
        "channel": {"$ref": "#/channels/windowsOpened"},
        "messages": [{"$ref": "#/channels/windowsOpened/messages/WindowOpened"}],
        "bindings": {
            "kafka": {
                "groupId": {"type": "string", "enum": [settings.sink_group]},
                "bindingVersion": "0.5.0",
            }
        },
    }
    add(
        "sinkDeadLetters",
        f"{topics.windows_opened}.{{sink}}{topics.dead_letter_suffix}",
        kafka_message(
            "UndeliveredWindow",
            refs["WindowOpened"],
            person_key,
            [ex["undelivered"]],
            headers=SINK_DEAD_LETTER_HEADERS,
        ),
        action="send",
        description="Windows a sink gave up on, with the last delivery status.",
        parameters={"sink": {"enum": ["webhook", "slack"], "description": "The sink kind."}},
    )
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "followup-signals",
            "version": build_version(),
            "description": "Signals in, follow-up windows out. Generated by `followup schemas`.",
            "license": {"name": "Apache-2.0"},
        },
        "defaultContentType": "application/json",
        "servers": {
            "local": {
                "host": "127.0.0.1:9092",
                "protocol": "kafka",
                "description": "The embedded broker (`followup broker`); Kafka in production.",
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": definitions},
    }


def render(document: dict[str, Any]) -> str:
    """The exact text written to disk (stable: the drift test compares it)."""
    return json.dumps(orjson.loads(orjson.dumps(document)), indent=2, ensure_ascii=False) + "\n"


def write_asyncapi(path: Path | str = DEFAULT_PATH) -> Path:
    target = Path(path)
    target.write_text(render(asyncapi()), encoding="utf-8")
    return target
