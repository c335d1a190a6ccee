"""Records the codec must dead-letter, one per kind of failure (see `signals.sample`)."""

from __future__ import annotations

import random
from typing import Any

import orjson

from signals.sample_data import SITE

__all__ = ["bad_records"]


def bad_records(seed: int = 7) -> list[tuple[str, bytes]]:
    """Records the codec must reject, each (topic's signal type, raw bytes)."""
    rng = random.Random(seed)
    now = "2024-05-14T09:30:00Z"
    person = {"email": f"bad.{rng.randrange(1000, 9999)}@quillstack.com", "name": "Bad Example"}
    account = {"domain": "quillstack.com", "name": "Quillstack"}

    def dump(n: int, body: dict[str, Any]) -> bytes:
        return orjson.dumps({"event_id": f"demo-{seed}-bad-{n}", "source": "demo", **body})

    visit = {"url": f"{SITE}/pricing"}
    return [
        ("email_opened", b'{"event_id": "demo-%d-bad-1", "occurred_at": ' % seed),  # cut off
        ("email_opened", b'{"event_id": "\xff\xfe broken encoding"}'),
        ("page_visited", b'[{"type": "page_visited"}]'),
        ("email_opened", dump(4, {"type": "email_clicked", "occurred_at": now, "person": person})),
        ("email_opened", dump(5, {"occurred_at": now, "person": {"name": "No Identity"}})),
        ("page_visited", dump(6, {"occurred_at": now, "properties": visit})),
        ("funding_announced", dump(7, {"occurred_at": now, "properties": {"round": "Seed"}})),
        (
            "page_visited",
            dump(8, {"occurred_at": "2024-05-14T09:30:00", "person": person, "properties": visit}),
        ),
        (
            "funding_announced",
            dump(
                9,
                {
                    "occurred_at": now,
                    "account": {**account, "employees": "many"},
                    "properties": {"round": "Series A"},
                },
            ),
        ),
    ]
