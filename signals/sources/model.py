"""The sources file: extra input topics in a foreign shape, and how they map to the contract.

A source names a topic, a format (`contract`, `segment`, `rudderstack`, `cloudevents`) and,
optionally, a mapping that amends the format's preset (`signals.sources.presets`). Mappings
are data: dotted paths into the event (`context.traits.email`), event names and page path
prefixes. No code and no expressions run from them.

How an amendment combines with the preset:

- `event_id`, `occurred_at`: given, they replace the preset's candidate paths.
- `person`, `account`: field by field; a field given replaces the preset's paths for it.
- `events`, `pages`: the file's rules are tried first, then the preset's (first match wins);
  a rule with `to: null` drops what it matches (counted as unmapped, never an error).
- `identify`: `crm_contact` (the default of the Segment-shaped presets) or null to drop.

Every path field takes one path or a list of candidates: the first present, non-empty value
wins. The models are strict (`extra="forbid"`): an unknown key is a load error with its line.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from signals.activity import ActivityType
from signals.models import SignalType

__all__ = [
    "CONTACT_TARGET",
    "AccountMap",
    "EventRule",
    "Format",
    "Mapping",
    "PageRule",
    "Paths",
    "PersonMap",
    "Source",
    "SourcesFile",
    "Target",
    "property_fields",
    "target_names",
]

_STRICT = ConfigDict(frozen=True, extra="forbid")

Format = Literal["contract", "segment", "rudderstack", "cloudevents"]
CONTACT_TARGET = "crm_contact"


def _as_tuple(value: Any) -> Any:
    return (value,) if isinstance(value, str) else value


_Path = Annotated[
    str, Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_$@-]+(\.[A-Za-z0-9_$@-]+)*$")
]
Paths = Annotated[tuple[_Path, ...], BeforeValidator(_as_tuple)]
"""Candidate dotted paths, tried in order; YAML may give a single string."""


def target_names() -> frozenset[str]:
    """Every record type a rule may produce: signal types, activity types, `crm_contact`."""
    return frozenset(
        {*(t.value for t in SignalType), *(t.value for t in ActivityType), CONTACT_TARGET}
    )


def _known_target(value: str | None) -> str | None:
    if value is not None and value not in target_names():
        raise ValueError(f"unknown target; one of {', '.join(sorted(target_names()))} or null")
    return value


Target = Annotated[str | None, BeforeValidator(_known_target)]


class PersonMap(BaseModel):
    model_config = _STRICT

    email: Paths = ()
    id: Paths = ()
    name: Paths = ()
    title: Paths = ()
    seniority: Paths = ()
    department: Paths = ()
    timezone: Paths = ()


class AccountMap(BaseModel):
    model_config = _STRICT

    domain: Paths = Field(
        default=(),
        description="Candidates that are not domain-shaped (e.g. an opaque groupId) are skipped.",
    )
    name: Paths = ()
    industry: Paths = ()
    employees: Paths = ()
    country: Paths = ()
    technologies: Paths = ()


class EventRule(BaseModel):
    """A named event (a `track` call's `event`, a CloudEvent's `type`) and what it becomes."""

    model_config = _STRICT

    event: Annotated[str, Field(min_length=1, max_length=200)]
    to: Target = Field(description="A signal or activity type, `crm_contact`, or null to drop.")
    properties: dict[str, Paths] | _Path = Field(
        default_factory=dict,
        description="Contract property -> paths, or one path to an object copied as is.",
    )

    @model_validator(mode="after")
    def _known_properties(self) -> EventRule:
        if self.to is not None and isinstance(self.properties, dict):
            _check_properties(self.to, self.properties)
        return self


class PageRule(BaseModel):
    """A page view whose path starts with `path` (`/` matches every page)."""

    model_config = _STRICT

    path: Annotated[str, Field(min_length=1, max_length=500, pattern=r"^/")]
    to: Literal["page_visited"] | None = "page_visited"
    properties: dict[str, Paths] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _known_properties(self) -> PageRule:
        _check_properties("page_visited", self.properties)
        return self


def property_fields(target: str) -> frozenset[str]:
    """The contract properties a target record has (`roles` for a CRM contact)."""
    from signals.activity import Activity
    from signals.models import Signal

    if target == CONTACT_TARGET:
        return frozenset({"roles"})
    for union in (Signal, Activity):
        for model in union.__origin__.__args__:  # type: ignore[attr-defined]
            if model.model_fields["type"].default == target:
                annotation = model.model_fields["properties"].annotation
                return frozenset(annotation.model_fields)
    raise KeyError(target)


def _check_properties(target: str, properties: dict[str, Any]) -> None:
    unknown = sorted(set(properties) - property_fields(target))
    if unknown:
        known = ", ".join(sorted(property_fields(target)))
        raise ValueError(f"{target} has no properties {', '.join(unknown)} (it has: {known})")


class Mapping(BaseModel):
    """A whole mapping (a preset) or an amendment of one (only the fields set count)."""

    model_config = _STRICT

    event_id: Paths = ()
    occurred_at: Paths = ()
    person: PersonMap = PersonMap()
    account: AccountMap = AccountMap()
    events: tuple[EventRule, ...] = ()
    pages: tuple[PageRule, ...] = ()
    identify: Literal["crm_contact"] | None = None


class Source(BaseModel):
    model_config = _STRICT

    name: Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[a-z0-9][a-z0-9_.-]*$")]
    topic: Annotated[str, Field(min_length=1, max_length=249, pattern=r"^[A-Za-z0-9._-]+$")]
    format: Format
    signal_type: SignalType | None = Field(
        default=None, description="contract format only: the type of records without `type`."
    )
    mapping: Mapping | None = None

    @model_validator(mode="after")
    def _fits_format(self) -> Source:
        if self.format == "contract" and self.mapping is not None:
            raise ValueError("a contract source carries the contract itself: no mapping")
        if self.format != "contract" and self.signal_type is not None:
            raise ValueError("signal_type is for contract sources; map events instead")
        return self


class SourcesFile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    api_version: Literal["followup/v1"] = Field(default="followup/v1", alias="apiVersion")
    sources: tuple[Source, ...]

    @model_validator(mode="after")
    def _unique(self) -> SourcesFile:
        # Not `min_length`: pydantic would report it next to every bad item's own error.
        if not self.sources:
            raise ValueError("declare at least one source")
        for attr in ("name", "topic"):
            values = [getattr(s, attr) for s in self.sources]
            repeated = sorted({v for v in values if values.count(v) > 1})
            if repeated:
                raise ValueError(f"source {attr}s must be unique; repeated: {', '.join(repeated)}")
        return self
