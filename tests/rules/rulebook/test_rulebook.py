from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rules.rulebook.conditions import evaluate
from rules.rulebook.loader import load_rulebook, parse_rulebook
from rules.rulebook.model import Rulebook

EXAMPLE_PATH = Path(__file__).parents[3] / "rules" / "examples" / "b2b_saas.yaml"
EXAMPLE = load_rulebook(EXAMPLE_PATH)

BASE = """\
apiVersion: followup/v1
version: "7"
engagement:
  rules:
    - name: pricing
      signal: page_visited
      when: {field: properties.path, matches: "^/pricing"}
      points: 30
      cap: 60
      detail: Visited pricing
windows:
  threshold: 50
  cooldown_days: 7
"""

REORDERED = """\
# same content: comments, key order, flow vs block style and quoting differ
windows: {cooldown_days: 7, threshold: 50}
engagement:
  rules:
    - detail: "Visited pricing"   # why
      cap: 60
      points: 30
      when:
        matches: '^/pricing'
        field: properties.path
      signal: page_visited
      name: pricing
version: '7'
apiVersion: followup/v1
"""


def test_hash_ignores_comments_key_order_and_style() -> None:
    assert parse_rulebook(BASE).hash == parse_rulebook(REORDERED).hash


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("points: 30", "points: 31"),
        ("cap: 60", "cap: 61"),
        ("threshold: 50", "threshold: 50.5"),
        ('version: "7"', 'version: "8"'),
        ('"^/pricing"', '"^/pricing/"'),
    ],
)
def test_hash_changes_with_content(old: str, new: str) -> None:
    assert parse_rulebook(BASE).hash != parse_rulebook(BASE.replace(old, new)).hash


def test_hash_is_short_hex() -> None:
    digest = parse_rulebook(BASE).hash
    assert len(digest) == 16
    int(digest, 16)


def test_dump_validates_back_to_an_equal_rulebook() -> None:
    dumped = EXAMPLE.model_dump(mode="json", by_alias=True)
    again = Rulebook.model_validate(dumped)
    assert again == EXAMPLE
    assert again.hash == EXAMPLE.hash


# ----------------------------------------------------- the example's calibration
# These pin the behaviour the comments in the example promise.

A_FIT = {
    "account.industry": "software",
    "account.employees": 240,
    "account.country": "US",
    "person.seniority": "vp",
    "person.title": "VP Sales",
    "person.department": "sales",
    "person.email_domain": "brightloom.io",
}


def _fit(facts: dict[str, object]) -> float:
    return sum(r.points for r in EXAMPLE.fit.rules if evaluate(r.when, facts))


def _disqualified(facts: dict[str, object]) -> bool:
    return any(evaluate(d.when, facts) for d in EXAMPLE.fit.disqualify)


def _rule(signal: str, facts: dict[str, object]) -> str | None:
    for rule in EXAMPLE.engagement.rules:
        if rule.signal == signal and evaluate(rule.when, facts):
            return rule.name
    return None


def _decayed_total(rule_name: str, ages_days: list[float]) -> float:
    rule = next(r for r in EXAMPLE.engagement.rules if r.name == rule_name)
    half_life = rule.half_life_days or EXAMPLE.engagement.default_half_life_days
    total = sum(rule.points * 0.5 ** (age / half_life) for age in ages_days)
    return min(total, rule.cap) if rule.cap is not None else total


def test_example_a_fit_is_tier_a() -> None:
    assert _fit(A_FIT) >= EXAMPLE.fit.tiers["A"]
    assert not _disqualified(A_FIT)


def test_example_two_pricing_visits_open_but_emails_alone_do_not() -> None:
    threshold = EXAMPLE.windows.threshold
    fit = _fit(A_FIT)
    assert fit + _decayed_total("pricing-page", [3.0, 0.0]) >= threshold
    best_fit = _fit({**A_FIT, "person.department": "data", "account.technologies": ("kafka",)})
    assert best_fit + _decayed_total("email-opened", [0.0] * 10) < threshold


@pytest.mark.parametrize(
    ("signal", "facts", "expected"),
    [
        ("page_visited", {"properties.path": "/pricing"}, "pricing-page"),
        ("page_visited", {"properties.path": "/security"}, "evaluation-pages"),
        ("page_visited", {"properties.path": "/docs/kafka-connector"}, "evaluation-pages"),
        ("page_visited", {"properties.path": "/docs"}, "page-visit"),
        ("page_visited", {"properties.path": "/blog/x"}, "page-visit"),
        ("email_opened", {}, "email-opened"),
        (
            "job_changed",
            {"champion.is_champion": True, "properties.new_title": "Data Analyst"},
            "champion-moved",
        ),
        (
            "job_changed",
            {"champion.is_champion": False, "properties.new_title": "VP Data"},
            "job-change-senior",
        ),
        ("job_changed", {"properties.new_title": "Head of Data"}, "job-change-senior"),
        ("job_changed", {"properties.new_title": "Data Analyst"}, "job-change"),
        (
            "funding_announced",
            {"properties.round": "Series B", "properties.amount_usd": 36_000_000},
            "funding-series-a-plus",
        ),
        (
            "funding_announced",
            {"properties.round": "Series A", "properties.amount_usd": 3_000_000},
            "funding",
        ),
        ("funding_announced", {"properties.round": "Seed"}, "funding"),
    ],
)
def test_example_first_matching_rule(signal: str, facts: dict[str, object], expected: str) -> None:
    assert _rule(signal, facts) == expected


@pytest.mark.parametrize(
    "facts",
    [
        {"person.email_domain": "gmail.com"},
        {"person.email_domain": "GMAIL.COM"},
        {"account.domain": "signalhound.example"},
    ],
)
def test_example_disqualifiers(facts: dict[str, object]) -> None:
    assert _disqualified({**A_FIT, **facts})


def test_example_interns_score_low() -> None:
    intern = {**A_FIT, "person.seniority": "intern", "person.title": "Data Intern"}
    assert _fit(intern) < EXAMPLE.fit.tiers["C"]


@given(st.integers(min_value=0, max_value=1000), st.integers(min_value=1, max_value=1000))
def test_hash_differs_when_threshold_differs(a: int, delta: int) -> None:
    one = BASE.replace("threshold: 50", f"threshold: {a + 1}")
    two = BASE.replace("threshold: 50", f"threshold: {a + 1 + delta}")
    assert parse_rulebook(one).hash != parse_rulebook(two).hash


def test_hash_is_fixed_at_validation_not_by_the_conditions_evaluated_since() -> None:
    """Evaluating `eq: true` once changes how pydantic dumps the condition (`eq: 1`); a
    hash computed lazily after that differed from a fresh load's, so windows from a worker
    and from an offline replay of the same file could carry different rulebook hashes."""
    used = load_rulebook(EXAMPLE_PATH)
    for rule in used.engagement.rules:
        evaluate(rule.when, {"champion": {"is_champion": True}})
    for trigger in used.windows.triggers:
        if trigger.when is not None:
            evaluate(trigger.when, {"champion": {"is_champion": True}})
    assert used.hash == load_rulebook(EXAMPLE_PATH).hash
