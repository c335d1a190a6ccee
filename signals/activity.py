"""The feedback contract: what outreach tools report back on topic `outreach.activity`.

A sequencer, CRM or Slack bot that acted on a window tells the engine what happened: a touch
was sent (on which channel, for which play and window), the person replied, an address
bounced, the person opted out (unsubscribed included), a meeting was booked or held, the
deal changed stage, or an auto-reply announced a vacation. The cadence core
(`rules.core.cadence.apply_activity`) folds these into a per-person `CadenceState`.

Same envelope as the signals (`event_id`, `occurred_at`, `source`, `person`, `account`), a
`type` discriminator and `properties`. The models are tolerant readers (`extra="ignore"`):
the producers are other teams' tools. `person` is required: every activity is about someone.

`decode_activity` is called by the stream agent once per message; like `decode_signal` it
never raises and returns a `Rejected` (routed to the dead-letter topic) whose detail names
locations and error types only, never values.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Final, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    field_validator,
    model_validator,
)

from signals.codec import Rejected, load_object, validate
from signals.models import Account, EventDate, EventTime, Person
from signals.text import Id, Source
from signals.windows import Play

__all__ = [
    "ACTIVITY_SCHEMA_VERSION",
    "Activity",
    "ActivityType",
    "Bounced",
    "ChannelProperties",
    "DealStageChanged",
    "DealStageProperties",
    "MeetingBooked",
    "MeetingBookedProperties",
    "MeetingHeld",
    "OptedOut",
    "OptedOutProperties",
    "OutOfOffice",
    "OutOfOfficeProperties",
    "Replied",
    "TouchChannel",
    "TouchSent",
    "TouchSentProperties",
    "decode_activity",
]

ACTIVITY_SCHEMA_VERSION: Final = 1
MAX_OUT_OF_OFFICE_DAYS: Final = 366

_INBOUND = ConfigDict(frozen=True, extra="ignore", str_strip_whitespace=True)
_Id = Id

TouchChannel = Literal["email", "linkedin", "phone", "sms"]
"""Channels a touch can go out on. `sms` is counted but never recommended (reminders only)."""


class ActivityType(StrEnum):
    TOUCH_SENT = "touch_sent"
    REPLIED = "replied"
    BOUNCED = "bounced"
    OPTED_OUT = "opted_out"
    MEETING_BOOKED = "meeting_booked"
    MEETING_HELD = "meeting_held"
    DEAL_STAGE_CHANGED = "deal_stage_changed"
    OUT_OF_OFFICE = "out_of_office"


class TouchSentProperties(BaseModel):
    model_config = _INBOUND

    channel: TouchChannel
    play: Play
    window_id: _Id | None = Field(default=None, description="The window this touch used.")
    value_touch: bool = Field(
        default=True,
        description="False for a pure reminder; only value touches count towards the breakup.",
    )


class ChannelProperties(BaseModel):
    model_config = _INBOUND

    channel: TouchChannel | None = None
    window_id: _Id | None = None


class OptedOutProperties(BaseModel):
    model_config = _INBOUND

    scope: Annotated[str, Field(max_length=100)] | None = Field(
        default=None,
        description="What the tool says was opted out of (informational: any opt-out is final).",
    )


class MeetingBookedProperties(BaseModel):
    model_config = _INBOUND

    meeting_at: EventTime | None = Field(default=None, description="When it will be held.")

    @field_validator("meeting_at")
    @classmethod
    def _to_utc(cls, value: datetime | None) -> datetime | None:
        return value.astimezone(UTC) if value is not None else None


class MeetingHeldProperties(BaseModel):
    model_config = _INBOUND

    meeting_id: _Id | None = None
    kind: Annotated[str, Field(max_length=50)] | None = Field(
        default=None, description="e.g. demo, discovery"
    )


class DealStageProperties(BaseModel):
    model_config = _INBOUND

    stage: Annotated[str, Field(min_length=1, max_length=50)] = Field(
        description="e.g. open, won, lost, customer (compared case-insensitively)"
    )
    previous_stage: Annotated[str, Field(max_length=50)] | None = None

    @field_validator("stage")
    @classmethod
    def _lower(cls, value: str) -> str:
        return value.lower()


class OutOfOfficeProperties(BaseModel):
    model_config = ConfigDict(
        frozen=True, extra="ignore", str_strip_whitespace=True, populate_by_name=True
    )

    from_: EventDate | None = Field(
        default=None, alias="from", description="First day away; the event's date if absent."
    )
    until: EventDate = Field(description="Last day away (inclusive).")

    @model_validator(mode="after")
    def _ordered(self) -> OutOfOfficeProperties:
        if self.from_ is not None and self.from_ > self.until:
            raise ValueError("from is after until")
        return self


class _Activity(BaseModel):
    model_config = _INBOUND

    schema_version: Literal[1] = ACTIVITY_SCHEMA_VERSION
    event_id: _Id = Field(description="Unique per producer; the deduplication key.")
    occurred_at: EventTime = Field(description="RFC 3339 with offset; stored as UTC.")
    source: Source
    person: Person
    account: Account | None = None


class TouchSent(_Activity):
    type: Literal[ActivityType.TOUCH_SENT] = ActivityType.TOUCH_SENT
    properties: TouchSentProperties


class Replied(_Activity):
    type: Literal[ActivityType.REPLIED] = ActivityType.REPLIED
    properties: ChannelProperties = ChannelProperties()


class Bounced(_Activity):
    type: Literal[ActivityType.BOUNCED] = ActivityType.BOUNCED
    properties: ChannelProperties = ChannelProperties()


class OptedOut(_Activity):
    """Unsubscribed or opted out: the cadence stops for good, whatever the scope."""

    type: Literal[ActivityType.OPTED_OUT] = ActivityType.OPTED_OUT
    properties: OptedOutProperties = OptedOutProperties()


class MeetingBooked(_Activity):
    type: Literal[ActivityType.MEETING_BOOKED] = ActivityType.MEETING_BOOKED
    properties: MeetingBookedProperties = MeetingBookedProperties()


class MeetingHeld(_Activity):
    type: Literal[ActivityType.MEETING_HELD] = ActivityType.MEETING_HELD
    properties: MeetingHeldProperties = MeetingHeldProperties()


class DealStageChanged(_Activity):
    type: Literal[ActivityType.DEAL_STAGE_CHANGED] = ActivityType.DEAL_STAGE_CHANGED
    properties: DealStageProperties


class OutOfOffice(_Activity):
    """An auto-reply or calendar status: the person is away until `properties.until`."""

    type: Literal[ActivityType.OUT_OF_OFFICE] = ActivityType.OUT_OF_OFFICE
    properties: OutOfOfficeProperties

    @model_validator(mode="after")
    def _plausible_span(self) -> OutOfOffice:
        # A span this long is a broken auto-reply, not a vacation; shorter ones are capped
        # by the rulebook's cadence.max_vacation_days where they are applied.
        first = self.properties.from_ or self.occurred_at.date()
        if (self.properties.until - first).days > MAX_OUT_OF_OFFICE_DAYS:
            raise ValueError(f"out_of_office spans more than {MAX_OUT_OF_OFFICE_DAYS} days")
        return self


Activity = Annotated[
    TouchSent
    | Replied
    | Bounced
    | OptedOut
    | MeetingBooked
    | MeetingHeld
    | DealStageChanged
    | OutOfOffice,
    Field(discriminator="type"),
]

_ACTIVITY: Final[TypeAdapter[Activity]] = TypeAdapter(Activity)
_TYPES: Final[frozenset[str]] = frozenset(t.value for t in ActivityType)


def decode_activity(raw: bytes | None, *, max_bytes: int) -> Activity | Rejected:
    """Decode one `outreach.activity` message. Never raises.

    Same checks and reasons as `signals.codec.decode_signal`, except that `type` is always
    required (the topic mixes every activity type): absent or unknown is `unknown_type`.
    """
    data = load_object(raw, max_bytes=max_bytes)
    if isinstance(data, Rejected):
        return data
    kind = data.get("type")
    if not isinstance(kind, str) or kind not in _TYPES:
        return Rejected("unknown_type", "ValueError", f"type is not one of {sorted(_TYPES)}")
    return validate(_ACTIVITY.validate_python, data, tags=_TYPES)
