from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from rules.draft import AVOID, send_slot, zone_for
from signals.models import Account, Person
from signals.windows import WindowOpened
from tests.rules.engine_builders import (
    NOW,
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

BERLIN = "Europe/Berlin"


def local(zone: str, y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, s, tzinfo=ZoneInfo(zone))


@pytest.mark.parametrize(
    ("who", "account", "zone"),
    [
        ({"timezone": "Asia/Tokyo"}, {"domain": "a.io", "country": "DE"}, "Asia/Tokyo"),
        ({}, {"domain": "a.io", "country": "de"}, "Europe/Berlin"),
        ({}, {"domain": "a.io", "country": "US"}, "America/New_York"),
        ({}, {"domain": "a.io", "country": "ZZ"}, "UTC"),
        ({}, None, "UTC"),
    ],
)
def test_zone_for(who: dict[str, str], account: dict[str, str] | None, zone: str) -> None:
    acc = Account.model_validate(account) if account else None
    assert zone_for(Person(email="a@a.io", **who), acc) == zone


# 2025-03-03 is a Monday.
@pytest.mark.parametrize(
    ("base", "hot", "expected"),
    [
        # hot plays: the earliest business minute
        (local(BERLIN, 2025, 3, 3, 10, 0), True, local(BERLIN, 2025, 3, 3, 10, 0)),
        (local(BERLIN, 2025, 3, 3, 10, 0, 30), True, local(BERLIN, 2025, 3, 3, 10, 1)),
        (local(BERLIN, 2025, 3, 3, 7, 15), True, local(BERLIN, 2025, 3, 3, 9, 0)),
        (local(BERLIN, 2025, 3, 3, 17, 0), True, local(BERLIN, 2025, 3, 4, 9, 0)),
        (local(BERLIN, 2025, 3, 7, 18, 0), True, local(BERLIN, 2025, 3, 10, 9, 0)),
        (local(BERLIN, 2025, 3, 8, 12, 0), True, local(BERLIN, 2025, 3, 10, 9, 0)),
        # others: a Tuesday or Thursday morning within three days, else the earliest
        (local(BERLIN, 2025, 3, 3, 14, 0), False, local(BERLIN, 2025, 3, 4, 9, 0)),
        (local(BERLIN, 2025, 3, 4, 10, 30), False, local(BERLIN, 2025, 3, 4, 10, 30)),
        (local(BERLIN, 2025, 3, 4, 13, 0), False, local(BERLIN, 2025, 3, 6, 9, 0)),
        (local(BERLIN, 2025, 3, 7, 10, 0), False, local(BERLIN, 2025, 3, 7, 10, 0)),
        (local(BERLIN, 2025, 3, 8, 8, 0), False, local(BERLIN, 2025, 3, 10, 9, 0)),
    ],
)
def test_send_slot(base: datetime, hot: bool, expected: datetime) -> None:
    got = send_slot(base.astimezone(UTC), BERLIN, hot=hot)
    assert got == expected
    assert got.tzinfo is UTC


def test_send_slot_across_a_dst_change() -> None:
    # Europe/Berlin moves to summer time on Sunday 2025-03-30.
    got = send_slot(local(BERLIN, 2025, 3, 29, 12, 0), BERLIN, hot=True)
    assert got.astimezone(ZoneInfo(BERLIN)) == local(BERLIN, 2025, 3, 31, 9, 0)
    assert got == datetime(2025, 3, 31, 7, 0, tzinfo=UTC)


def _window(events: list[object], who_key: str = "ana@acme.com") -> WindowOpened:
    r = Replay(make_rulebook()).run(events)  # type: ignore[arg-type]
    return next(w for w in reversed(r.windows) if w.person_key == who_key)


ANA = person(name="Dr. Ana Lima", seniority="vp", timezone="America/New_York")


def test_pricing_draft() -> None:
    w = _window([visit("e1", T0, who=ANA), visit("e2", T0 + days(2), who=ANA)])
    d = w.draft
    assert d.trigger == "Visited /pricing 2x in 2 days"
    assert d.why_now.startswith("Visited /pricing 2x in 2 days")
    assert d.channel == "email"
    assert d.timezone == "America/New_York"
    assert d.expires_at == NOW + timedelta(hours=72)
    assert d.opening_line.startswith("Hi Ana,")
    assert any("pricing" in p and "ROI" in p for p in d.talking_points)
    assert d.avoid == AVOID
    assert "Offer" in d.call_to_action


def test_funding_draft_names_round_amount_and_investors() -> None:
    w = _window([visit("e1", T0, who=ANA), funding("f1", T0 + days(1))])
    d = w.draft
    assert w.play == "funding"
    assert d.trigger == "Raised a Series B"
    assert "Series B" in d.subject_hint
    point = d.talking_points[0]
    assert "Series B" in point and "$40M" in point and "Fund One" in point


def test_job_change_draft() -> None:
    w = _window([moved("j1", T0, who=ANA)])
    d = w.draft
    assert (w.play, d.channel) == ("champion_moved", "linkedin")
    assert "new role" in d.subject_hint
    assert "VP Sales" in d.talking_points[0] and "OldCo" in d.talking_points[0]


def test_email_open_draft_uses_the_subject() -> None:
    events = [opened(f"m{i}", T0 + days(i / 24), who=ANA, subject="ROI model") for i in range(3)]
    w = _window([*events, visit("p1", T0 + days(0.2), who=ANA)])
    assert any('"ROI model"' in p for p in w.draft.talking_points)


@pytest.mark.parametrize(
    "events",
    [
        [visit("e1", T0, who=ANA), visit("e2", T0 + days(2), who=ANA)],
        [visit("e1", T0, who=ANA), funding("f1", T0 + days(1))],
        [moved("j1", T0, who=ANA)],
    ],
    ids=["pricing", "funding", "job"],
)
def test_drafts_are_rep_readable_and_carry_no_other_pii(events: list[object]) -> None:
    d = _window(events).draft
    assert 2 <= len(d.talking_points) <= 4
    text = " ".join(
        [d.trigger, d.why_now, d.subject_hint, d.opening_line, d.call_to_action, *d.talking_points]
    )
    assert "@" not in text and "Lima" not in text
    assert not any(phrase in text.lower() for phrase in AVOID)
