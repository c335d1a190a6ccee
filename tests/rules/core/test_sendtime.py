from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rules.core.sendtime import Urgency, Vacation, paused_on, send_at
from rules.rulebook.cadence import CadenceRules, Holiday

RULES = CadenceRules()
NY = "America/New_York"
BERLIN = "Europe/Berlin"


def _local(zone: str, y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, s, tzinfo=ZoneInfo(zone))


# 2024-05-13 is a Monday.
CASES: list[tuple[str, datetime, str, Urgency, datetime]] = [
    ("now inside hours", _local(NY, 2024, 5, 15, 14, 0), NY, "now", _local(NY, 2024, 5, 15, 14, 0)),
    (
        "now rounds up to the minute",
        _local(NY, 2024, 5, 15, 14, 0, 30),
        NY,
        "now",
        _local(NY, 2024, 5, 15, 14, 1),
    ),
    ("now before opening", _local(NY, 2024, 5, 15, 6, 0), NY, "now", _local(NY, 2024, 5, 15, 9, 0)),
    ("now after closing", _local(NY, 2024, 5, 15, 17, 0), NY, "now", _local(NY, 2024, 5, 16, 9, 0)),
    ("now Friday night", _local(NY, 2024, 5, 17, 20, 0), NY, "now", _local(NY, 2024, 5, 20, 9, 0)),
    ("now Saturday", _local(NY, 2024, 5, 18, 10, 0), NY, "now", _local(NY, 2024, 5, 20, 9, 0)),
    (
        "zone matters: 15:00 UTC is 17:00 in Berlin",
        datetime(2024, 5, 15, 15, 0, tzinfo=UTC),
        BERLIN,
        "now",
        _local(BERLIN, 2024, 5, 16, 9, 0),
    ),
    (
        "soon in the morning",
        _local(NY, 2024, 5, 15, 10, 0),
        NY,
        "soon",
        _local(NY, 2024, 5, 15, 10),
    ),
    (
        "soon afternoon -> next morning",
        _local(NY, 2024, 5, 15, 14),
        NY,
        "soon",
        _local(NY, 2024, 5, 16, 9),
    ),
    (
        "soon Friday afternoon stays",
        _local(NY, 2024, 5, 17, 14),
        NY,
        "soon",
        _local(NY, 2024, 5, 17, 14),
    ),
    (
        "flexible Monday -> Tuesday",
        _local(NY, 2024, 5, 13, 10),
        NY,
        "flexible",
        _local(NY, 2024, 5, 14, 9),
    ),
    (
        "flexible Tuesday morning",
        _local(NY, 2024, 5, 14, 10),
        NY,
        "flexible",
        _local(NY, 2024, 5, 14, 10),
    ),
    (
        "flexible Tuesday afternoon",
        _local(NY, 2024, 5, 14, 13),
        NY,
        "flexible",
        _local(NY, 2024, 5, 16, 9),
    ),
    (
        "flexible Friday -> Tuesday",
        _local(NY, 2024, 5, 17, 10),
        NY,
        "flexible",
        _local(NY, 2024, 5, 21, 9),
    ),
    (
        "flexible Saturday -> Tuesday",
        _local(NY, 2024, 5, 18, 10),
        NY,
        "flexible",
        _local(NY, 2024, 5, 21, 9),
    ),
    # DST: 09:00 local on both sides of the change, so a different UTC hour.
    (
        "Berlin spring forward",
        _local(BERLIN, 2024, 3, 29, 18),
        BERLIN,
        "now",
        datetime(2024, 4, 1, 7, 0, tzinfo=UTC),
    ),
    (
        "Berlin before the change",
        _local(BERLIN, 2024, 3, 28, 18),
        BERLIN,
        "now",
        datetime(2024, 3, 29, 8, 0, tzinfo=UTC),
    ),
    (
        "New York fall back",
        _local(NY, 2024, 11, 1, 18),
        NY,
        "now",
        datetime(2024, 11, 4, 14, 0, tzinfo=UTC),
    ),
    (
        "New York spring forward night",
        datetime(2024, 3, 10, 7, 30, tzinfo=UTC),
        NY,
        "flexible",
        datetime(2024, 3, 12, 13, 0, tzinfo=UTC),
    ),
]


@pytest.mark.parametrize(
    ("base", "zone", "urgency", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_send_at(base: datetime, zone: str, urgency: Urgency, expected: datetime) -> None:
    got = send_at(base, timezone=zone, urgency=urgency, rules=RULES)
    assert got == expected
    assert got.tzinfo == UTC


def test_skips_company_holidays_everywhere_or_in_the_country() -> None:
    monday = _local(BERLIN, 2024, 5, 20, 8)  # Whit Monday
    rules = CadenceRules(company_holidays=(Holiday(date=date(2024, 5, 20), country="de"),))
    tuesday = _local(BERLIN, 2024, 5, 21, 9)
    assert send_at(monday, timezone=BERLIN, urgency="now", rules=rules, country="DE") == tuesday
    assert send_at(monday, timezone=BERLIN, urgency="now", rules=rules, country="FR") == (
        _local(BERLIN, 2024, 5, 20, 9)
    )
    everywhere = CadenceRules(company_holidays=(Holiday(date=date(2024, 5, 20)),))
    assert send_at(monday, timezone=BERLIN, urgency="now", rules=everywhere) == tuesday


def test_skips_the_persons_vacation() -> None:
    away: list[Vacation] = [(date(2024, 5, 14), date(2024, 5, 22))]
    got = send_at(
        _local(NY, 2024, 5, 14, 10), timezone=NY, urgency="now", rules=RULES, vacations=away
    )
    assert got == _local(NY, 2024, 5, 23, 9)
    assert paused_on(date(2024, 5, 22), RULES, vacations=away) == "vacation"
    assert paused_on(date(2024, 5, 23), RULES, vacations=away) is None


def test_unknown_zone_falls_back_to_the_default() -> None:
    rules = CadenceRules(default_timezone=BERLIN)
    base = _local(BERLIN, 2024, 5, 15, 7)
    assert send_at(base, timezone="Mars/Olympus", urgency="now", rules=rules) == (
        _local(BERLIN, 2024, 5, 15, 9)
    )


def test_custom_hours_and_working_days() -> None:
    rules = CadenceRules(
        business_hours={"start": "08:30", "morning_end": "11:00", "end": "16:00"},  # type: ignore[arg-type]
        working_days=("sun", "mon", "tue", "wed", "thu"),
        preferred_days=(),
    )
    friday = _local("Asia/Jerusalem", 2024, 5, 17, 10)
    assert send_at(friday, timezone="Asia/Jerusalem", urgency="flexible", rules=rules) == (
        _local("Asia/Jerusalem", 2024, 5, 19, 8, 30)
    )


def test_a_year_of_vacation_gives_the_base_back() -> None:
    base = datetime(2024, 5, 14, 12, tzinfo=UTC)
    away: list[Vacation] = [(date(2024, 1, 1), date(2026, 1, 1))]
    assert send_at(base, timezone="UTC", urgency="now", rules=RULES, vacations=away) == base


ZONES = st.sampled_from([NY, BERLIN, "Asia/Tokyo", "Australia/Sydney", "UTC", "America/Sao_Paulo"])
BASES = st.datetimes(
    min_value=datetime(2023, 1, 1),  # noqa: DTZ001 (hypothesis wants naive bounds)
    max_value=datetime(2026, 12, 31),  # noqa: DTZ001
    timezones=st.just(UTC),
)


@settings(max_examples=300, deadline=None)
@given(base=BASES, zone=ZONES, urgency=st.sampled_from(["now", "soon", "flexible"]))
def test_always_business_hours_on_a_working_day_not_before_base(
    base: datetime, zone: str, urgency: Urgency
) -> None:
    got = send_at(base, timezone=zone, urgency=urgency, rules=RULES)
    local = got.astimezone(ZoneInfo(zone))
    assert got >= base.replace(second=0, microsecond=0)
    assert local.weekday() < 5
    assert time(9, 0) <= local.time() < time(17, 0)
    earliest = send_at(base, timezone=zone, urgency="now", rules=RULES)
    assert earliest <= got
    assert got - earliest <= timedelta(days=RULES.prefer_within_days)
