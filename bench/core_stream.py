"""The pure core's cost per signal over a realistic mixed stream (a benchmark, not a test).

    .venv/bin/python bench/core_stream.py [--events 20000] [--repeat 5] [--profile]

The same signals `bench/pipeline.py` sends (`signals.sample.generate`: about 80% email
opens, 18% page visits, a few job changes and funding rounds, a few re-sends; many people
at 40 accounts over three weeks), validated once up front, then replayed in order through
`rules.offline.replay.Replay` (the score agent's decision path with dicts for tables) with
a warm fit memo, as a running worker has it, and `now` at the end of the data.

Prints the median and the least over `--repeat` rounds of the µs per signal spent in
`rules.core.engine.apply_signal` (the figure to compare; on a busy machine compare the
least) and of the CPU µs per signal of the whole replay step, and a
digest of every outcome (windows with their ids and payloads, suppressions, stored states):
two checkouts that decide alike print the same digest. `--profile` runs one more round
under cProfile and prints its top. The last line is for tools:

    core stream: N signals, A us/signal in apply_signal, R us/signal replayed, digest D
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import math
import pstats
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

import rules.offline.replay as replay_module
from rules.core.engine import Outcome
from rules.core.fitcache import FitCache
from rules.core.state import encode_state
from rules.offline.replay import Replay
from rules.rulebook.loader import load_rulebook
from rules.rulebook.model import Rulebook
from signals.models import Signal
from signals.records import SignalRec, record_of
from signals.sample import generate
from streams.settings import DEFAULT_RULEBOOK

END = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
_SIGNAL: TypeAdapter[Any] = TypeAdapter(Signal)


def stream(n: int) -> list[SignalRec]:
    """`n` signals as `bench/pipeline.py` makes them (40 accounts, 21 days)."""
    out: list[SignalRec] = []
    seed = 1
    while len(out) < n:
        people = max(50, math.ceil((n - len(out)) / 5.0))
        for _kind, value in generate(seed, people=people, accounts=40, days=21, end=END):
            out.append(record_of(_SIGNAL.validate_json(value)))
        seed += 1
    return out[:n]


def _digest_outcome(h: Any, outcome: Outcome) -> None:
    h.update(outcome.verdict.encode())
    if outcome.account is not None:
        h.update(encode_state(outcome.account))
    for pk in sorted(outcome.prospects):
        h.update(pk.encode())
        h.update(encode_state(outcome.prospects[pk]))
    for w in outcome.windows:
        h.update(w.model_dump_json().encode())
    for s in outcome.suppressed:
        h.update(f"{s.person_key}|{s.reason}".encode())
    h.update(repr((outcome.rule, outcome.spills)).encode())


def round_once(
    rulebook: Rulebook, signals: list[SignalRec], fits: FitCache, digest: bool = False
) -> tuple[float, float, str]:
    """(µs/signal in apply_signal, CPU µs/signal replayed, digest or "")."""
    spent = 0.0
    inner = replay_module.apply_signal
    h = hashlib.blake2b(digest_size=12)

    def timed(*args: Any, **kwargs: Any) -> Outcome:
        nonlocal spent
        started = time.perf_counter()
        out = inner(*args, **kwargs)
        spent += time.perf_counter() - started
        if digest:
            _digest_outcome(h, out)
        return out

    replay_module.apply_signal = timed  # type: ignore[assignment]
    try:
        state = Replay(rulebook, fits=fits)
        started = time.process_time()  # CPU time: the machine is shared
        for rec in signals:
            state.apply(rec, END)
        total = time.process_time() - started
    finally:
        replay_module.apply_signal = inner  # type: ignore[assignment]
    n = len(signals)
    return spent / n * 1e6, total / n * 1e6, h.hexdigest() if digest else ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rulebook", type=Path, default=DEFAULT_RULEBOOK)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--profile-lines", type=int, default=40)
    args = parser.parse_args(argv)
    rulebook = load_rulebook(args.rulebook)
    signals = stream(args.events)
    fits = FitCache()
    _, _, digest = round_once(rulebook, signals, fits, digest=True)  # also warms the memo
    cores, totals = [], []
    for _ in range(args.repeat):
        core, total, _ = round_once(rulebook, signals, fits)
        cores.append(core)
        totals.append(total)
    core_us, total_us = statistics.median(cores), statistics.median(totals)
    print(
        f"[core stream] rulebook {rulebook.version}, {len(signals)} signals, median of "
        f"{args.repeat}: apply_signal {core_us:.1f} us/signal (min {min(cores):.1f}), "
        f"replayed {total_us:.1f} CPU us/signal (min {min(totals):.1f})"
    )
    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
        round_once(rulebook, signals, fits)
        profiler.disable()
        stats = pstats.Stats(profiler).sort_stats("cumulative")
        stats.print_stats(args.profile_lines)
        stats.sort_stats("tottime").print_stats(args.profile_lines)
    print(
        f"core stream: {len(signals)} signals, {core_us:.1f} us/signal in apply_signal, "
        f"{total_us:.1f} us/signal replayed, digest {digest}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
