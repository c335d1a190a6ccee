"""`followup webhook-receiver`: a tiny local webhook endpoint that prints what it receives.

For the demo and for trying a sink configuration: every POST is checked against the
shared secret (when given; a bad signature gets 401), deduplicated on `Idempotency-Key`
(a redelivery gets 200 and is not printed again) and printed as one line, or as the full
JSON with `--json`. Not for production.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import orjson
from aiohttp import web

from streams.shutdown import until_terminated
from streams.sinks.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify

__all__ = ["Receiver", "run_receiver"]


class Receiver:
    """The receiver's state: windows seen by idempotency key, and how to print them."""

    def __init__(
        self,
        *,
        secret: bytes | None,
        out: Callable[[str], None] = print,
        full: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.secret = secret
        self.out = out
        self.full = full
        self.clock = clock
        self.seen: dict[str, Any] = {}
        self.duplicates = 0

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        if self.secret is not None and not verify(
            self.secret,
            request.headers.get(TIMESTAMP_HEADER, ""),
            body,
            request.headers.get(SIGNATURE_HEADER, ""),
            now=self.clock(),
        ):
            self.out("rejected a delivery: bad or missing signature")
            return web.json_response({"error": "bad signature"}, status=401)
        key = request.headers.get("Idempotency-Key") or ""
        if key in self.seen:
            self.duplicates += 1
            return web.json_response({"status": "duplicate"})
        try:
            window = orjson.loads(body)
        except orjson.JSONDecodeError:
            return web.json_response({"error": "not JSON"}, status=400)
        self.seen[key] = window
        self.out(self._render(window) if not self.full else orjson.dumps(window).decode())
        return web.json_response({"status": "ok"})

    @staticmethod
    def _render(window: Any) -> str:
        if not isinstance(window, dict) or "window_id" not in window:
            return f"received {str(window)[:200]}"
        draft = window.get("draft") or {}
        return (
            f"window {window['window_id']}: {window.get('play')} for {window.get('person_key')}"
            f" at {window.get('account_key')}; send {draft.get('send_at')} via "
            f"{draft.get('channel')}: {draft.get('why_now')}"
        )

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self.handle)
        return app


def run_receiver(host: str, port: int, *, secret: bytes | None, full: bool) -> None:
    """Serve until SIGTERM/SIGINT, printing each new delivery on stdout."""

    async def main() -> None:
        receiver = Receiver(secret=secret, full=full, out=lambda line: print(line, flush=True))
        runner = web.AppRunner(receiver.app(), access_log=None)
        await runner.setup()
        await web.TCPSite(runner, host, port).start()
        print(f"webhook receiver on http://{host}:{port}/", flush=True)
        try:
            await until_terminated()
        finally:
            await runner.cleanup()

    asyncio.run(main())
