"""The demo's live step, the way a team without Kafka would run it: a prospect visits pricing
now, the visits are POSTed to the HTTP ingest, and the window the worker opens is delivered by
its sink to a local webhook receiver, which verifies the signature and prints it. Then the
score API is asked about the same person.

    demo ──POST /v1/events──▶ ingest ──▶ input topic ──▶ worker ──▶ windows-opened
                                                                       │ sink (in the worker)
    demo ◀── printed ◀── webhook receiver ◀── signed POST ─────────────┘

`LiveRig` holds the local endpoints: the receiver is started before the worker (its sink
delivers from the first window on), the ingest once the topics exist. Everything binds to
127.0.0.1; the tokens and the webhook secret are made fresh per run.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
from aiohttp import web
from pydantic import SecretStr

from signals.sources import SourceSet
from streams.ingest.run import RunningIngest, start_ingest
from streams.local import wait_until
from streams.settings import Settings
from streams.sinks.receiver import Receiver

__all__ = ["LIVE_ACCOUNT", "LIVE_PERSON", "Live", "LiveRig", "live_step"]

LIVE_ACCOUNT = {
    "domain": "live-demo.example",
    "name": "Live Demo Inc",
    "industry": "software",
    "employees": 450,
    "country": "US",
    "technologies": ["kafka"],
}
LIVE_PERSON = {
    "email": "alex@live-demo.example",
    "name": "Alex Live",
    "title": "VP Data",
    "seniority": "vp",
    "department": "data",
    "timezone": "America/Chicago",
}


@dataclass
class Live:
    """What the live step saw, for the summary."""

    accepted: int = 0
    status: int = 0
    window: dict[str, Any] | None = None
    seconds: float | None = None  # from the POST to the window at the webhook
    score: dict[str, Any] | None = None


@dataclass
class LiveRig:
    receiver: Receiver
    runner: web.AppRunner
    url: str
    ingest_token: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    score_token: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    secret: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    ingest: RunningIngest | None = None
    lines: list[str] = field(default_factory=list)

    @classmethod
    async def open(cls) -> LiveRig:
        """Start the webhook receiver on a free port; it prints nothing, the demo does."""
        lines: list[str] = []
        secret = secrets.token_urlsafe(24)
        receiver = Receiver(secret=secret.encode(), out=lines.append)
        runner = web.AppRunner(receiver.app(), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        return cls(receiver, runner, f"http://127.0.0.1:{port}/hook", secret=secret, lines=lines)

    def worker_settings(self, settings: Settings) -> Settings:
        """The worker's settings: its sink delivers to the receiver, the score API is on."""
        return settings.model_copy(
            update={
                "sink_webhook_urls": (self.url,),
                "sink_webhook_secret": SecretStr(self.secret),
                "sink_in_worker": True,
                "sink_backoff_seconds": 0.1,
                "sink_backoff_max_seconds": 1.0,
                "score_api_token": SecretStr(self.score_token),
                "ingest_token": SecretStr(self.ingest_token),
                "ingest_port": 0,
            }
        )

    async def start_ingest(self, settings: Settings) -> None:
        """Start the HTTP ingest (the topics must exist)."""
        self.ingest = await start_ingest(settings, SourceSet.empty())

    async def close(self) -> None:
        if self.ingest is not None:
            await self.ingest.stop()
        await self.runner.cleanup()


def _visits(now: datetime) -> list[dict[str, Any]]:
    return [
        {
            "type": "page_visited",
            "event_id": f"live-{now.timestamp():.0f}-{n}",
            "occurred_at": (now + timedelta(seconds=n)).isoformat(),
            "source": "demo-live",
            "person": LIVE_PERSON,
            "account": LIVE_ACCOUNT,
            "properties": {"path": "/pricing", "title": "Pricing"},
        }
        for n in range(2)
    ]


async def live_step(settings: Settings, rig: LiveRig, *, timeout: float = 20.0) -> Live:
    """POST the two visits, wait for the window at the webhook, then ask the score API.
    Never raises for a slow or failed step: `Live` says what was seen."""
    assert rig.ingest is not None, "start_ingest first"
    live = Live()
    ingest = f"http://127.0.0.1:{rig.ingest.port}/v1/events"
    async with httpx.AsyncClient(timeout=10) as client:
        sent = time.monotonic()
        response = await client.post(
            ingest,
            json=_visits(datetime.now(UTC)),
            headers={"Authorization": f"Bearer {rig.ingest_token}"},
        )
        live.status = response.status_code
        if response.status_code == 202:
            live.accepted = int(response.json()["accepted"])

        def arrived() -> dict[str, Any] | None:
            for window in rig.receiver.seen.values():
                if isinstance(window, dict) and window.get("person_key") == LIVE_PERSON["email"]:
                    return window
            return None

        try:
            live.window = await wait_until(
                arrived, timeout=timeout, interval=0.05, what="the window at the webhook"
            )
            live.seconds = time.monotonic() - sent
        except TimeoutError:
            return live
        path = f"/v1/accounts/{LIVE_ACCOUNT['domain']}/people/{LIVE_PERSON['email']}"
        scored = await client.get(
            f"http://{settings.web_host}:{settings.web_port}{path}",
            headers={"Authorization": f"Bearer {rig.score_token}"},
        )
        if scored.status_code == 200:
            live.score = orjson.loads(scored.content)
    return live
