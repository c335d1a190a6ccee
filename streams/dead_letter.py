"""Dead letters: a record that cannot be used is republished, untouched, with its reason.

The dead-letter record keeps the original key, value (bytes, or null for a tombstone) and
headers, and adds headers that say where it came from and why it was rejected. The reason
text never contains field values (see `signals.codec.Rejected.detail`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from streams.delivery import Out

_KEY_LIMIT = 1024  # a key past this is cut: it is kept for reference, not for routing

__all__ = ["HEADER_PREFIX", "dead_letter_headers", "dead_letter_out"]

HEADER_PREFIX = "followup."


def _original_headers(headers: Any) -> list[tuple[str, bytes]]:
    if not headers:
        return []
    items: Iterable[tuple[Any, Any]] = headers.items() if isinstance(headers, Mapping) else headers
    return [
        (str(k), v if isinstance(v, bytes) else str(v).encode())
        for k, v in items
        if not str(k).startswith(HEADER_PREFIX)
    ]


def dead_letter_headers(
    *,
    topic: str,
    partition: int,
    offset: int,
    error_class: str,
    reason: str,
    detail: str,
    original: Any = None,
    original_size: int | None = None,
    truncated: bool = False,
) -> list[tuple[str, bytes]]:
    """Original headers first, then ours (`followup.*`), replacing any earlier `followup.*`.

    `truncated` says the value was cut to the size limit; `followup.value.size` keeps the
    original length so nothing about the record is lost silently.
    """
    extra = []
    if original_size is not None:
        extra.append((f"{HEADER_PREFIX}value.size", str(original_size).encode()))
    if truncated:
        extra.append((f"{HEADER_PREFIX}value.truncated", b"true"))
    return [
        *_original_headers(original),
        (f"{HEADER_PREFIX}source.topic", topic.encode()),
        (f"{HEADER_PREFIX}source.partition", str(partition).encode()),
        (f"{HEADER_PREFIX}source.offset", str(offset).encode()),
        (f"{HEADER_PREFIX}error.class", error_class.encode()),
        (f"{HEADER_PREFIX}error.reason", reason.encode()),
        (f"{HEADER_PREFIX}error.detail", detail[:1000].encode()),
        *extra,
    ]


def dead_letter_out(
    dead_letter_topic: str,
    *,
    topic: str,
    partition: int,
    offset: int,
    key: bytes | None,
    value: bytes | None,
    headers: Any,
    reason: str,
    error_class: str,
    detail: str,
    max_bytes: int,
) -> Out:
    """The dead letter of one record, as a whole (key, value and headers) at most
    `max_bytes`: whatever a producer sent, its dead letter can be produced.

    The key is cut to 1 KiB and the value to what is left; `followup.key.size`,
    `followup.value.size` and `followup.value.truncated` say what was cut. Original headers
    that do not fit are left out (`followup.headers.dropped` says so).
    """
    size = len(value) if value is not None else 0
    key_size = len(key) if key is not None else 0
    cut_key = key[:_KEY_LIMIT] if key is not None else None
    kept_original = _original_headers(headers)
    original_bytes = sum(len(k) + len(v) for k, v in kept_original)
    dropped = original_bytes > max_bytes // 4
    ours = dead_letter_headers(
        topic=topic,
        partition=partition,
        offset=offset,
        error_class=error_class,
        reason=reason,
        detail=detail,
        original=None if dropped else headers,
        original_size=size,
        truncated=False,
    )
    if key_size > _KEY_LIMIT:
        ours.append((f"{HEADER_PREFIX}key.size", str(key_size).encode()))
    if dropped:
        ours.append((f"{HEADER_PREFIX}headers.dropped", str(len(kept_original)).encode()))
    room = max_bytes - len(cut_key or b"") - sum(len(k) + len(v) + 8 for k, v in ours) - 64
    cut_value = value
    if value is not None and len(value) > room:
        cut_value = value[: max(0, room)]
        ours.append((f"{HEADER_PREFIX}value.truncated", b"true"))
    return Out(dead_letter_topic, cut_key, cut_value, None, ours)
