"""The fit memo: the same answers as computing fit afresh, keyed by what fit reads."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rules.core.facts import facts_for
from rules.core.fitcache import FitCache, fit_inputs, fit_of
from rules.core.scoring import fit
from rules.rulebook.loader import load_rulebook
from rules.rulebook.model import Rulebook
from signals.records import AccountRec, PersonRec
from tests.rules.builders import rulebook_data

EXAMPLE = load_rulebook(Path(__file__).parents[3] / "rules" / "examples" / "b2b_saas.yaml")

people = st.builds(
    PersonRec,
    email=st.sampled_from(
        [None, "ana@acme.com", "ANA@Acme.com", "bo@acme.com", "x@gmail.com", "y@uni.edu"]
    ),
    id=st.sampled_from([None, "crm-1", "crm-2"]),
    name=st.sampled_from([None, "Ana", "Bo"]),
    title=st.sampled_from([None, "VP Engineering", "Student", "Head of Data", "intern"]),
    seniority=st.sampled_from([None, "vp", "director", "intern", "ic"]),
    department=st.sampled_from([None, "engineering", "sales"]),
    timezone=st.sampled_from([None, "Europe/Berlin"]),
)
accounts = st.none() | st.builds(
    AccountRec,
    domain=st.sampled_from(["acme.com", "www.Acme.com", "rival.io", "relaywise.example"]),
    name=st.sampled_from([None, "Acme"]),
    industry=st.sampled_from([None, "software", "retail"]),
    employees=st.sampled_from([None, 10, 400, 20_000]),
    country=st.sampled_from([None, "DE", "US"]),
    technologies=st.sampled_from([(), ("snowflake",), ("snowflake", "dbt", "kafka")]),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(people, accounts), min_size=1, max_size=30))
def test_answers_equal_fit_computed_afresh(
    pairs: list[tuple[PersonRec, AccountRec | None]],
) -> None:
    cache = FitCache(maxsize=8)  # small: eviction happens too
    for person, account in pairs:
        assert cache.get(EXAMPLE, person, account) == fit(EXAMPLE, facts_for(None, person, account))


def test_people_who_differ_only_in_what_fit_ignores_share_an_answer() -> None:
    cache = FitCache()
    acme = AccountRec("acme.com", industry="software", employees=400)
    ana = PersonRec(email="ana@acme.com", name="Ana", title="VP Sales", seniority="vp")
    bo = PersonRec(email="bo@acme.com", name="Bo", title="VP Sales", seniority="vp", id="c-9")
    cache.get(EXAMPLE, ana, acme)
    cache.get(EXAMPLE, bo, acme)
    assert (cache.misses, cache.hits) == (1, 1)
    # The email's domain is read by the example's disqualifiers: another domain is another key.
    cache.get(EXAMPLE, PersonRec(email="ana@gmail.com", title="VP Sales", seniority="vp"), acme)
    assert cache.misses == 2


def test_a_field_fit_reads_is_part_of_the_key() -> None:
    cache = FitCache()
    acme = AccountRec("acme.com", industry="software", employees=400)
    senior = fit_of(EXAMPLE, PersonRec(email="a@acme.com", seniority="vp"), acme, cache)
    junior = fit_of(EXAMPLE, PersonRec(email="a@acme.com", seniority="ic"), acme, cache)
    assert cache.misses == 2
    assert senior[0] > junior[0]


def test_a_reloaded_rulebook_never_reuses_an_old_answer() -> None:
    data = rulebook_data()
    first = Rulebook.model_validate(data)
    data["fit"]["rules"][0]["points"] = 35
    second = Rulebook.model_validate(data)
    cache = FitCache()
    person = PersonRec(email="a@acme.com", seniority="vp")
    acme = AccountRec("acme.com", industry="software", employees=400)
    assert cache.get(first, person, acme)[0] + 15 == cache.get(second, person, acme)[0]
    assert cache.misses == 2


def test_fit_inputs_name_what_conditions_and_details_read() -> None:
    person, account = fit_inputs(EXAMPLE)
    assert "email_domain" in person and "email" not in person
    assert {"title", "seniority", "department"} <= set(person)
    assert {"domain", "industry", "employees"} <= set(account)


def test_a_cache_needs_room() -> None:
    with pytest.raises(ValueError):
        FitCache(maxsize=0)
