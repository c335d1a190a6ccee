"""Replay a failed chaos run's keyed topic offline, to tell a worker's fault from its input.

    python -m tests.chaos.replay_keyed <run dir>/topics [P:AT:START ...]

A failed scenario keeps its keyed and output topics (`Scenario.dump_topics`). This applies
each keyed partition's frames in offset order through the engine's own handlers
(`streams.effects`, one in-memory `PartitionState` per frame, the event clock of
`streams.score`), then compares the windows it opens with those the workers published:

- the same windows: the workers applied their input faithfully, and a difference from the
  verifier's expectation lies in what the keyed topic holds (its order, its entries);
- different ones: a worker's state or clock diverged from its input (a state bug).

Person-level suppressions are applied at once, in one process, as one worker would.
"""

from __future__ import annotations

import base64
import json
import sys
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from rules.rulebook.loader import load_rulebook
from streams.effects import FrameWork, Handlers
from streams.frames import ACTIVITY, ARRIVAL, CONTACT, DEPARTURE, SIGNAL, TICK, decode_frame
from streams.partition import TABLES, PartitionState
from streams.settings import Settings
from streams.store import Memo
from streams.suppressions import Suppressions
from streams.topics import Topics
from tests.streams.test_partition import DictStore


def _rows(path: Path) -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in path.read_text().splitlines() if line]
    for row in rows:
        row["key"] = base64.b64decode(row["key"])
        row["value"] = None if row["value"] is None else base64.b64decode(row["value"])
    return rows


def replay(
    directory: Path, settings: Settings, rewinds: dict[int, list[tuple[int, int]]] | None = None
) -> dict[str, tuple[int, bytes]]:
    """Window id -> (keyed partition, encoded window) the keyed topic opens offline;
    `rewinds` (partition -> [(at, start)]) re-applies offsets [start, at) before `at`, as a
    worker does after a seek back."""
    rewinds = rewinds or {}
    topics = Topics.from_settings(settings)
    supp = Suppressions(topic="s", salt="", client_kwargs={}, health=_NoHealth())
    handlers = Handlers(
        topics=topics,
        rulebook=load_rulebook(settings.rulebook),
        partitions=settings.partitions,
        max_bytes=settings.max_message_bytes,
        publish_suppression=supp.publish,
    )
    stores = {name: DictStore(name) for name in TABLES}
    frames = sorted(_rows(directory / f"{topics.keyed}.jsonl"), key=lambda r: r["offset"])
    by_partition: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in frames:
        by_partition[row["partition"]].append(row)
    windows: dict[str, tuple[int, bytes]] = {}
    # One partition after another: they share only person-level suppressions, which apply
    # at once here. Offsets are list indices: the topic was read from offset 0.
    clocks: dict[int, datetime] = {}
    for p, rows in sorted(by_partition.items()):
        for at, start in rewinds.get(p, ()):  # a seek back: rows [start, at) once more
            rows = rows[:at] + rows[start:at] + rows[at:]
        for row in rows:
            state = PartitionState(p, stores, Memo(0), supp.get)

            def now(at: datetime | None, p: int = p) -> datetime:
                """`streams.score`'s event clock: the partition's newest event time."""
                if at is not None and (p not in clocks or at > clocks[p]):
                    clocks[p] = at
                return clocks.get(p) or datetime.now(UTC)

            work = FrameWork(state, now)
            for entry in decode_frame(row["value"]):
                try:
                    _dispatch(handlers, entry, work)
                except Exception as exc:
                    print(f"p{p}@{row['offset']}: {type(exc).__name__}")
            for out in work.outputs:
                if out.topic == topics.windows_opened and out.value is not None:
                    wid = orjson.loads(out.value)["window_id"]
                    windows.setdefault(wid, (p, out.value))
            state.changelog()
            state.commit_local({})
    return windows


def _dispatch(handlers: Handlers, entry: Any, work: FrameWork) -> None:
    """The score agent's dispatch, less erasure (no chaos scenario erases)."""
    table = {
        SIGNAL: handlers.signal,
        ARRIVAL: handlers.arrival,
        DEPARTURE: handlers.departure,
        ACTIVITY: handlers.activity,
        CONTACT: handlers.contact,
        TICK: handlers.tick,
    }
    handler = table.get(entry.kind)
    if handler is not None:
        handler(entry, work)


class _NoHealth:
    def block(self, *_a: Any) -> None: ...

    def unblock(self, *_a: Any) -> None: ...


def compare(
    directory: Path, settings: Settings, rewinds: dict[int, list[tuple[int, int]]] | None = None
) -> list[str]:
    """The offline replay of `directory`'s keyed topic against the windows published."""
    topics = Topics.from_settings(settings)
    offline = replay(directory, settings, rewinds)
    delivered: dict[str, bytes] = {}
    for row in _rows(directory / f"{topics.windows_opened}.jsonl"):
        if row["value"] is not None:
            delivered.setdefault(orjson.loads(row["value"])["window_id"], row["value"])
    only_offline = sorted(set(offline) - set(delivered))
    only_delivered = sorted(set(delivered) - set(offline))
    unlike = sorted(w for w in set(offline) & set(delivered) if offline[w][1] != delivered[w])
    lines = [
        f"replay of the keyed topic: {len(offline)} windows, published {len(delivered)}: "
        f"only in the replay {len(only_offline)}, only published {len(only_delivered)}, "
        f"unlike {len(unlike)} (none of each: the workers applied their input faithfully)"
    ]
    lines += [f"  only in the replay: {w} (keyed partition {offline[w][0]})" for w in only_offline]
    lines += [f"  only published: {w}" for w in only_delivered]
    lines += [f"  unlike: {w} (keyed partition {offline[w][0]})" for w in unlike]
    return lines


def main() -> None:
    directory = Path(sys.argv[1])
    prefix = next(directory.glob("*.jsonl")).name.split(".", 1)[0]
    names = {
        name: f"{prefix}.{field.default}"
        for name, field in Settings.model_fields.items()
        if name.startswith("topic_")
    }
    rewinds: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for spec in sys.argv[2:]:  # P:AT:START
        p, at, start = (int(x) for x in spec.split(":"))
        rewinds[p].append((at, start))
    settings = Settings(partitions=6, clock="event", **names)  # as tests/chaos/conftest.py
    print("\n".join(compare(directory, settings, rewinds)))


if __name__ == "__main__":
    main()
