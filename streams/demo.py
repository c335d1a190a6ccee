"""`followup demo`: the whole product on a bundled sample, bounded to about a minute.

Starts the embedded broker (or uses FOLLOWUP_BROKER_URL when it is set), a worker process
with fresh state, replays a seeded sample of signals (plus a few malformed records and
redeliveries), prints each follow-up window as it opens, then a summary.
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
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson

from signals.models import SignalType
from signals.sample import bad_records, generate
from streams.broker import EmbeddedBroker, free_port
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
    topics = Topics.from_settings(settings)
    worker: WorkerProcess | None = None
    try:
        _say(f"followup demo · seed {seed} · {people} people at {accounts} accounts · {days} days")
        where = "embedded, memory only" if own_broker else "from FOLLOWUP_BROKER_URL"
        _say(f"  broker     {settings.broker_url} ({where})")
        asyncio.run(prepare_topics(settings))
        worker = WorkerProcess.start(settings, state_dir / "worker.log")
        _say(
            f"  worker     pid {worker.process.pid} · metrics "
            f"http://{settings.web_host}:{settings.web_port}/metrics · log {worker.log_path}"
        )
        records = _records(topics, seed, people, accounts, days)
        code = asyncio.run(_replay(settings, topics, worker, records, timeout, started))
        return code
    except KeyboardInterrupt:
        _say("\ninterrupted")
        return 130
    finally:
        if worker is not None:
            worker.stop()
        if broker is not None:
            broker.stop()
        with contextlib.suppress(OSError):
            shutil.rmtree(state_dir)


async def _replay(
    settings: Settings,
    topics: Topics,
    worker: WorkerProcess,
    records: list[Record],
    timeout: float,
    started: float,
) -> int:
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
            return 1
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
    _summary(records, windows, dead, redelivered, time.monotonic() - produced_at, started)
    if ok:
        await _live(settings, topics)
    return 0 if ok else 1


_LIVE_ACCOUNT = {
    "domain": "live-demo.example",
    "name": "Live Demo Inc",
    "industry": "software",
    "employees": 450,
    "country": "US",
    "technologies": ["kafka"],
}
_LIVE_PERSON = {
    "email": "alex@live-demo.example",
    "name": "Alex Live",
    "title": "VP Data",
    "seniority": "vp",
    "department": "data",
    "timezone": "America/Chicago",
}


async def _live(settings: Settings, topics: Topics) -> None:
    """The point of the product: a prospect visits pricing now; how soon is the window open?"""
    _say("")
    _say("live: Alex (VP Data at Live Demo Inc) opens the pricing page twice, right now")
    now = datetime.now(UTC)
    records = [
        Record(
            topics.for_signal(SignalType.PAGE_VISITED),
            orjson.dumps(
                {
                    "event_id": f"live-{now.timestamp():.0f}-{n}",
                    "occurred_at": (now + timedelta(seconds=n)).isoformat(),
                    "source": "demo-live",
                    "person": _LIVE_PERSON,
                    "account": _LIVE_ACCOUNT,
                    "properties": {"path": "/pricing", "title": "Pricing"},
                }
            ),
            key=b"live-demo.example",
        )
        for n in range(2)
    ]
    arrived: list[float] = []

    def seen(message: Any) -> None:
        if b"alex@live-demo.example" in message.value and not arrived:
            arrived.append(time.monotonic())

    reader = asyncio.create_task(
        read_topic(
            settings,
            topics.windows_opened,
            until=lambda _: bool(arrived),
            timeout=20,
            on_record=seen,
        )
    )
    await asyncio.sleep(1.5)  # the reader is assigned and has read the backlog
    sent = time.monotonic()
    await produce(settings, records)
    found = await reader
    if arrived:
        window = next(orjson.loads(m.value) for m in found if b"alex@live-" in m.value)
        _say(_describe(window))
        _say(f"  window opened {arrived[0] - sent:.2f}s after the signals were sent")
    else:
        _say("  no window within 15 s (see the worker log)")


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
    windows: list[dict[str, Any]],
    dead: Counter[str],
    redelivered: int,
    processing_seconds: float,
    started: float,
) -> None:
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
    if redelivered:
        _say(f"  redelivered windows   {redelivered} (same window_id; consumers dedup)")
    if windows:
        points = [w["score"]["total"] for w in windows]
        _say(f"  median window score   {statistics.median(points):.0f}")
    _say(f"  processing            {processing_seconds:.1f}s from first signal to caught up")
    _say(f"  total                 {time.monotonic() - started:.1f}s")
