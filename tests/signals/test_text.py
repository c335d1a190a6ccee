"""Inbound text types: unsafe characters removed from free text, refused in identifiers,
and lengths checked on what is kept."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from signals.text import Id, Name, Technologies, clean

_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
NAME: TypeAdapter[str] = TypeAdapter(Name)
ID: TypeAdapter[str] = TypeAdapter(Id)
TECH: TypeAdapter[tuple[str, ...]] = TypeAdapter(Technologies)


@settings(max_examples=500)
@given(st.text(max_size=40))
def test_clean_leaves_no_unsafe_character_and_keeps_safe_text_as_it_is(text: str) -> None:
    out = clean(text)
    assert not _UNSAFE.search(out)
    if not _UNSAFE.search(text):
        assert out == text  # the fast path (printable text) and the slow one agree


@pytest.mark.parametrize(
    ("raw", "kept"),
    [
        ("Ana\u202eevil", "Anaevil"),
        ("VP\tSales\nEMEA", "VP Sales EMEA"),
        ("bell\x07 and \x1b[31mred", "bell and [31mred"),
        ("nbsp\u00a0stays", "nbsp\u00a0stays"),  # not printable, but not unsafe either
    ],
)
def test_free_text_is_cleaned(raw: str, kept: str) -> None:
    assert NAME.validate_python(raw) == kept


def test_the_length_limit_applies_to_the_cleaned_text() -> None:
    assert len(NAME.validate_python("a" * 200 + "\u202e")) == 200
    with pytest.raises(ValidationError) as info:
        NAME.validate_python("a" * 201)
    assert info.value.errors()[0]["type"] == "string_too_long"


def test_text_that_cleans_to_nothing_is_refused() -> None:
    with pytest.raises(ValidationError):
        NAME.validate_python("\x00\u202e")


@pytest.mark.parametrize("raw", ["crm\x00-1", "id\u2066", "tab\tid"])
def test_identifiers_refuse_unsafe_characters(raw: str) -> None:
    with pytest.raises(ValidationError, match="control characters"):
        ID.validate_python(raw)


def test_identifiers_keep_other_text_exactly() -> None:
    assert ID.validate_python("Crm-Ä\u00a01") == "Crm-Ä\u00a01"


def test_lists_are_bounded_in_count_and_item_length() -> None:
    assert TECH.validate_python(["dbt\x00"] * 50) == ("dbt",) * 50
    with pytest.raises(ValidationError):
        TECH.validate_python(["dbt"] * 51)
    with pytest.raises(ValidationError):
        TECH.validate_python(["x" * 65])
