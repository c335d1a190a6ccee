"""Builders shared by the core, draft and property tests: a rulebook, signals, a replay."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import TypeAdapter

from rules.core.state import ProspectState
from rules.offline.replay import Replay
from rules.rulebook.model import Rulebook
from signals.models import Signal

T0 = datetime(2025, 3, 3, 15, 0, tzinfo=UTC)  # a Monday
NOW = datetime(2025, 3, 3, 15, 0, 1, tzinfo=UTC)

ACME = {"domain": "acme.com", "name": "Acme", "industry": "software", "employees": 400}
ACME_BARE = {"domain": "www.Acme.com"}
RIVAL = {"domain": "rival.io", "name": "Rival", "industry": "software", "employees": 400}

_SIGNAL: TypeAdapter[Any] = TypeAdapter(Signal)


def rulebook_data(**windows: Any) -> dict[str, Any]:
    return {
        "apiVersion": "followup/v1",
        "version": "test-1",
        "fit": {
            "tiers": {"A": 45, "B": 30, "C": 15},
            "rules": [
                {
                    "name": "saas",
                    "when": {"field": "account.industry", "in": ["software", "saas"]},
                    "points": 20,
                    "detail": "Software company",
                },
                {
                    "name": "size",
                    "when": {"field": "account.employees", "between": [50, 5000]},
                    "points": 10,
                    "detail": "{account.employees} employees",
                },
                {
                    "name": "senior",
                    "when": {"field": "person.seniority", "in": ["vp", "director"]},
                    "points": 15,
                    "detail": "Senior buyer",
                },
            ],
            "disqualify": [
                {
                    "name": "competitor",
                    "when": {"field": "account.domain", "eq": "rival.io"},
                    "detail": "A competitor",
                },
                {
                    "name": "student",
                    "when": {"field": "person.title", "matches": "student"},
                    "detail": "A student",
                },
            ],
        },
        "engagement": {
            "default_half_life_days": 7,
            "horizon_days": 90,
            "rules": [
                {
                    "name": "pricing_visit",
                    "signal": "page_visited",
                    "when": {"field": "properties.path", "matches": "^/pricing"},
                    "points": 25,
                    "cap": 50,
                    "detail": "Visited {properties.path}",
                },
                {
                    "name": "page_visit",
                    "signal": "page_visited",
                    "points": 3,
                    "cap": 10,
                    "play": "value_add",
                    "detail": "Visited {properties.path}",
                },
                {
                    "name": "email_open",
                    "signal": "email_opened",
                    "points": 5,
                    "cap": 15,
                    "half_life_days": 3,
                    "play": "no_response",
                    "detail": 'Opened "{properties.subject}"',
                },
                {
                    "name": "job_change",
                    "signal": "job_changed",
                    "points": 40,
                    "play": "champion_moved",
                    "detail": "Started as {properties.new_title}",
                },
                {
                    "name": "funding",
                    "signal": "funding_announced",
                    "points": 30,
                    "half_life_days": 30,
                    "play": "funding",
                    "detail": "Raised a {properties.round}",
                },
            ],
        },
        "windows": {"threshold": 80, "cooldown_days": 7, "expire_after_hours": 72, **windows},
    }


PRICING_TWICE: dict[str, Any] = {
    "name": "pricing-twice",
    "signal": "page_visited",
    "when": {"field": "properties.path", "matches": "^/pricing"},
    "rule": "pricing_visit",
    "min_count": 2,
    "within_hours": 48,
    "min_fit_tier": "A",
    "play": "signal_triggered",
    "detail": "Visited pricing twice in 48 hours",
}
"""A count trigger: an A-fit on pricing twice within 48 hours."""


def make_rulebook(**windows: Any) -> Rulebook:
    return Rulebook.model_validate(rulebook_data(**windows))


def person(email: str = "ana@acme.com", **extra: Any) -> dict[str, Any]:
    return {"email": email, **extra}


def signal(data: dict[str, Any]) -> Signal:
    return _SIGNAL.validate_python(data)


def visit(
    event_id: str,
    at: datetime,
    path: str = "/pricing",
    who: dict[str, Any] | None = None,
    account: dict[str, Any] | None = ACME,
) -> Signal:
    data: dict[str, Any] = {
        "type": "page_visited",
        "event_id": event_id,
        "occurred_at": at,
        "source": "web",
        "properties": {"path": path},
    }
    if who is not None:
        data["person"] = who
    if account is not None:
        data["account"] = account
    return signal(data)


def opened(
    event_id: str,
    at: datetime,
    who: dict[str, Any] | None = None,
    subject: str = "Your trial",
    account: dict[str, Any] | None = ACME,
) -> Signal:
    data: dict[str, Any] = {
        "type": "email_opened",
        "event_id": event_id,
        "occurred_at": at,
        "source": "esp",
        "person": who or person(),
        "properties": {"subject": subject},
    }
    if account is not None:
        data["account"] = account
    return signal(data)


def moved(
    event_id: str,
    at: datetime,
    who: dict[str, Any] | None = None,
    account: dict[str, Any] = ACME,
    new_title: str = "VP Sales",
) -> Signal:
    return signal(
        {
            "type": "job_changed",
            "event_id": event_id,
            "occurred_at": at,
            "source": "enrichment",
            "person": who or person(),
            "account": account,
            "properties": {
                "new_title": new_title,
                "previous_account": {"domain": "oldco.com", "name": "OldCo"},
            },
        }
    )


def funding(
    event_id: str, at: datetime, account: dict[str, Any] = ACME, round_: str = "Series B"
) -> Signal:
    return signal(
        {
            "type": "funding_announced",
            "event_id": event_id,
            "occurred_at": at,
            "source": "news",
            "account": account,
            "properties": {
                "round": round_,
                "amount_usd": 40_000_000,
                "investors": ["Fund One", "Fund Two"],
            },
        }
    )


def days(n: float) -> timedelta:
    return timedelta(days=n)


def run(rulebook: Rulebook, signals: Iterable[Signal], now: datetime = NOW) -> Replay:
    """Replay `signals` through the core as the stream would, every one at `now`."""
    result = Replay(rulebook)
    for sig in signals:
        result.apply(sig, now)
    return result


def prospect_of(replay: Replay, pk: str) -> ProspectState:
    """The one state of person `pk` (at whichever account it is stored)."""
    found = [people[pk] for people in replay.prospects.values() if pk in people]
    assert len(found) == 1, f"{pk} has {len(found)} states"
    return found[0]
