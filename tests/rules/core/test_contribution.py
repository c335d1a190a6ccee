"""`rules.core.contribution`: the text a contribution keeps is bounded whatever is sent."""

from __future__ import annotations

import pytest

from rules.core.contribution import MAX_KEPT_TEXT, contribution_of
from rules.core.facts import facts_for
from rules.core.scoring import match_engagement_rule
from signals.records import record_of
from tests.rules.builders import T0, make_rulebook, moved, visit

RULEBOOK = make_rulebook()


def _kept(signal: object) -> tuple[str, tuple[tuple[int, str], ...]]:
    rec = record_of(signal)  # type: ignore[arg-type]
    facts = facts_for(rec, rec.person, rec.account)
    rule = match_engagement_rule(RULEBOOK, rec, facts)
    assert rule is not None
    c = contribution_of(RULEBOOK, rule, rec, facts)
    return c.detail, c.facts


@pytest.mark.parametrize(
    "signal",
    [
        visit("v1", T0, "/docs/" + "d" * 1994),
        moved("m1", T0, new_title="N" * 200),
    ],
    ids=["page-view", "job-change"],
)
def test_the_facts_of_a_contribution_share_one_text_budget(signal: object) -> None:
    detail, facts = _kept(signal)
    assert len(detail) <= MAX_KEPT_TEXT
    assert facts and sum(len(text) for _, text in facts) <= MAX_KEPT_TEXT


def test_short_facts_are_kept_whole() -> None:
    _, facts = _kept(moved("m1", T0, new_title="VP Sales"))
    assert "VP Sales" in {text for _, text in facts}


def test_a_long_fact_takes_what_the_short_ones_leave() -> None:
    _, facts = _kept(moved("m1", T0, new_title="N" * 200))
    texts = {text for _, text in facts}
    assert {"OldCo", "oldco.com"} <= texts  # short: whole
    longest = max(texts, key=len)
    assert longest.startswith("NNN") and longest.endswith("…")
    assert len(longest) == MAX_KEPT_TEXT - len("OldCo") - len("oldco.com")
