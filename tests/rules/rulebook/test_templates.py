from __future__ import annotations

from typing import Any, get_args

import pytest
from pydantic import ValidationError

from rules.rulebook.loader import RulebookError, parse_rulebook
from rules.rulebook.templates import (
    DEFAULT_TEMPLATES,
    FILLER,
    PlayTemplates,
    render_draft_text,
    resolve,
    template_facts,
)
from signals.models import Account, Person
from signals.windows import Play

PLAYS: tuple[Play, ...] = get_args(Play)

FACTS: dict[str, Any] = {
    "person.first_name": "Ada",
    "person.title": "VP Engineering",
    "account.name": "Acme",
    "account.employees": "450",
    "trigger": "visited the pricing page 2x in 2 days",
    "fit.reason": "Target industry: software",
    "properties.path": "/pricing",
    "properties.round": "Series B",
    "funding.amount": "$30M",
    "properties.investors": "Index",
    "properties.new_title": "CTO",
    "properties.previous_account.name": "Globex",
}


@pytest.mark.parametrize("play", PLAYS)
def test_every_play_has_complete_defaults(play: Play) -> None:
    t = DEFAULT_TEMPLATES[play]
    assert t.subject_hint and t.opening_line and t.call_to_action
    assert t.talking_points is not None and 2 <= len(t.talking_points) <= 4
    assert t.avoid is not None and "just checking in" in t.avoid


@pytest.mark.parametrize("play", PLAYS)
@pytest.mark.parametrize("facts", [FACTS, {}], ids=["facts", "no facts"])
def test_renders_every_play_with_and_without_facts(play: Play, facts: dict[str, Any]) -> None:
    text = render_draft_text({}, play, facts)
    assert 2 <= len(text.talking_points) <= 4
    for line in (text.subject_hint, text.opening_line, text.call_to_action, *text.talking_points):
        assert line and "{" not in line and "}" not in line
        assert "  " not in line
        assert "just checking in" not in line.lower()


def test_facts_fill_the_copy() -> None:
    text = render_draft_text({}, "funding", FACTS)
    assert text.subject_hint == "Congrats on the Series B, Acme"
    assert text.opening_line == "Hi Ada, congratulations to Acme on the Series B."
    assert text.talking_points[0].startswith("Raised $30M:")


def test_missing_facts_fall_back_and_points_without_facts_are_dropped() -> None:
    text = render_draft_text({}, "funding", {})
    assert text.subject_hint == "Congrats on the round, your team"
    assert text.opening_line == "Hi there, congratulations to your team on the new round."
    # "Raised {funding.amount}" and "Backed by {properties.investors}" had nothing to say.
    assert text.talking_points[0] == "Offer a plan for scaling what they run today, not a rebuild."
    assert text.talking_points[1] in FILLER


def test_rulebook_overrides_field_by_field() -> None:
    mine = PlayTemplates(call_to_action="Book {person.first_name|them} into office hours.")
    merged = resolve({"breakup": mine}, "breakup")
    assert merged.call_to_action == mine.call_to_action
    assert merged.subject_hint == DEFAULT_TEMPLATES["breakup"].subject_hint
    text = render_draft_text({"breakup": mine}, "breakup", {})
    assert text.call_to_action == "Book them into office hours."


SANDBOX = [
    "{__class__}",
    "{person.email.__len__}",
    "{0}",
    "{person.name!r}",
    "{account.name:>40}",
    "{account.name[0]}",
    "{{account.name}}",
    "{ account.name }",
    "{Account.Name}",
    "{person.first_name|{trigger}}",
]


@pytest.mark.parametrize("template", SANDBOX)
def test_sandbox_refuses_anything_but_dotted_paths_at_load(template: str) -> None:
    with pytest.raises(ValidationError, match="placeholders are allowed"):
        PlayTemplates(subject_hint=template)


@pytest.mark.parametrize("template", SANDBOX)
def test_sandbox_never_evaluates_even_unvalidated_templates(template: str) -> None:
    sneaky = PlayTemplates.model_construct(
        subject_hint=template, opening_line=template, talking_points=(template, template)
    )
    facts = {"person.email": "ada@acme.example", "account.name": "Acme", "0": "zero"}
    text = render_draft_text({"value_add": sneaky}, "value_add", facts)
    for line in (text.subject_hint, text.opening_line):
        assert "class" not in line.replace("__class__", "") and "<" not in line
        assert "zero" not in line and "16" not in line and "'" not in line


def test_values_are_not_rescanned_and_are_bounded() -> None:
    facts = {"account.name": "{person.email}" + "x" * 1000, "person.email": "ada@acme.example"}
    text = render_draft_text({}, "multi_thread", facts)
    assert "ada@" not in text.subject_hint
    assert len(text.subject_hint) < 300


def test_rulebook_plays_section_is_validated_with_a_line() -> None:
    base = """
apiVersion: followup/v1
version: t
engagement: {rules: []}
windows: {threshold: 10}
plays:
  breakup:
    subject_hint: "Bye {person.__class__}"
"""
    with pytest.raises(RulebookError) as info:
        parse_rulebook(base)
    assert info.value.line == 8
    assert info.value.field == "plays.breakup.subject_hint"
    with pytest.raises(RulebookError, match=r"plays\.goodbye: Input should be .post_demo."):
        parse_rulebook(base.replace("breakup:", "goodbye:").replace("{person.__class__}", ""))


def test_template_facts_from_person_account_and_trigger() -> None:
    facts = template_facts(
        person=Person(email="ada@acme.example", name="Dr. Ada Lovelace", title="CTO"),
        account=Account(domain="acme.example", employees=450),
        trigger="Visited the pricing page",
        trigger_facts={"properties.amount_usd": "30000000", "properties.round": "Series B"},
        fit_reason="Target industry: software",
    )
    assert facts["person.first_name"] == "Ada"
    assert facts["account.name"] == "acme.example"
    assert facts["trigger"] == "visited the pricing page"
    assert facts["funding.amount"] == "$30M"
    assert "person.email" not in facts
