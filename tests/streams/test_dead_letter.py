from __future__ import annotations

from streams.dead_letter import dead_letter_headers


def _headers(**kwargs: object) -> dict[str, bytes]:
    base = dict(
        topic="t",
        partition=2,
        offset=41,
        error_class="JSONDecodeError",
        reason="not_json",
        detail="line 1",
    )
    base.update(kwargs)
    return dict(dead_letter_headers(**base))  # type: ignore[arg-type]


def test_names_source_position_and_reason() -> None:
    h = _headers()
    assert h["followup.source.topic"] == b"t"
    assert h["followup.source.partition"] == b"2"
    assert h["followup.source.offset"] == b"41"
    assert h["followup.error.class"] == b"JSONDecodeError"
    assert h["followup.error.reason"] == b"not_json"


def test_keeps_original_headers_and_replaces_stale_followup_ones() -> None:
    pairs = dead_letter_headers(
        topic="t",
        partition=0,
        offset=1,
        error_class="E",
        reason="r",
        detail="d",
        original=[("trace", b"abc"), ("followup.error.reason", b"old")],
    )
    assert ("trace", b"abc") in pairs
    assert [v for k, v in pairs if k == "followup.error.reason"] == [b"r"]


def test_accepts_mapping_headers_and_marks_truncation() -> None:
    h = _headers(original={"x": "y"}, original_size=5_000_000, truncated=True)
    assert h["x"] == b"y"
    assert h["followup.value.size"] == b"5000000"
    assert h["followup.value.truncated"] == b"true"


def test_detail_is_bounded() -> None:
    assert len(_headers(detail="x" * 5000)["followup.error.detail"]) == 1000


def test_a_dead_letter_fits_the_limit_as_a_whole_whatever_was_sent():
    """A 1 MB key, a 400 KB value and big headers still make a dead letter the broker takes."""
    from streams.dead_letter import dead_letter_out

    key, value = b"k" * 1_000_000, b"v" * 400_000
    headers = [(f"h{i}", b"x" * 1000) for i in range(300)]
    out = dead_letter_out(
        "t.dlq",
        topic="t",
        partition=0,
        offset=9,
        key=key,
        value=value,
        headers=headers,
        reason="invalid",
        error_class="ValidationError",
        detail="person.email: value_error",
        max_bytes=100_000,
    )
    size = (
        len(out.key or b"")
        + len(out.value or b"")
        + sum(len(k) + len(v) for k, v in out.headers or ())
    )
    assert size <= 100_000
    kept = dict(out.headers or ())
    assert kept["followup.key.size"] == b"1000000"
    assert kept["followup.value.size"] == b"400000"
    assert kept["followup.value.truncated"] == b"true"
    assert kept["followup.headers.dropped"] == b"300"
    assert out.value is not None and value.startswith(out.value) and key.startswith(out.key or b"")
