"""A seeded history for the chaos scenarios, built so that its expected windows are exact.

About 200 people at 30 accounts over four weeks of event time, in phases separated by
barriers the runner waits on (tests/chaos/runner.py):

    contacts   CRM contacts (champions among them), before anything else
    ---------- barrier: the workers' ingest counters saw every contact (fault-free set-up)
    history    14 days of email opens, page visits, pricing bursts, anonymous visits,
               funding rounds (fan-out) and byte-identical re-sends
    ---------- barrier: a marker window on every keyed partition (streams.verifier)
    outreach   touches on the windows the history opened, replies, meetings (post-demo
               windows), opt-outs, bounces, vacations, won and lost deals
    ---------- barrier: a post-demo marker window on every keyed partition
    second     six more days of signals, mostly for people with outreach behind them
    ---------- barrier: a marker window on every keyed partition
    moves      job changes, all at one instant after everything else
    end        two rounds of markers at that same instant, a barrier between them

Why it is exact whatever the faults (tests/chaos/test_history.py checks it by replaying
the orders the engine may see):
- all signals are on one topic, keyed by account, and in event-time order, so every keyed
  partition sees its records in produce order with a non-decreasing event time; a worker
  that restarts (and forgets its partitions' clocks) therefore reads the same "now";
- records on other topics (contacts, outreach) that concern the same people are separated
  from the signals by a barrier, so the ingest agent cannot interleave them;
- a job change detours through the old account's partition and arrives at the new one
  late. Every job change happens after all other events, is produced keyed by its *old*
  account (so it departs after everything there), moves to an account no one leaves, and
  each new account's partition receives one: its arrival reads the same clock and state
  whenever it lands. The barrier before them matters: an arrival moves its partition's
  event clock to the job change's time, so it must not land before that partition's own
  signals (its old account is on another input partition, which the router may read
  ahead of this one);
- outreach concerns only people known under one account who never move, since person-level
  suppressions (opt-outs following a person to other accounts) are not the engine's yet.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from signals.identity import partition_key, person_key
from signals.models import Account, Person
from signals.sample_data import (
    ICP_COMPANIES,
    OTHER_COMPANIES,
    TITLES,
    Company,
)
from streams.local import Record
from streams.settings import Settings
from streams.verifier import expect, keyed_partition, marker_records
from tests.chaos.events import Employee, first_wave, hire, second_wave

__all__ = ["START", "Barrier", "History", "build_history"]

# Fixed dates: the expected windows do not depend on the day the tier runs.
START = datetime(2025, 10, 6, tzinfo=UTC)  # a Monday
_HISTORY_DAYS = 14
_OUTREACH_DAYS = 2
_SECOND_DAYS = 6
_MOVERS = 6


@dataclass(frozen=True, slots=True)
class Barrier:
    """Wait before producing more: every window triggered by `events` delivered, and
    every input topic's ingest counter at least `consumed` (summed over live workers)."""

    name: str
    events: frozenset[str] = frozenset()
    consumed: Mapping[str, int] = field(default_factory=dict)


Step = Record | Barrier


@dataclass(frozen=True, slots=True)
class History:
    seed: int
    steps: tuple[Step, ...]
    people: int
    accounts: int
    counts: Mapping[str, int]  # signals, activities, contacts, job_changes, fundings, ...

    @property
    def records(self) -> list[Record]:
        return [s for s in self.steps if isinstance(s, Record)]

    def summary(self) -> str:
        parts = ", ".join(f"{k} {v}" for k, v in self.counts.items())
        return f"history seed {self.seed}: {self.people} people, {self.accounts} accounts, {parts}"


class _Builder:
    def __init__(self, settings: Settings, seed: int) -> None:
        self.settings = settings
        self.rng = random.Random(seed)
        self.seed = seed
        self.steps: list[Step] = []
        self.counts: dict[str, int] = dict.fromkeys(
            ("signals", "activities", "contacts", "job_changes", "fundings", "re-sends"), 0
        )
        self.n = 0

    def event_id(self, phase: str) -> str:
        self.n += 1
        return f"chaos-{self.seed}-{phase}{self.n}"

    def signals(self, events: list[tuple[datetime, dict[str, Any]]], phase: str) -> None:
        """Event-time order, one topic, keyed by account; a few byte-identical re-sends."""
        events.sort(key=lambda e: e[0])
        resend = set(self.rng.sample(range(len(events)), min(6, len(events))))
        for i, (at, body) in enumerate(events):
            body = {"event_id": self.event_id(phase), "occurred_at": at.isoformat(), **body}
            record = _keyed(self.settings.topic_page_visited, body)
            self.steps.append(record)
            self.counts["signals"] += 1
            if body["type"] == "funding_announced":
                self.counts["fundings"] += 1
            if i in resend:
                self.steps.append(record)
                self.counts["re-sends"] += 1

    def barrier(self, name: str, at: datetime, *, activity: bool = False) -> None:
        markers = marker_records(self.settings, f"{self.seed}-{name}", at, activity=activity)
        self.steps += markers
        events = frozenset(orjson.loads(m.value or b"{}")["event_id"] for m in markers)
        self.steps.append(Barrier(name, events=events))


def build_history(settings: Settings, seed: int, *, people: int = 200) -> History:
    """The seeded history; deterministic for one seed and partition count."""
    b = _Builder(settings, seed)
    rng = b.rng
    companies = rng.sample(ICP_COMPANIES, 20) + rng.sample(OTHER_COMPANIES, 10)
    staff = hire(rng, companies, people)
    movers = _pick_movers(rng, staff, companies, settings.partitions)
    moving = {id(p) for p, _ in movers}

    # -- contacts ---------------------------------------------------------------------
    others = [p for p in staff if not p.personal and id(p) not in moving]
    known = [p for p, _ in movers[:3]] + rng.sample(others, 20)
    for i, p in enumerate(known):
        roles = ["champion"] if i < 3 else rng.choice([["champion"], ["customer_contact"], []])
        body = {
            "type": "crm_contact",
            "event_id": b.event_id("crm"),
            "occurred_at": (START - timedelta(days=30)).isoformat(),
            "source": "crm",
            "person": p.payload(),
            "account": p.company.payload(),
            "roles": roles,
        }
        key = person_key(Person.model_validate(body["person"])).encode()
        b.steps.append(Record(settings.topic_crm_contacts, orjson.dumps(body), key=key))
    b.counts["contacts"] = len(known)
    b.steps.append(Barrier("contacts", consumed={settings.topic_crm_contacts: len(known)}))

    # -- history ----------------------------------------------------------------------
    end = START + timedelta(days=_HISTORY_DAYS)
    b.signals(first_wave(rng, staff, companies, START, end), "h")
    b.barrier("history", end + timedelta(hours=1))

    # -- outreach on the windows the history opened -------------------------------------
    opened = expect(settings, _records(b.steps))
    after = end + timedelta(hours=2)
    simple = {person_key(Person.model_validate(p.payload())): p for p in staff}
    simple = {k: p for k, p in simple.items() if not p.personal and id(p) not in moving}
    touched = _outreach(b, opened.windows.values(), simple, after)
    outreach_end = after + timedelta(days=_OUTREACH_DAYS)
    b.barrier("outreach", outreach_end, activity=True)

    # -- second wave: mostly people with outreach behind them ----------------------------
    second_end = outreach_end + timedelta(days=_SECOND_DAYS)
    again = _unique(touched + rng.sample([p for p in staff if id(p) not in moving], 60))
    b.signals(second_wave(rng, again, companies, outreach_end, second_end), "s")
    # A job change reaches its old account's partition from another input partition than
    # that account's signals: without this barrier a router that lags on one input
    # partition lets a job change (dated after every signal) overtake them there, and the
    # partition's event clock judges them from the job change's time (seen in the kill
    # rotation: windows opened later or not at all).
    b.barrier("second", second_end + timedelta(minutes=30))

    # -- job changes at one instant, then the end markers at the same instant -----------
    moved_at = second_end + timedelta(hours=1)
    for p, target in movers:
        _move(b, p, target, moved_at)
    b.barrier("end-1", moved_at)
    b.steps += marker_records(settings, f"{seed}-end-2", moved_at)
    return History(seed, tuple(b.steps), len(staff), len(companies), dict(b.counts))


def _unique(people: list[Employee]) -> list[Employee]:
    return list({id(p): p for p in people}.values())


def _records(steps: Iterable[Step]) -> list[Record]:
    return [s for s in steps if isinstance(s, Record)]


def _keyed(topic: str, body: dict[str, Any]) -> Record:
    account = Account.model_validate(body["account"]) if body.get("account") else None
    person = Person.model_validate(body["person"]) if body.get("person") else None
    return Record(topic, orjson.dumps(body), key=partition_key(account, person).encode())


def _pick_movers(
    rng: random.Random, staff: list[Employee], companies: list[Company], partitions: int
) -> list[tuple[Employee, Company]]:
    """One mover per new account's partition; nobody moves away from a new account."""
    targets: dict[int, Company] = {}
    for c in rng.sample([c for c in companies if c.icp], sum(c.icp for c in companies)):
        targets.setdefault(keyed_partition(c.domain, partitions), c)
    chosen = list(targets.values())[:_MOVERS]
    pool = [p for p in staff if not p.personal and p.company not in chosen and p.company.icp]
    return list(zip(rng.sample(pool, len(chosen)), chosen, strict=True))


def _outreach(
    b: _Builder, windows: Iterable[Any], people: Mapping[str, Employee], start: datetime
) -> list[Employee]:
    """What a sequencer reports on the windows: touches, then replies, meetings and the rest."""
    rng = b.rng
    acts: list[tuple[datetime, str, Employee, dict[str, Any]]] = []
    touched = []
    for w in windows:
        p = people.get(w["person_key"])
        if p is None or w["account_key"] != p.company.domain or rng.random() > 0.75:
            continue
        touched.append(p)
        at = start + timedelta(minutes=rng.randrange(1, 20 * 60))
        touch = {"channel": "email", "play": w["play"], "window_id": w["window_id"]}
        acts.append((at, "touch_sent", p, touch))
        later = at + timedelta(minutes=rng.randrange(30, 8 * 60))
        roll = rng.random()
        if roll < 0.15:
            acts.append((later, "replied", p, {"channel": "email"}))
        elif roll < 0.27:
            meeting = later + timedelta(hours=6)
            acts.append((later, "meeting_booked", p, {"meeting_at": meeting.isoformat()}))
            acts.append((meeting, "meeting_held", p, {"kind": "demo"}))
        elif roll < 0.33:
            acts.append((later, "opted_out", p, {}))
        elif roll < 0.38:
            acts.append((later, "bounced", p, {"channel": "email"}))
        elif roll < 0.43:
            until = (later + timedelta(days=4)).date().isoformat()
            acts.append((later, "out_of_office", p, {"until": until}))
        elif roll < 0.53:
            stage = rng.choice(["won", "lost"])
            acts.append((later, "deal_stage_changed", p, {"stage": stage}))
    acts.sort(key=lambda a: a[0])
    for at, kind, p, props in acts:
        body = {
            "type": kind,
            "event_id": b.event_id("o"),
            "occurred_at": at.isoformat(),
            "source": "sequencer",
            "person": p.payload(),
            "account": p.company.payload(),
            "properties": props,
        }
        b.steps.append(_keyed(b.settings.topic_outreach_activity, body))
        b.counts["activities"] += 1
    return touched


def _move(b: _Builder, p: Employee, target: Company, at: datetime) -> None:
    """A job change keyed by the *old* account: it departs after everything there."""
    seniority = b.rng.choice(("vp", "director", "c_level"))
    title, department = b.rng.choice(TITLES[seniority])
    mover = Employee(p.n, target, title, seniority, department, f"p{p.n:03d}@{target.domain}")
    body = {
        "type": "job_changed",
        "event_id": b.event_id("j"),
        "occurred_at": at.isoformat(),
        "source": "enrichment",
        "person": mover.payload(),
        "account": target.payload(),
        "properties": {
            "previous_account": p.company.payload(),
            "previous_title": p.title,
            "previous_email": p.email,
            "new_title": title,
        },
    }
    old = partition_key(Account.model_validate(p.company.payload()), None)
    b.steps.append(Record(b.settings.topic_page_visited, orjson.dumps(body), key=old.encode()))
    b.counts["signals"] += 1
    b.counts["job_changes"] += 1
