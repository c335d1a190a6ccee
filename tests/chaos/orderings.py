"""The orders in which the engine may apply a history, for the history's self-check.

`engine_order_windows` replays a chaos history through the pure core the way workers may
see it, rather than in produce order (as `streams.verifier.expect` does):

- the ingest agent reads its input partitions in any interleaving, keeping each
  partition's order, and forwards each record to its keyed partition; a job change goes
  to its old account's partition first;
- the score agent's partitions advance independently, in any interleaving; a job change
  processed at its old account is appended to the new account's partition then;
- a rebalance can come anywhere: the worker's per-partition event clocks start over;
- a barrier only holds the next phase back until its markers were scored.

If the windows differ from `expect`'s for some order, the history's expected windows
depend on timing and a chaos scenario could fail (or pass) by luck.
"""

from __future__ import annotations

import random
from collections import defaultdict, deque
from datetime import UTC, datetime
from typing import Any

from rules.offline.replay import Replay
from rules.rulebook.loader import load_rulebook
from signals.codec import Rejected, encode
from signals.contacts import CrmContact
from signals.identity import account_key, partition_key, signal_account_key
from signals.models import JobChanged
from streams.settings import Settings
from streams.topics import Topics
from streams.verifier import decode_as_ingest, keyed_partition
from tests.chaos.history import Barrier, History

__all__ = ["engine_order_windows"]


def engine_order_windows(
    settings: Settings, history: History, rng: random.Random, *, resets: float = 0.01
) -> dict[str, bytes]:
    """Window id -> encoded window, replaying `history` in one order the engine may use;
    `resets` is the chance, per record scored, that a rebalance clears the clocks."""
    topics = Topics.from_settings(settings)
    core = Replay(load_rulebook(settings.rulebook))
    clock: dict[int, datetime] = {}
    keyed: dict[int, deque[tuple[str, Any]]] = defaultdict(deque)
    n = settings.partitions
    wall = datetime.now(UTC)

    def now(p: int, at: datetime) -> datetime:
        if p not in clock or at > clock[p]:
            clock[p] = at
        return clock[p]

    def score_one(p: int) -> str | None:
        """Score the head of keyed partition `p`; return its event id."""
        route, item = keyed[p].popleft()
        if rng.random() < resets:
            clock.clear()
        if isinstance(item, CrmContact):
            core.apply_contact(item)
            return item.event_id
        if route == "departure":  # read at the old account, then on to the new one
            keyed[keyed_partition(partition_key(item.account, item.person), n)].append(
                ("arrival", item)
            )
            return None
        if route == "activity":
            core.apply_activity(item, now(p, item.occurred_at))
        else:
            core.apply(item, now(p, item.occurred_at))
        return str(item.event_id)

    phase: list[Any] = []
    for step in history.steps:
        if not isinstance(step, Barrier):
            phase.append(step)
            continue
        _ingest(phase, topics, settings, wall, keyed, rng)
        phase = []
        waiting = set(step.events)
        while waiting or (step.consumed and any(keyed.values())):
            p = rng.choice([q for q, items in keyed.items() if items])
            waiting.discard(score_one(p))  # type: ignore[arg-type]
    _ingest(phase, topics, settings, wall, keyed, rng)
    while any(keyed.values()):
        score_one(rng.choice([q for q, items in keyed.items() if items]))
    out: dict[str, bytes] = {}
    for window in core.windows:
        out.setdefault(window.window_id, encode(window))
    return out


def _partition(key: bytes | None, partitions: int) -> int:
    """The input partition Kafka's default partitioner gives a record's key."""
    from aiokafka.partitioner import murmur2

    return (murmur2(key or b"") & 0x7FFFFFFF) % partitions


def _ingest(
    records: list[Any],
    topics: Topics,
    settings: Settings,
    wall: datetime,
    keyed: dict[int, deque[tuple[str, Any]]],
    rng: random.Random,
) -> None:
    """Forward `records` to the keyed partitions, input partitions interleaved at random."""
    inputs: dict[tuple[str, int], deque[Any]] = defaultdict(deque)
    for r in records:
        inputs[(r.topic, _partition(r.key, settings.partitions))].append(r)
    while inputs:
        source = rng.choice(sorted(inputs))
        record = inputs[source].popleft()
        if not inputs[source]:
            del inputs[source]
        item = decode_as_ingest(topics, record, settings, wall)
        if isinstance(item, Rejected):
            continue
        if isinstance(item, CrmContact):
            key, route = item.account.domain, "contact"
        elif record.topic == topics.activity:
            key, route = partition_key(item.account, item.person), "activity"
        else:
            key, route = _signal_route(item)
        keyed[keyed_partition(key, settings.partitions)].append((route, item))


def _signal_route(signal: Any) -> tuple[str, str]:
    """Where the router sends a signal: a job change away from an account goes there first."""
    previous = signal.properties.previous_account if isinstance(signal, JobChanged) else None
    if previous is not None:
        old = account_key(previous.domain)
        if old != signal_account_key(signal.account, signal.person):
            return old, "departure"
    return partition_key(signal.account, signal.person), "signal"
