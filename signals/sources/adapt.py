"""Turn one record of a declared source into a contract record, or say why not.

`adapt` is the single entry point the stream glue calls, once per record of a source topic.
It never raises. The outcome is one of:

- a contract record: a `Signal`, an `Activity` or a `CrmContact`, validated like any other;
- `Unmapped(reason)`: a well-formed event the mapping does not cover, dropped by rule and
  counted (a `track` named "Button Clicked", a `screen` call, an anonymous page view);
- `Rejected` (`signals.codec`): the record claims the format but breaks it (no Segment call
  type: `unmapped`; a mapped event without its id or time, a bad CloudEvent: `invalid`),
  routed to the dead-letter topic.

Details name fields and paths, never values: the values are personal data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, Literal

from pydantic import TypeAdapter

from signals.activity import Activity, ActivityType
from signals.codec import Rejected, decode_signal, load_object, validate
from signals.contacts import CrmContact
from signals.identity import account_key, email_domain, is_personal_domain
from signals.models import Signal, SignalType
from signals.sources.ce_binding import cloudevent_view
from signals.sources.model import (
    CONTACT_TARGET,
    AccountMap,
    EventRule,
    Mapping,
    PageRule,
    PersonMap,
    Source,
)
from signals.sources.model import Paths as _Paths
from signals.sources.presets import effective_mapping

__all__ = [
    "Adapted",
    "CompiledSource",
    "Unmapped",
    "UnmappedReason",
    "adapt",
    "compile_source",
    "lookup",
]

UnmappedReason = Literal["call", "event", "page", "anonymous", "no_account", "tombstone"]


@dataclass(frozen=True, slots=True)
class Unmapped:
    """An event the mapping does not cover: counted by reason and dropped, not an error."""

    reason: UnmappedReason
    detail: str


Adapted = Signal | Activity | CrmContact | Unmapped | Rejected


@dataclass(frozen=True, slots=True)
class CompiledSource:
    """A source with its effective mapping, ready for `adapt` (built once at start)."""

    source: Source
    mapping: Mapping
    events: dict[str, EventRule]  # first rule per event name wins

    @property
    def name(self) -> str:
        return self.source.name

    @property
    def topic(self) -> str:
        return self.source.topic


def compile_source(source: Source) -> CompiledSource:
    if source.format == "contract":
        return CompiledSource(source, Mapping(), {})
    mapping = effective_mapping(source.format, source.mapping)
    # A page rule without properties reads the page like the first rule that says how.
    default = next((p.properties for p in mapping.pages if p.properties), {})
    pages = tuple(
        p if p.properties else p.model_copy(update={"properties": default}) for p in mapping.pages
    )
    mapping = mapping.model_copy(update={"pages": pages})
    events: dict[str, EventRule] = {}
    for rule in mapping.events:
        events.setdefault(rule.event, rule)
    return CompiledSource(source, mapping, events)


_SEGMENT_CALLS: Final = frozenset({"track", "page", "identify", "screen", "group", "alias"})
_SIGNAL: Final[TypeAdapter[Signal]] = TypeAdapter(Signal)
_ACTIVITY: Final[TypeAdapter[Activity]] = TypeAdapter(Activity)
_SIGNAL_TYPES: Final = frozenset(t.value for t in SignalType)
_ACTIVITY_TYPES: Final = frozenset(t.value for t in ActivityType)
_EMPTY: Final[tuple[Any, ...]] = (None, "", [], {})


def adapt(
    topic: str,
    key: bytes | None,
    value: bytes | None,
    headers: Any,
    source: CompiledSource,
    *,
    max_bytes: int,
) -> Adapted:
    """Adapt one record of `source` (read from `topic`). Never raises; see the module docs.

    `key` is not used by any format today (the contract record is re-keyed by account);
    it is part of the signature so that a format keyed by identity can use it.
    """
    del topic, key  # see the docstring
    fmt = source.source.format
    if fmt == "contract":
        return decode_signal(value, default_type=source.source.signal_type, max_bytes=max_bytes)
    if fmt == "cloudevents":
        view = cloudevent_view(value, headers, max_bytes=max_bytes)
        if isinstance(view, Rejected):
            return view
        rule = source.events.get(str(view.get("type")))
        if rule is None or rule.to is None:
            return Unmapped("event", "CloudEvent type not in the mapping")
        return _record(view, source, rule.to, rule.properties, anonymous_ok=False)
    data = load_object(value, max_bytes=max_bytes)
    if isinstance(data, Rejected):
        return data
    return _segment(data, source)


def lookup(data: Any, path: str) -> Any:
    """The value at a dotted path (`context.traits.email`, `items.0.id`), or None."""
    node = data
    for part in path.split("."):
        if isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
        if node is None:
            return None
    return node


def _first(data: Any, paths: _Paths) -> Any:
    for path in paths:
        value = lookup(data, path)
        if value not in _EMPTY:
            return value
    return None


def _segment(data: dict[str, Any], source: CompiledSource) -> Adapted:
    call = data.get("type")
    if not isinstance(call, str) or call not in _SEGMENT_CALLS:
        return Rejected(
            "unmapped",
            "ValueError",
            f"type is not a Segment call ({', '.join(sorted(_SEGMENT_CALLS))})",
        )
    if call == "track":
        event = data.get("event")
        if not isinstance(event, str) or not event:
            return Rejected(
                "invalid", "ValueError", "event: missing (a track call names its event)"
            )
        rule = source.events.get(event)
        if rule is None or rule.to is None:
            return Unmapped("event", "track event not in the mapping")
        return _record(data, source, rule.to, rule.properties, anonymous_ok=True)
    if call == "page":
        for page in source.mapping.pages:
            if _path_matches(data, page):
                if page.to is None:
                    break
                return _record(data, source, page.to, page.properties, anonymous_ok=True)
        return Unmapped("page", "page path not in the mapping")
    if call == "identify" and source.mapping.identify is not None:
        return _record(data, source, CONTACT_TARGET, {}, anonymous_ok=True)
    return Unmapped("call", f"{call} calls are not mapped")


def _path_matches(data: dict[str, Any], page: PageRule) -> bool:
    path = _first(data, page.properties.get("path", ()))
    if not isinstance(path, str):
        url = _first(data, page.properties.get("url", ()))
        if not isinstance(url, str):
            return page.path == "/"
        from urllib.parse import urlsplit

        path = urlsplit(url).path or "/"
    prefix = page.path.rstrip("/")
    return not prefix or path == prefix or path.startswith(prefix + "/")


def _person(view: Any, mapping: PersonMap) -> dict[str, Any] | None:
    person = {
        f: v for f in PersonMap.model_fields if (v := _first(view, getattr(mapping, f))) is not None
    }
    return person if person.get("email") or person.get("id") else None


def _account(view: Any, mapping: AccountMap) -> dict[str, Any] | None:
    domain = None
    for path in mapping.domain:
        value = lookup(view, path)
        # An opaque id (a groupId like "acct_42") is not a domain: try the next candidate.
        if isinstance(value, str) and "." in value and " " not in value and "@" not in value:
            domain = account_key(value)
            break
    if not domain:
        return None
    account = {
        f: v
        for f in AccountMap.model_fields
        if f != "domain" and (v := _first(view, getattr(mapping, f))) is not None
    }
    return {"domain": domain, **account}


def _record(
    view: Any,
    source: CompiledSource,
    target: str,
    properties: dict[str, _Paths] | str,
    *,
    anonymous_ok: bool,
) -> Adapted:
    mapping = source.mapping
    person = _person(view, mapping.person)
    account = _account(view, mapping.account)
    body: dict[str, Any] = {
        "type": target,
        "event_id": _first(view, mapping.event_id),
        "occurred_at": _first(view, mapping.occurred_at),
        "source": source.name,
    }
    if target == CONTACT_TARGET:
        if person is None:
            return Unmapped("anonymous", "identify without an email or user id")
        if account is None:
            email = person.get("email")
            if (
                not isinstance(email, str)
                or "@" not in email
                or is_personal_domain(email_domain(email))
            ):
                return Unmapped("no_account", "identify without a company domain or work email")
            account = {"domain": email_domain(email)}
        body["roles"] = None  # not stated: the CRM's roles stay (signals.contacts)
    elif person is None and account is None and anonymous_ok:
        return Unmapped("anonymous", "no person or account identity")
    if person is not None:
        body["person"] = person
    if account is not None:
        body["account"] = account
    if isinstance(properties, str):
        found = lookup(view, properties)
        props = found if isinstance(found, dict) else {}
    else:
        props = {
            name: v for name, paths in properties.items() if (v := _first(view, paths)) is not None
        }
    if target == CONTACT_TARGET:
        if "roles" in props:
            body["roles"] = props["roles"]
        return validate(CrmContact.model_validate, body, tags=frozenset())
    if props or target in ("page_visited", "funding_announced"):
        body["properties"] = props
    if target in _ACTIVITY_TYPES:
        return validate(_ACTIVITY.validate_python, body, tags=_ACTIVITY_TYPES)
    return validate(_SIGNAL.validate_python, body, tags=_SIGNAL_TYPES)
