from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pytest

from rules.core.decide import MAX_REASONS, Suppressed
from rules.core.engine import apply_signal
from rules.core.state import AccountState
from signals.models import Account
from tests.rules.engine_builders import (
    ACME,
    ACME_BARE,
    NOW,
    RIVAL,
    T0,
    Replay,
    days,
    funding,
    make_rulebook,
    moved,
    opened,
    person,
    visit,
)

ANA = person(name="Ana Lima", seniority="vp", timezone="Europe/Berlin")
BO = person("bo@acme.com", name="Bo")


def replay(**windows: float) -> Replay:
    return Replay(make_rulebook(**windows))


def test_one_pricing_visit_is_below_threshold_two_open_a_window() -> None:
    r = replay()
    first = r.apply(visit("e1", T0, who=ANA))
    assert first.suppressed == (Suppressed("ana@acme.com", "below_threshold"),)
    assert first.windows == () and first.rule == "pricing_visit"
    assert first.account is not None and "ana@acme.com" in first.account.people

    second = r.apply(visit("e2", T0 + days(1), who=person()))
    (window,) = second.windows
    assert second.suppressed == ()
    assert window.trigger_event_id == "e2"
    assert window.person_key == "ana@acme.com" and window.account_key == "acme.com"
    assert window.as_of == T0 + days(1) and window.opened_at == NOW
    assert window.play == "signal_triggered"
    assert window.score.fit == 45 and window.score.fit_tier == "A"
    assert window.score.total == pytest.approx(window.score.fit + window.score.engagement)
    assert window.score.threshold == 80
    assert [r.event_id for r in window.reasons] == ["e2", "e1"]
    assert [f.rule for f in window.fit_reasons] == ["saas", "size", "senior"]
    assert window.person.name == "Ana Lima"  # merged from the first event
    rulebook = make_rulebook()
    assert (window.rulebook.version, window.rulebook.hash) == ("test-1", rulebook.hash)

    state = r.prospects["ana@acme.com"]
    assert state.last_window_at == T0 + days(1)
    assert state.last_window_id == window.window_id
    assert state.windows_opened == 1


def test_window_id_is_deterministic() -> None:
    windows = [
        replay().run([visit("e1", T0, who=ANA), visit("e2", T0 + days(1), who=ANA)]).windows
        for _ in range(2)
    ]
    assert windows[0][0].window_id == windows[1][0].window_id
    digest = hashlib.sha256(b"ana@acme.com|e2").hexdigest()[:24]
    assert windows[0][0].window_id == f"w_{digest}"


@pytest.mark.parametrize(
    "first",
    [visit("e1", T0, who=ANA), funding("e1", T0), visit("e1", T0)],
    ids=["person", "funding", "account_visit"],
)
def test_a_duplicate_changes_nothing(first: object) -> None:
    r = replay().run([visit("e0", T0 - days(1), who=ANA), first])  # type: ignore[list-item]
    before = ({k: v.to_bytes() for k, v in r.prospects.items()}, dict(r.accounts))
    again = r.apply(first)  # type: ignore[arg-type]
    assert again.duplicate
    assert again.account is None and again.prospects == {} and again.windows == ()
    assert ({k: v.to_bytes() for k, v in r.prospects.items()}, dict(r.accounts)) == before


@pytest.mark.parametrize(
    ("who", "account"),
    [
        (person(seniority="vp", title="Student assistant"), ACME),
        (person("eve@rival.io", seniority="vp"), RIVAL),
    ],
    ids=["student", "competitor"],
)
def test_disqualified_person_never_opens_a_window(
    who: dict[str, str], account: dict[str, object]
) -> None:
    r = replay()
    events = [visit(f"e{i}", T0 + days(i / 10), who=who, account=account) for i in range(6)]
    events.append(funding("f1", T0 + days(1), account=account))
    r.run(events)
    assert r.windows == []
    reasons = {s.reason for o in r.outcomes for s in o.suppressed}
    assert reasons == {"disqualified"}


def test_disqualifier_seen_on_a_later_event_blocks_from_then_on() -> None:
    r = replay()
    r.apply(visit("e1", T0, who=person(seniority="vp")))
    out = r.apply(visit("e2", T0 + days(1), who=person(title="Student")))
    assert out.suppressed == (Suppressed("ana@acme.com", "disqualified"),)


def test_cooldown_blocks_a_second_window_then_re_arms() -> None:
    r = replay(cooldown_days=7)
    r.run([visit("e1", T0, who=ANA), visit("e2", T0 + days(1), who=ANA)])
    assert len(r.windows) == 1

    inside = r.apply(visit("e3", T0 + days(7.9), who=ANA))
    assert inside.suppressed == (Suppressed("ana@acme.com", "cooldown"),)
    assert inside.windows == ()

    after = r.apply(visit("e4", T0 + days(8), who=ANA))
    assert len(after.windows) == 1
    state = r.prospects["ana@acme.com"]
    assert state.windows_opened == 2 and state.last_window_at == T0 + days(8)


def test_zero_cooldown_opens_a_window_on_every_qualifying_event() -> None:
    r = replay(cooldown_days=0)
    r.run([visit(f"e{i}", T0 + days(i / 24), who=ANA) for i in range(4)])
    assert [w.trigger_event_id for w in r.windows] == ["e1", "e2", "e3"]


def test_funding_re_evaluates_people_and_opens_only_for_those_crossing() -> None:
    r = replay()
    r.run(
        [
            visit("e1", T0, who=ANA),  # fit 45 + 25: 70
            opened("m1", T0, who=BO),  # fit 30 + 5: 35
            opened("x1", T0, who=person("zed@other.io"), account={"domain": "other.io"}),
        ]
    )
    out = r.apply(funding("f1", T0 + days(1)))
    assert out.rule == "funding"
    assert [w.person_key for w in out.windows] == ["ana@acme.com"]
    assert out.suppressed == (Suppressed("bo@acme.com", "below_threshold"),)
    assert set(out.prospects) == {"ana@acme.com"}
    (window,) = out.windows
    assert window.trigger_event_id == "f1" and window.play == "funding"
    assert window.reasons[0].event_id == "f1"
    digest = hashlib.sha256(b"ana@acme.com|f1").hexdigest()[:24]
    assert window.window_id == f"w_{digest}"
    assert out.account is not None and [c.event_id for c in out.account.contributions] == ["f1"]


def test_funding_at_an_account_with_nobody_known_only_updates_the_account() -> None:
    out = apply_signal(make_rulebook(), funding("f1", T0), account=None, prospects={}, now=NOW)
    assert out.account is not None and out.account.account == Account.model_validate(ACME)
    assert out.windows == () and out.prospects == {} and out.suppressed == ()


def test_account_contributions_count_for_people_who_arrive_later() -> None:
    r = replay()
    r.apply(funding("f1", T0))
    out = r.apply(visit("e1", T0 + days(1), who=ANA))
    (window,) = out.windows
    assert {x.rule for x in window.reasons} == {"funding", "pricing_visit"}


def test_account_level_page_visit_scores_the_account() -> None:
    r = replay()
    r.apply(opened("m1", T0, who=ANA))
    out = r.apply(visit("v1", T0 + days(1), path="/pricing", account=ACME_BARE))
    assert out.rule == "pricing_visit"
    assert out.account is not None and out.account.account_key == "acme.com"
    assert out.account.account.name == "Acme"  # merged, the bare event names no more
    assert out.suppressed == (Suppressed("ana@acme.com", "below_threshold"),)


def test_unscored_account_event_re_evaluates_nobody() -> None:
    r = replay()
    r.apply(visit("e1", T0, who=ANA))
    out = r.apply(visit("v1", T0, "/blog", account=ACME))  # page_visit rule: 3 points
    assert out.suppressed
    rulebook = make_rulebook()
    only_pricing = rulebook.model_copy(
        update={
            "engagement": rulebook.engagement.model_copy(
                update={"rules": rulebook.engagement.rules[:1]}
            )
        }
    )
    out = apply_signal(
        only_pricing,
        visit("v2", T0, path="/blog", account=ACME),
        account=r.accounts["acme.com"],
        prospects=r.prospects,
        now=NOW,
    )
    assert out.rule is None and out.suppressed == () and out.account is not None


def test_job_change_plays_champion_moved_on_linkedin() -> None:
    r = replay()
    r.apply(funding("f1", T0 - days(1)))
    out = r.apply(moved("j1", T0, who=person("cy@acme.com", name="Cy Young")))
    (window,) = out.windows
    assert window.play == "champion_moved"
    assert window.draft.channel == "linkedin"
    assert "VP Sales" in window.draft.talking_points[0]


def test_person_moving_away_is_not_re_evaluated_at_the_old_account() -> None:
    r = replay()
    r.apply(visit("e1", T0, who=ANA))
    r.apply(moved("j1", T0 + days(1), who=ANA, account={"domain": "newco.io"}))
    assert r.prospects["ana@acme.com"].account_key == "newco.io"
    out = r.apply(funding("f1", T0 + days(2)))
    assert out.windows == () and out.suppressed == ()


def test_personal_email_without_account_has_no_account_state() -> None:
    r = replay()
    out = r.apply(opened("m1", T0, who=person("ana@gmail.com"), account=None))
    assert out.account is None
    assert r.prospects["ana@gmail.com"].account_key is None
    assert out.suppressed == (Suppressed("ana@gmail.com", "below_threshold"),)


def test_state_for_another_account_is_ignored() -> None:
    other = AccountState(account_key="other.io", account=Account(domain="other.io"))
    out = apply_signal(
        make_rulebook(), visit("e1", T0, who=ANA), account=other, prospects={}, now=NOW
    )
    assert out.account is not None and out.account.account_key == "acme.com"


def test_late_event_is_scored_by_event_time() -> None:
    r = replay()
    r.apply(visit("e2", T0 + days(3), who=ANA))
    out = r.apply(visit("e1", T0, who=ANA))  # arrives late: evaluated at the watermark
    (window,) = out.windows
    assert window.as_of == T0 + days(3)
    late = next(x for x in window.reasons if x.event_id == "e1")
    assert late.points == pytest.approx(25 * 0.5 ** (3 / 7), abs=0.01)


def test_reasons_are_ranked_bounded_and_above_the_floor() -> None:
    r = replay(cooldown_days=0)
    events = [opened(f"m{i}", T0 - days(i), who=ANA) for i in range(8)]
    events += [visit("old", T0 - days(80), "/blog", who=ANA), visit("p", T0, who=ANA)]
    r.run(sorted(events, key=lambda s: s.occurred_at))
    window = r.windows[-1]
    points = [x.points for x in window.reasons]
    assert points == sorted(points, reverse=True)
    assert 0 < len(window.reasons) <= MAX_REASONS
    assert all(p > 0.05 for p in points)
    assert "old" not in {x.event_id for x in window.reasons}


def test_attributes_merge_newest_value_per_field() -> None:
    r = replay()
    r.apply(opened("m2", T0 + days(2), who=person(title="CRO")))
    r.apply(opened("m1", T0, who=person(title="VP Sales", name="Ana")))
    state = r.prospects["ana@acme.com"]
    assert state.person.title == "CRO"  # the older event does not win by arriving later
    assert state.person.name == "Ana"  # but fills a field the newer one left empty


def test_now_stamps_the_window_and_its_times_never_the_score() -> None:
    later = datetime(2030, 1, 1, tzinfo=UTC)
    events = [visit("e1", T0, who=ANA), visit("e2", T0 + days(1), who=ANA)]
    a, b = Replay(make_rulebook()), Replay(make_rulebook())
    for e in events:
        a.apply(e)
        b.apply(e, now=later)
    wa, wb = a.windows[0], b.windows[0]
    assert wa.window_id == wb.window_id and wa.score == wb.score and wa.reasons == wb.reasons
    assert wb.opened_at == later
    assert wb.draft.send_at >= later and wb.draft.expires_at > wb.draft.send_at
    # The open window's expiry is wall-clock; everything else in the state is event time.
    pa, pb = (r.prospects["ana@acme.com"] for r in (a, b))
    assert pb.open_window_expires_at == wb.draft.expires_at
    wall = {"open_window_expires_at": None}
    assert pa.model_copy(update=wall).to_bytes() == pb.model_copy(update=wall).to_bytes()


def test_a_late_event_from_the_old_employer_does_not_move_the_person_back() -> None:
    r = replay()
    r.apply(moved("j1", T0 + days(1), who=ANA, account={"domain": "newco.io", "name": "NewCo"}))
    r.apply(opened("m0", T0, who=ANA, account=ACME))
    state = r.prospects["ana@acme.com"]
    assert (state.account_key, state.account and state.account.name) == ("newco.io", "NewCo")


def test_stored_states_survive_a_bytes_round_trip() -> None:
    r = replay().run(
        [
            visit("e1", T0, who=ANA),
            opened("m1", T0, who=BO),
            visit("e2", T0 + days(1), who=ANA),
            funding("f1", T0 + days(2)),
            visit("v1", T0 + days(2), account=ACME_BARE),
        ]
    )
    for state in [*r.prospects.values(), *r.accounts.values()]:
        again = type(state).from_bytes(state.to_bytes())
        assert again == state and again.to_bytes() == state.to_bytes()
