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

__all__ = ["SITE", "bad_records", "generate"]

SITE: Final = "https://www.relaywise.example"

_PERSONAL_SHARE: Final = 0.04
_HOT_SHARE: Final = 0.13
_JOB_CHANGE_SHARE: Final = 0.05
_DUPLICATES: Final = 8


@dataclass(frozen=True, slots=True)
class _Company:
    name: str
    domain: str
    industry: str
    employees: int
    country: str
    technologies: tuple[str, ...] = ()

    @property
    def icp(self) -> bool:
        return (
            self.industry in {"software", "saas", "fintech"}
            and 50 <= self.employees <= 5000
            and self.country in {"US", "GB", "DE", "FR", "NL", "CA"}
        )

    def payload(self, *, full: bool = True) -> dict[str, Any]:
        if not full:
            return {"domain": self.domain, "name": self.name}
        out: dict[str, Any] = {
            "domain": self.domain,
            "name": self.name,
            "industry": self.industry,
            "employees": self.employees,
            "country": self.country,
        }
        if self.technologies:
            out["technologies"] = list(self.technologies)
        return out


_C = _Company
_ICP_COMPANIES: Final = (
    _C("Brightloom Analytics", "brightloom.io", "software", 240, "US", ("snowflake", "dbt")),
    _C("Quillstack", "quillstack.com", "saas", 85, "GB", ("segment", "hubspot")),
    _C("Ferrowave Payments", "ferrowave.io", "fintech", 620, "NL", ("kafka", "salesforce")),
    _C("Nordpine Labs", "nordpine.de", "software", 130, "DE", ("postgres", "kafka")),
    _C("Cobaltfield", "cobaltfield.io", "saas", 1400, "US", ("salesforce", "snowflake")),
    _C("Lumenrail", "lumenrail.com", "fintech", 3100, "GB", ("kafka", "databricks")),
    _C("Tessellate Data", "tessellatedata.io", "software", 55, "CA", ("dbt", "bigquery")),
    _C("Hexmoor", "hexmoor.fr", "saas", 310, "FR", ("hubspot", "segment")),
    _C("Orbitvale", "orbitvale.com", "software", 780, "US", ("kafka", "snowflake")),
    _C("Kestrel Ledger", "kestrelledger.com", "fintech", 190, "US", ("stripe", "postgres")),
    _C("Sproutgrid", "sproutgrid.io", "saas", 72, "NL", ("rudderstack",)),
    _C("Palisade Cloud", "palisadecloud.com", "software", 2200, "US", ("kafka", "salesforce")),
    _C("Mintara", "mintara.io", "fintech", 410, "DE", ("snowflake", "segment")),
    _C("Wrenfold", "wrenfold.io", "saas", 150, "GB", ("hubspot",)),
    _C("Glasswing Systems", "glasswingsys.com", "software", 960, "CA", ("databricks",)),
    _C("Tidewell", "tidewell.io", "saas", 64, "US", ("segment", "hubspot")),
    _C("Arclight Metrics", "arclightmetrics.com", "software", 280, "FR", ("snowplow", "dbt")),
    _C("Vantory", "vantory.io", "fintech", 1750, "US", ("kafka", "salesforce")),
    _C("Driftcode", "driftcode.dev", "software", 95, "DE", ("postgres",)),
    _C("Halcyon Stack", "halcyonstack.com", "saas", 520, "NL", ("snowflake", "hubspot")),
    _C("Pinecrest Billing", "pinecrestbilling.com", "fintech", 340, "CA", ("stripe",)),
    _C("Quantaloop", "quantaloop.io", "software", 4300, "US", ("kafka", "databricks")),
    _C("Redfern Works", "redfernworks.co.uk", "saas", 120, "GB", ("segment",)),
    _C("Skylark Ops", "skylarkops.io", "saas", 205, "US", ("rudderstack", "salesforce")),
    _C("Emberline", "emberline.io", "software", 60, "FR", ("bigquery",)),
    _C("Corvid Security", "corvidsec.com", "software", 880, "US", ("kafka", "okta")),
)
_OTHER_COMPANIES: Final = (
    _C("Pixel & Pine Studio", "pixelandpine.com", "marketing agency", 3, "US"),
    _C("Eastmarch University", "eastmarch.edu", "higher education", 12000, "US"),
    _C("Corner Basket Grocers", "cornerbasket.com", "retail", 2400, "US"),
    _C("Tallow & Wick Candles", "tallowandwick.com", "retail", 18, "GB"),
    _C("Greenfold Landscaping", "greenfold-landscaping.com", "construction", 25, "AU"),
    _C("Mariner Freight", "marinerfreight.com", "logistics", 6800, "US"),
    _C("Saffron Table", "saffrontable.in", "hospitality", 40, "IN"),
    _C("Brightwater Dental", "brightwaterdental.com", "healthcare", 35, "CA"),
    _C("Solara Textiles", "solaratextiles.es", "manufacturing", 900, "ES"),
    _C("Oakhaven Library Trust", "oakhavenlibrary.org", "non-profit", 14, "GB"),
    _C("Atlas Continental Bank", "atlascontinental.com", "banking", 48000, "US"),
    _C("Juniper Solo Consulting", "junipersolo.com", "consulting", 1, "BR"),
    _C("Nimbus Kids Academy", "nimbuskids.com.br", "education", 60, "BR"),
    _C("Ridgeback Outfitters", "ridgebackoutfitters.com", "retail", 150, "DE"),
)

_TIMEZONES: Final[dict[str, tuple[str, ...]]] = {
    "US": ("America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles"),
    "CA": ("America/Toronto", "America/Vancouver"),
    "GB": ("Europe/London",),
    "DE": ("Europe/Berlin",),
    "FR": ("Europe/Paris",),
    "NL": ("Europe/Amsterdam",),
    "ES": ("Europe/Madrid",),
    "AU": ("Australia/Sydney",),
    "IN": ("Asia/Kolkata",),
    "BR": ("America/Sao_Paulo",),
}
_FIRST: Final[dict[str, tuple[str, ...]]] = {
    "en": (
        "Avery",
        "Jordan",
        "Priya",
        "Marcus",
        "Hannah",
        "Daniel",
        "Chloe",
        "Omar",
        "Grace",
        "Ethan",
        "Maya",
        "Liam",
        "Sofia",
        "Noah",
        "Amara",
        "Ryan",
        "Leah",
        "Caleb",
        "Nina",
        "Tyler",
        "Zoe",
        "Isaac",
        "Megan",
        "Kwame",
    ),
    "DE": ("Lukas", "Anna", "Jonas", "Lea", "Felix", "Mia", "Tobias", "Katrin", "Jan", "Sabine"),
    "FR": ("Camille", "Louis", "Manon", "Hugo", "Chloé", "Théo", "Inès", "Julien", "Élodie"),
    "NL": ("Daan", "Sanne", "Bram", "Fleur", "Joris", "Lotte", "Thijs", "Eva", "Ruben"),
    "ES": ("Lucía", "Mateo", "Carmen", "Javier", "Elena", "Pablo"),
    "IN": ("Aarav", "Ananya", "Rohan", "Isha", "Vikram", "Meera"),
    "BR": ("Lucas", "Beatriz", "Gabriel", "Larissa", "Rafael", "Juliana"),
}
_LAST: Final[dict[str, tuple[str, ...]]] = {
    "en": (
        "Carter",
        "Nguyen",
        "Patel",
        "Okafor",
        "Brennan",
        "Whitfield",
        "Morales",
        "Kim",
        "Hollis",
        "Fraser",
        "Lindqvist",
        "Adeyemi",
        "Sato",
        "Reyes",
        "Thornton",
        "Walsh",
        "Chen",
        "Abbott",
        "Desai",
        "Garrow",
        "Ellison",
        "Mbeki",
    ),
    "DE": ("Müller", "Schneider", "Becker", "Hoffmann", "Krause", "Vogel", "Wagner", "Lang"),
    "FR": ("Lefèvre", "Moreau", "Girard", "Dubois", "Laurent", "Rousseau", "Fontaine"),
    "NL": ("de Vries", "Jansen", "Bakker", "Visser", "Smit", "van Dijk", "Mulder"),
    "ES": ("García", "Fernández", "Ruiz", "Navarro", "Ortega"),
    "IN": ("Sharma", "Iyer", "Reddy", "Kapoor", "Menon"),
    "BR": ("Silva", "Oliveira", "Souza", "Costa", "Almeida"),
}
_NAME_POOL: Final = {"DE": "DE", "FR": "FR", "NL": "NL", "ES": "ES", "IN": "IN", "BR": "BR"}

# (title, seniority, department) and how often each seniority appears.
_TITLES: Final[dict[str, tuple[tuple[str, str], ...]]] = {
    "c_level": (
        ("CTO", "engineering"),
        ("CEO", "executive"),
        ("CFO", "finance"),
        ("Chief Revenue Officer", "sales"),
        ("COO", "operations"),
    ),
    "vp": (
        ("VP Engineering", "engineering"),
        ("VP Sales", "sales"),
        ("VP Marketing", "marketing"),
        ("VP Data", "data"),
        ("VP Product", "product"),
    ),
    "director": (
        ("Director RevOps", "revenue_operations"),
        ("Head of Data", "data"),
        ("Director of Engineering", "engineering"),
        ("Head of Growth", "marketing"),
        ("Director of Platform", "engineering"),
        ("Head of Sales", "sales"),
    ),
    "manager": (
        ("Engineering Manager", "engineering"),
        ("Data Platform Manager", "data"),
        ("Marketing Operations Manager", "marketing"),
        ("Sales Manager", "sales"),
        ("RevOps Manager", "revenue_operations"),
        ("Product Manager", "product"),
    ),
    "individual_contributor": (
        ("Software Engineer", "engineering"),
        ("Senior Software Engineer", "engineering"),
        ("Data Engineer", "data"),
        ("Data Analyst", "data"),
        ("Account Executive", "sales"),
        ("Product Designer", "design"),
        ("Marketing Specialist", "marketing"),
        ("Site Reliability Engineer", "engineering"),
    ),
    "intern": (
        ("Software Engineering Intern", "engineering"),
        ("Marketing Intern", "marketing"),
        ("Data Intern", "data"),
    ),
}
_SENIORITY_WEIGHTS: Final = {
    "c_level": 7,
    "vp": 9,
    "director": 14,
    "manager": 20,
    "individual_contributor": 45,
    "intern": 5,
}
_TINY_TITLES: Final = (
    ("Founder & CEO", "c_level", "executive"),
    ("Designer", "individual_contributor", "design"),
    ("Account Manager", "manager", "sales"),
)
_SENIOR: Final = frozenset({"c_level", "vp", "director"})

_SUBJECTS: Final = (
    "How Orbit-style teams cut follow-up time to minutes",
    "Your pipeline, one second after the signal",
    "Benchmark: reply rates by follow-up timing",
    "Quick question about your RevOps stack",
    "Case study: 31% more replies with signal-based follow-ups",
    "Invitation: streaming sales signals webinar",
    "Re: next steps after our call",
    "The 2-3 day follow-up rule, with data",
)
_CAMPAIGNS: Final = (
    "cmp-q3-data-teams",
    "cmp-revops-benchmark",
    "cmp-webinar-sept",
    "cmp-post-demo",
    "cmp-fintech-outbound",
)
_PAGES_HOT: Final = (
    ("/docs/getting-started", "Getting started | Relaywise Docs"),
    ("/docs/kafka-connector", "Kafka connector | Relaywise Docs"),
    ("/security", "Security & compliance | Relaywise"),
    ("/customers/quillstack", "How Quillstack doubled replies | Relaywise"),
    ("/customers/ferrowave", "Ferrowave's RevOps story | Relaywise"),
    ("/integrations/salesforce", "Salesforce integration | Relaywise"),
)
_PAGES_CASUAL: Final = (
    ("/", "Relaywise: follow up the moment it matters"),
    ("/blog/follow-up-timing", "When to follow up, by the numbers | Relaywise"),
    ("/blog/job-changes", "Champions who move | Relaywise"),
    ("/docs", "Documentation | Relaywise"),
    ("/about", "About us | Relaywise"),
)
_REFERRERS: Final = (
    "https://www.google.com/",
    "https://www.linkedin.com/",
    None,
    None,
    f"{SITE}/blog/follow-up-timing",
    "https://news.ycombinator.com/",
)
_INVESTORS: Final = (
    "Northwind Ventures",
    "Bluegate Capital",
    "Harborlight Partners",
    "Foxglove Fund",
    "Silverline Growth",
    "Cinder Peak Capital",
    "Meridian Seed Co.",
    "Ironbark Ventures",
)
_ROUNDS: Final = (
    ("Seed", 1_000_000, 4_000_000),
    ("Series A", 8_000_000, 20_000_000),
    ("Series B", 25_000_000, 60_000_000),
    ("Series C", 70_000_000, 150_000_000),
)


@dataclass(frozen=True, slots=True)
class _Move:
    at: datetime
    company: _Company
    title: str
    seniority: str
    department: str
    email: str
    timezone: str


@dataclass(slots=True)
class _Person:
    first: str
    last: str
    company: _Company
    title: str
    seniority: str
    department: str
    timezone: str
    email: str
    crm_id: str | None
    moved: _Move | None = None
    events: list[tuple[datetime, str]] = field(default_factory=list)  # (when, kind)

    def at(self, when: datetime) -> tuple[dict[str, Any], _Company]:
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
    if not 2 <= accounts <= len(_ICP_COMPANIES) + len(_OTHER_COMPANIES):
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
        i = rng.randrange(len(_SUBJECTS))
        props = {
            "campaign_id": _CAMPAIGNS[i % len(_CAMPAIGNS)],
            "email_id": f"em-{seed}-{rng.randrange(10_000, 99_999)}",
            "subject": _SUBJECTS[i],
        }
        person_event(p, when, SignalType.EMAIL_OPENED, props, "esp")

    def visit(p: _Person, when: datetime, path: str, title: str) -> None:
        props: dict[str, Any] = {"url": f"{SITE}{path}", "path": path, "title": title}
        referrer = rng.choice(_REFERRERS)
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
        new_title, new_department = rng.choice(_TITLES[new_seniority])
        when = local_time(p.timezone, days * 0.3, days - 0.5)
        email = _ascii(f"{p.first[0]}.{p.last}".lower())
        p.moved = _Move(
            when,
            target,
            new_title,
            new_seniority,
            new_department,
            f"{email}@{target.domain}",
            rng.choice(_TIMEZONES[target.country]),
        )

    for p in staff:
        if rng.random() < 0.85:
            for _ in range(rng.randint(2, 8)):
                open_email(p, local_time(p.timezone, 0, days))
        if rng.random() < 0.3:
            for _ in range(rng.randint(1, 2)):
                path, title = rng.choice(_PAGES_CASUAL)
                visit(p, local_time(p.timezone, 0, days), path, title)

    # Hot prospects: mostly senior people at ICP accounts; bursts lean to the last week.
    pool = [p for p in staff if p.company.icp and p.seniority in _SENIOR]
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
        for path, title in rng.sample(_PAGES_HOT, rng.randint(1, 3)):
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
        when = local_time(_TIMEZONES[company.country][0], 0, days)
        path, title = rng.choice((("/pricing", "Pricing | Relaywise"), *_PAGES_CASUAL))
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
        name, low, high = rng.choice(_ROUNDS)
        amount = rng.randrange(low, high, 500_000)
        when = local_time(_TIMEZONES[company.country][0], 0, days)
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
                        "investors": rng.sample(_INVESTORS, rng.randint(1, 3)),
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


def bad_records(seed: int = 7) -> list[tuple[str, bytes]]:
    """Records the codec must reject, each (topic's signal type, raw bytes)."""
    rng = random.Random(seed)
    now = "2024-05-14T09:30:00Z"
    person = {"email": f"bad.{rng.randrange(1000, 9999)}@quillstack.com", "name": "Bad Example"}
    account = {"domain": "quillstack.com", "name": "Quillstack"}

    def dump(n: int, body: dict[str, Any]) -> bytes:
        return orjson.dumps({"event_id": f"demo-{seed}-bad-{n}", "source": "demo", **body})

    visit = {"url": f"{SITE}/pricing"}
    return [
        ("email_opened", b'{"event_id": "demo-%d-bad-1", "occurred_at": ' % seed),  # cut off
        ("email_opened", b'{"event_id": "\xff\xfe broken encoding"}'),
        ("page_visited", b'[{"type": "page_visited"}]'),
        ("email_opened", dump(4, {"type": "email_clicked", "occurred_at": now, "person": person})),
        ("email_opened", dump(5, {"occurred_at": now, "person": {"name": "No Identity"}})),
        ("page_visited", dump(6, {"occurred_at": now, "properties": visit})),
        ("funding_announced", dump(7, {"occurred_at": now, "properties": {"round": "Seed"}})),
        (
            "page_visited",
            dump(8, {"occurred_at": "2024-05-14T09:30:00", "person": person, "properties": visit}),
        ),
        (
            "funding_announced",
            dump(
                9,
                {
                    "occurred_at": now,
                    "account": {**account, "employees": "many"},
                    "properties": {"round": "Series A"},
                },
            ),
        ),
    ]


def _pick_companies(rng: random.Random, n: int) -> list[_Company]:
    n_icp = min(len(_ICP_COMPANIES), max(1, round(n * 0.65)))
    n_other = min(len(_OTHER_COMPANIES), n - n_icp)
    n_icp = n - n_other
    return rng.sample(_ICP_COMPANIES, n_icp) + rng.sample(_OTHER_COMPANIES, n_other)


def _people(rng: random.Random, companies: list[_Company], n: int) -> list[_Person]:
    weights = [min(c.employees, 2000) ** 0.5 for c in companies]
    headcount = dict.fromkeys(companies, 0)
    seniorities = list(_SENIORITY_WEIGHTS)
    seniority_weights = list(_SENIORITY_WEIGHTS.values())
    taken: set[str] = set()
    staff: list[_Person] = []
    for i in range(n):
        company = rng.choices(companies, weights)[0]
        while headcount[company] >= company.employees:
            company = rng.choices(companies, weights)[0]
        headcount[company] += 1
        pool = _NAME_POOL.get(company.country, "en")
        if pool != "en" and rng.random() < 0.25:
            pool = "en"  # international teams
        first, last = rng.choice(_FIRST[pool]), rng.choice(_LAST[pool])
        if company.employees <= 5:
            title, seniority, department = _TINY_TITLES[min(headcount[company], 3) - 1]
        else:
            seniority = rng.choices(seniorities, seniority_weights)[0]
            title, department = rng.choice(_TITLES[seniority])
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
                timezone=rng.choice(_TIMEZONES[company.country]),
                email=email,
                crm_id=f"crm-{i + 1:05d}" if rng.random() < 0.6 else None,
            )
        )
    return staff


def _ascii(text: str) -> str:
    """An email local part from a name: ASCII letters, digits and dots only."""
    folded = text.translate(_FOLD)
    return "".join(ch for ch in folded if ch.isascii() and (ch.isalnum() or ch == "."))


_FOLD: Final = str.maketrans(
    {
        "ü": "ue",
        "ö": "oe",
        "ä": "ae",
        "ß": "ss",
        "é": "e",
        "è": "e",
        "É": "E",
        "ç": "c",
        "í": "i",
        "á": "a",
        "ó": "o",
        "ñ": "n",
        "ï": "i",
        "ë": "e",
        "ê": "e",
        " ": "",
    }
)


def _timestamp(when: datetime) -> str:
    text = when.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text
