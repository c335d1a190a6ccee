"""The foreign shapes a declared source reads, as documentation models.

These models are never used to validate (the adapter reads the paths its mapping names,
see `signals.sources.adapt`); they exist so that the AsyncAPI document describes what a
Segment/RudderStack call and a structured CloudEvent look like, generated like every other
schema. Unknown fields are allowed: the specs have many more than the ones listed here.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

__all__ = ["SegmentCall", "StructuredCloudEvent"]

_DOC = ConfigDict(extra="allow")


class SegmentContext(BaseModel):
    model_config = _DOC

    traits: dict[str, Any] | None = Field(
        default=None, description="The person: email, name, title, company {domain, name, ...}."
    )
    page: dict[str, Any] | None = Field(default=None, description="path, url, title, referrer")
    groupId: str | None = Field(default=None, description="The account, when domain-shaped.")
    timezone: str | None = Field(default=None, description="IANA time zone of the person.")


class SegmentCall(BaseModel):
    """A Segment (or RudderStack) `track`, `page` or `identify` call."""

    model_config = _DOC

    type: Literal["track", "page", "identify", "screen", "group", "alias"]
    messageId: str = Field(description="The event id (deduplication key).")
    timestamp: AwareDatetime | None = Field(
        default=None, description="When it happened (skew-corrected); the event time."
    )
    originalTimestamp: AwareDatetime | None = Field(
        default=None, description="The client's clock; the event time when `timestamp` is absent."
    )
    sentAt: AwareDatetime | None = None
    receivedAt: AwareDatetime | None = None
    userId: str | None = Field(default=None, description="The person's CRM id.")
    anonymousId: str | None = Field(default=None, description="A cookie; not an identity.")
    rudderId: str | None = Field(default=None, description="RudderStack only; not used.")
    event: str | None = Field(default=None, description="track: the event name.")
    name: str | None = Field(default=None, description="page: the page name.")
    properties: dict[str, Any] | None = None
    traits: dict[str, Any] | None = Field(default=None, description="identify: the person.")
    context: SegmentContext | None = None


class StructuredCloudEvent(BaseModel):
    """A CloudEvent 1.0 in structured mode (`application/cloudevents+json`). In binary mode
    the same attributes travel as `ce_<name>` headers and `data` is the record value."""

    model_config = _DOC

    specversion: Literal["1.0"]
    id: str = Field(description="With `source`, the event id: `<source>#<id>`.")
    source: str
    type: str = Field(description="The preset maps `followup.<contract type>`.")
    time: AwareDatetime = Field(description="Required here: the event time.")
    datacontenttype: str | None = None
    subject: str | None = None
    data: dict[str, Any] = Field(
        description="The preset expects the contract's person, account and properties."
    )
