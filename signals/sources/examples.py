"""Real-shaped foreign events, built from contract events: the tests' builders and the
AsyncAPI document's examples.

Shapes follow the public specs: Segment's common fields (`messageId`, `timestamp`,
`originalTimestamp`, `sentAt`, `receivedAt`, `userId`, `anonymousId`, `context.traits`,
`context.page`, `context.library`), its `track`/`page`/`identify` calls and the email spec's
semantic events (`Email Opened` with `email_id`, `email_subject`, `campaign_id`,
`campaign_name`); RudderStack's additions (`rudderId`, `channel`, `originalTimestamp`
always, `timestamp` computed on its server); CloudEvents 1.0 in the Kafka protocol binding,
structured (`application/cloudevents+json`) and binary (`ce_*` headers) mode.

`segment_from_contract` and `cloudevent_from_contract` turn a contract event into the foreign
shape that the built-in preset maps back to the same contract event, which is how the tests
show both paths open the same windows. All data here is made up.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import orjson

__all__ = [
    "cloudevent_binary",
    "cloudevent_from_contract",
    "rudderstack_from_segment",
    "segment_from_contract",
    "segment_identify",
    "segment_track",
    "traits_from",
]

_SITE = "https://www.relaywise.example"


def _iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def traits_from(person: dict[str, Any] | None, account: dict[str, Any] | None) -> dict[str, Any]:
    """Segment traits for a contract person and account (`company` is a reserved trait)."""
    traits: dict[str, Any] = {}
    for field in ("email", "name", "title", "seniority", "department"):
        if person and person.get(field):
            traits[field] = person[field]
    if account:
        company = {"domain": account["domain"], "name": account.get("name")}
        if account.get("industry"):
            company["industry"] = account["industry"]
        if account.get("employees") is not None:
            company["employee_count"] = account["employees"]
        if account.get("country"):
            company["country"] = account["country"]
        traits["company"] = {k: v for k, v in company.items() if v is not None}
    return traits


def _common(message_id: str, at: datetime, person: dict[str, Any] | None) -> dict[str, Any]:
    sent = at + timedelta(milliseconds=120)
    body: dict[str, Any] = {
        "messageId": message_id,
        "anonymousId": f"anon-{message_id}",
        "timestamp": _iso(at),
        "originalTimestamp": _iso(at - timedelta(milliseconds=35)),
        "sentAt": _iso(sent),
        "receivedAt": _iso(sent + timedelta(milliseconds=80)),
        "channel": "server",
        "version": 2,
        "context": {
            "library": {"name": "analytics-python", "version": "2.3.2"},
            "ip": "203.0.113.7",
        },
        "integrations": {},
    }
    if person and person.get("id"):
        body["userId"] = person["id"]
    if person and person.get("timezone"):
        body["context"]["timezone"] = person["timezone"]
    return body


def segment_track(
    event: str,
    message_id: str,
    at: datetime,
    *,
    person: dict[str, Any] | None,
    account: dict[str, Any] | None = None,
    properties: dict[str, Any] | None = None,
) -> dict[str, Any]:
    body = _common(message_id, at, person)
    body.update({"type": "track", "event": event, "properties": properties or {}})
    body["context"]["traits"] = traits_from(person, account)
    return body


def segment_page(
    message_id: str,
    at: datetime,
    *,
    path: str,
    person: dict[str, Any] | None,
    account: dict[str, Any] | None = None,
    title: str | None = None,
) -> dict[str, Any]:
    body = _common(message_id, at, person)
    url = f"{_SITE}{path}"
    body.update({"type": "page", "name": title or path, "properties": {"path": path, "url": url}})
    body["context"]["page"] = {"path": path, "url": url, "title": title or path, "referrer": ""}
    body["context"]["traits"] = traits_from(person, account)
    return body


def segment_identify(
    message_id: str,
    at: datetime,
    *,
    person: dict[str, Any],
    account: dict[str, Any] | None = None,
) -> dict[str, Any]:
    body = _common(message_id, at, person)
    body.update({"type": "identify", "traits": traits_from(person, account)})
    return body


def segment_from_contract(event: dict[str, Any]) -> dict[str, Any]:
    """The Segment call the preset maps back to `event` (email_opened or page_visited)."""
    at = datetime.fromisoformat(event["occurred_at"])
    props = event.get("properties", {})
    person, account = event.get("person"), event.get("account")
    if event["type"] == "email_opened":
        spec: dict[str, Any] = {"email_id": props.get("email_id") or f"email-{event['event_id']}"}
        if props.get("subject"):
            spec["email_subject"] = props["subject"]
        if props.get("campaign_id"):
            spec["campaign_id"] = props["campaign_id"]
        spec["campaign_name"] = "Follow-up benchmark"
        return segment_track(
            "Email Opened", event["event_id"], at, person=person, account=account, properties=spec
        )
    if event["type"] == "page_visited":
        return segment_page(
            event["event_id"], at, path=props["path"], person=person, account=account
        )
    raise ValueError(f"no Segment shape for {event['type']}")


def rudderstack_from_segment(body: dict[str, Any]) -> dict[str, Any]:
    """The same call as RudderStack sends it: `rudderId`, SDK channel, server `timestamp`."""
    out = dict(body)
    out["rudderId"] = f"rudder-{body['messageId']}"
    out["channel"] = "web"
    out["context"] = {**body["context"], "library": {"name": "RudderLabs JavaScript SDK"}}
    return out


def _ce_attributes(event: dict[str, Any], source: str) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": event["event_id"],
        "source": source,
        "type": f"followup.{event['type']}",
        "time": event["occurred_at"],
        "datacontenttype": "application/json",
    }


def _ce_data(event: dict[str, Any]) -> dict[str, Any]:
    return {k: event[k] for k in ("person", "account", "properties") if k in event}


def cloudevent_from_contract(event: dict[str, Any], *, source: str) -> dict[str, Any]:
    """A structured-mode CloudEvent (the record value) the preset maps back to `event`, with
    event id `<source>#<event_id>`."""
    return {**_ce_attributes(event, source), "data": _ce_data(event)}


def cloudevent_binary(
    event: dict[str, Any], *, source: str
) -> tuple[list[tuple[str, bytes]], bytes]:
    """The same event in binary mode: `ce_*` headers, `content-type`, data as the value."""
    attributes = _ce_attributes(event, source)
    content_type = attributes.pop("datacontenttype")
    headers = [(f"ce_{k}", str(v).encode()) for k, v in attributes.items()]
    headers.append(("content-type", content_type.encode()))
    return headers, orjson.dumps(_ce_data(event))
