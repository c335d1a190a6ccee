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
  whenever it lands;
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
    CAMPAIGNS,
    ICP_COMPANIES,
    INVESTORS,
    OTHER_COMPANIES,
    PAGES_CASUAL,
    PAGES_HOT,
    ROUNDS,
    SENIOR,
    SENIORITY_WEIGHTS,
    SITE,
    SUBJECTS,
    TIMEZONES,
    TITLES,
    Company,
)
from streams.local import Record
from streams.settings import Settings
from streams.verifier import expect, keyed_partition, marker_records

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


@dataclass(slots=True)
class _Person:
    n: int
    company: Company
    title: str
    seniority: str
    department: str
    email: str

    def payload(self) -> dict[str, Any]:
        return {
            "email": self.email,
            "name": f"Person {self.n}",
            "title": self.title,
            "seniority": self.seniority,
            "department": self.department,
            "timezone": TIMEZONES[self.company.country][0],
        }

    @property
    def personal(self) -> bool:
        return self.email.endswith("@gmail.com")


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
    staff = _people(rng, companies, people)
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
    b.signals(_first_wave(rng, staff, companies, START, end), "h")
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
    b.signals(_second_wave(rng, again, companies, outreach_end, second_end), "s")

    # -- job changes at one instant, then the end markers at the same instant -----------
    moved_at = second_end + timedelta(hours=1)
    for p, target in movers:
        _move(b, p, target, moved_at)
    b.barrier("end-1", moved_at)
    b.steps += marker_records(settings, f"{seed}-end-2", moved_at)
    return History(seed, tuple(b.steps), len(staff), len(companies), dict(b.counts))


def _unique(people: list[_Person]) -> list[_Person]:
    return list({id(p): p for p in people}.values())


def _records(steps: Iterable[Step]) -> list[Record]:
    return [s for s in steps if isinstance(s, Record)]


def _keyed(topic: str, body: dict[str, Any]) -> Record:
    account = Account.model_validate(body["account"]) if body.get("account") else None
    person = Person.model_validate(body["person"]) if body.get("person") else None
    return Record(topic, orjson.dumps(body), key=partition_key(account, person).encode())


def _people(rng: random.Random, companies: list[Company], n: int) -> list[_Person]:
    weights = [min(c.employees, 2000) ** 0.5 for c in companies]
    headcount = dict.fromkeys(companies, 0)
    staff = []
    for i in range(n):
        company = rng.choices(companies, weights)[0]
        while headcount[company] >= company.employees:
            company = rng.choices(companies, weights)[0]
        headcount[company] += 1
        seniority = rng.choices(list(SENIORITY_WEIGHTS), list(SENIORITY_WEIGHTS.values()))[0]
        title, department = rng.choice(TITLES[seniority])
        domain = "gmail.com" if rng.random() < 0.04 else company.domain
        staff.append(_Person(i, company, title, seniority, department, f"p{i:03d}@{domain}"))
    return staff


def _pick_movers(
    rng: random.Random, staff: list[_Person], companies: list[Company], partitions: int
) -> list[tuple[_Person, Company]]:
    """One mover per new account's partition; nobody moves away from a new account."""
    targets: dict[int, Company] = {}
    for c in rng.sample([c for c in companies if c.icp], sum(c.icp for c in companies)):
        targets.setdefault(keyed_partition(c.domain, partitions), c)
    chosen = list(targets.values())[:_MOVERS]
    pool = [p for p in staff if not p.personal and p.company not in chosen and p.company.icp]
    return list(zip(rng.sample(pool, len(chosen)), chosen, strict=True))


def _at(rng: random.Random, start: datetime, end: datetime) -> datetime:
    span = (end - start).total_seconds()
    return start + timedelta(seconds=rng.randrange(int(span)))


def _email(rng: random.Random, p: _Person) -> dict[str, Any]:
    i = rng.randrange(len(SUBJECTS))
    body: dict[str, Any] = {"type": "email_opened", "source": "esp", "person": p.payload()}
    if not p.personal and rng.random() < 0.7:
        body["account"] = p.company.payload(full=rng.random() < 0.6)
    body["properties"] = {
        "campaign_id": CAMPAIGNS[i % len(CAMPAIGNS)],
        "email_id": f"em-{rng.randrange(10_000, 99_999)}",
        "subject": SUBJECTS[i],
    }
    return body


def _visit(p: _Person | None, company: Company, path: str, title: str) -> dict[str, Any]:
    body: dict[str, Any] = {"type": "page_visited", "source": "web-analytics"}
    if p is not None:
        body["person"] = p.payload()
    else:
        body["source"] = "reverse-ip"
    body["account"] = company.payload()
    body["properties"] = {"url": f"{SITE}{path}", "path": path, "title": title}
    return body


def _funding(rng: random.Random, company: Company, at: datetime) -> dict[str, Any]:
    name, low, high = rng.choice(ROUNDS)
    return {
        "type": "funding_announced",
        "source": "news-feed",
        "account": company.payload(),
        "properties": {
            "round": name,
            "amount_usd": rng.randrange(low, high, 500_000),
            "investors": rng.sample(INVESTORS, rng.randint(1, 3)),
            "announced_on": at.date().isoformat(),
        },
    }


def _first_wave(
    rng: random.Random,
    staff: list[_Person],
    companies: list[Company],
    start: datetime,
    end: datetime,
) -> list[tuple[datetime, dict[str, Any]]]:
    events = []
    for p in staff:
        if rng.random() < 0.85:
            events += [(_at(rng, start, end), _email(rng, p)) for _ in range(rng.randint(6, 18))]
        if rng.random() < 0.5:
            for _ in range(rng.randint(1, 4)):
                path, title = rng.choice(PAGES_CASUAL)
                events.append((_at(rng, start, end), _visit(p, p.company, path, title)))
    events += _bursts(rng, staff, start, end, share=0.22)
    for _ in range(90):
        c = rng.choice(companies)
        path, title = rng.choice((("/pricing", "Pricing | Relaywise"), *PAGES_CASUAL))
        events.append((_at(rng, start, end), _visit(None, c, path, title)))
    for c in rng.sample([c for c in companies if c.icp], 6):
        at = _at(rng, start, end)
        events.append((at, _funding(rng, c, at)))
    return events


def _bursts(
    rng: random.Random, people: list[_Person], start: datetime, end: datetime, *, share: float
) -> list[tuple[datetime, dict[str, Any]]]:
    """Hot prospects, mostly senior people at ICP accounts: pricing twice within days."""
    pool = [p for p in people if p.company.icp and p.seniority in SENIOR]
    senior = {id(p) for p in pool}
    rest = [p for p in people if id(p) not in senior]
    n = round(len(people) * share)
    hot = rng.sample(pool, min(len(pool), n * 3 // 4))
    hot += rng.sample(rest, min(len(rest), n - len(hot)))
    events = []
    for p in hot:
        days = (end - start).total_seconds() / 86400
        first = start + timedelta(days=rng.uniform(0, max(0.0, days - 3)))
        last = min(end, first + timedelta(days=rng.uniform(1, 3)))
        for _ in range(rng.randint(2, 3)):
            events.append((_at(rng, first, last), _visit(p, p.company, "/pricing", "Pricing")))
        for path, title in rng.sample(PAGES_HOT, rng.randint(1, 3)):
            events.append((_at(rng, first, last), _visit(p, p.company, path, title)))
        events += [(_at(rng, first, last), _email(rng, p)) for _ in range(rng.randint(0, 2))]
    return events


def _second_wave(
    rng: random.Random,
    people: list[_Person],
    companies: list[Company],
    start: datetime,
    end: datetime,
) -> list[tuple[datetime, dict[str, Any]]]:
    events = []
    for p in people:
        events += [(_at(rng, start, end), _email(rng, p)) for _ in range(rng.randint(2, 6))]
    events += _bursts(rng, people, start, end, share=0.5)
    for _ in range(20):
        c = rng.choice(companies)
        events.append((_at(rng, start, end), _visit(None, c, "/pricing", "Pricing")))
    for c in rng.sample([c for c in companies if c.icp], 2):
        at = _at(rng, start, end)
        events.append((at, _funding(rng, c, at)))
    return events


def _outreach(
    b: _Builder, windows: Iterable[Any], people: Mapping[str, _Person], start: datetime
) -> list[_Person]:
    """What a sequencer reports on the windows: touches, then replies, meetings and the rest."""
    rng = b.rng
    acts: list[tuple[datetime, str, _Person, dict[str, Any]]] = []
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


def _move(b: _Builder, p: _Person, target: Company, at: datetime) -> None:
    """A job change keyed by the *old* account: it departs after everything there."""
    seniority = b.rng.choice(("vp", "director", "c_level"))
    title, department = b.rng.choice(TITLES[seniority])
    mover = _Person(p.n, target, title, seniority, department, f"p{p.n:03d}@{target.domain}")
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
