"""`followup forget EMAIL`: publish an erasure request, and wait for its receipt if asked.

The request goes to `privacy.erasure` keyed by the person key (so that compaction keeps one
request per person), the receipt comes back on `privacy.erasure.done` keyed by the request
id (`signals.erasure`, `streams.erasure`). The person's email is never printed.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson

from signals.codec import encode
from signals.erasure import ErasureReceipt, ErasureRequest, erased_keys
from signals.models import Person
from streams.broker import wait_for_broker
from streams.local import Record, produce, read_topic
from streams.settings import Settings

__all__ = ["forget"]


def forget(
    settings: Settings,
    *,
    email: str | None,
    person_id: str | None,
    wait: float,
    say: Callable[[str], None],
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> ErasureReceipt | None:
    """Publish one request; with `wait` > 0, return its receipt (None if none came in time).
    Raises pydantic's `ValidationError` for an email or id that names no person."""
    request = ErasureRequest(
        person=Person(email=email, id=person_id),
        request_id=f"forget-{uuid.uuid4()}",
        requested_at=now(),
    )
    return asyncio.run(_forget(settings, request, wait, say))


async def _forget(
    settings: Settings, request: ErasureRequest, wait: float, say: Callable[[str], None]
) -> ErasureReceipt | None:
    await wait_for_broker(settings)
    key = erased_keys(request.person)[0].encode()
    await produce(settings, [Record(settings.topic_erasure, encode(request), key)])
    say(f"erasure requested: {request.request_id} on {settings.topic_erasure}")
    if wait <= 0:
        return None
    wanted = request.request_id.encode()

    def arrived(records: list[Any]) -> bool:
        return any(r.key == wanted and r.value for r in records)

    found = await read_topic(settings, settings.topic_erasure_done, until=arrived, timeout=wait)
    for record in found:
        if record.key == wanted and record.value:
            return ErasureReceipt.model_validate(orjson.loads(record.value))
    return None
