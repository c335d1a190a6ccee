"""Rebalance churn: workers join (on empty state) and leave (SIGTERM, a clean leave) every few
seconds while the history streams in, between one and four at a time, ten membership
changes at least. Every change moves partitions and their tables between workers.
"""

from __future__ import annotations

import asyncio
import random

import pytest

from tests.chaos.conftest import play
from tests.chaos.runner import Scenario

pytestmark = [pytest.mark.integration, pytest.mark.chaos]

CHANGES = 10
EVERY = (3.0, 5.0)


async def churn(s: Scenario, rng: random.Random) -> None:
    changes = 0
    joined = len(s.fleet.slots)
    while changes < CHANGES or not s.produced_done.is_set():
        await asyncio.sleep(rng.uniform(*EVERY))
        up = sorted(s.fleet.running())
        if len(up) <= 1 or (len(up) < 4 and rng.random() < 0.5):
            joined += 1
            s.fleet.start(f"w{joined}")
            s.note(f"join w{joined} ({len(up) + 1} workers)")
        else:
            victim = rng.choice(up)
            s.note(f"leave {victim} ({len(up) - 1} workers)")
            await asyncio.to_thread(s.fleet.stop, victim)
        changes += 1


def test_workers_joining_and_leaving_lose_and_invent_no_window(
    chaos_settings, history, fleet, seed, request
):
    rng = random.Random(seed)
    play(
        request,
        "rebalance-churn",
        chaos_settings,
        history,
        fleet,
        workers=2,
        rate=80,
        faults=lambda s: churn(s, rng),
    )
