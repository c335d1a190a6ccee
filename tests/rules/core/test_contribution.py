"""`rules.core.contribution`: the text a contribution keeps is bounded whatever is sent."""

from __future__ import annotations

import pytest

from rules.core.contribution import (
    MAX_CITED_ID,
    MAX_KEPT_TEXT,
    cited_id,
    clip,
    contribution_of,
)
from rules.core.engagement import Contribution
from rules.core.facts import facts_for
from rules.core.scoring import match_engagement_rule
from signals.records import record_of
from tests.rules.builders import T0, make_rulebook, moved, visit

RULEBOOK = make_rulebook()


def _contribution(signal: object) -> Contribution:
    rec = record_of(signal)  # type: ignore[arg-type]
    facts = facts_for(rec, rec.person, rec.account)
    rule = match_engagement_rule(RULEBOOK, rec, facts)
    assert rule is not None
    return contribution_of(RULEBOOK, rule, rec, facts)


def _kept(signal: object) -> tuple[str, tuple[tuple[int, str], ...]]:
    c = _contribution(signal)
    return c.detail, c.facts


def _size(text: str) -> int:
    return len(text.encode())


@pytest.mark.parametrize(
    "signal",
    [
        visit("v1", T0, "/docs/" + "d" * 1994),
        moved("m1", T0, new_title="N" * 200),
        visit("v2", T0, "/docs/" + "\U0001d521" * 1994),  # 4 bytes a character
        moved("m2", T0, new_title="\u898b" * 200),  # 3 bytes a character
    ],
    ids=["page-view", "job-change", "page-view-4-byte", "job-change-multibyte"],
)
def test_the_facts_of_a_contribution_share_one_text_budget_in_bytes(signal: object) -> None:
    detail, facts = _kept(signal)
    assert _size(detail) <= MAX_KEPT_TEXT
    assert facts and sum(_size(text) for _, text in facts) <= MAX_KEPT_TEXT
    assert sum(_size(text) for _, text in facts) > MAX_KEPT_TEXT - 8  # the budget is used


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("short", 120, "short"),
        ("abcdef", 5, "ab\u2026"),  # the ellipsis is 3 bytes
        ("\u00e9\u00e9\u00e9", 5, "\u00e9\u2026"),
        ("\u00e9\u00e9\u00e9", 4, "\u2026"),  # a cut never splits a character
        ("\u00e9\u00e9\u00e9", 2, "\u00e9"),  # no room for the ellipsis
    ],
)
def test_clip_counts_bytes(text: str, limit: int, expected: str) -> None:
    assert clip(text, limit) == expected
    assert _size(clip(text, limit)) <= limit


def test_short_facts_are_kept_whole() -> None:
    _, facts = _kept(moved("m1", T0, new_title="VP Sales"))
    assert "VP Sales" in {text for _, text in facts}


def test_a_long_fact_takes_what_the_short_ones_leave() -> None:
    _, facts = _kept(moved("m1", T0, new_title="N" * 200))
    texts = {text for _, text in facts}
    assert {"OldCo", "oldco.com"} <= texts  # short: whole
    longest = max(texts, key=len)
    assert longest.startswith("NNN") and longest.endswith("…")
    assert _size(longest) == MAX_KEPT_TEXT - len("OldCo") - len("oldco.com")


def test_a_short_event_id_is_cited_whole_and_a_long_one_by_start_and_hash() -> None:
    uuid = "evt_0b6f6a4e-2d0c-4c44-9f0e-6c1f7f8a9b10"
    assert _size(uuid) == MAX_CITED_ID and cited_id(uuid) == uuid
    assert _contribution(visit(uuid, T0, "/pricing")).event_id == uuid
    a, b = "x" * 127 + "a", "x" * 127 + "b"
    assert cited_id(a) != cited_id(b)  # the same start: the hash tells them apart
    assert cited_id(a).startswith("x" * 27 + "~") and _size(cited_id(a)) == MAX_CITED_ID
    assert _size(cited_id("\u00e9" * 100)) <= MAX_CITED_ID
    assert _contribution(visit(a, T0, "/pricing")).event_id == cited_id(a)
