"""Throughput of the pipeline worker against two baselines, side by side on one broker.

    .venv/bin/python bench/pipeline.py [--events 20000] [--partitions 4] [--repeat 1] [--profile]

One embedded broker, one set of N realistic signals (from `signals.sample.generate`) produced
to the per-type input topics before anything consumes them, then, per round:

1. plain aiokafka: one consumer, no group, all input partitions assigned, `getmany` and
   `orjson.loads` of every value. The ceiling for Python on this broker.
2. minimal Faust (`bench/minimal_faust.py`), in its own worker process: one agent, one message
   at a time, orjson, then counting in memory ("no table") or into a RocksDB table
   (`table[key] += 1`, one changelog record per message).
3. the pipeline: `followup run` (ingest -> keyed topic -> score, tables, windows) in a worker
   process with fresh state and its own app id and internal topics.

A worker is timed from the first committed offset on the input topics (the first progress
visible from outside: joining, assignment and table recovery are excluded) to the moment
each of its consumer groups has committed the true end of every topic it reads (the
pipeline has two groups: its router's on the input topics, its score agent's on the keyed
topic). End offsets are read as `streams.ends` reads them, from the last record itself:
this broker under-reports them after batched produces. Rate = input records committed
inside that interval / its length. Workers
commit every `--commit-interval` seconds (Faust's BROKER_COMMIT_INTERVAL, default 0.2 s
instead of 2.8 s) so that both ends of the interval are sharp; every Faust worker gets the
same value.

Machines are noisy: compare the ratios printed by one run, never absolute times across runs.
FOLLOWUP_* variables (FOLLOWUP_BATCH_SIZE, FOLLOWUP_BATCH_SECONDS, ...) apply to the pipeline
worker as they would to `followup run`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from signals.models import SignalType
from signals.sample import generate
from streams.broker import EmbeddedBroker, create_topics, free_port, wait_for_broker
from streams.local import Record, WorkerProcess, produce, settings_env
from streams.settings import Settings
from streams.topics import Topics

sys.path.insert(0, str(Path(__file__).resolve().parent))  # run as a script: its siblings
from latency import Latency, steady_latency
from timing import GroupWatch, Timing, plain_aiokafka, time_group

__all__ = ["main"]

BENCH_DIR = Path(__file__).resolve().parent
MINIMAL_APP = BENCH_DIR / "minimal_faust.py"
_ACCOUNTS = 40  # every company the sample generator knows
_DAYS = 21
_POLL_SECONDS = 0.05

PLAIN = "plain aiokafka consume+decode"
BARE = "minimal Faust, no table"
TABLE = "minimal Faust + RocksDB table"
PIPELINE = "pipeline, 1 worker"
PIPELINE2 = "pipeline, 2 workers"
ORDER = (PLAIN, BARE, TABLE, PIPELINE, PIPELINE2)


def say(text: str) -> None:
    print(f"[bench] {text}", flush=True)


# -- data -------------------------------------------------------------------------------------


def sample_records(n: int, topics: Topics) -> list[Record]:
    """N signals in the sample's realistic mix, each to its type's input topic.

    One `generate` call with enough people covers the usual sizes; further seeds (fresh
    `event_id`s, other people) top it up if one call falls short.
    """
    end = datetime.now(UTC)
    out: list[Record] = []
    seed = 1
    while len(out) < n:
        people = max(50, math.ceil((n - len(out)) / 5.0))  # about 5.6 signals a person
        for kind, value in generate(seed, people=people, accounts=_ACCOUNTS, days=_DAYS, end=end):
            out.append(Record(topics.for_signal(SignalType(kind)), value))
        seed += 1
    return out[:n]


# -- watching a consumer group from outside ---------------------------------------------------


# -- the three measurements -------------------------------------------------------------------


@dataclass
class Bench:
    """One broker, one temp dir, the worker processes alive; `cleanup` stops them all."""

    broker: EmbeddedBroker
    base: Settings
    root: Path
    events: int
    partitions: int
    commit_interval: float
    workers: list[WorkerProcess] = field(default_factory=list)

    @property
    def inputs(self) -> list[str]:
        return list(Topics.from_settings(self.base).inputs)

    @property
    def timeout(self) -> float:
        return 60.0 + self.events / 100

    def spawn(self, name: str, command: list[str], env: dict[str, str]) -> WorkerProcess:
        log_path = self.root / f"{name}.log"
        log = log_path.open("ab")
        process = subprocess.Popen(
            command,
            env={
                **os.environ,
                **env,
                "PYTHONUNBUFFERED": "1",
                "BROKER_COMMIT_INTERVAL": str(self.commit_interval),
            },
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=self.root,
        )
        worker = WorkerProcess(process, log_path, log)
        self.workers.append(worker)
        return worker

    def stop(self, worker: WorkerProcess) -> None:
        worker.stop(timeout=20)
        self.workers.remove(worker)

    async def minimal(self, name: str, *, table: bool) -> Timing:
        app_id = f"bench-{name}-{uuid.uuid4().hex[:8]}"
        env = {
            "BENCH_BROKER": self.broker.url,
            "BENCH_APP_ID": app_id,
            "BENCH_TOPICS": ",".join(self.inputs),
            "BENCH_PARTITIONS": str(self.partitions),
            "BENCH_DATADIR": str(self.root / app_id),
            "BENCH_TABLE": "1" if table else "0",
            "BENCH_LOG_LEVEL": self.base.log_level,
        }
        worker = self.spawn(app_id, [sys.executable, str(MINIMAL_APP)], env)
        try:
            async with GroupWatch(self.base) as watch:
                return await time_group(
                    watch,
                    worker,
                    groups={app_id: self.inputs},
                    counted=app_id,
                    expected=self.events,
                    timeout=self.timeout,
                )
        finally:
            self.stop(worker)

    def pipeline_settings(self) -> Settings:
        tag = uuid.uuid4().hex[:8]
        return self.base.model_copy(
            update={
                "app_id": f"bench-pipeline-{tag}",
                "state_dir": self.root / f"pipeline-{tag}",
                "web_port": free_port(),
                "topic_keyed": f"bench-{tag}.signals-by-account",
                "topic_windows_opened": f"bench-{tag}.windows-opened",
            }
        )

    async def pipeline(
        self, *, workers: int = 1, profile_out: Path | None = None
    ) -> tuple[Timing, int]:
        """One run of `followup run` in `workers` processes of one group (each its own
        state dir and web port); returns the timing and the windows opened."""
        settings = self.pipeline_settings()
        topics = Topics.from_settings(settings)
        await create_topics(settings, topics.all_created, partitions=self.partitions)
        command = [sys.executable, "-m", "streams.cli", "run"]
        if profile_out is not None:
            command = _profiled(command, profile_out)
        spawned = []
        for n in range(workers):
            own = settings.model_copy(
                update={"state_dir": settings.state_dir / f"w{n}", "web_port": free_port()}
            )
            spawned.append(self.spawn(f"{settings.app_id}-w{n}", command, settings_env(own)))
        worker = spawned[0]
        try:
            async with GroupWatch(settings) as watch:
                router = f"{settings.app_id}-router"
                timing = await time_group(
                    watch,
                    worker,
                    groups={router: self.inputs, settings.app_id: [topics.keyed]},
                    counted=router,
                    expected=self.events,
                    whole=True,
                    timeout=self.timeout * (3 if profile_out else 1),
                    cpu_of=spawned,
                )
                windows = await _windows_opened(watch, topics.windows_opened)
            for other in spawned[1:]:
                if not other.alive:
                    raise RuntimeError(f"worker exited early:\n{other.log_tail()}")
            return timing, windows
        finally:
            for each in spawned:
                self.stop(each)

    def cleanup(self) -> None:
        for worker in list(self.workers):
            with contextlib.suppress(Exception):
                worker.stop(timeout=10)
        self.workers.clear()


async def _windows_opened(watch: GroupWatch, topic: str) -> int:
    """Records on the windows topic. Read a few times: one read has returned 0 right after
    the run on the embedded broker."""
    tps = await watch.partitions([topic])
    seen = 0
    for _ in range(3):
        seen = max(seen, sum((await watch.ends(tps)).values()))
        await asyncio.sleep(0.2)
    return seen


# -- profiling --------------------------------------------------------------------------------


def _profiler() -> str | None:
    try:
        import pyinstrument  # noqa: F401

        return "pyinstrument"
    except ImportError:
        return "py-spy" if shutil.which("py-spy") else None


def _profiled(command: list[str], out: Path) -> list[str]:
    if _profiler() == "pyinstrument":
        # pyinstrument -m module args: writes its text report when the worker exits.
        return [
            sys.executable,
            "-m",
            "pyinstrument",
            "--renderer",
            "text",
            "--outfile",
            str(out),
            *command[1:],
        ]
    return ["py-spy", "record", "--format", "raw", "--output", str(out), "--", *command]


def print_profile(out: Path, lines: int) -> None:
    if not out.exists():
        say(f"no profile written ({out})")
        return
    text = out.read_text(errors="replace")
    if _profiler() == "pyinstrument":
        print("\n".join(text.splitlines()[:lines]))
        return
    # py-spy raw output: "frame;frame;frame count" collapsed stacks. Show self and total time.
    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    samples = 0
    for row in text.splitlines():
        stack, _, raw_count = row.rpartition(" ")
        if not stack or not raw_count.isdigit():
            continue
        frames = stack.split(";")
        n = int(raw_count)
        samples += n
        own[frames[-1]] += n
        for frame in set(frames):
            total[frame] += n
    for title, tally in (("self", own), ("total", total)):
        print(f"  top by {title} time ({samples} samples)")
        for frame, hits in tally.most_common(lines // 2):
            print(f"  {100 * hits / max(1, samples):5.1f}%  {frame}")


# -- the run ----------------------------------------------------------------------------------


def render(
    results: dict[str, list[float]],
    windows: int,
    repeat: int,
    latency: Latency | None = None,
    cpu: dict[str, list[float]] | None = None,
) -> str:
    median = {name: statistics.median(rates) for name, rates in results.items() if rates}
    cpu_median = {name: statistics.median(v) for name, v in (cpu or {}).items() if v}
    pipe = median.get(PIPELINE, float("nan"))
    label = "events/s" if repeat == 1 else f"events/s (median of {repeat})"
    rows = [f"{'measurement':<32} {label:>26} {'pipeline / this':>16} {'CPU us/event':>13}"]
    for name in ORDER:
        if name in median:
            rate = median[name]
            used = cpu_median.get(name, float("nan"))
            rows.append(f"{name:<32} {rate:>26,.0f} {pipe / rate:>15.2f}x {used:>13.0f}")
    rows.append(f"windows opened by the pipeline (last run) = {windows}")
    table = median.get(TABLE)
    plain = median.get(PLAIN)
    if plain:
        rows.append(f"pipeline / plain aiokafka     = {pipe / plain:.3f}x")
    if table:
        verdict = "MET" if pipe / table >= 5 else "MISSED"
        rows.append(
            f"pipeline / minimal-with-table = {pipe / table:.2f}x (target >= 5x: {verdict})"
        )
    bare = median.get(BARE)
    if bare:
        verdict = "MET" if pipe / bare >= 1.5 else "MISSED"
        rows.append(f"pipeline / minimal-no-table = {pipe / bare:.2f}x (target >= 1.5x: {verdict})")
    two = median.get(PIPELINE2)
    if two:
        verdict = "MET" if two / pipe >= 1.4 else "MISSED"
        rows.append(
            f"pipeline 2 workers / 1 worker = {two / pipe:.2f}x (target >= 1.4x: {verdict})"
        )
        one_cpu, two_cpu = cpu_median.get(PIPELINE), cpu_median.get(PIPELINE2)
        if one_cpu and two_cpu and not math.isnan(one_cpu + two_cpu):
            verdict = "MET" if two_cpu / one_cpu <= 1.15 else "MISSED"
            rows.append(
                f"worker CPU per event, 2 workers / 1 worker = {two_cpu / one_cpu:.2f}x "
                f"(target <= 1.15x: {verdict})"
            )
    if latency is not None:
        rows.append(latency.line())
    return "\n".join(rows)


async def run(args: argparse.Namespace, bench: Bench) -> None:
    await wait_for_broker(bench.base)
    topics = Topics.from_settings(bench.base)
    await create_topics(bench.base, topics.all_created, partitions=bench.partitions)
    started = time.perf_counter()
    records = sample_records(args.events, topics)
    mix = Counter(topics.inputs[r.topic].value for r in records)
    say(f"generated {len(records)} signals ({', '.join(f'{k} {v}' for k, v in mix.items())})")
    await produce(bench.base, records)
    say(f"produced to {len(topics.inputs)} input topics in {time.perf_counter() - started:.1f}s")

    results: dict[str, list[float]] = defaultdict(list)
    cpu: dict[str, list[float]] = defaultdict(list)  # CPU us per event, per measurement
    windows = 0
    for round_ in range(1, args.repeat + 1):
        tag = f"#{round_}/{args.repeat}"

        timing = await plain_aiokafka(bench.base, bench.inputs, args.events, bench.timeout)
        results[PLAIN].append(timing.rate)
        cpu[PLAIN].append(timing.cpu_us_per_event)
        say(
            f"{PLAIN:<32} {tag}  {timing.rate:>9,.0f} ev/s  ({timing.seconds:.2f}s, "
            f"CPU {timing.cpu_us_per_event:.0f} us/event)"
        )

        for name, table in ((BARE, False), (TABLE, True)):
            if name == BARE and args.skip_bare:
                continue
            timing = await bench.minimal("table" if table else "bare", table=table)
            results[name].append(timing.rate)
            cpu[name].append(timing.cpu_us_per_event)
            say(
                f"{name:<32} {tag}  {timing.rate:>9,.0f} ev/s  ({timing.events} in "
                f"{timing.seconds:.2f}s, startup {timing.startup:.1f}s, "
                f"CPU {timing.cpu_us_per_event:.0f} us/event)"
            )

        timing, windows = await bench.pipeline()
        results[PIPELINE].append(timing.rate)
        cpu[PIPELINE].append(timing.cpu_us_per_event)
        say(
            f"{PIPELINE:<32} {tag}  {timing.rate:>9,.0f} ev/s  ({timing.events} in "
            f"{timing.seconds:.2f}s, startup {timing.startup:.1f}s, {windows} windows, "
            f"CPU {timing.cpu_us_per_event:.0f} us/event)"
        )

    if not args.skip_scaling:
        timing, _ = await bench.pipeline(workers=2)
        results[PIPELINE2].append(timing.rate)
        cpu[PIPELINE2].append(timing.cpu_us_per_event)
        say(
            f"{PIPELINE2:<32}        {timing.rate:>9,.0f} ev/s  ({timing.events} in "
            f"{timing.seconds:.2f}s, startup {timing.startup:.1f}s, "
            f"CPU {timing.cpu_us_per_event:.0f} us/event, both workers)"
        )
        say(f"latency: one worker, {args.rate:.0f} signals/s for {args.seconds:.0f} s")
        latency = await steady_latency(
            bench.pipeline_settings(),
            lambda s: bench.spawn(
                s.app_id, [sys.executable, "-m", "streams.cli", "run"], settings_env(s)
            ),
            rate=args.rate,
            seconds=args.seconds,
            say=say,
        )
        say(
            f"latency: {latency.windows} windows, p50 {latency.p50_ms:.0f} ms, "
            f"p95 {latency.p95_ms:.0f} ms, p99 {latency.p99_ms:.0f} ms"
        )
    else:
        latency = None

    print()
    print(render(results, windows, args.repeat, latency, cpu))

    if args.profile:
        profiler = _profiler()
        if profiler is None:
            say("--profile: neither pyinstrument (pip install pyinstrument) nor py-spy found")
            return
        out = bench.root / "pipeline.profile"
        say(f"profiling one more pipeline run under {profiler} (slower than the runs above)")
        timing, _ = await bench.pipeline(profile_out=out)
        say(f"profiled run: {timing.rate:,.0f} ev/s; the whole worker's life, startup included")
        print_profile(out, args.profile_lines)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=20_000, help="signals to produce")
    parser.add_argument("--partitions", type=int, default=4, help="partitions of every topic")
    parser.add_argument("--repeat", type=int, default=1, help="rounds; the table shows medians")
    parser.add_argument(
        "--commit-interval",
        type=float,
        default=0.2,
        help="Faust BROKER_COMMIT_INTERVAL for every worker (sharpens the timing)",
    )
    parser.add_argument(
        "--skip-bare", action="store_true", help="skip the minimal Faust app without a table"
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="then run the pipeline once more under pyinstrument or py-spy and print the top",
    )
    parser.add_argument("--profile-lines", type=int, default=80, help="profile lines to print")
    parser.add_argument(
        "--skip-scaling", action="store_true", help="skip the 2-worker and latency runs"
    )
    parser.add_argument("--rate", type=float, default=1000.0, help="latency load, signals/s")
    parser.add_argument("--seconds", type=float, default=30.0, help="latency load duration")
    args = parser.parse_args(argv)
    if args.events < 1 or args.partitions < 1 or args.repeat < 1:
        parser.error("--events, --partitions and --repeat must be positive")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="followup-bench-"))
    broker: EmbeddedBroker | None = None
    bench: Bench | None = None
    try:
        broker = EmbeddedBroker.start()
        tag = uuid.uuid4().hex[:6]
        # FOLLOWUP_* from the environment apply; names are made unique for this run.
        base = Settings(broker_url=broker.url, partitions=args.partitions).model_copy(
            update={
                f"topic_{name}": f"bench-{tag}.{name.replace('_', '-')}"
                for name in ("email_opened", "page_visited", "job_changed", "funding_announced")
            }
        )
        bench = Bench(broker, base, root, args.events, args.partitions, args.commit_interval)
        say(
            f"broker {broker.bootstrap_servers} · {args.events} events · {args.partitions} "
            f"partitions · pipeline batch {base.batch_size}/{base.batch_seconds}s · "
            f"commit interval {args.commit_interval}s · log level {base.log_level} · "
            f"load {os.getloadavg()[0]:.2f}"
        )
        asyncio.run(run(args, bench))
        return 0
    except KeyboardInterrupt:
        say("interrupted; cleaning up")
        return 130
    finally:
        if bench is not None:
            bench.cleanup()
        if broker is not None:
            broker.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
