from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import orjson
import pytest

from signals.activity import (
    ActivityType,
    Bounced,
    DealStageChanged,
    MeetingBooked,
    MeetingHeld,
    OptedOut,
    OutOfOffice,
    Replied,
    TouchSent,
    decode_activity,
)
from signals.codec import Rejected
from signals.schema import schemas

MAX = 4096
PII = "zelda.quixote-7731@secret-pii.example"
PII_NAME = "Zelda Quixote Secretname"
WHEN = "2024-05-14T11:30:00+02:00"
PERSON = {"email": PII, "name": PII_NAME, "timezone": "Europe/Berlin"}


def _raw(**body: Any) -> bytes:
    return orjson.dumps(
        {"event_id": "a-1", "source": "sequencer", "occurred_at": WHEN, "person": PERSON, **body}
    )


DECODES: list[tuple[dict[str, Any], type, dict[str, Any]]] = [
    (
        {
            "type": "touch_sent",
            "properties": {"channel": "email", "play": "no_response", "window_id": "w-1"},
        },
        TouchSent,
        {"channel": "email", "play": "no_response", "window_id": "w-1", "value_touch": True},
    ),
    (
        {
            "type": "touch_sent",
            "properties": {"channel": "sms", "play": "post_demo", "value_touch": False},
        },
        TouchSent,
        {"channel": "sms", "window_id": None, "value_touch": False},
    ),
    ({"type": "replied"}, Replied, {"channel": None}),
    ({"type": "replied", "properties": {"channel": "linkedin"}}, Replied, {"channel": "linkedin"}),
    ({"type": "bounced", "properties": {"channel": "email"}}, Bounced, {"channel": "email"}),
    ({"type": "opted_out", "properties": {"scope": "all email"}}, OptedOut, {"scope": "all email"}),
    ({"type": "opted_out"}, OptedOut, {"scope": None}),
    (
        {"type": "meeting_booked", "properties": {"meeting_at": "2024-05-20T10:00:00-04:00"}},
        MeetingBooked,
        {"meeting_at": datetime(2024, 5, 20, 14, 0, tzinfo=UTC)},
    ),
    ({"type": "meeting_booked"}, MeetingBooked, {"meeting_at": None}),
    ({"type": "meeting_held", "properties": {"kind": "demo"}}, MeetingHeld, {"kind": "demo"}),
    (
        {"type": "deal_stage_changed", "properties": {"stage": " Won ", "previous_stage": "open"}},
        DealStageChanged,
        {"stage": "won", "previous_stage": "open"},
    ),
    (
        {"type": "out_of_office", "properties": {"from": "2024-05-20", "until": "2024-05-31"}},
        OutOfOffice,
        {"from_": date(2024, 5, 20), "until": date(2024, 5, 31)},
    ),
    (
        {"type": "out_of_office", "properties": {"until": "2024-05-31", "note": "ignored"}},
        OutOfOffice,
        {"from_": None},
    ),
]


@pytest.mark.parametrize(("body", "model", "expected"), DECODES, ids=[str(d[0]) for d in DECODES])
def test_decodes_each_type(body: dict[str, Any], model: type, expected: dict[str, Any]) -> None:
    result = decode_activity(_raw(**body, extra_field="ignored"), max_bytes=MAX)
    assert isinstance(result, model)
    assert not isinstance(result, Rejected)
    assert result.occurred_at == datetime(2024, 5, 14, 9, 30, tzinfo=UTC)
    assert result.person.email == PII
    for key, value in expected.items():
        assert getattr(result.properties, key) == value


def test_every_type_decodes_and_has_a_schema_variant() -> None:
    mapping = schemas()["activity.schema.json"]["discriminator"]["mapping"]
    assert set(mapping) == {t.value for t in ActivityType}
    seen = {type(decode_activity(_raw(**body), max_bytes=MAX)) for body, _, _ in DECODES}
    assert len(seen) == len(ActivityType)


REJECTS: list[tuple[str, bytes | None, str]] = [
    ("tombstone", None, "tombstone"),
    ("oversized", _raw(type="replied", pad="x" * MAX), "oversized"),
    ("not utf-8", b'{"person": "' + PII.encode() + b'\xff"}', "not_utf8"),
    ("not json", PII.encode(), "not_json"),
    ("array", orjson.dumps([PII]), "not_object"),
    ("no type", _raw(), "unknown_type"),
    ("unknown type", _raw(type="clicked"), "unknown_type"),
    ("type is PII", _raw(type=PII), "unknown_type"),
    (
        "no person",
        orjson.dumps({"type": "replied", "event_id": "a", "source": "s", "occurred_at": WHEN}),
        "missing_identity",
    ),
    (
        "person without identity",
        _raw(type="replied", person={"name": PII_NAME}),
        "missing_identity",
    ),
    (
        "bad channel",
        _raw(type="touch_sent", properties={"channel": PII, "play": "breakup"}),
        "invalid",
    ),
    ("bad play", _raw(type="touch_sent", properties={"channel": "email", "play": PII}), "invalid"),
    ("touch without properties", _raw(type="touch_sent"), "invalid"),
    ("stage missing", _raw(type="deal_stage_changed", properties={"previous": PII}), "invalid"),
    (
        "vacation backwards",
        _raw(type="out_of_office", properties={"from": "2024-06-02", "until": "2024-06-01"}),
        "invalid",
    ),
    (
        "meeting time without offset",
        _raw(type="meeting_booked", properties={"meeting_at": "2024-05-20T10:00:00"}),
        "invalid",
    ),
    ("naive occurred_at", _raw(type="replied", occurred_at="2024-05-14T11:30:00"), "invalid"),
]


@pytest.mark.parametrize(("raw", "reason"), [r[1:] for r in REJECTS], ids=[r[0] for r in REJECTS])
def test_rejects_as_data_without_pii(raw: bytes | None, reason: str) -> None:
    result = decode_activity(raw, max_bytes=MAX)
    assert isinstance(result, Rejected)
    assert result.reason == reason
    assert result.error_class and result.detail
    for secret in (PII, PII_NAME, "secret-pii", "Zelda", "2024-06"):
        assert secret not in result.detail


def test_detail_names_the_location_without_the_type_tag() -> None:
    raw = _raw(type="touch_sent", properties={"channel": "fax", "play": "breakup"})
    result = decode_activity(raw, max_bytes=MAX)
    assert isinstance(result, Rejected)
    assert result.detail.startswith("properties.channel:")
