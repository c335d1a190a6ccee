"""The erasure request on `privacy.erasure`: decoded at the edge, every key of the person."""

from __future__ import annotations

import orjson
import pytest

from signals.codec import Rejected
from signals.erasure import ErasureRequest, decode_erasure, erased_keys
from signals.models import Person


def _request(person: dict[str, str], **extra: object) -> bytes:
    body = {"person": person, "request_id": "r-1", "requested_at": "2026-12-02T09:00:00Z"}
    return orjson.dumps({**body, **extra})


def test_a_request_names_the_person_by_every_key_the_engine_may_hold() -> None:
    request = decode_erasure(
        _request({"email": " Ana.Lopez@WWW.Acme.example ", "id": "crm-7"}), max_bytes=10_000
    )
    assert isinstance(request, ErasureRequest) and request.request_id == "r-1"
    assert erased_keys(request.person) == ("ana.lopez@acme.example", "id:crm-7")
    assert erased_keys(Person(id="crm-7")) == ("id:crm-7",)
    assert erased_keys(Person(email="ana@acme.example")) == ("ana@acme.example",)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (None, "tombstone"),
        (b"not json", "not_json"),
        (_request({}), "missing_identity"),
        (_request({"email": "no-at-sign"}), "invalid"),
        (orjson.dumps({"person": {"email": "a@b.example"}}), "invalid"),  # no request id
        (_request({"email": "a@b.example"}, requested_at="2026-12-02"), "invalid"),  # no zone
        (_request({"email": "a@b.example"}, request_id="x" * 500), "limit_exceeded"),
    ],
)
def test_a_request_that_cannot_be_carried_out_is_rejected_with_a_reason(
    raw: bytes | None, reason: str
) -> None:
    rejected = decode_erasure(raw, max_bytes=10_000)
    assert isinstance(rejected, Rejected) and rejected.reason == reason
    assert "a@b.example" not in rejected.detail
