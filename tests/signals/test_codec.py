from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from signals.codec import Rejected, decode_signal, decode_window, encode
from signals.models import (
    Account,
    EmailOpened,
    FundingAnnounced,
    JobChanged,
    PageVisited,
    Person,
    SignalType,
)
from signals.windows import Draft, Reason, RulebookRef, Score, WindowOpened

MAX = 4096
PII = "zelda.quixote-7731@secret-pii.example"
PII_NAME = "Zelda Quixote Secretname"


def _raw(**body: Any) -> bytes:
    return orjson.dumps({"event_id": "e-1", "source": "test", **body})


WHEN = "2024-05-14T11:30:00+02:00"
PERSON = {"email": PII, "name": PII_NAME}
ACCOUNT = {"domain": "secret-pii.example", "name": PII_NAME}
VISIT = {"url": "https://www.relaywise.example/pricing?u=" + PII}

REJECTS: list[tuple[str, bytes | None, SignalType | None, str]] = [
    ("tombstone", None, SignalType.EMAIL_OPENED, "tombstone"),
    ("not utf-8", b'{"email": "' + PII.encode() + b'\xff"}', None, "not_utf8"),
    ("truncated json", b'{"person": {"email": "' + PII.encode(), None, "not_json"),
    ("bare word", PII.encode(), None, "not_json"),
    ("json array", orjson.dumps([{"email": PII}]), None, "not_object"),
    ("json number", b"42", SignalType.EMAIL_OPENED, "not_object"),
    ("json string", orjson.dumps(PII), None, "not_object"),
    (
        "unknown type",
        _raw(type="email_clicked", occurred_at=WHEN, person=PERSON),
        None,
        "unknown_type",
    ),
    ("type is PII", _raw(type=PII, occurred_at=WHEN, person=PERSON), None, "unknown_type"),
    (
        "type not a string",
        _raw(type=["email_opened"], occurred_at=WHEN, person=PERSON),
        SignalType.EMAIL_OPENED,
        "unknown_type",
    ),
    ("no type, no default", _raw(occurred_at=WHEN, person=PERSON), None, "unknown_type"),
    (
        "person without email or id",
        _raw(type="email_opened", occurred_at=WHEN, person={"name": PII_NAME}),
        None,
        "missing_identity",
    ),
    (
        "email open without person",
        _raw(type="email_opened", occurred_at=WHEN),
        None,
        "missing_identity",
    ),
    (
        "page visit with nobody",
        _raw(occurred_at=WHEN, properties=VISIT),
        SignalType.PAGE_VISITED,
        "missing_identity",
    ),
    (
        "funding without account",
        _raw(type="funding_announced", occurred_at=WHEN, properties={"round": PII_NAME}),
        None,
        "missing_identity",
    ),
    (
        "job change without account",
        _raw(type="job_changed", occurred_at=WHEN, person=PERSON),
        None,
        "missing_identity",
    ),
    (
        "occurred_at without offset",
        _raw(type="email_opened", occurred_at="2024-05-14T11:30:00", person=PERSON),
        None,
        "invalid",
    ),
    (
        "employees many",
        _raw(
            type="funding_announced",
            occurred_at=WHEN,
            properties={"round": "Seed"},
            account={**ACCOUNT, "employees": "many " + PII},
        ),
        None,
        "invalid",
    ),
    (
        "bad email shape",
        _raw(type="email_opened", occurred_at=WHEN, person={"email": PII_NAME}),
        None,
        "invalid",
    ),
    (
        "unknown timezone directory",
        _raw(type="email_opened", occurred_at=WHEN, person={**PERSON, "timezone": "Europe"}),
        None,
        "invalid",
    ),
    ("no occurred_at", _raw(type="email_opened", person=PERSON), None, "invalid"),
]


@pytest.mark.parametrize(
    ("raw", "default_type", "reason"),
    [case[1:] for case in REJECTS],
    ids=[case[0] for case in REJECTS],
)
def test_rejects(raw: bytes | None, default_type: SignalType | None, reason: str) -> None:
    result = decode_signal(raw, default_type=default_type, max_bytes=MAX)
    assert isinstance(result, Rejected)
    assert result.reason == reason
    assert result.error_class
    assert result.detail
    for secret in (PII, PII_NAME, "secret-pii", "Zelda", "many"):
        assert secret not in result.detail


def test_detail_names_locations_and_error_types() -> None:
    raw = _raw(type="email_opened", occurred_at="2024-05-14T11:30:00", person={"email": "x"})
    result = decode_signal(raw, default_type=None, max_bytes=MAX)
    assert isinstance(result, Rejected)
    assert result.error_class == "ValidationError"
    assert result.detail == "occurred_at: timezone_aware; person.email: value_error"


def test_oversized_at_the_boundary() -> None:
    raw = _raw(type="email_opened", occurred_at=WHEN, person={"email": "a@b.io"})
    assert isinstance(decode_signal(raw, default_type=None, max_bytes=len(raw)), EmailOpened)
    result = decode_signal(raw, default_type=None, max_bytes=len(raw) - 1)
    assert isinstance(result, Rejected)
    assert result.reason == "oversized"


def test_oversized_is_checked_before_decoding() -> None:
    result = decode_signal(b"\xff" * 100, default_type=None, max_bytes=10)
    assert isinstance(result, Rejected)
    assert result.reason == "oversized"


def test_type_absent_uses_the_topic_default() -> None:
    raw = _raw(occurred_at=WHEN, person={"email": "a@b.io"})
    result = decode_signal(raw, default_type=SignalType.EMAIL_OPENED, max_bytes=MAX)
    assert isinstance(result, EmailOpened)


def test_explicit_type_wins_over_the_default() -> None:
    raw = _raw(
        type="page_visited",
        occurred_at=WHEN,
        properties={"path": "/pricing"},
        person={"id": "crm-1"},
    )
    result = decode_signal(raw, default_type=SignalType.EMAIL_OPENED, max_bytes=MAX)
    assert isinstance(result, PageVisited)


UTC_WHEN = datetime(2024, 5, 14, 9, 30, tzinfo=UTC)
VALID: list[tuple[dict[str, Any], type]] = [
    (
        {
            "type": "email_opened",
            "person": {"email": "Ana@Example.io"},
            "properties": {"subject": "Hi"},
        },
        EmailOpened,
    ),
    (
        {
            "type": "page_visited",
            "account": {"domain": "example.io"},
            "properties": {"url": "https://www.relaywise.example/pricing?x=1"},
        },
        PageVisited,
    ),
    (
        {
            "type": "job_changed",
            "person": {"id": "crm-9"},
            "account": {"domain": "new.io"},
            "properties": {"previous_account": {"domain": "old.io"}, "new_title": "CTO"},
        },
        JobChanged,
    ),
    (
        {
            "type": "funding_announced",
            "account": {"domain": "example.io", "country": "de"},
            "properties": {
                "round": "Series A",
                "amount_usd": 12_000_000,
                "investors": ["Northwind Ventures"],
            },
        },
        FundingAnnounced,
    ),
]


@pytest.mark.parametrize(("body", "model"), VALID, ids=[m.__name__ for _, m in VALID])
def test_valid_signals_decode_to_their_model_in_utc(body: dict[str, Any], model: type) -> None:
    raw = _raw(occurred_at=WHEN, segment_extra={"ignored": True}, **body)
    result = decode_signal(raw, default_type=None, max_bytes=MAX)
    assert not isinstance(result, Rejected)
    assert isinstance(result, model)
    assert result.occurred_at == UTC_WHEN
    assert result.occurred_at.utcoffset() == UTC_WHEN.utcoffset()
    assert result.event_id == "e-1"
    # encode -> decode is lossless for inbound models too.
    assert decode_signal(encode(result), default_type=None, max_bytes=MAX) == result


def test_page_path_is_derived_from_the_url() -> None:
    raw = _raw(
        type="page_visited",
        occurred_at=WHEN,
        account={"domain": "example.io"},
        properties={"url": "https://www.relaywise.example/pricing?x=1"},
    )
    result = decode_signal(raw, default_type=None, max_bytes=MAX)
    assert isinstance(result, PageVisited)
    assert result.properties.path == "/pricing"


def _window() -> WindowOpened:
    now = datetime(2024, 5, 14, 9, 30, tzinfo=UTC)
    return WindowOpened(
        window_id="w-1",
        opened_at=now,
        as_of=now,
        trigger_event_id="e-1",
        person_key="ana@example.io",
        account_key=None,
        person=Person(email="ana@example.io"),
        account=None,
        play="signal_triggered",
        score=Score(fit=10.0, engagement=42.5, total=52.5, threshold=50.0),
        reasons=(
            Reason(
                event_id="e-1",
                signal_type="page_visited",
                occurred_at=now,
                rule="pricing_visit",
                points=30.0,
                detail="visited /pricing",
            ),
        ),
        fit_reasons=(),
        rulebook=RulebookRef(version="1", hash="abc"),
        draft=Draft(
            trigger="pricing visit",
            why_now="visited pricing twice",
            channel="email",
            send_at=now,
            expires_at=now,
            timezone="UTC",
            subject_hint="Pricing",
            opening_line="Hi Ana",
            talking_points=("a", "b"),
            call_to_action="15 min?",
            avoid=(),
        ),
    )


def test_window_round_trip_keeps_nulls() -> None:
    window = _window()
    raw = encode(window)
    assert b'"account":null' in raw
    assert decode_window(raw) == window


def test_window_round_trip_with_account() -> None:
    window = _window().model_copy(
        update={"account": Account(domain="example.io"), "account_key": "example.io"}
    )
    assert decode_window(encode(window)) == window


@settings(max_examples=300)
@given(st.binary(max_size=300))
def test_never_raises_on_arbitrary_bytes(raw: bytes) -> None:
    result = decode_signal(raw, default_type=SignalType.EMAIL_OPENED, max_bytes=200)
    assert isinstance(result, Rejected)  # random bytes are never a valid signal


_scalar = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=20)
    | st.sampled_from(["email_opened", "2024-05-14T11:30:00Z", "a@b.io", "b.io", "Europe"])
)
_field = st.sampled_from(
    [
        "type",
        "event_id",
        "occurred_at",
        "source",
        "person",
        "account",
        "properties",
        "email",
        "id",
        "domain",
        "timezone",
        "url",
        "path",
        "round",
        "employees",
    ]
)
_inner = _scalar | st.lists(_scalar, max_size=3) | st.dictionaries(_field, _scalar, max_size=5)


@settings(max_examples=300)
@given(
    st.dictionaries(_field | st.text(max_size=8), _inner, max_size=8),
    st.sampled_from([None, *SignalType]),
)
def test_never_raises_on_arbitrary_json_objects(
    body: dict[str, Any], default_type: SignalType | None
) -> None:
    result = decode_signal(orjson.dumps(body), default_type=default_type, max_bytes=1 << 20)
    assert isinstance(result, (Rejected, EmailOpened, PageVisited, JobChanged, FundingAnnounced))


_BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"


@settings(max_examples=200)
@given(
    st.sampled_from(list(SignalType)),
    st.text(min_size=1, max_size=30),
    # hypothesis bounds are naive by design; the drawn values get a zone from `timezones`.
    st.datetimes(
        timezones=st.timezones(),
        min_value=datetime(1970, 1, 2),  # noqa: DTZ001
        max_value=datetime(2998, 12, 30),  # noqa: DTZ001
    ),
)
@example(SignalType.EMAIL_OPENED, "0", datetime(1972, 1, 1, tzinfo=ZoneInfo("Africa/Monrovia")))
def test_valid_events_keep_their_instant_in_utc(
    kind: SignalType, person_id: str, when: datetime
) -> None:
    body: dict[str, Any] = {
        "type": kind.value,
        "occurred_at": when.isoformat(),
        "person": {"id": person_id},
        "account": {"domain": "example.io"},
        "properties": {"round": "Seed", "path": "/"},
    }
    result = decode_signal(_raw(**body), default_type=None, max_bytes=MAX)
    offset = when.utcoffset()
    if offset is not None and offset.seconds % 60:
        # A zone offset with seconds (Africa/Monrovia until 1972: -00:44:30) has no RFC 3339
        # form: the contract refuses it rather than guess the instant.
        assert isinstance(result, Rejected) and result.reason == "invalid"
        return
    if isinstance(result, Rejected):
        # Only a blank id (stripped to nothing) or one with control characters may fail.
        unsafe = [c for c in person_id if ord(c) < 32 or 127 <= ord(c) < 160 or c in _BIDI]
        assert not person_id.strip() or unsafe
        assert result.reason == "invalid"
        return
    # The instant as sent (fixed offset): zoneinfo times in a DST gap never compare equal.
    assert result.occurred_at == datetime.fromisoformat(when.isoformat())
    assert result.occurred_at.tzinfo is UTC
