"""The people and the signals of the chaos history (tests/chaos/history.py): who works
where, and the waves of email opens, page visits, pricing bursts, anonymous visits and
funding rounds. Pure and seeded: every draw comes from the `random.Random` passed in.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from signals.sample_data import (
    CAMPAIGNS,
    INVESTORS,
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

__all__ = ["Employee", "first_wave", "hire", "second_wave"]


@dataclass(slots=True)
class Employee:
    """One person of the history at their first employer (a job change moves them)."""

    n: int
    company: Company
    title: str
    seniority: str
    department: str
    email: str

    def payload(self) -> dict[str, Any]:
        return {
            "email": self.email,
            "name": f"Employee {self.n}",
            "title": self.title,
            "seniority": self.seniority,
            "department": self.department,
            "timezone": TIMEZONES[self.company.country][0],
        }

    @property
    def personal(self) -> bool:
        return self.email.endswith("@gmail.com")


def hire(rng: random.Random, companies: list[Company], n: int) -> list[Employee]:
    """`n` people at `companies`, weighted by size, never more than a company employs."""
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
        staff.append(Employee(i, company, title, seniority, department, f"p{i:03d}@{domain}"))
    return staff


def _at(rng: random.Random, start: datetime, end: datetime) -> datetime:
    span = (end - start).total_seconds()
    return start + timedelta(seconds=rng.randrange(int(span)))


def _email(rng: random.Random, p: Employee) -> dict[str, Any]:
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


def _visit(p: Employee | None, company: Company, path: str, title: str) -> dict[str, Any]:
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


def first_wave(
    rng: random.Random,
    staff: list[Employee],
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
    rng: random.Random, people: list[Employee], start: datetime, end: datetime, *, share: float
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


def second_wave(
    rng: random.Random,
    people: list[Employee],
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
