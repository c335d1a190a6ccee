"""Broker outage: the broker process is SIGSTOPped for 20 seconds mid-stream, then SIGCONTed,
while two workers run and the producer keeps sending (its sends wait for the broker).

A broker *restart* cannot be tested here: the bundled broker keeps everything in memory
(a restart loses every topic) and its build answers FeatureNotEnabled for the PostgreSQL
storage engine. A pause is the outage it can survive: connections stay open, requests
and heartbeats time out, sessions expire, and everything must resume afterwards.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal

import pytest

from tests.chaos.conftest import play
from tests.chaos.runner import Scenario

pytestmark = [pytest.mark.integration, pytest.mark.chaos]

PAUSE_SECONDS = 20.0


async def pause_broker(s: Scenario, pid: int, rng: random.Random) -> None:
    await asyncio.sleep(rng.uniform(8.0, 12.0))
    os.kill(pid, signal.SIGSTOP)
    s.note(f"SIGSTOP broker for {PAUSE_SECONDS:.0f}s")
    try:
        await asyncio.sleep(PAUSE_SECONDS)
    finally:
        os.kill(pid, signal.SIGCONT)
    s.note("SIGCONT broker", fault=False)


def test_a_paused_broker_loses_and_invents_no_window(
    chaos_broker, chaos_settings, history, fleet, seed, request
):
    rng, pid = random.Random(seed), chaos_broker.process.pid
    play(
        request,
        "broker-pause",
        chaos_settings,
        history,
        fleet,
        workers=2,
        rate=90,
        faults=lambda s: pause_broker(s, pid, rng),
    )
