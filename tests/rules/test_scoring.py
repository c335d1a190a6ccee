from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest

from rules.core.facts import facts_for
from rules.core.scoring import (
    decayed,
    engagement,
    fit,
    fit_tier,
    match_engagement_rule,
    ranked,
    render_detail,
)
from rules.core.state import Contribution
from rules.rulebook.model import Rulebook
from signals.models import Account, Person, SignalType
from tests.rules.engine_builders import (
    ACME,
    RIVAL,
    T0,
    funding,
    make_rulebook,
    moved,
    opened,
    person,
    visit,
)


def contribution(
    event_id: str,
    age_days: float,
    *,
    rule: str = "r",
    points: float = 10,
    half_life: float = 7,
    cap: float | None = None,
) -> Contribution:
    return Contribution(
        event_id=event_id,
        signal_type=SignalType.PAGE_VISITED,
        rule=rule,
        points=points,
        half_life_days=half_life,
        cap=cap,
        occurred_at=T0 - timedelta(days=age_days),
        detail="d",
        play="signal_triggered",
    )


@pytest.mark.parametrize(
    ("points", "half_life", "age", "expected"),
    [
        (10, 7, 0, 10),
        (10, 7, 7, 5),
        (10, 7, 14, 2.5),
        (9, 90, 3, 9 * 0.5 ** (3 / 90)),
        (-10, 7, 7, -5),  # penalties fade too
        (10, 7, -0.001, 0),  # from the future: not yet
        (0, 7, 3, 0),
    ],
)
def test_decayed(points: float, half_life: float, age: float, expected: float) -> None:
    assert math.isclose(decayed(points, half_life, age), expected, abs_tol=1e-9)


@pytest.mark.parametrize(
    ("contributions", "total", "breakdown"),
    [
        ([], 0, {}),
        ([contribution("a", 0), contribution("b", 7)], 15, {"r": 15}),
        ([contribution("a", 0, cap=12), contribution("b", 0, cap=12)], 12, {"r": 12}),
        (
            [contribution("a", 0, points=-10, cap=5), contribution("b", 0, rule="s")],
            5,
            {"r": -5, "s": 10},
        ),
        ([contribution("future", -1)], 0, {"r": 0}),
        ([contribution("stale", 91)], 0, {}),
    ],
)
def test_engagement(
    contributions: list[Contribution], total: float, breakdown: dict[str, float]
) -> None:
    got_total, got = engagement(contributions, T0, horizon_days=90)
    assert math.isclose(got_total, total, abs_tol=1e-9)
    assert got == pytest.approx(breakdown)


def test_ranked_is_largest_first_and_adds_up_to_engagement() -> None:
    items = [
        contribution("old", 14, rule="visit", cap=8),
        contribution("new", 0, rule="visit", cap=8),
        contribution("open", 1, rule="open", points=4),
    ]
    scored = ranked(items, T0)
    assert [p for _, p in scored] == sorted((p for _, p in scored), reverse=True)
    assert sum(p for _, p in scored) == pytest.approx(engagement(items, T0)[0])
    assert scored[0][0].event_id == "new"


def test_ranked_breaks_ties_by_newest_then_id() -> None:
    items = [contribution("b", 0), contribution("a", 0), contribution("c", 0, half_life=1e9)]
    assert [c.event_id for c, _ in ranked(items, T0)] == ["a", "b", "c"]


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
        Person(email="ana@acme.com", **who),
        Account.model_validate(account) if account else None,
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
    facts = facts_for(sig, getattr(sig, "person", None), getattr(sig, "account", None))  # type: ignore[arg-type]
    matched = match_engagement_rule(rulebook, sig, facts)  # type: ignore[arg-type]
    assert matched is not None and matched.name == rule


def test_match_engagement_rule_none_without_a_rule_for_the_type() -> None:
    rulebook = Rulebook.model_validate(
        {"apiVersion": "followup/v1", "version": "1", "engagement": {}, "windows": {"threshold": 1}}
    )
    sig = opened("e", T0)
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
    sig = visit("e", T0, who=person())
    account = Account.model_validate({**ACME, "technologies": ["hubspot", "segment"]})
    assert render_detail(template, facts_for(sig, sig.person, account)) == expected


def test_facts_are_flat_and_normalised() -> None:
    sig = visit("e", datetime(2025, 1, 1, tzinfo=UTC), who=person(title="CTO"))
    facts = facts_for(
        sig, Person(email="Ana@WWW.Acme.com", title="CTO"), Account(domain="WWW.Acme.com.")
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
    sig = moved("j", T0, account={"domain": "acme.com"})
    facts = facts_for(sig, None, None)
    assert facts["properties.previous_account.domain"] == "oldco.com"
    assert facts["properties.previous_account.name"] == "OldCo"
    assert facts["properties.new_title"] == "VP Sales"
    facts = facts_for(funding("f", T0), None, None)
    assert facts["properties.investors"] == ("Fund One", "Fund Two")
    assert facts["properties.amount_usd"] == 40_000_000
