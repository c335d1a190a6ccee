"""The delivery verifier's Kafka half: read back windows and dead letters, and its CLI.

`collect` reads `followup.windows-opened` from the beginning until every expected window
was delivered, then goes on reading until nothing new arrives for `quiet` seconds, and
judges what it read (`streams.verifier.judge`). It never looks at end offsets or lag: the
embedded broker under-reports end offsets after batched produces. End a history with
`streams.verifier.marker_records` (one window per keyed partition) so that "every expected
window" includes a window scored after everything else, and the quiet period only has to
cover records already in flight.

Command line, against running workers (settings from `FOLLOWUP_*`):

    python -m streams.verifier_kafka HISTORY.jsonl [--produce] [--timeout 120]

HISTORY.jsonl holds one produced record per line, `{"topic": ..., "key": ..., "value":
...}` (value: a JSON object, a string, null, or `"value_b64"` for raw bytes). It prints the
verifier line and exits 1 when a window is lost, extra or conflicting, 0 otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import sys
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import orjson

from streams.dead_letter import HEADER_PREFIX
from streams.local import Record, produce, read_topic
from streams.settings import Settings
from streams.verifier import Expectation, Verdict, expect, judge

__all__ = ["collect", "dead_letters", "load_history", "main"]


async def collect(
    settings: Settings,
    expectation: Expectation,
    *,
    timeout: float,
    quiet: float = 2.0,
) -> tuple[Verdict, list[Any]]:
    """Read the windows topic until every expected window arrived and `quiet` seconds
    passed with no new record, or until `timeout`; return the verdict and the messages.

    A timeout is not an error: the verdict then names the lost windows. Raises
    `TimeoutError` only when the topic does not exist within `timeout`."""
    want = set(expectation.windows)
    seen: set[str] = set()
    last = [time.monotonic()]

    def note(message: Any) -> None:
        last[0] = time.monotonic()
        with contextlib.suppress(orjson.JSONDecodeError, KeyError, TypeError):
            seen.add(orjson.loads(message.value)["window_id"])  # judge counts the bad ones

    def done(_: list[Any]) -> bool:
        return want <= seen and time.monotonic() - last[0] >= quiet

    messages = await read_topic(
        settings, settings.topic_windows_opened, until=done, timeout=timeout, on_record=note
    )
    return judge(expectation, (m.value for m in messages)), messages


async def dead_letters(
    settings: Settings,
    topics: Iterable[str],
    *,
    expected: int,
    timeout: float,
    quiet: float = 2.0,
) -> tuple[Counter[tuple[str, str]], int]:
    """Dead letters on `topics`: distinct source records by (dead-letter topic, reason),
    and the number of records read (repeats included).

    Reads every topic until it is quiet for `quiet` seconds, again until `expected`
    distinct records were found or `timeout` passed. A dead letter is identified by the
    source topic, partition and offset its headers name, so a repeat counts once."""
    deadline = time.monotonic() + timeout
    while True:
        distinct: dict[tuple[str, ...], tuple[str, str]] = {}
        total = 0
        for name in dict.fromkeys(topics):
            for m in await _read_until_quiet(settings, name, quiet=quiet, timeout=timeout):
                total += 1
                headers = {k: v.decode(errors="replace") for k, v in m.headers or ()}
                source = tuple(
                    headers.get(f"{HEADER_PREFIX}source.{part}", "?")
                    for part in ("topic", "partition", "offset")
                )
                distinct[source] = (name, headers.get(f"{HEADER_PREFIX}error.reason", "?"))
        if len(distinct) >= expected or time.monotonic() > deadline:
            return Counter(distinct.values()), total
        await asyncio.sleep(quiet)


async def _read_until_quiet(
    settings: Settings, topic: str, *, quiet: float, timeout: float
) -> list[Any]:
    last = [time.monotonic()]

    def note(_: Any) -> None:
        last[0] = time.monotonic()

    return await read_topic(
        settings,
        topic,
        until=lambda _: time.monotonic() - last[0] >= quiet,
        timeout=timeout,
        on_record=note,
    )


def load_history(path: Path) -> list[Record]:
    """The records of a HISTORY.jsonl file (see the module docs)."""
    records = []
    for number, line in enumerate(path.read_bytes().splitlines(), 1):
        if not line.strip():
            continue
        row = orjson.loads(line)
        if not isinstance(row, dict) or not isinstance(row.get("topic"), str):
            raise ValueError(f"{path}:{number}: not a record (needs a topic)")
        if "value_b64" in row:
            value: bytes | None = base64.b64decode(row["value_b64"])
        elif row.get("value") is None:
            value = None
        elif isinstance(row["value"], str):
            value = row["value"].encode()
        else:
            value = orjson.dumps(row["value"])
        key = row.get("key")
        records.append(Record(row["topic"], value, key=key.encode() if key else None))
    return records


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m streams.verifier_kafka",
        description="Check the windows a history opened against the pure core's replay.",
    )
    parser.add_argument("history", type=Path, help="JSONL of produced records")
    parser.add_argument("--produce", action="store_true", help="produce the history first")
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--quiet", type=float, default=2.0)
    args = parser.parse_args(argv)
    settings = Settings()
    records = load_history(args.history)
    expectation = expect(settings, records)
    if args.produce:
        asyncio.run(produce(settings, records))
    verdict, _ = asyncio.run(collect(settings, expectation, timeout=args.timeout, quiet=args.quiet))
    print(verdict.line())
    for line in verdict.details(expectation):
        print(line)
    return 0 if verdict.ok else 1


if __name__ == "__main__":
    sys.exit(main())
