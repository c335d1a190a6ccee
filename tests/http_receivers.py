"""A local HTTP receiver that fails on purpose, for sink tests (loopback only)."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

# A script answers one attempt: (status, headers), or "hang" (never answer).
Answer = tuple[int, dict[str, str]] | str


@dataclass
class FlakyReceiver:
    """Answers each Idempotency-Key's attempts from `script(key, attempt)`; records all."""

    script: Callable[[str, int], Answer]
    attempts: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    accepted: dict[str, bytes] = field(default_factory=dict)  # deduplicated on the key
    accepted_twice: int = 0
    release: asyncio.Event = field(default_factory=asyncio.Event)
    hanging: int = 0
    runner: web.AppRunner | None = None
    port: int = 0

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        key = request.headers.get("Idempotency-Key", "")
        self.attempts[key] += 1
        self.requests.append((dict(request.headers), body))
        answer = self.script(key, self.attempts[key])
        if answer == "hang":
            self.hanging += 1
            try:
                await self.release.wait()
            finally:
                self.hanging -= 1
            answer = (200, {})
        status, headers = answer  # type: ignore[misc]
        if 200 <= status < 300:
            if key in self.accepted:
                self.accepted_twice += 1
            self.accepted.setdefault(key, body)
        return web.Response(status=status, headers=headers, text="ok")

    async def start(self, port: int = 0) -> str:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._handle)
        self.runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", port)
        await site.start()
        self.port = self.runner.addresses[0][1]
        return f"http://127.0.0.1:{self.port}/hook"

    async def stop(self) -> None:
        self.release.set()
        if self.runner is not None:
            await self.runner.cleanup()


def always(status: int, headers: dict[str, str] | None = None) -> Callable[[str, int], Answer]:
    return lambda key, attempt: (status, headers or {})


def fail_then_ok(failures: int, status: int = 500) -> Callable[[str, int], Answer]:
    return lambda key, attempt: (status, {}) if attempt <= failures else (200, {})


def by_key(scripts: dict[str, Callable[[str, int], Answer]], default: Any) -> Any:
    return lambda key, attempt: scripts.get(key, default)(key, attempt)
