from __future__ import annotations

from datetime import UTC, datetime

import pytest

from rules.core.facts import facts_for
from rules.core.scoring import fit, fit_tier, match_engagement_rule, render_detail
from rules.rulebook.model import Rulebook
from signals.records import AccountRec, PersonRec, record_of
from tests.rules.builders import (
    ACME,
    RIVAL,
    T0,
    funding,
    make_rulebook,
    moved,
    opened,
    person,
    signal,
    visit,
)


@pytest.mark.parametrize(
    ("points", "tier"), [(100, "A"), (45, "A"), (44.9, "B"), (30, "B"), (15, "C"), (0, "D")]
)
def test_fit_tier(points: float, tier: str) -> None:
    assert fit_tier({"A": 45, "B": 30, "C": 15}, points) == tier


@pytest.mark.parametrize(
    ("who", "account", "points", "rules", "tier", "disqualifier"),
    [
        ({"seniority": "vp"}, ACME, 45, ["saas", "size", "senior"], "A", None),
        ({}, ACME, 30, ["saas", "size"], "B", None),
        ({}, None, 0, [], "D", None),
        ({"title": "PhD Student"}, ACME, 30, ["saas", "size"], "B", "student"),
        ({"seniority": "vp"}, RIVAL, 45, ["saas", "size", "senior"], "A", "competitor"),
    ],
)
def test_fit(
    who: dict[str, str],
    account: dict[str, object] | None,
    points: float,
    rules: list[str],
    tier: str,
    disqualifier: str | None,
) -> None:
    facts = facts_for(
        None,
        PersonRec(email="ana@acme.com", **who),
        AccountRec(**account) if account else None,  # type: ignore[arg-type]
    )
    got_points, reasons, got_tier, disq = fit(make_rulebook(), facts)
    assert got_points == points
    assert [r.rule for r in reasons] == rules
    assert got_tier == tier
    assert (disq.name if disq else None) == disqualifier
    if "size" in rules:
        assert reasons[1].detail == "400 employees"


@pytest.mark.parametrize(
    ("sig", "rule"),
    [
        (visit("e", T0, "/pricing/enterprise", who=person()), "pricing_visit"),
        (visit("e", T0, "/blog", who=person()), "page_visit"),
        (visit("e", T0, "/Pricing", account=ACME), "pricing_visit"),
        (opened("e", T0), "email_open"),
    ],
)
def test_match_engagement_rule_picks_the_first_match(sig: object, rule: str) -> None:
    rulebook = make_rulebook()
    rec = record_of(sig)
    matched = match_engagement_rule(rulebook, rec, facts_for(rec, rec.person, rec.account))
    assert matched is not None and matched.name == rule


def test_match_engagement_rule_none_without_a_rule_for_the_type() -> None:
    rulebook = Rulebook.model_validate(
        {"apiVersion": "followup/v1", "version": "1", "engagement": {}, "windows": {"threshold": 1}}
    )
    sig = record_of(opened("e", T0))
    assert match_engagement_rule(rulebook, sig, facts_for(sig, None, None)) is None


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("Visited the pricing page", "Visited the pricing page"),
        ("Visited {properties.path}", "Visited /pricing"),
        ("At {account.name} ({account.employees})", "At Acme (400)"),
        ("Uses {account.technologies}", "Uses hubspot, segment"),
        ("Missing: [{properties.nope}]", "Missing: []"),
        ("{person.__class__}{person.email.__class__}", ""),
        ("{0} {} {Upper} {a[0]}", "{0} {} {Upper} {a[0]}"),
    ],
)
def test_render_detail(template: str, expected: str) -> None:
    sig = record_of(visit("e", T0, who=person()))
    account = AccountRec(**{**ACME, "technologies": ("hubspot", "segment")})
    assert render_detail(template, facts_for(sig, sig.person, account)) == expected


def test_facts_are_flat_and_normalised() -> None:
    sig = record_of(visit("e", datetime(2025, 1, 1, tzinfo=UTC), who=person(title="CTO")))
    facts = facts_for(
        sig, PersonRec(email="Ana@WWW.Acme.com", title="CTO"), AccountRec(domain="WWW.Acme.com.")
    )
    assert facts == {
        "person.email": "ana@www.acme.com",
        "person.email_domain": "acme.com",
        "person.title": "CTO",
        "account.domain": "acme.com",
        "type": "page_visited",
        "source": "web",
        "properties.path": "/pricing",
    }


def test_facts_flatten_nested_properties() -> None:
    data = moved("j", T0, account={"domain": "acme.com"}).model_dump()
    data["properties"]["previous_account"]["domain"] = "WWW.OldCo.com"
    facts = facts_for(record_of(signal(data)), None, None)
    assert facts["properties.previous_account.domain"] == "oldco.com"  # normalised
    assert facts["properties.previous_account.name"] == "OldCo"
    assert facts["properties.new_title"] == "VP Sales"
    facts = facts_for(record_of(funding("f", T0)), None, None)
    assert facts["properties.investors"] == ("Fund One", "Fund Two")
    assert facts["properties.amount_usd"] == 40_000_000
