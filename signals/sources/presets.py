"""Built-in mappings, one per foreign format, and how a source's amendment is applied.

Segment (spec: common fields, `track`/`page`/`identify`, the email spec's semantic events):

- `messageId` is the event id; `timestamp` (the time the event happened, corrected for
  client clock skew by Segment) is the event time, else `originalTimestamp`.
- The person: `context.traits` on `track`/`page`, `traits` on `identify`; `userId` is the CRM
  id. `anonymousId` is a browser cookie, not a person one can follow up: it is not mapped by
  default (an anonymous page view at a known account still counts for the account; with
  neither, the event is dropped as `anonymous`). Map `person.id: [userId, anonymousId]` to
  make anonymous visitors prospects.
- The account: `company.domain` in the traits, then `website`, then `context.groupId` (only
  when it is domain-shaped); a person with a work email is placed at their email's domain
  by the contract itself.
- `page` calls become `page_visited` (path from `properties.path`, else `context.page.path`,
  else the URL). The rulebook decides what a path is worth, so every path is mapped.
- The email spec's `Email Opened` becomes `email_opened`; `Email Bounced` becomes the
  outreach activity `bounced`; `Unsubscribed` and `Email Marked as Spam` become `opted_out`.
- `identify` becomes a CRM contact record (person attributes at their account, roles not
  stated; see `signals.contacts`).

RudderStack follows the same spec with the same field names. It always sends
`originalTimestamp` and `sentAt` from the SDK and adds `timestamp` (skew-corrected) and
`receivedAt` on the server, so `timestamp` then `originalTimestamp` is right for it too;
`rudderId` is RudderStack's own identity-resolution id and `channel` the SDK kind, neither
used. It is a separate preset so that either can diverge without surprising the other.

CloudEvents: attributes from the Kafka binding (structured or binary mode). CloudEvents only
promise `source` + `id` to be unique, so the event id is `<source>#<id>` (the adapter exposes
it as `source_id`); `time` is the event time. The preset expects `type` named
`followup.<contract type>` and `data` shaped like the contract's `person`, `account` and
`properties`; other naming is a matter of amending `events`.
"""

from __future__ import annotations

from typing import Any, Final

from signals.activity import ActivityType
from signals.models import SignalType
from signals.sources.model import CONTACT_TARGET, Format, Mapping

__all__ = ["PRESETS", "effective_mapping"]


def _traits(field: str) -> list[str]:
    return [f"context.traits.{field}", f"traits.{field}"]


def _company(field: str) -> list[str]:
    return [f"context.traits.company.{field}", f"traits.company.{field}"]


_EMAIL_SPEC_PROPERTIES: Final = {
    "subject": ["properties.email_subject", "properties.subject"],
    "email_id": ["properties.email_id"],
    "campaign_id": ["properties.campaign_id"],
}

_SEGMENT: Final[dict[str, Any]] = {
    "event_id": ["messageId"],
    "occurred_at": ["timestamp", "originalTimestamp"],
    "person": {
        "email": [*_traits("email"), "properties.email"],
        "id": ["userId"],
        "name": _traits("name"),
        "title": _traits("title"),
        "seniority": _traits("seniority"),
        "department": _traits("department"),
        "timezone": ["context.timezone", *_traits("timezone")],
    },
    "account": {
        "domain": [*_company("domain"), *_traits("website"), "context.groupId"],
        "name": _company("name"),
        "industry": _company("industry"),
        "employees": [*_company("employee_count"), *_company("employees")],
        "country": _company("country"),
    },
    "events": [
        {"event": "Email Opened", "to": "email_opened", "properties": _EMAIL_SPEC_PROPERTIES},
        {"event": "Email Bounced", "to": "bounced"},
        {"event": "Unsubscribed", "to": "opted_out"},
        {"event": "Email Marked as Spam", "to": "opted_out"},
    ],
    "pages": [
        {
            "path": "/",
            "to": "page_visited",
            "properties": {
                "url": ["properties.url", "context.page.url"],
                "path": ["properties.path", "context.page.path"],
                "title": ["properties.title", "context.page.title", "name"],
                "referrer": ["properties.referrer", "context.page.referrer"],
            },
        }
    ],
    "identify": CONTACT_TARGET,
}


def _data(section: str, fields: tuple[str, ...]) -> dict[str, list[str]]:
    return {f: [f"data.{section}.{f}"] for f in fields}


_CE_TYPES: Final = [
    *(t.value for t in SignalType),
    *(t.value for t in ActivityType),
    CONTACT_TARGET,
]

_CLOUDEVENTS: Final[dict[str, Any]] = {
    "event_id": ["source_id"],
    "occurred_at": ["time"],
    "person": _data(
        "person", ("email", "id", "name", "title", "seniority", "department", "timezone")
    ),
    "account": _data(
        "account", ("domain", "name", "industry", "employees", "country", "technologies")
    ),
    "events": [
        {"event": f"followup.{kind}", "to": kind, "properties": "data.properties"}
        for kind in _CE_TYPES
    ],
}

PRESETS: Final[dict[Format, Mapping]] = {
    "segment": Mapping.model_validate(_SEGMENT),
    "rudderstack": Mapping.model_validate(_SEGMENT),
    "cloudevents": Mapping.model_validate(_CLOUDEVENTS),
}


def effective_mapping(format: Format, amendment: Mapping | None) -> Mapping:
    """The preset of `format` with `amendment` applied (see `signals.sources.model`)."""
    preset = PRESETS[format]
    if amendment is None:
        return preset
    given = amendment.model_fields_set
    update: dict[str, Any] = {
        name: getattr(amendment, name)
        for name in ("event_id", "occurred_at", "identify")
        if name in given
    }
    for name in ("person", "account"):
        if name in given:
            part = getattr(amendment, name)
            update[name] = getattr(preset, name).model_copy(
                update={f: getattr(part, f) for f in part.model_fields_set}
            )
    if "events" in given:
        update["events"] = amendment.events + preset.events
    if "pages" in given:
        update["pages"] = amendment.pages + preset.pages
    return preset.model_copy(update=update)
