"""Dead letters: a record that cannot be used is republished, untouched, with its reason.

The dead-letter record keeps the original key, value (bytes, or null for a tombstone) and
headers, and adds headers that say where it came from and why it was rejected. The reason
text never contains field values (see `signals.codec.Rejected.detail`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["HEADER_PREFIX", "dead_letter_headers"]

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
