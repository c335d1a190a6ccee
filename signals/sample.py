"""A seeded, realistic demo data set: a few weeks of signals for a few hundred people.

Everything here is made up: the companies, their domains, the people and the seller's site
(`relaywise.example`). `generate` is deterministic: the same arguments give byte-identical
output, because it draws only from one `random.Random(seed)` and never reads the clock.

What the data shows:
- most people open a few emails over the weeks;
- hot prospects (mostly senior people at ICP accounts) visit /pricing a couple of times
  within a few days, plus docs, security and customer-story pages;
- some known contacts change jobs to another account of the set (events after the move carry
  the new work email and account);
- a few accounts announce funding rounds;
- a handful of messages are re-sent byte for byte (same `event_id`) to show deduplication.

`bad_records` gives the records the codec must dead-letter, one per kind of failure.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

import orjson

from signals.models import SignalType
from signals.sample_bad import bad_records
from signals.sample_data import (
    ASCII_FOLD,
    CAMPAIGNS,
    FIRST_NAMES,
    ICP_COMPANIES,
    INVESTORS,
    LAST_NAMES,
    NAME_POOL,
    OTHER_COMPANIES,
    PAGES_CASUAL,
    PAGES_HOT,
    REFERRERS,
    ROUNDS,
    SENIOR,
    SENIORITY_WEIGHTS,
    SITE,
    SUBJECTS,
    TIMEZONES,
    TINY_TITLES,
    TITLES,
    Company,
)

__all__ = ["SITE", "bad_records", "generate"]

_PERSONAL_SHARE: Final = 0.04
_HOT_SHARE: Final = 0.13
_JOB_CHANGE_SHARE: Final = 0.05
_DUPLICATES: Final = 8


@dataclass(frozen=True, slots=True)
class _Move:
    at: datetime
    company: Company
    title: str
    seniority: str
    department: str
    email: str
    timezone: str


@dataclass(slots=True)
class _Person:
    first: str
    last: str
    company: Company
    title: str
    seniority: str
    department: str
    timezone: str
    email: str
    crm_id: str | None
    moved: _Move | None = None
    events: list[tuple[datetime, str]] = field(default_factory=list)  # (when, kind)

    def at(self, when: datetime) -> tuple[dict[str, Any], Company]:
        """The person payload and employer as known at `when` (a move changes both)."""
        company, title, email = self.company, self.title, self.email
        seniority, department, tz = self.seniority, self.department, self.timezone
        if self.moved is not None and when >= self.moved.at:
            company, title, email = self.moved.company, self.moved.title, self.moved.email
            seniority, department, tz = (
                self.moved.seniority,
                self.moved.department,
                self.moved.timezone,
            )
        payload: dict[str, Any] = {"email": email}
        if self.crm_id is not None:
            payload["id"] = self.crm_id
        payload |= {
            "name": f"{self.first} {self.last}",
            "title": title,
            "seniority": seniority,
            "department": department,
            "timezone": tz,
        }
        return payload, company


def generate(
    seed: int = 7,
    *,
    people: int = 300,
    accounts: int = 36,
    days: int = 21,
    end: datetime,
) -> list[tuple[str, bytes]]:
    """(signal type, JSON bytes) pairs sorted by `occurred_at`, within `days` before `end`."""
    if end.tzinfo is None:
        raise ValueError("end must be timezone-aware")
    if not 2 <= accounts <= len(ICP_COMPANIES) + len(OTHER_COMPANIES):
        raise ValueError("accounts out of range")
    if days < 1 or people < 1:
        raise ValueError("people and days must be positive")
    end = end.astimezone(UTC)
    start = end - timedelta(days=days)
    rng = random.Random(seed)

    companies = _pick_companies(rng, accounts)
    staff = _people(rng, companies, people)
    # Each event: (when, type, payload without event_id), in generation order.
    events: list[tuple[datetime, SignalType, dict[str, Any]]] = []

    def local_time(tz: str, day_from: float, day_to: float) -> datetime:
        """A working-hours moment in `tz`, between the two offsets (in days) from start."""
        offset = rng.uniform(max(day_from, 0), min(day_to, days))
        day = (start + timedelta(days=offset)).astimezone(ZoneInfo(tz))
        moment = day.replace(
            hour=rng.randint(8, 18),
            minute=rng.randint(0, 59),
            second=rng.randint(0, 59),
            microsecond=0,
        ).astimezone(UTC)
        # Snapping the hour can leave the window at its edges: move a day back in, not onto
        # the edge itself (that would pile events up on one instant).
        if moment > end:
            moment -= timedelta(days=1)
        if moment < start:
            moment += timedelta(days=1)
        return min(max(moment, start), end)

    def person_event(
        p: _Person,
        when: datetime,
        kind: SignalType,
        props: dict[str, Any],
        source: str,
        local_offset: bool = False,
    ) -> None:
        person, company = p.at(when)
        body: dict[str, Any] = {"type": kind.value, "source": source}
        body["occurred_at"] = _timestamp(
            when.astimezone(ZoneInfo(person["timezone"])) if local_offset else when
        )
        body["person"] = person
        personal = person["email"].endswith("@gmail.com")
        if kind is SignalType.EMAIL_OPENED:
            if not personal and rng.random() < 0.7:
                body["account"] = company.payload(full=rng.random() < 0.6)
        else:
            body["account"] = company.payload()
        body["properties"] = props
        events.append((when, kind, body))

    def open_email(p: _Person, when: datetime) -> None:
        i = rng.randrange(len(SUBJECTS))
        props = {
            "campaign_id": CAMPAIGNS[i % len(CAMPAIGNS)],
            "email_id": f"em-{seed}-{rng.randrange(10_000, 99_999)}",
            "subject": SUBJECTS[i],
        }
        person_event(p, when, SignalType.EMAIL_OPENED, props, "esp")

    def visit(p: _Person, when: datetime, path: str, title: str) -> None:
        props: dict[str, Any] = {"url": f"{SITE}{path}", "path": path, "title": title}
        referrer = rng.choice(REFERRERS)
        if referrer is not None:
            props["referrer"] = referrer
        person_event(
            p,
            when,
            SignalType.PAGE_VISITED,
            props,
            "web-analytics",
            local_offset=rng.random() < 0.5,
        )

    # Job changes first: events after the move must use the new identity.
    icp = [c for c in companies if c.icp]
    movers = rng.sample(staff, max(1, round(len(staff) * _JOB_CHANGE_SHARE)))
    for p in movers:
        target = rng.choice([c for c in (icp or companies) if c is not p.company])
        new_seniority = rng.choice(("vp", "director", "c_level", p.seniority))
        new_title, new_department = rng.choice(TITLES[new_seniority])
        when = local_time(p.timezone, days * 0.3, days - 0.5)
        email = _ascii(f"{p.first[0]}.{p.last}".lower())
        p.moved = _Move(
            when,
            target,
            new_title,
            new_seniority,
            new_department,
            f"{email}@{target.domain}",
            rng.choice(TIMEZONES[target.country]),
        )

    for p in staff:
        if rng.random() < 0.85:
            for _ in range(rng.randint(2, 8)):
                open_email(p, local_time(p.timezone, 0, days))
        if rng.random() < 0.3:
            for _ in range(rng.randint(1, 2)):
                path, title = rng.choice(PAGES_CASUAL)
                visit(p, local_time(p.timezone, 0, days), path, title)

    # Hot prospects: mostly senior people at ICP accounts; bursts lean to the last week.
    pool = [p for p in staff if p.company.icp and p.seniority in SENIOR]
    in_pool = {id(p) for p in pool}
    others = [p for p in staff if id(p) not in in_pool]
    hot_n = max(1, round(len(staff) * _HOT_SHARE))
    hot = rng.sample(pool, min(len(pool), hot_n * 3 // 4))
    hot += rng.sample(others, min(len(others), hot_n - len(hot)))
    for p in hot:
        burst = rng.uniform(days * 0.4, days - 1) if rng.random() < 0.6 else rng.uniform(0, days)
        span = rng.uniform(1, 4)
        for _ in range(rng.randint(2, 3)):
            visit(p, local_time(p.timezone, burst, burst + span), "/pricing", "Pricing | Relaywise")
        for path, title in rng.sample(PAGES_HOT, rng.randint(1, 3)):
            visit(p, local_time(p.timezone, burst, burst + span), path, title)
        for _ in range(rng.randint(0, 2)):
            open_email(p, local_time(p.timezone, burst - 1, burst + span))

    for p in movers:
        assert p.moved is not None
        when, target, new_title = p.moved.at, p.moved.company, p.moved.title
        person, _company = p.at(when)
        events.append(
            (
                when,
                SignalType.JOB_CHANGED,
                {
                    "type": SignalType.JOB_CHANGED.value,
                    "source": "enrichment",
                    "occurred_at": _timestamp(when),
                    "person": person,
                    "account": target.payload(),
                    "properties": {
                        "previous_account": p.company.payload(),
                        "previous_title": p.title,
                        "new_title": new_title,
                    },
                },
            )
        )
        # A champion who moved often looks at us again from the new desk.
        if rng.random() < 0.5:
            offset = (when - start) / timedelta(days=1)
            visit(p, local_time(p.timezone, offset + 0.5, days), "/pricing", "Pricing | Relaywise")

    # Anonymous visits matched to an account by reverse IP: no person.
    for _ in range(max(1, days)):
        company = rng.choice(companies)
        when = local_time(TIMEZONES[company.country][0], 0, days)
        path, title = rng.choice((("/pricing", "Pricing | Relaywise"), *PAGES_CASUAL))
        events.append(
            (
                when,
                SignalType.PAGE_VISITED,
                {
                    "type": SignalType.PAGE_VISITED.value,
                    "source": "reverse-ip",
                    "occurred_at": _timestamp(when),
                    "account": company.payload(),
                    "properties": {"url": f"{SITE}{path}", "title": title},
                },
            )
        )

    for company in rng.sample(icp or companies, min(5, len(icp or companies))):
        name, low, high = rng.choice(ROUNDS)
        amount = rng.randrange(low, high, 500_000)
        when = local_time(TIMEZONES[company.country][0], 0, days)
        events.append(
            (
                when,
                SignalType.FUNDING_ANNOUNCED,
                {
                    "type": SignalType.FUNDING_ANNOUNCED.value,
                    "source": "news-feed",
                    "occurred_at": _timestamp(when),
                    "account": company.payload(),
                    "properties": {
                        "round": name,
                        "amount_usd": amount,
                        "investors": rng.sample(INVESTORS, rng.randint(1, 3)),
                        "announced_on": when.date().isoformat(),
                    },
                },
            )
        )

    order = sorted(range(len(events)), key=lambda i: (events[i][0], i))
    out: list[tuple[str, bytes]] = []
    for n, i in enumerate(order, start=1):
        _, kind, body = events[i]
        out.append((kind.value, orjson.dumps({"event_id": f"demo-{seed}-{n}", **body})))
    # Re-sends: the very same bytes right after the original (at-least-once producers).
    for i in sorted(rng.sample(range(len(out)), min(_DUPLICATES, len(out))), reverse=True):
        out.insert(i + 1, out[i])
    return out


def _pick_companies(rng: random.Random, n: int) -> list[Company]:
    n_icp = min(len(ICP_COMPANIES), max(1, round(n * 0.65)))
    n_other = min(len(OTHER_COMPANIES), n - n_icp)
    n_icp = n - n_other
    return rng.sample(ICP_COMPANIES, n_icp) + rng.sample(OTHER_COMPANIES, n_other)


def _people(rng: random.Random, companies: list[Company], n: int) -> list[_Person]:
    weights = [min(c.employees, 2000) ** 0.5 for c in companies]
    headcount = dict.fromkeys(companies, 0)
    seniorities = list(SENIORITY_WEIGHTS)
    seniority_weights = list(SENIORITY_WEIGHTS.values())
    taken: set[str] = set()
    staff: list[_Person] = []
    for i in range(n):
        company = rng.choices(companies, weights)[0]
        while headcount[company] >= company.employees:
            company = rng.choices(companies, weights)[0]
        headcount[company] += 1
        pool = NAME_POOL.get(company.country, "en")
        if pool != "en" and rng.random() < 0.25:
            pool = "en"  # international teams
        first, last = rng.choice(FIRST_NAMES[pool]), rng.choice(LAST_NAMES[pool])
        if company.employees <= 5:
            title, seniority, department = TINY_TITLES[min(headcount[company], 3) - 1]
        else:
            seniority = rng.choices(seniorities, seniority_weights)[0]
            title, department = rng.choice(TITLES[seniority])
        local = _ascii(rng.choice((f"{first}.{last}", f"{first[0]}{last}", first)).lower())
        domain = company.domain
        if rng.random() < _PERSONAL_SHARE:
            local, domain = f"{local}{rng.randrange(10, 99)}", "gmail.com"
        email = f"{local}@{domain}"
        while email in taken:
            email = f"{local}{rng.randrange(2, 99)}@{domain}"
        taken.add(email)
        staff.append(
            _Person(
                first=first,
                last=last,
                company=company,
                title=title,
                seniority=seniority,
                department=department,
                timezone=rng.choice(TIMEZONES[company.country]),
                email=email,
                crm_id=f"crm-{i + 1:05d}" if rng.random() < 0.6 else None,
            )
        )
    return staff


def _ascii(text: str) -> str:
    """An email local part from a name: ASCII letters, digits and dots only."""
    folded = text.translate(ASCII_FOLD)
    return "".join(ch for ch in folded if ch.isascii() and (ch.isalnum() or ch == "."))


def _timestamp(when: datetime) -> str:
    text = when.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text
