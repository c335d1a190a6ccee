from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from rules.rulebook.conditions import (
    MAX_DEPTH,
    AllCondition,
    AnyCondition,
    Condition,
    FieldCondition,
    NotCondition,
    evaluate,
)

CONDITION: TypeAdapter[Condition] = TypeAdapter(Condition)

FACTS: dict[str, Any] = {
    "account.industry": "SaaS",
    "account.employees": 240,
    "account.country": "US",
    "account.technologies": ("Snowflake", "dbt"),
    "person.title": "VP Engineering",
    "person.email_domain": "brightloom.io",
    "properties.path": "/pricing/enterprise",
    "properties.round": "Series B",
    "properties.amount_usd": 36_000_000,
    "properties.flag": True,
    "type": "page_visited",
    "source": "web-analytics",
}


def cond(data: Any) -> Condition:
    return CONDITION.validate_python(data)


@pytest.mark.parametrize(
    ("field", "op", "arg", "expected"),
    [
        # eq / ne: strings ignore case; booleans are not numbers
        ("account.industry", "eq", "saas", True),
        ("account.industry", "eq", "SAAS", True),
        ("account.industry", "eq", "software", False),
        ("account.employees", "eq", 240, True),
        ("account.employees", "eq", 240.0, True),
        ("account.employees", "eq", "240", False),
        ("properties.flag", "eq", True, True),
        ("properties.flag", "eq", 1, False),
        ("account.industry", "ne", "software", True),
        ("account.industry", "ne", "Saas", False),
        ("account.missing", "eq", "x", False),
        ("account.missing", "ne", "x", True),
        # in / not_in
        ("account.country", "in", ["us", "gb"], True),
        ("account.country", "in", ["de", "fr"], False),
        ("account.employees", "in", [100, 240], True),
        ("account.country", "not_in", ["de"], True),
        ("account.country", "not_in", ["US"], False),
        ("account.missing", "in", ["x"], False),
        ("account.missing", "not_in", ["x"], True),
        ("account.technologies", "in", ["snowflake"], False),  # a list is not a scalar
        # matches: case-insensitive search, strings only
        ("properties.path", "matches", "^/pricing", True),
        ("properties.path", "matches", "^/PRICING", True),
        ("properties.path", "matches", "enterprise$", True),
        ("properties.path", "matches", "^/docs", False),
        ("person.title", "matches", r"\b(vp|director)\b", True),
        ("account.employees", "matches", "240", False),
        ("account.missing", "matches", ".*", False),
        # contains: substring of a string, member of a list
        ("person.title", "contains", "engineer", True),
        ("person.title", "contains", "sales", False),
        ("account.technologies", "contains", "SNOWFLAKE", True),
        ("account.technologies", "contains", "kafka", False),
        ("account.employees", "contains", "2", False),
        ("account.missing", "contains", "x", False),
        # ends_with: one suffix or several
        ("person.email_domain", "ends_with", ".IO", True),
        ("person.email_domain", "ends_with", [".edu", ".io"], True),
        ("person.email_domain", "ends_with", [".edu", ".ac.uk"], False),
        ("account.employees", "ends_with", "40", False),
        ("account.missing", "ends_with", ".io", False),
        # numeric comparisons: numbers only
        ("account.employees", "gt", 239, True),
        ("account.employees", "gt", 240, False),
        ("account.employees", "gte", 240, True),
        ("account.employees", "lt", 241, True),
        ("account.employees", "lt", 240, False),
        ("account.employees", "lte", 240, True),
        ("properties.amount_usd", "gte", 5_000_000, True),
        ("account.industry", "gt", 0, False),
        ("properties.flag", "gte", 0, False),
        ("account.missing", "lt", 10, False),
        ("account.employees", "between", [200, 240], True),
        ("account.employees", "between", [240, 300], True),
        ("account.employees", "between", [241, 300], False),
        ("account.missing", "between", [0, 10], False),
        # exists
        ("account.employees", "exists", True, True),
        ("account.employees", "exists", False, False),
        ("account.missing", "exists", True, False),
        ("account.missing", "exists", False, True),
        # plain fields at the root
        ("type", "eq", "PAGE_VISITED", True),
        ("source", "in", ["web-analytics", "esp"], True),
    ],
)
def test_operator(field: str, op: str, arg: Any, expected: bool) -> None:
    condition = cond({"field": field, op: arg})
    assert isinstance(condition, FieldCondition)
    assert condition.operator == op
    assert evaluate(condition, FACTS) is expected


def test_none_condition_is_always_true() -> None:
    assert evaluate(None, {}) is True


def test_explicit_none_fact_is_missing() -> None:
    assert evaluate(cond({"field": "person.title", "exists": False}), {"person.title": None})


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"all": []}, True),
        ({"any": []}, False),
        ({"all": [{"field": "account.country", "eq": "us"}]}, True),
        (
            {
                "all": [
                    {"field": "account.country", "eq": "us"},
                    {"field": "account.employees", "gt": 1000},
                ]
            },
            False,
        ),
        (
            {
                "any": [
                    {"field": "account.country", "eq": "de"},
                    {"field": "account.employees", "between": [50, 500]},
                ]
            },
            True,
        ),
        ({"not": {"field": "account.country", "eq": "us"}}, False),
        ({"not": {"field": "account.missing", "exists": True}}, True),
        (
            {
                "all": [
                    {"any": [{"field": "person.title", "matches": "^vp"}]},
                    {"not": {"field": "person.email_domain", "in": ["gmail.com"]}},
                ]
            },
            True,
        ),
    ],
)
def test_compound(data: dict[str, Any], expected: bool) -> None:
    assert evaluate(cond(data), FACTS) is expected


@pytest.mark.parametrize(
    "data",
    [
        {"field": "account.industry", "in": ["SaaS", "software"]},
        {"field": "properties.path", "matches": "^/pricing"},
        {"field": "account.employees", "between": [50, 1000]},
        {"field": "person.email_domain", "ends_with": [".edu", ".ac.uk"]},
        {"field": "person.id", "exists": True},
        {"not": {"field": "account.country", "not_in": ["US"]}},
        {"all": [{"any": []}, {"not": {"field": "type", "eq": "email_opened"}}]},
    ],
)
def test_dump_gives_back_the_written_form(data: dict[str, Any]) -> None:
    condition = cond(data)
    dumped = CONDITION.dump_python(condition, mode="json", by_alias=True)
    assert dumped == data
    assert cond(dumped) == condition


def _errors(data: Any) -> list[str]:
    with pytest.raises(ValidationError) as info:
        cond(data)
    return [e["msg"] for e in info.value.errors()]


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (
            {"field": "account.industry", "equals": "saas"},
            "unknown operator 'equals' for field 'account.industry'; expected one of eq, ne",
        ),
        ({"field": "account.industry", "eq": "saas", "ne": "x"}, "2 operators (eq, ne)"),
        ({"field": "account.industry"}, "no operator for field 'account.industry'"),
        ({"field": "account.industry", "eq": None}, "use exists: false"),
        ({"field": "person.title", "matches": "(unclosed"}, "invalid regular expression"),
        ({"field": "person.title", "matches": "a" * 501}, "at most 500 characters"),
        ({"field": "person.title", "matches": r"(vp)\1"}, "no backreferences or lookaround"),
        ({"field": "person.title", "matches": "(?<=x)y"}, "no backreferences or lookaround"),
        ({"field": "acount.industry", "eq": "saas"}, "unknown field 'acount.industry'"),
        ({"field": "account.industry", "eq": ["a", "b"]}, "a single string, number or bool"),
        ({"field": "account.employees", "gt": "10"}, "expected a number"),
        ({"field": "account.employees", "gt": True}, "expected a number"),
        ({"field": "account.employees", "gt": float("nan")}, "finite"),
        ({"field": "account.employees", "between": [10, 1]}, "lo <= hi"),
        ({"field": "account.employees", "between": [1, 2, 3]}, "at most 2 items"),
        ({"field": "account.country", "in": []}, "at least 1 item"),
        ({"field": "account.country", "in": "US"}, "valid tuple"),
        ({"eq": "saas"}, "exactly one of 'field', 'all', 'any' or 'not'"),
        ({"all": [], "any": []}, "exactly one of 'field', 'all', 'any' or 'not'"),
        ("account.industry == 'saas'", "exactly one of 'field', 'all', 'any' or 'not'"),
        ({"all": [{"field": "x.y", "eq": 1}]}, "unknown field 'x.y'"),
        ({"not": [{"field": "type", "eq": "x"}]}, "exactly one of 'field'"),
    ],
)
def test_invalid_condition(data: Any, fragment: str) -> None:
    messages = _errors(data)
    assert any(fragment in m for m in messages), messages


def test_matches_runs_in_linear_time_on_a_crafted_input() -> None:
    """`(a+)+$` against 'aaa...a!' backtracks exponentially in Python's `re`: this input
    would not finish in any test timeout. RE2 answers in one linear pass."""
    condition = cond({"field": "properties.path", "matches": "(a+)+$"})
    crafted = "a" * 20_000 + "!"
    assert not condition.evaluate({"properties.path": crafted})
    assert condition.evaluate({"properties.path": crafted[:-1]})


def test_matches_is_case_insensitive_beyond_ascii() -> None:
    condition = cond({"field": "account.name", "matches": "^ÉCOLE"})
    assert condition.evaluate({"account.name": "école des données"})


def _nested(depth: int) -> dict[str, Any]:
    data: dict[str, Any] = {"field": "type", "eq": "page_visited"}
    for _ in range(depth - 1):
        data = {"not": data}
    return data


def test_nesting_limit() -> None:
    assert cond(_nested(MAX_DEPTH)).depth == MAX_DEPTH
    assert any("nest more than" in m for m in _errors(_nested(MAX_DEPTH + 1)))
    assert any("nest more than" in m for m in _errors({"all": [_nested(MAX_DEPTH)]}))


def test_models_are_frozen_and_hashable() -> None:
    condition = cond({"all": [{"field": "account.country", "in": ["US"]}]})
    assert isinstance(condition, AllCondition)
    with pytest.raises(ValidationError):
        condition.all = ()  # type: ignore[misc]
    assert hash(condition) == hash(cond({"all": [{"field": "account.country", "in": ["US"]}]}))


def test_python_keywords_use_aliases() -> None:
    negated = cond({"not": {"field": "account.country", "in": ["US"]}})
    assert isinstance(negated, NotCondition)
    assert isinstance(negated.not_, FieldCondition)
    assert negated.not_.in_ == ("US",)


# ------------------------------------------------------------------ properties

_leaf = st.builds(
    lambda field, op, arg: {"field": field, op: arg},
    st.sampled_from([*sorted(k for k in FACTS if "." in k), "account.missing"]),
    st.sampled_from(["eq", "ne", "contains"]),
    st.one_of(st.text(max_size=5), st.integers(-5, 300), st.booleans()),
) | st.builds(
    lambda field, lo, width: {"field": field, "between": [lo, lo + width]},
    st.sampled_from(["account.employees", "properties.amount_usd", "account.missing"]),
    st.integers(-1000, 1000),
    st.integers(0, 1000),
)
_conditions = st.recursive(
    _leaf,
    lambda children: st.one_of(
        st.builds(lambda cs: {"all": cs}, st.lists(children, max_size=3)),
        st.builds(lambda cs: {"any": cs}, st.lists(children, max_size=3)),
        st.builds(lambda c: {"not": c}, children),
    ),
    max_leaves=8,
)
_facts = st.fixed_dictionaries(
    {},
    optional={
        "account.employees": st.integers(0, 5000),
        "account.industry": st.sampled_from(["SaaS", "saas", "retail"]),
        "person.title": st.text(max_size=8),
        "properties.flag": st.booleans(),
    },
)


@given(_conditions, _facts)
def test_not_inverts(data: dict[str, Any], facts: dict[str, Any]) -> None:
    condition = cond(data)
    assert evaluate(cond({"not": data}), facts) is not evaluate(condition, facts)


@given(st.lists(_conditions, max_size=4), _facts)
def test_all_and_any_agree_with_python(items: list[dict[str, Any]], facts: dict[str, Any]) -> None:
    results = [evaluate(cond(c), facts) for c in items]
    assert isinstance(cond({"all": items}), AllCondition)
    assert isinstance(cond({"any": items}), AnyCondition)
    assert evaluate(cond({"all": items}), facts) is all(results)
    assert evaluate(cond({"any": items}), facts) is any(results)


@given(_conditions)
def test_round_trip(data: dict[str, Any]) -> None:
    condition = cond(data)
    dumped = CONDITION.dump_python(condition, mode="json", by_alias=True)
    assert cond(dumped) == condition
    assert CONDITION.dump_python(cond(dumped), mode="json", by_alias=True) == dumped
