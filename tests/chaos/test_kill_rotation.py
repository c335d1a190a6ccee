"""Kill rotation: three workers, one SIGKILLed at random every few seconds while the history
streams in, each restarted once its group session has expired, alternately on its own
state directory and on an empty one; ten kills. No window may be lost or
invented; repeats must carry the same id and payload.
"""

from __future__ import annotations

import asyncio
import random
import time

import pytest

from tests.chaos.conftest import finish
from tests.chaos.runner import Scenario

pytestmark = [pytest.mark.integration, pytest.mark.chaos]

KILLS = 10
EVERY = (3.0, 5.0)  # seconds between kills (fault timing)


async def rotate(s: Scenario, rng: random.Random) -> None:
    """Kill a ready worker (never the last one ready) every few seconds; restart each one a
    session timeout after its kill, alternating its own state dir and an empty one."""
    down: dict[str, tuple[float, bool]] = {}
    kills = 0
    restart_after = s.settings.session_timeout_seconds + 1.0
    while kills < KILLS or down:
        await asyncio.sleep(rng.uniform(*EVERY))
        for name, (at, empty) in sorted(down.items()):
            if time.monotonic() - at >= restart_after:
                s.fleet.start(name, fresh_state=empty)
                del down[name]
                s.note(
                    f"restart {name} on {'an empty' if empty else 'its own'} state dir", fault=False
                )
        if kills >= KILLS:  # the rest of the history streams in on a group that settles
            continue
        ready = [n for n in sorted(s.fleet.running()) if n not in down and s.fleet.ready(n)]
        if len(ready) < 2:
            s.note(f"no kill: {len(ready)} worker(s) ready", fault=False)
            continue
        victim = rng.choice(ready)
        s.fleet.kill(victim)
        kills += 1
        down[victim] = (time.monotonic(), kills % 2 == 0)
        s.note(f"SIGKILL {victim} (kill {kills})")


def test_kill_rotation_loses_and_invents_no_window(chaos_settings, history, fleet, seed, request):
    for name in ("w1", "w2", "w3"):
        fleet.start(name)
    # A kill every 12 s or so, against rebalances of about 8 s on this broker (its joins
    # complete on the rebalance timeout), leaves a few seconds of progress between them:
    # a phase can take longer than the default 45 s to reach every keyed partition.
    scenario = Scenario(
        "kill-rotation", chaos_settings, history, fleet, rate=70, barrier_timeout=90.0
    )
    rng = random.Random(seed)
    asyncio.run(scenario.run(lambda s: rotate(s, rng)))
    problems = [] if fleet.kills >= KILLS else [f"only {fleet.kills} kills"]
    finish(scenario, request, problems)
