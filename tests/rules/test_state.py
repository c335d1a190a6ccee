from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from rules.core.state import (
    MAX_CONTRIBUTIONS,
    MAX_SEEN,
    AccountState,
    Contribution,
    ProspectState,
    add_contribution,
    is_seen,
    remember,
)
from signals.models import Account, Person, SignalType

T0 = datetime(2025, 3, 3, 15, 0, tzinfo=UTC)


def contribution(event_id: str, at: datetime, rule: str = "pricing_visit") -> Contribution:
    return Contribution(
        event_id=event_id,
        signal_type=SignalType.PAGE_VISITED,
        rule=rule,
        points=25,
        half_life_days=7,
        cap=50,
        occurred_at=at,
        detail="Visited /pricing",
        play="signal_triggered",
        facts={"properties.path": "/pricing"},
    )


def prospect() -> ProspectState:
    return ProspectState(
        person_key="ana@acme.com",
        account_key="acme.com",
        person=Person(email="ana@acme.com", name="Ana", timezone="Europe/Berlin"),
        account=Account(domain="acme.com", technologies=("hubspot",)),
        contributions=(contribution("e1", T0),),
        seen_event_ids={"e1": T0},
        watermark=T0,
        last_window_at=T0,
        last_window_id="w_1",
        windows_opened=1,
        attributes_as_of={"person.name": (T0, "e1")},
    )


def account_state() -> AccountState:
    return AccountState(
        account_key="acme.com",
        account=Account(domain="acme.com", employees=40),
        contributions=(contribution("f1", T0, rule="funding"),),
        seen_event_ids={"f1": T0},
        watermark=T0,
        people={"ana@acme.com": T0},
    )


@pytest.mark.parametrize("state", [contribution("e1", T0), prospect(), account_state()], ids=type)
def test_bytes_round_trip(state: Contribution | ProspectState | AccountState) -> None:
    data = state.to_bytes()
    again = type(state).from_bytes(data)
    assert again == state
    assert again.to_bytes() == data


def test_equal_states_give_equal_bytes_whatever_the_dict_order() -> None:
    one = account_state().model_copy(update={"people": {"a@x.io": T0, "b@x.io": T0}})
    two = account_state().model_copy(update={"people": {"b@x.io": T0, "a@x.io": T0}})
    assert one.to_bytes() == two.to_bytes()


def test_from_bytes_rejects_foreign_bytes() -> None:
    with pytest.raises(ValidationError):
        ProspectState.from_bytes(b'{"person_key": 1}')


def test_states_are_frozen() -> None:
    with pytest.raises(ValidationError):
        prospect().windows_opened = 2


def test_remember_keeps_the_newest_and_the_later_time() -> None:
    memory = {f"e{i}": T0 + timedelta(minutes=i) for i in range(5)}
    assert remember(memory, "e4", T0, 5) is memory  # older time for a known key: no change
    out = remember(memory, "late", T0 - timedelta(days=1), 5)
    assert out == memory  # the oldest is dropped at the limit, here the newcomer itself
    out = remember(memory, "new", T0 + timedelta(days=1), 5)
    assert list(sorted(out)) == ["e1", "e2", "e3", "e4", "new"]


def test_is_seen_treats_events_older_than_a_full_memory_as_seen() -> None:
    seen = {f"e{i:04}": T0 + timedelta(seconds=i) for i in range(MAX_SEEN)}
    assert is_seen(seen, "e0001", T0)
    assert is_seen(seen, "older", T0 - timedelta(seconds=1))
    assert not is_seen(seen, "newer", T0 + timedelta(days=1))
    assert not is_seen({}, "e1", T0)


def test_add_contribution_sorts_prunes_and_bounds() -> None:
    late = contribution("b", T0)
    early = contribution("a", T0)
    out = add_contribution((late,), early, T0, horizon_days=90)
    assert [c.event_id for c in out] == ["a", "b"]  # same time: by event id

    stale = contribution("old", T0 - timedelta(days=91))
    assert add_contribution((stale,), None, T0, horizon_days=90) == ()

    many = tuple(
        contribution(f"e{i:04}", T0 + timedelta(minutes=i)) for i in range(MAX_CONTRIBUTIONS)
    )
    newest = contribution("z", T0 + timedelta(days=1))
    out = add_contribution(many, newest, newest.occurred_at, horizon_days=90)
    assert len(out) == MAX_CONTRIBUTIONS
    assert out[-1] is newest and out[0].event_id == "e0001"
