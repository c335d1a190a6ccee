"""Waiting for the signal that stops a long-running command (ingest, sink, receiver)."""

from __future__ import annotations

import asyncio
import contextlib
import signal

__all__ = ["until_terminated"]


async def until_terminated() -> None:
    """Return when the process gets SIGTERM or SIGINT; the caller then cleans up."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # no signal handlers on this platform
            loop.add_signal_handler(sig, stop.set)
    await stop.wait()
