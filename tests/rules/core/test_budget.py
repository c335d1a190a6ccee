"""Byte budgets on what a person's state keeps of a producer's text (rules.core.budget)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rules.core.budget import (
    MAX_ROLE_BYTES,
    MAX_ROLES_BYTES,
    MAX_STAGE_BYTES,
    PERSON_BYTES,
    cite,
    clip,
    size,
    stored_person,
    stored_roles,
    stored_stage,
)
from signals.identity import email_key
from signals.records import PersonRec

WIDE = "\U0001d538"  # four bytes of UTF-8


def test_a_person_within_budget_is_kept_as_the_same_object() -> None:
    rec = PersonRec(email="Ana@Acme.com", id="crm-7", name="Ana", title="VP Data")
    assert stored_person(rec) is rec


@pytest.mark.parametrize("field", ["name", "title", "seniority", "department"])
def test_display_texts_are_cut_in_bytes_at_a_character_boundary(field: str) -> None:
    rec = stored_person(PersonRec(email="a@b.co", **{field: WIDE * 200}))
    kept = getattr(rec, field)
    assert size(kept) <= PERSON_BYTES[field]
    assert kept.endswith("…") and set(kept[:-1]) == {WIDE}


def test_a_long_id_is_cited_stably_and_distinctly() -> None:
    a, b = "x" * 127 + "a", "x" * 127 + "b"
    cited = stored_person(PersonRec(id=a)).id
    assert cited is not None and size(cited) <= PERSON_BYTES["id"] and "~" in cited
    assert cited == stored_person(PersonRec(id=a)).id != stored_person(PersonRec(id=b)).id


def test_an_email_over_budget_is_kept_as_its_key() -> None:
    email = "Ä" * 200 + "@Acme.com"
    assert stored_person(PersonRec(email=email)).email == email_key(email)
    short = "Ana@Acme.com"
    assert stored_person(PersonRec(email=short)).email == short


def test_stages_are_cited_and_citing_is_idempotent() -> None:
    assert stored_stage("closed_lost") == "closed_lost"
    long = "é" * 50
    assert size(stored_stage(long)) <= MAX_STAGE_BYTES
    assert stored_stage(stored_stage(long)) == stored_stage(long)


def test_roles_keep_the_shortest_first_within_their_budget() -> None:
    roles = tuple(
        sorted({"champion", "economic_buyer", WIDE * 50, *(f"r{i:02}" for i in range(10))})
    )
    kept = stored_roles(roles)
    assert "champion" in kept and kept == tuple(sorted(kept))
    assert sum(size(r) + 2 for r in kept) <= MAX_ROLES_BYTES
    assert all(size(r) <= MAX_ROLE_BYTES for r in stored_roles((WIDE * 50,)))
    assert stored_roles(("champion",)) == ("champion",)


@given(st.text(max_size=300), st.integers(min_value=0, max_value=400))
def test_clip_never_exceeds_its_budget(text: str, limit: int) -> None:
    kept = clip(text, limit)
    assert size(kept) <= limit
    body = kept[:-1] if kept != text and kept.endswith("…") else kept
    assert text.startswith(body)


@given(st.text(min_size=1, max_size=200))
def test_cite_fits_and_is_idempotent(text: str) -> None:
    cited = cite(text, 64)
    assert size(cited) <= 64 and cite(cited, 64) == cited
