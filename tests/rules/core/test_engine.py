"""The decision core end to end: signals in, state and windows out (no broker)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import msgspec
import pytest

from rules.core.decide import MAX_REASONS, Suppressed
from rules.core.dedup import entry_days
from rules.core.engine import apply_signal
from rules.core.state import (
    MAX_SEEN_INLINE,
    AccountState,
    decode_account,
    decode_prospect,
    encode_state,
)
from rules.offline.replay import Replay
from signals.records import AccountRec
from tests.rules.builders import (
    ACME,
    ACME_BARE,
    NOW,
    RIVAL,
    T0,
    days,
    funding,
    make_rulebook,
    moved,
    opened,
    person,
    prospect_of,
    run,
    signal,
    visit,
)

ANA = person(name="Ana Lima", seniority="vp", timezone="Europe/Berlin")
BO = person("bo@acme.com", name="Bo")


def replay(**windows: float) -> Replay:
    return Replay(make_rulebook(**windows))


def wid(person_key: str, source: str, event_id: str) -> str:
    return "w_" + hashlib.sha256(f"{person_key}|{source}|{event_id}".encode()).hexdigest()[:24]


def test_one_pricing_visit_is_below_threshold_two_open_a_window() -> None:
    r = replay()
    first = r.apply(visit("e1", T0, who=ANA), NOW)
    assert first.suppressed == (Suppressed("ana@acme.com", "below_threshold"),)
    assert first.windows == () and first.rule == "pricing_visit"
    assert first.account is not None and first.account.account_key == "acme.com"

    second = r.apply(visit("e2", T0 + days(1), who=person()), NOW)
    (window,) = second.windows
    assert second.suppressed == ()
    assert (window.trigger_event_id, window.trigger_source) == ("e2", "web")
    assert window.person_key == "ana@acme.com" and window.account_key == "acme.com"
    assert window.as_of == T0 + days(1) and window.opened_at == NOW
    assert window.play == "signal_triggered"
    assert window.score.fit == 45 and window.score.fit_tier == "A"
    assert window.score.total == pytest.approx(window.score.fit + window.score.engagement)
    assert window.score.threshold == 80
    assert [x.event_id for x in window.reasons] == ["e2", "e1"]
    assert [f.rule for f in window.fit_reasons] == ["saas", "size", "senior"]
    assert window.person.name == "Ana Lima"  # merged from the first event
    rulebook = make_rulebook()
    assert (window.rulebook.version, window.rulebook.hash) == ("test-1", rulebook.hash)

    state = prospect_of(r, "ana@acme.com")
    assert state.last_window_at == T0 + days(1)
    assert state.last_window_id == window.window_id
    assert state.windows_opened == 1


def test_window_id_is_deterministic_and_names_the_source() -> None:
    windows = [
        run(make_rulebook(), [visit("e1", T0, who=ANA), visit("e2", T0 + days(1), who=ANA)])
        for _ in range(2)
    ]
    assert windows[0].windows[0].window_id == windows[1].windows[0].window_id
    assert windows[0].windows[0].window_id == wid("ana@acme.com", "web", "e2")


@pytest.mark.parametrize(
    "first",
    [visit("e1", T0, who=ANA), funding("e1", T0), visit("e1", T0)],
    ids=["person", "funding", "account_visit"],
)
def test_a_duplicate_changes_nothing(first: object) -> None:
    r = run(make_rulebook(), [visit("e0", T0 - days(1), who=ANA), first])  # type: ignore[list-item]
    before = msgspec.to_builtins((r.prospects, r.accounts))
    again = r.apply(first, NOW)
    assert again.verdict == "duplicate"
    assert again.account is None and again.prospects == {} and again.windows == ()
    assert msgspec.to_builtins((r.prospects, r.accounts)) == before


def test_the_same_event_id_from_two_sources_is_two_events() -> None:
    r = replay()
    r.apply(visit("evt-1001", T0, who=ANA), NOW)
    data = visit("evt-1001", T0 + days(1), who=ANA).model_dump()
    data["source"] = "other-pipeline"
    out = r.apply(signal(data), NOW)
    assert out.verdict == "applied"
    (window,) = out.windows
    assert window.window_id == wid("ana@acme.com", "other-pipeline", "evt-1001")
    assert r.duplicates == 0


def test_an_event_past_the_horizon_is_too_late_not_a_duplicate() -> None:
    r = replay()
    r.apply(visit("e1", T0, who=ANA), NOW)
    late = r.apply(opened("old", T0 - days(90), who=ANA), NOW)
    assert late.verdict == "too_late" and late.prospects == {}
    assert (r.too_late, r.duplicates) == (1, 0)
    # Within the horizon, a late event counts, whatever came before it.
    assert r.apply(opened("late", T0 - days(89), who=ANA), NOW).verdict == "applied"
    # Against the clock too: a new person's first event from long ago counts for nothing.
    clock = T0 + days(200)
    assert r.apply(opened("new", T0, who=BO), clock).verdict == "too_late"


def test_a_busy_person_spills_old_ids_and_still_dedups_and_applies_late_events() -> None:
    r = replay(threshold=10_000)
    history = [opened(f"m{i}", T0 + days(i / 10), who=ANA) for i in range(200)]
    for sig in history:
        r.apply(sig, NOW)
    state = prospect_of(r, "ana@acme.com")
    assert MAX_SEEN_INLINE <= len(entry_days(state.seen)) <= 2 * MAX_SEEN_INLINE
    assert state.seen.spilled  # the rest went to overflow records
    assert len(msgspec.msgpack.encode(state)) < 4096
    # A redelivery of a spilled event is a duplicate; an unseen late event is applied.
    assert r.apply(history[3], NOW).verdict == "duplicate"
    assert r.apply(opened("new-late", T0 + days(0.35), who=ANA), NOW).verdict == "applied"
    assert r.duplicates == 1


def test_disqualified_person_never_opens_a_window() -> None:
    for who, account in [
        (person(seniority="vp", title="Student assistant"), ACME),
        (person("eve@rival.io", seniority="vp"), RIVAL),
    ]:
        r = replay()
        reasons = set()
        events = [visit(f"e{i}", T0 + days(i / 10), who=who, account=account) for i in range(6)]
        events.append(funding("f1", T0 + days(1), account=account))
        for e in events:
            reasons |= {s.reason for s in r.apply(e, NOW).suppressed}
        assert r.windows == [] and reasons == {"disqualified"}


def test_cooldown_blocks_a_second_window_then_re_arms() -> None:
    r = run(
        make_rulebook(cooldown_days=7),
        [visit("e1", T0, who=ANA), visit("e2", T0 + days(1), who=ANA)],
    )
    assert len(r.windows) == 1
    inside = r.apply(visit("e3", T0 + days(7.9), who=ANA), NOW)
    assert inside.suppressed == (Suppressed("ana@acme.com", "cooldown"),)
    after = r.apply(visit("e4", T0 + days(8), who=ANA), NOW)
    assert len(after.windows) == 1
    state = prospect_of(r, "ana@acme.com")
    assert state.windows_opened == 2 and state.last_window_at == T0 + days(8)


def test_funding_re_evaluates_people_and_opens_only_for_those_crossing() -> None:
    r = run(
        make_rulebook(),
        [
            visit("e1", T0, who=ANA),  # fit 45 + 25: 70
            opened("m1", T0, who=BO),  # fit 30 + 5: 35
            opened("x1", T0, who=person("zed@other.io"), account={"domain": "other.io"}),
        ],
    )
    out = r.apply(funding("f1", T0 + days(1)), NOW)
    assert out.rule == "funding"
    assert [w.person_key for w in out.windows] == ["ana@acme.com"]
    assert out.suppressed == (Suppressed("bo@acme.com", "below_threshold"),)
    assert set(out.prospects) == {"ana@acme.com"}
    (window,) = out.windows
    assert window.trigger_event_id == "f1" and window.play == "funding"
    assert window.reasons[0].event_id == "f1"
    assert window.window_id == wid("ana@acme.com", "news", "f1")
    assert out.account is not None
    assert [s.rule for s in out.account.engagement.sums] == ["funding"]


def test_funding_at_an_account_with_nobody_known_only_updates_the_account() -> None:
    out = apply_signal(
        make_rulebook(), funding("f1", T0), account=None, view=Replay(make_rulebook()), now=NOW
    )
    assert out.account is not None and out.account.account == AccountRec(**ACME)  # type: ignore[arg-type]
    assert out.windows == () and out.prospects == {} and out.suppressed == ()


def test_account_contributions_count_for_people_who_arrive_later() -> None:
    r = replay()
    r.apply(funding("f1", T0), NOW)
    (window,) = r.apply(visit("e1", T0 + days(1), who=ANA), NOW).windows
    assert {x.rule for x in window.reasons} == {"funding", "pricing_visit"}


def test_account_level_page_visit_scores_the_account() -> None:
    r = replay()
    r.apply(opened("m1", T0, who=ANA), NOW)
    out = r.apply(visit("v1", T0 + days(1), path="/pricing", account=ACME_BARE), NOW)
    assert out.rule == "pricing_visit"
    assert out.account is not None and out.account.account_key == "acme.com"
    assert out.account.account.name == "Acme"  # merged, the bare event names no more
    assert out.suppressed == (Suppressed("ana@acme.com", "below_threshold"),)


def test_job_change_plays_champion_moved_on_linkedin() -> None:
    r = replay()
    r.apply(funding("f1", T0 - days(1)), NOW)
    (window,) = r.apply(moved("j1", T0, who=person("cy@acme.com", name="Cy Young")), NOW).windows
    assert window.play == "champion_moved"
    assert window.draft.channel == "linkedin"
    assert "VP Sales" in window.draft.talking_points[0]


def test_person_moving_away_is_not_re_evaluated_at_the_old_account() -> None:
    r = replay()
    r.apply(visit("e1", T0, who=ANA), NOW)
    r.apply(moved("j1", T0 + days(1), who=ANA, account={"domain": "newco.io"}), NOW)
    # The move went through the old account (oldco.com in the builder), then the new one.
    assert r.prospect("newco.io", "ana@acme.com") is not None
    r.apply(moved("j2", T0 + days(1.5), who=ANA, account={"domain": "later.io"}), NOW)
    # Moving from acme.com itself marks the state there as departed.
    data = moved("j3", T0 + days(2), who=ANA, account={"domain": "third.io"}).model_dump()
    data["properties"]["previous_account"] = {"domain": "acme.com"}
    r.apply(signal(data), NOW)
    state = r.prospect("acme.com", "ana@acme.com")
    assert state is not None and state.departed_at == T0 + days(2)
    out = r.apply(funding("f1", T0 + days(2.5)), NOW)
    assert out.windows == () and out.suppressed == ()


def test_personal_email_without_account_has_no_account_state() -> None:
    r = replay()
    out = r.apply(opened("m1", T0, who=person("ana@gmail.com"), account=None), NOW)
    assert out.account is None
    assert prospect_of(r, "ana@gmail.com").account_key is None
    assert out.suppressed == (Suppressed("ana@gmail.com", "below_threshold"),)


def test_state_for_another_account_is_ignored() -> None:
    other = AccountState(account_key="other.io", account=AccountRec(domain="other.io"))
    out = apply_signal(
        make_rulebook(),
        visit("e1", T0, who=ANA),
        account=other,
        view=Replay(make_rulebook()),
        now=NOW,
    )
    assert out.account is not None and out.account.account_key == "acme.com"


def test_late_event_is_scored_by_event_time() -> None:
    r = replay()
    r.apply(visit("e2", T0 + days(3), who=ANA), NOW)
    (window,) = r.apply(visit("e1", T0, who=ANA), NOW).windows  # late: at the watermark
    assert window.as_of == T0 + days(3)
    late = next(x for x in window.reasons if x.event_id == "e1")
    assert late.points == pytest.approx(25 * 0.5 ** (3 / 7), abs=0.01)


def test_reasons_are_ranked_bounded_and_above_the_floor() -> None:
    events = [opened(f"m{i}", T0 - days(i), who=ANA) for i in range(8)]
    events += [visit("old", T0 - days(80), "/blog", who=ANA), visit("p", T0, who=ANA)]
    r = run(make_rulebook(cooldown_days=0), sorted(events, key=lambda s: s.occurred_at))
    window = r.windows[-1]
    points = [x.points for x in window.reasons]
    assert points == sorted(points, reverse=True)
    assert 0 < len(window.reasons) <= MAX_REASONS
    assert all(p > 0.05 for p in points)
    assert "old" not in {x.event_id for x in window.reasons}


def test_attributes_merge_newest_value_per_field() -> None:
    r = replay()
    r.apply(opened("m2", T0 + days(2), who=person(title="CRO")), NOW)
    r.apply(opened("m1", T0, who=person(title="VP Sales", name="Ana")), NOW)
    state = prospect_of(r, "ana@acme.com")
    assert state.person.title == "CRO"  # the older event does not win by arriving later
    assert state.person.name == "Ana"  # but fills a field the newer one left empty


def test_now_stamps_the_window_and_its_times_never_the_score() -> None:
    later = datetime(2025, 3, 4, 9, tzinfo=UTC)
    events = [visit("e1", T0, who=ANA), visit("e2", T0 + days(0.5), who=ANA)]
    a, b = replay(), replay()
    for e in events:
        a.apply(e, NOW)
        b.apply(e, later)
    wa, wb = a.windows[0], b.windows[0]
    assert wa.window_id == wb.window_id and wa.score == wb.score and wa.reasons == wb.reasons
    assert wb.opened_at == later
    assert wb.draft.send_at >= later and wb.draft.expires_at > wb.draft.send_at
    # The open window's expiry is wall-clock; everything else in the state is event time.
    pa, pb = (prospect_of(r, "ana@acme.com") for r in (a, b))
    assert pb.open_window_expires_at == wb.draft.expires_at
    wall = {"open_window_expires_at": None}
    assert msgspec.structs.replace(pa, **wall) == msgspec.structs.replace(pb, **wall)


def test_stored_states_survive_a_bytes_round_trip() -> None:
    r = run(
        make_rulebook(),
        [
            visit("e1", T0, who=ANA),
            opened("m1", T0, who=BO),
            visit("e2", T0 + days(1), who=ANA),
            funding("f1", T0 + days(2)),
            visit("v1", T0 + days(2), account=ACME_BARE),
        ],
    )
    for people in r.prospects.values():
        for state in people.values():
            data = encode_state(state)
            assert decode_prospect(data, state.person_key, state.account_key) == state
    for account in r.accounts.values():
        assert decode_account(encode_state(account)) == account
