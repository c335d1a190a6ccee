"""Account-level fan-out, tier thresholds, triggers and champions moving between accounts."""

from __future__ import annotations

from datetime import timedelta

import pytest

from rules.core.champions import apply_contact, clear_roles, depart, previous_person_key
from rules.core.engine import apply_signal
from rules.offline.replay import Replay
from rules.rulebook.model import Rulebook
from signals.contacts import CrmContact
from signals.models import JobChanged
from signals.records import record_of
from tests.rules.builders import (
    ACME,
    NOW,
    T0,
    days,
    funding,
    opened,
    person,
    rulebook_data,
    signal,
    visit,
)


def _rulebook(**sections: object) -> Rulebook:
    data = rulebook_data()
    for name, value in sections.items():
        if name == "windows":
            data["windows"] = {**data["windows"], **value}  # type: ignore[dict-item]
        else:
            data[name] = value
    return Rulebook.model_validate(data)


def _people_at_acme(replay: Replay, engagement_by_person: dict[str, int]) -> None:
    """Each person opens `n` emails: more opens, more engagement, same fit."""
    for name, n in engagement_by_person.items():
        for i in range(n):
            replay.apply(
                opened(
                    f"{name}-{i}",
                    T0 + timedelta(minutes=i),
                    who=person(f"{name}@acme.com", seniority="vp"),
                ),
                NOW,
            )


def test_funding_reaches_the_best_people_first_and_multithreads_the_rest() -> None:
    replay = Replay(_rulebook(accounts={"max_windows_per_signal": 2}, windows={"threshold": 70}))
    _people_at_acme(replay, {"ana": 3, "bo": 2, "cy": 1, "di": 0})
    outcome = replay.apply(funding("round", T0 + days(1)), NOW)
    assert [w.person_key for w in outcome.windows] == ["ana@acme.com", "bo@acme.com"]
    assert [w.play for w in outcome.windows] == ["funding", "multi_thread"]
    reasons = {s.person_key: s.reason for s in outcome.suppressed}
    assert reasons["cy@acme.com"] == "account_limit"
    assert set(outcome.prospects) == {"ana@acme.com", "bo@acme.com"}
    assert all(w.trigger_event_id == "round" for w in outcome.windows)
    draft = " ".join(outcome.windows[0].draft.talking_points)
    assert "Series B" in draft


def test_funding_skips_people_below_threshold_and_the_disqualified() -> None:
    replay = Replay(_rulebook(windows={"threshold": 70}))
    replay.apply(opened("s-1", T0, who=person("stu@acme.com", title="student")), NOW)
    replay.apply(opened("i-1", T0, who=person("ivy@acme.com")), NOW)  # fit 30: 30+5+30 < 70
    outcome = replay.apply(funding("round", T0 + days(1)), NOW)
    assert outcome.windows == ()
    assert {(s.person_key, s.reason) for s in outcome.suppressed} == {
        ("stu@acme.com", "disqualified"),
        ("ivy@acme.com", "below_threshold"),
    }


def test_account_only_visit_reaches_the_best_fitting_known_person() -> None:
    replay = Replay(_rulebook(accounts={"max_windows_per_signal": 1}, windows={"threshold": 70}))
    replay.apply(opened("a", T0, who=person("vp@acme.com", seniority="vp")), NOW)
    replay.apply(opened("b", T0, who=person("dev@acme.com")), NOW)
    first = replay.apply(visit("rev-ip-1", T0 + days(1), who=None), NOW)
    assert [w.person_key for w in first.windows] == ["vp@acme.com"]
    # The VP is now in cooldown, so the next account-level signal reaches the next best.
    second = replay.apply(visit("rev-ip-2", T0 + days(1) + timedelta(hours=1), who=None), NOW)
    assert [w.person_key for w in second.windows] == ["dev@acme.com"]


@pytest.mark.parametrize(
    ("seniority", "opens"),
    [("vp", True), (None, False)],  # tier A (45) vs tier B (30) below
)
def test_engagement_threshold_per_fit_tier(seniority: str | None, opens: bool) -> None:
    replay = Replay(_rulebook(windows={"threshold": 500, "min_engagement_by_tier": {"A": 9}}))
    who = person(seniority=seniority) if seniority else person()
    replay.apply(opened("e1", T0, who=who), NOW)
    replay.apply(opened("e2", T0 + timedelta(hours=1), who=who), NOW)
    assert bool(replay.windows) is opens


def _trigger_rulebook(min_tier: str) -> Rulebook:
    trigger = {
        "name": "champion-moved",
        "signal": "job_changed",
        "when": {"field": "champion.is_champion", "eq": True},
        "min_fit_tier": min_tier,
        "play": "champion_moved",
        "detail": "A champion moved",
    }
    return _rulebook(windows={"threshold": 500, "triggers": [trigger]})


MOVE_AT = T0 + days(2)


def _moved_from(old_domain: str, *, event_id: str = "move", at=MOVE_AT) -> JobChanged:
    result = signal(
        {
            "type": "job_changed",
            "event_id": event_id,
            "occurred_at": at,
            "source": "enrich",
            "person": {"email": "ana@acme.com", "seniority": "vp", "title": "VP Eng"},
            "account": ACME,
            "properties": {
                "new_title": "VP Eng",
                "previous_email": "ana@oldco.com",
                "previous_title": "Director",
                "previous_account": {"domain": old_domain},
            },
        }
    )
    assert isinstance(result, JobChanged)
    return result


def test_a_champions_move_opens_a_window_whatever_the_score_with_history() -> None:
    rulebook = _trigger_rulebook("B")
    old = Replay(_rulebook(windows={"threshold": 40}))
    old.apply(
        visit(
            "p1",
            T0,
            who=person("ana@oldco.com", seniority="vp"),
            account={"domain": "oldco.com", "industry": "software", "employees": 100},
        ),
        NOW,
    )
    assert old.windows, "she had a window at her old company"
    move = _moved_from("oldco.com")
    pk = previous_person_key(move)
    assert pk == "ana@oldco.com"
    departure = depart(
        rulebook,
        record_of(move),
        account=old.accounts["oldco.com"],
        prospect=old.prospect("oldco.com", pk),
    )
    assert departure.history.is_champion
    assert departure.history.previous_title == "Director"
    assert departure.prospect is not None and departure.prospect.departed_at == move.occurred_at

    outcome = apply_signal(
        rulebook, move, account=None, view=Replay(rulebook), now=NOW, history=departure.history
    )
    assert [w.play for w in outcome.windows] == ["champion_moved"]
    window = outcome.windows[0]
    assert window.champion == departure.history
    assert window.draft.talking_points[0].startswith("Worked with us at oldco.com as Director")


def test_a_non_champion_move_or_a_poor_fit_opens_nothing() -> None:
    rulebook = _trigger_rulebook("B")
    move = _moved_from("oldco.com")
    nobody = depart(rulebook, record_of(move), account=None, prospect=None)
    assert not nobody.history.is_champion
    outcome = apply_signal(
        rulebook, move, account=None, view=Replay(rulebook), now=NOW, history=nobody.history
    )
    assert outcome.windows == ()

    strict = _trigger_rulebook("A")  # ana's fit at ACME is A (45): a tier-A trigger opens
    champion = nobody.history.model_copy(update={"is_champion": True})
    view = Replay(strict)
    assert apply_signal(strict, move, account=None, view=view, now=NOW, history=champion).windows
    poor = signal(
        {
            **move.model_dump(mode="json"),
            "account": {"domain": "tiny.example", "industry": "retail"},
        }
    )
    assert (
        apply_signal(
            rulebook, poor, account=None, view=Replay(rulebook), now=NOW, history=champion
        ).windows
        == ()
    )


def test_crm_roles_make_a_champion_and_the_latest_record_wins() -> None:
    def contact(event_id: str, hours: int, roles: list[str]) -> CrmContact:
        return CrmContact.model_validate(
            {
                "event_id": event_id,
                "occurred_at": T0 + timedelta(hours=hours),
                "person": {"email": "ana@oldco.com"},
                "account": {"domain": "oldco.com"},
                "roles": roles,
            }
        )

    newer, older = contact("c2", 2, ["Champion"]), contact("c1", 1, [])
    account, prospect = apply_contact(newer, account=None, prospect=None)
    assert account is not None and account.account_key == "oldco.com"
    unchanged, stale = apply_contact(older, account=account, prospect=prospect)
    assert stale is None, "an older CRM record does not overwrite a newer one"
    assert unchanged is None, "the account exists already"
    assert prospect is not None and prospect.crm_roles == ("champion",)
    history = depart(
        _trigger_rulebook("B"),
        record_of(_moved_from("oldco.com")),
        account=account,
        prospect=prospect,
    ).history
    assert history.is_champion and history.evidence == ("CRM role: champion",)


def test_a_contact_updates_who_the_person_is_and_a_roleless_one_keeps_the_roles() -> None:
    def contact(event_id: str, hours: int, title: str, roles: list[str] | None) -> CrmContact:
        return CrmContact.model_validate(
            {
                "event_id": event_id,
                "occurred_at": T0 + timedelta(hours=hours),
                "person": {"email": "ana@acme.com", "title": title},
                "account": {"domain": "acme.com"},
                "roles": roles,
            }
        )

    _, first = apply_contact(
        contact("c1", 1, "Director", ["champion"]), account=None, prospect=None
    )
    assert first is not None and first.person.title == "Director"
    # An identify-style record (roles: null) with a newer title: the title moves, roles stay.
    _, second = apply_contact(contact("c2", 2, "VP Data", None), account=None, prospect=first)
    assert second is not None
    assert (second.person.title, second.crm_roles) == ("VP Data", ("champion",))
    # An older record changes neither.
    _, third = apply_contact(contact("c0", 0, "Intern", []), account=None, prospect=second)
    assert third is None


def test_a_deleted_contact_loses_its_roles_unless_a_newer_record_set_them() -> None:
    contact = CrmContact.model_validate(
        {
            "event_id": "c1",
            "occurred_at": T0 + timedelta(hours=2),
            "person": {"email": "ana@acme.com"},
            "account": {"domain": "acme.com"},
            "roles": ["Champion"],
        }
    )
    _, prospect = apply_contact(contact, account=None, prospect=None)
    assert prospect is not None and prospect.crm_roles == ("champion",)
    assert clear_roles(prospect, T0 + timedelta(hours=1)) is None, "the CRM record is newer"
    cleared = clear_roles(prospect, T0 + timedelta(hours=3))
    assert cleared is not None and cleared.crm_roles == ()
    assert cleared.crm_roles_as_of == T0 + timedelta(hours=3)
    assert cleared.person == prospect.person, "who the person is stays"
    assert clear_roles(cleared, T0 + timedelta(hours=4)) is None, "nothing left to clear"
    assert clear_roles(None, T0) is None
