from __future__ import annotations

from datetime import timedelta

import pytest

from rules.core.draft import zone_for
from rules.rulebook.cadence import CadenceRules
from signals.models import Account, Person
from signals.records import AccountRec, PersonRec, account_rec, person_rec
from signals.windows import WindowOpened
from tests.rules.builders import (
    NOW,
    T0,
    days,
    funding,
    make_rulebook,
    moved,
    opened,
    person,
    run,
    visit,
)

AVOID = ("just checking in", "touching base", "circling back")


@pytest.mark.parametrize(
    ("who", "account", "zone"),
    [
        ({"timezone": "Asia/Tokyo"}, {"domain": "a.io", "country": "DE"}, "Asia/Tokyo"),
        ({}, {"domain": "a.io", "country": "de"}, "Europe/Berlin"),
        ({}, {"domain": "a.io", "country": "US"}, "America/New_York"),
        ({}, {"domain": "a.io", "country": "ZZ"}, "UTC"),
        ({}, None, "UTC"),
    ],
)
def test_zone_for(who: dict[str, str], account: dict[str, str] | None, zone: str) -> None:
    acc = account_rec(Account.model_validate(account)) if account else None
    person_ = person_rec(Person(email="a@a.io", **who))
    assert zone_for(person_, acc, CadenceRules()) == zone


def test_zone_for_falls_back_to_the_rulebook_default_timezone() -> None:
    rules = CadenceRules(default_timezone="Europe/Lisbon")
    assert zone_for(PersonRec(email="a@a.io"), None, rules) == "Europe/Lisbon"
    assert zone_for(PersonRec(email="a@a.io"), AccountRec("a.io", country="ZZ"), rules) == (
        "Europe/Lisbon"
    )
    assert zone_for(PersonRec(email="a@a.io", timezone="Asia/Tokyo"), None, rules) == "Asia/Tokyo"


def _window(events: list[object], who_key: str = "ana@acme.com") -> WindowOpened:
    r = run(make_rulebook(), events)  # type: ignore[arg-type]
    return next(w for w in reversed(r.windows) if w.person_key == who_key)


ANA = person(name="Dr. Ana Lima", seniority="vp", timezone="America/New_York")


def test_pricing_draft() -> None:
    w = _window([visit("e1", T0, who=ANA), visit("e2", T0 + days(2), who=ANA)])
    d = w.draft
    assert d.trigger == "Visited /pricing 2x in 2 days"
    assert d.why_now.startswith("Visited /pricing 2x in 2 days")
    assert d.channel == "email"
    assert d.timezone == "America/New_York"
    # signal_triggered windows live 48 h after the send slot (rules.rulebook.cadence)
    assert d.expires_at == max(NOW, d.send_at) + timedelta(hours=48)
    assert d.send_at >= NOW
    assert d.opening_line.startswith("Hi Ana,")
    assert any("pricing" in p and "ROI" in p for p in d.talking_points)
    assert set(AVOID) <= set(d.avoid)
    assert "Offer" in d.call_to_action


def test_funding_draft_names_round_amount_and_investors() -> None:
    w = _window([visit("e1", T0, who=ANA), funding("f1", T0 + days(1))])
    d = w.draft
    assert w.play == "funding"
    assert d.trigger == "Raised a Series B"
    assert "Series B" in d.subject_hint
    point = d.talking_points[0]
    assert "Series B" in point and "$40M" in point and "Fund One" in point


def test_job_change_draft() -> None:
    w = _window([moved("j1", T0, who=ANA)])
    d = w.draft
    assert (w.play, d.channel) == ("champion_moved", "linkedin")
    assert "new role" in d.subject_hint
    assert "VP Sales" in d.talking_points[0] and "OldCo" in d.talking_points[0]


def test_email_open_draft_uses_the_subject() -> None:
    events = [opened(f"m{i}", T0 + days(i / 24), who=ANA, subject="ROI model") for i in range(3)]
    w = _window([*events, visit("p1", T0 + days(0.2), who=ANA)])
    assert any('"ROI model"' in p for p in w.draft.talking_points)


@pytest.mark.parametrize(
    "events",
    [
        [visit("e1", T0, who=ANA), visit("e2", T0 + days(2), who=ANA)],
        [visit("e1", T0, who=ANA), funding("f1", T0 + days(1))],
        [moved("j1", T0, who=ANA)],
    ],
    ids=["pricing", "funding", "job"],
)
def test_drafts_are_rep_readable_and_carry_no_other_pii(events: list[object]) -> None:
    d = _window(events).draft
    assert 2 <= len(d.talking_points) <= 4
    text = " ".join(
        [d.trigger, d.why_now, d.subject_hint, d.opening_line, d.call_to_action, *d.talking_points]
    )
    assert "@" not in text and "Lima" not in text
    assert not any(phrase in text.lower() for phrase in AVOID)
