"""`followup demo`: the whole product on a bundled sample, bounded to about a minute.

Starts the embedded broker (or uses FOLLOWUP_BROKER_URL when it is set), a worker process
with fresh state whose sink delivers to a local webhook receiver, and the HTTP ingest;
replays a seeded sample of signals (plus a few malformed records and redeliveries), prints
each follow-up window as it opens, then the live step (`streams.demo_live`: two pricing
visits POSTed to the ingest, the window at the webhook, the score API asked), then a
summary.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson

from signals.models import SignalType
from signals.sample import bad_records, generate
from streams.broker import EmbeddedBroker, free_port
from streams.demo_live import Live, LiveRig, live_step
from streams.local import (
    Record,
    WorkerProcess,
    processed_through,
    produce,
    read_topic,
    worker_stages,
)
from streams.settings import Settings
from streams.topics import Topics
from streams.worker import prepare_topics

__all__ = ["run_demo"]


def _say(text: str = "") -> None:
    print(text, flush=True)


def _progress(n: int, total: int) -> None:
    if not sys.stdout.isatty():  # logs and CI: a line per quarter, not a carriage-return bar
        if n == total or n % max(1, total // 4) < 100:
            _say(f"  producing  {n}/{total}")
        return
    width = 30
    filled = width * n // total
    end = "\n" if n == total else ""
    sys.stdout.write(f"\r  producing  [{'#' * filled}{'.' * (width - filled)}] {n}/{total}{end}")
    sys.stdout.flush()


def _describe(window: dict[str, Any]) -> str:
    person = window["person"]
    account = window.get("account") or {}
    who = person.get("name") or person.get("email") or person.get("id")
    title = f", {person['title']}" if person.get("title") else ""
    where = account.get("name") or window.get("account_key") or "no account"
    score = window["score"]
    reasons = " · ".join(f"{r['detail']} (+{r['points']:.0f})" for r in window["reasons"][:3])
    draft = window["draft"]
    local = datetime.fromisoformat(draft["send_at"]).astimezone(ZoneInfo(draft["timezone"]))
    send_at = local.strftime("%a %d %b %H:%M")
    return (
        f"  ▶ {who}{title} @ {where}\n"
        f"      play {window['play']} · score {score['total']:.0f}/{score['threshold']:.0f}"
        f" (fit {score['fit']:.0f}, tier {score.get('fit_tier') or '-'},"
        f" engagement {score['engagement']:.0f})\n"
        f"      why now: {reasons or window['draft']['why_now']}\n"
        f"      send: {draft['channel']} at {send_at} ({draft['timezone']})"
    )


def _records(topics: Topics, seed: int, people: int, accounts: int, days: int) -> list[Record]:
    end = datetime.now(UTC)
    good = generate(seed, people=people, accounts=accounts, days=days, end=end)
    bad = bad_records(seed)
    records = [Record(topics.for_signal(SignalType(kind)), value) for kind, value in good]
    # Malformed records go in among the good ones: the worker must route them and go on.
    step = max(1, len(records) // (len(bad) + 1))
    for i, (kind, value) in enumerate(bad, 1):
        records.insert(i * step, Record(topics.for_signal(SignalType(kind)), value))
    return records


def run_demo(
    settings: Settings,
    *,
    seed: int = 7,
    people: int = 300,
    accounts: int = 36,
    days: int = 21,
    timeout: float = 120.0,
) -> int:
    started = time.monotonic()
    state_dir = Path(tempfile.mkdtemp(prefix="followup-demo-"))
    own_broker = "FOLLOWUP_BROKER_URL" not in os.environ
    broker = EmbeddedBroker.start() if own_broker else None
    if broker is not None:
        settings = settings.model_copy(update={"broker_url": broker.url})
    settings = settings.model_copy(
        update={
            "state_dir": state_dir / "state",
            "web_port": free_port(),
            "log_level": "warn",
            "app_id": f"followup-demo-{seed}",
            "commit_interval_seconds": 0.5,
            # The sample is three weeks of history: replay it as it happened (the event
            # clock), or every signal older than a day would be stale against the wall.
            "clock": "event",
        }
    )
    try:
        _say(f"followup demo · seed {seed} · {people} people at {accounts} accounts · {days} days")
        where = "embedded, memory only" if own_broker else "from FOLLOWUP_BROKER_URL"
        _say(f"  broker     {settings.broker_url} ({where})")
        sample = (seed, people, accounts, days)
        return asyncio.run(_run(settings, state_dir, sample, timeout, started))
    except KeyboardInterrupt:
        _say("\ninterrupted")
        return 130
    finally:
        if broker is not None:
            broker.stop()
        with contextlib.suppress(OSError):
            shutil.rmtree(state_dir)


async def _run(
    settings: Settings,
    state_dir: Path,
    sample: tuple[int, int, int, int],
    timeout: float,
    started: float,
) -> int:
    """The worker, the local webhook receiver and the ingest around the replay."""
    rig = await LiveRig.open()  # before the worker: its sink delivers from the first window
    settings = rig.worker_settings(settings)
    topics = Topics.from_settings(settings)
    worker: WorkerProcess | None = None
    try:
        await prepare_topics(settings)
        worker = WorkerProcess.start(settings, state_dir / "worker.log")
        _say(
            f"  worker     pid {worker.process.pid} · metrics "
            f"http://{settings.web_host}:{settings.web_port}/metrics · log {worker.log_path}"
        )
        await rig.start_ingest(settings)
        assert rig.ingest is not None
        _say(f"  ingest     http://127.0.0.1:{rig.ingest.port}/v1/events (bearer token)")
        _say(f"  webhook    {rig.url} (the worker's sink signs each delivery)")
        records = _records(topics, *sample)
        replayed = await _replay(settings, topics, worker, records, timeout)
        if replayed is None:
            return 1
        live = await _live(settings, rig) if replayed.ok else None
        _summary(records, replayed, live, rig, started)
        return 0 if replayed.ok and live is not None and live.window is not None else 1
    finally:
        if worker is not None:
            worker.stop()
        await rig.close()


@dataclass
class _Replayed:
    ok: bool
    windows: list[dict[str, Any]]
    dead: Counter[str]
    redelivered: int
    seconds: float


async def _replay(
    settings: Settings,
    topics: Topics,
    worker: WorkerProcess,
    records: list[Record],
    timeout: float,
) -> _Replayed | None:
    """Produce the sample and print each window as it opens; None if the worker died."""
    windows: list[dict[str, Any]] = []
    seen: set[str] = set()
    redelivered = 0

    def on_window(message: Any) -> None:
        nonlocal redelivered
        window = orjson.loads(message.value)
        if window["window_id"] in seen:
            redelivered += 1
            return
        seen.add(window["window_id"])
        windows.append(window)
        _say(_describe(window))

    stop_reading = asyncio.Event()
    reader = asyncio.create_task(
        read_topic(
            settings,
            topics.windows_opened,
            until=lambda _: stop_reading.is_set() or not worker.alive,
            timeout=timeout,
            on_record=on_window,
        )
    )
    produced_at = time.monotonic()
    await produce(settings, records, progress=_progress)
    _say("  the worker is joining its consumer group and scoring; windows appear as they open:")
    stages = worker_stages(settings, topics)
    progress = asyncio.create_task(
        processed_through(settings, stages, timeout=timeout, interval=0.5)
    )
    ok = True
    while not progress.done():
        if not worker.alive:
            progress.cancel()
            _say("  worker exited:\n" + worker.log_tail())
            return None
        await asyncio.sleep(0.5)
    try:
        progress.result()
    except TimeoutError as exc:
        _say(f"  {exc}")
        ok = False
    await asyncio.sleep(1.0)  # let the last windows reach the reader
    stop_reading.set()
    await reader
    dead = await _count_dead_letters(settings, topics)
    return _Replayed(ok, windows, dead, redelivered, time.monotonic() - produced_at)


async def _live(settings: Settings, rig: LiveRig) -> Live:
    """The point of the product: a prospect visits pricing now; how soon is the window at
    the webhook?"""
    _say("")
    _say("live: Alex (VP Data at Live Demo Inc) opens the pricing page twice, right now")
    live = await live_step(settings, rig)
    _say(f"  POST /v1/events        {live.status}, {live.accepted} accepted")
    if live.window is None or live.seconds is None:
        _say("  no window at the webhook within 20 s (see the worker log)")
        return live
    wid = live.window["window_id"]
    for line in rig.lines:
        if wid in line:
            _say(f"  webhook receiver       {line}")
    _say(_describe(live.window))
    _say(f"  at the webhook {live.seconds:.2f}s after the POST, signature verified")
    if live.score is not None:
        _say(f"  score API              {_standing(live.score)}")
    return live


def _standing(score: dict[str, Any]) -> str:
    now = score["window_now"]
    if now["would_open"]:
        verdict = "a window would open now"
    elif now["blocked_by"] == "cooldown":
        verdict = f"no new window until {now['cooldown_until'][:16]} (cooldown)"
    else:
        verdict = f"no new window now: {now['blocked_by']}"
    opened = score["open_window"]["window_id"] if score["open_window"] else "none"
    return (
        f"total {score['total']:.0f}/{score['threshold']:.0f}, tier {score['tier']}, "
        f"open window {opened}; {verdict}"
    )


async def _count_dead_letters(settings: Settings, topics: Topics) -> Counter[str]:
    reasons: Counter[str] = Counter()
    for source in topics.inputs:
        messages = await read_topic(
            settings, topics.dead_letter(source), until=lambda _: False, timeout=1.0
        )
        for message in messages:
            headers = dict(message.headers or ())
            reasons[headers.get("followup.error.reason", b"?").decode()] += 1
    return reasons


def _summary(
    records: list[Record],
    replayed: _Replayed,
    live: Live | None,
    rig: LiveRig,
    started: float,
) -> None:
    windows, dead = replayed.windows, replayed.dead
    plays = Counter(w["play"] for w in windows)
    tiers = Counter(w["score"].get("fit_tier") or "-" for w in windows)
    accounts = {w.get("account_key") for w in windows}
    _say("")
    _say("summary")
    _say(f"  signals replayed      {len(records)}")
    _say(
        f"  dead-lettered         {sum(dead.values())}"
        + (f" ({', '.join(f'{k} {v}' for k, v in sorted(dead.items()))})" if dead else "")
    )
    _say(f"  windows opened        {len(windows)} for {len(accounts)} accounts")
    _say(f"  by play               {', '.join(f'{k} {v}' for k, v in plays.most_common())}")
    _say(f"  by fit tier           {', '.join(f'{k} {v}' for k, v in sorted(tiers.items()))}")
    if replayed.redelivered:
        _say(f"  redelivered windows   {replayed.redelivered} (same window_id; consumers dedup)")
    if windows:
        points = [w["score"]["total"] for w in windows]
        _say(f"  median window score   {statistics.median(points):.0f}")
    _say(f"  processing            {replayed.seconds:.1f}s from first signal to caught up")
    if live is not None and live.seconds is not None:
        _say(f"  live, over HTTP       window at the webhook {live.seconds:.2f}s after the POST")
    _say(
        f"  webhook deliveries    {len(rig.receiver.seen)} windows, signatures verified"
        f" ({rig.receiver.duplicates} redeliveries deduplicated; expired ones are skipped)"
    )
    _say(f"  total                 {time.monotonic() - started:.1f}s")
