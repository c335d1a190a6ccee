"""Restart before the session expires: a worker is SIGKILLed and its replacement started at
once, while the dead member is still in the group, three times during the history.

The replacement starts on an empty state directory, so that this scenario is about the
group rejoin alone (restarting on the worker's own state is the kill rotation's). The
"unfetched partition" once seen after such a rejoin was faust dropping the records it
queued while finishing recovery (`streams.gaps` explains it and fills the hole); if a
partition still stops, the verifier names the lost windows by keyed partition and the
report shows which partition's committed offset stopped.
"""

from __future__ import annotations

import asyncio
import random

import pytest

from tests.chaos.conftest import play
from tests.chaos.runner import Scenario

pytestmark = [pytest.mark.integration, pytest.mark.chaos]

RESTARTS = 3
EVERY = (6.0, 10.0)


async def restart_at_once(s: Scenario, rng: random.Random) -> None:
    for n in range(1, RESTARTS + 1):
        await asyncio.sleep(rng.uniform(*EVERY))
        ready = [name for name in sorted(s.fleet.running()) if s.fleet.ready(name)]
        victim = rng.choice(ready or sorted(s.fleet.running()))
        s.fleet.kill(victim)
        s.fleet.start(victim, fresh_state=True)
        s.note(f"SIGKILL {victim} and start its replacement at once ({n})")


def test_a_replacement_started_before_the_session_expires_loses_no_window(
    chaos_settings, history, fleet, seed, request
):
    rng = random.Random(seed)
    play(
        request,
        "restart-before-session-expiry",
        chaos_settings,
        history,
        fleet,
        workers=2,
        rate=90,
        faults=lambda s: restart_at_once(s, rng),
    )
