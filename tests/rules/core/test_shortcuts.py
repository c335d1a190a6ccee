"""The engine's shortcuts decide exactly what the long way decides (hypothesis).

Each shortcut skips work only where the skipped work cannot change an outcome:
`surely_below` skips scoring, `trimmed` skips ranking, `event_reads` leaves out facts no
rule reads, the memos in `facts` and `contribution` and the identity shortcut of the fit
memo return what they would compute, and a merge of an equal record changes nothing.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from rules.core.assessment import evaluation_time, screen, surely_below
from rules.core.contribution import _kept_texts, _named, contribution_of
from rules.core.draft import DRAFT_FACT_KEYS
from rules.core.engagement import trim, trimmed
from rules.core.facts import event_reads, facts_for
from rules.core.fitcache import FitCache
from rules.core.merge import merge_person
from rules.core.scoring import fit, match_engagement_rule
from rules.core.state import Stamps
from rules.offline.replay import Replay
from rules.rulebook.model import Rulebook
from signals.models import Signal
from signals.records import PersonRec, record_of
from tests.rules.builders import (
    ACME,
    NOW,
    PRICING_TWICE,
    T0,
    make_rulebook,
    opened,
    person,
    rulebook_data,
)
from tests.rules.core.test_properties import events

RULEBOOKS = [make_rulebook(), make_rulebook(triggers=[PRICING_TWICE])]


def _uncapped() -> Rulebook:
    data = rulebook_data()
    for rule in data["engagement"]["rules"]:
        rule.pop("cap", None)
    return Rulebook.model_validate(data)


def _each_prospect(rulebook: Rulebook, signals: list[Signal]) -> Any:
    """After every signal, every prospect with its account state."""
    r = Replay(rulebook)
    for sig in signals:
        r.apply(sig, NOW)
        for key, people in r.prospects.items():
            for p in people.values():
                yield p, r.accounts.get(key) if key is not None else None


@settings(max_examples=100, deadline=None)
@given(events(), st.sampled_from([*RULEBOOKS, _uncapped()]))
def test_surely_below_only_where_the_screen_refuses_below_threshold(
    signals: list[Signal], rulebook: Rulebook
) -> None:
    for p, account in _each_prospect(rulebook, signals):
        if p.watermark is None:
            continue
        at = evaluation_time(p, account)
        for trigger in (None, *rulebook.windows.triggers):
            if surely_below(rulebook, p, account, trigger=trigger):
                first = screen(rulebook, p, account, at, trigger=trigger)
                assert first[6] == "below_threshold"


@settings(max_examples=100, deadline=None)
@given(events())
def test_trimmed_says_when_trim_has_nothing_to_do(signals: list[Signal]) -> None:
    rulebook = RULEBOOKS[0]
    horizon = rulebook.engagement.horizon_days
    for p, account in _each_prospect(rulebook, signals):
        if p.watermark is None:
            continue
        for at in (evaluation_time(p, account), evaluation_time(p, account) + timedelta(days=95)):
            scored = screen(rulebook, p, account, at)[4]
            if trimmed(p.engagement, at.timestamp(), horizon):
                assert trim(p.engagement, scored) is p.engagement


def test_surely_below_holds_for_opens_and_not_without_caps() -> None:
    rulebook = RULEBOOKS[0]
    r = Replay(rulebook)
    r.apply(opened("o1", T0, who=person()), NOW)
    p = r.prospects["acme.com"]["ana@acme.com"]
    assert surely_below(rulebook, p, r.accounts["acme.com"])
    bare = _uncapped()
    r = Replay(bare)
    r.apply(opened("o1", T0, who=person()), NOW)
    p = r.prospects["acme.com"]["ana@acme.com"]
    assert not surely_below(bare, p, r.accounts["acme.com"])


@settings(max_examples=100, deadline=None)
@given(events(), st.sampled_from(RULEBOOKS))
def test_facts_left_out_are_never_read(signals: list[Signal], rulebook: Rulebook) -> None:
    for sig in signals:
        rec = record_of(sig)
        full = facts_for(rec, rec.person, rec.account)
        reads = event_reads(rulebook, rec.type)
        some = facts_for(rec, rec.person, rec.account, reads=reads)
        assert some.items() <= full.items()
        assert {k: v for k, v in full.items() if k in reads} == {
            k: v for k, v in some.items() if k in reads
        }
        rule = match_engagement_rule(rulebook, rec, full)
        assert match_engagement_rule(rulebook, rec, some) == rule
        if rule is not None:
            assert contribution_of(rulebook, rule, rec, some) == contribution_of(
                rulebook, rule, rec, full
            )


def test_memoised_facts_are_new_dicts_each_call() -> None:
    rec = record_of(opened("o1", T0, who=person(title="VP"), account=ACME))
    first = facts_for(rec, rec.person, rec.account)
    first["person.title"] = "changed"
    assert facts_for(rec, rec.person, rec.account)["person.title"] == "VP"


def test_fit_known_by_identity_is_the_fit_computed() -> None:
    rulebook = RULEBOOKS[0]
    cache = FitCache()
    rec = record_of(opened("o1", T0, who=person(title="VP", seniority="vp"), account=ACME))
    assert rec.person is not None and rec.account is not None
    expected = fit(rulebook, facts_for(None, rec.person, rec.account))
    assert cache.get(rulebook, rec.person, rec.account) == expected
    assert cache.get(rulebook, rec.person, rec.account) == expected  # by identity
    other = make_rulebook(threshold=10)
    assert cache.get(other, rec.person, rec.account) == fit(
        other, facts_for(None, rec.person, rec.account)
    )


def test_merging_an_equal_record_changes_nothing() -> None:
    current = PersonRec("ana@acme.com", title="VP")
    stamps = Stamps(((1.0, 1),), bytes([0, 255, 255, 0]))
    merged, after = merge_person(current, PersonRec("ana@acme.com", title="VP"), stamps, (2.0, 2))
    assert merged is current and after is stamps


def test_kept_texts_tell_equal_values_of_two_types_apart() -> None:
    named = frozenset({"champion.engagement"})
    none = (None,) * len(DRAFT_FACT_KEYS)
    as_int = _kept_texts(
        "Worth {champion.engagement}", none, _named(named, {"champion.engagement": 1})
    )
    as_float = _kept_texts(
        "Worth {champion.engagement}", none, _named(named, {"champion.engagement": 1.0})
    )
    assert (as_int[0], as_float[0]) == ("Worth 1", "Worth 1.0")
