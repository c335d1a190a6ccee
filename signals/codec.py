"""The one codec: bytes on a topic <-> the models in `signals.models` and `signals.windows`.

`decode_signal` runs once per inbound message, so it never raises: a record it cannot turn
into a `Signal` comes back as a `Rejected` value, which the stream routes to the dead-letter
topic with its reason. The checks run cheapest first:

    None                      -> tombstone
    len(raw) > max_bytes      -> oversized        (before any decoding)
    orjson fails, bad UTF-8   -> not_utf8
    orjson fails otherwise    -> not_json
    not a JSON object         -> not_object
    `type` unknown            -> unknown_type     (absent or null: `default_type`, if any)
    validation fails          -> missing_identity (no person/account to key it by),
                                 limit_exceeded (a text or list over its limit) or invalid

`too_far_ahead` is the edge's time check after decoding (`future_event`): an event dated
past the clock plus the allowed skew never reaches the core, where it would move a
watermark. The score stage adds `too_late` (older than the horizon) itself.

A declared foreign source (`signals.sources`) adds `unmapped`: the record claims the
source's format but does not say what it is (no Segment call type, no CloudEvent).

`Rejected.detail` names only locations and error types ("person.email: value_error"), never
input values: dead-letter records are read by people and shipped to logs, and the values are
personal data.

`encode` writes every field, `None` included. `WindowOpened` has required nullable fields
(`account`, `account_key`), so dropping nulls would break the round trip; one rule for all
models keeps the outbound contract explicit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal, TypeVar

import orjson
from pydantic import BaseModel, TypeAdapter, ValidationError

from signals.models import Signal, SignalType
from signals.windows import WindowOpened

T = TypeVar("T")

__all__ = [
    "RejectReason",
    "Rejected",
    "decode_signal",
    "decode_window",
    "encode",
    "load_object",
    "rejected_from",
    "too_far_ahead",
    "validate",
]

RejectReason = Literal[
    "tombstone",
    "oversized",
    "not_utf8",
    "not_json",
    "not_object",
    "unknown_type",
    "missing_identity",
    "limit_exceeded",
    "invalid",
    "future_event",
    "too_late",
    "unmapped",
]
_LIMIT_ERRORS: Final = frozenset({"string_too_long", "too_long"})


@dataclass(frozen=True, slots=True)
class Rejected:
    """A record that is not a valid signal. Carries no input values (they may be PII)."""

    reason: RejectReason
    error_class: str
    detail: str


_SIGNAL: Final[TypeAdapter[Signal]] = TypeAdapter(Signal)
_KNOWN_TYPES: Final[frozenset[str]] = frozenset(t.value for t in SignalType)
# A missing required identity field (the models' own check raises "missing_identity: ...").
_IDENTITY_FIELDS: Final[frozenset[str]] = frozenset({"person", "account"})
_MAX_DETAIL_ERRORS: Final = 10


def decode_signal(
    raw: bytes | None, *, default_type: SignalType | None, max_bytes: int
) -> Signal | Rejected:
    """Decode one inbound message. Never raises; see the module docstring for the order.

    `default_type` is the topic's signal type, used when a record carries no `type`.
    """
    data = load_object(raw, max_bytes=max_bytes)
    if isinstance(data, Rejected):
        return data
    kind = data.get("type")
    if kind is None:
        if default_type is None:
            return Rejected("unknown_type", "KeyError", "no type and no default for the topic")
        data["type"] = default_type.value
    elif not isinstance(kind, str) or kind not in _KNOWN_TYPES:
        # The value itself stays out of the detail: it is producer input like any other.
        return Rejected("unknown_type", "ValueError", f"type is not one of {sorted(_KNOWN_TYPES)}")

    return validate(_SIGNAL.validate_python, data, tags=_KNOWN_TYPES)


def validate(
    check: Callable[[Any], T], data: dict[str, Any], *, tags: frozenset[str]
) -> T | Rejected:
    """The shared last step of every decoder: validate, or say why not. Never raises."""
    try:
        return check(data)
    except ValidationError as exc:
        return rejected_from(exc, tags=tags)
    except Exception as exc:
        # A validator bug must not stop the partition: dead-letter the record, name the class.
        return Rejected("invalid", type(exc).__name__, "unexpected error during validation")


def encode(model: BaseModel) -> bytes:
    """Serialise a model to compact JSON bytes, `None` fields included (see module docs)."""
    return orjson.dumps(model.model_dump(mode="json"))


def too_far_ahead(occurred_at: datetime, now: datetime, max_skew_seconds: float) -> Rejected | None:
    """A `future_event` rejection when `occurred_at` is more than the skew past `now`."""
    ahead = (occurred_at - now).total_seconds()
    if ahead <= max_skew_seconds:
        return None
    return Rejected(
        "future_event",
        "ValueError",
        f"occurred_at is {ahead:.0f}s ahead (max {max_skew_seconds:g}s)",
    )


def decode_window(raw: bytes) -> WindowOpened:
    """Parse a window event (consumers, tests). Raises `pydantic.ValidationError` if bad."""
    return WindowOpened.model_validate_json(raw)


def load_object(raw: bytes | None, *, max_bytes: int) -> dict[str, Any] | Rejected:
    """The shared first steps of every decoder: tombstone, size, JSON, object. Never raises."""
    if raw is None:
        return Rejected("tombstone", "NoneType", "message value is null (tombstone)")
    if len(raw) > max_bytes:
        return Rejected("oversized", "ValueError", f"{len(raw)} bytes > max {max_bytes}")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        # orjson also rejects invalid UTF-8; only pay for a second decode on the error path.
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as uexc:
            return Rejected("not_utf8", type(uexc).__name__, f"invalid UTF-8 at byte {uexc.start}")
        return Rejected("not_json", type(exc).__name__, f"invalid JSON at char {exc.pos}")
    if not isinstance(data, dict):
        return Rejected("not_object", "TypeError", f"JSON {_json_kind(data)}, expected an object")
    return data


def rejected_from(exc: ValidationError, *, tags: frozenset[str]) -> Rejected:
    """A validation error as a `Rejected`: locations and error types only, never values.

    `tags` are the union's type names; an error location starting with one drops it.
    """
    errors = exc.errors(include_url=False, include_input=False, include_context=False)
    identity = False
    limit = False
    parts: list[str] = []
    for error in errors:
        loc = error["loc"]
        # The first location of a tagged union is the tag (a known type name): drop it.
        if loc and loc[0] in tags:
            loc = loc[1:]
        kind = error["type"]
        if kind == "value_error" and "missing_identity" in error["msg"]:
            kind = "missing_identity"
            identity = True
        elif kind == "missing" and len(loc) == 1 and loc[0] in _IDENTITY_FIELDS:
            identity = True
        elif kind in _LIMIT_ERRORS:
            limit = True
        if len(parts) < _MAX_DETAIL_ERRORS:
            parts.append(f"{'.'.join(str(p) for p in loc) or '<root>'}: {kind}")
    if len(errors) > _MAX_DETAIL_ERRORS:
        parts.append(f"... {len(errors) - _MAX_DETAIL_ERRORS} more")
    reason: RejectReason = (
        "missing_identity" if identity else "limit_exceeded" if limit else "invalid"
    )
    return Rejected(reason, type(exc).__name__, "; ".join(parts))


def _json_kind(value: Any) -> str:
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    if value is None:
        return "null"
    return "number"
