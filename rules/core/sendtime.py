"""When a follow-up should go out: a business-hours slot in the person's own time zone.

Called by the engine once per opened window (`send_at`), and by `rules.core.cadence.gate` to
tell whether a day is a pause (`paused_on`). Pure: the base time is injected. It never
raises: an unknown zone falls back to the rulebook's `default_timezone`, then UTC.

Urgency (chosen by `rules.core.cadence.gate` from the play):

- `now`: the earliest business-hours minute at or after `base` (hot signals, post-demo
  recaps: speed is what converts).
- `soon`: a morning slot (`business_hours.start` to `morning_end`) within 24 hours, else
  the earliest slot.
- `flexible`: a preferred-day morning (Tuesday/Thursday by default) within
  `prefer_within_days`, else a morning within 24 hours, else the earliest slot.

Days that are not working days, company holidays (everywhere, or in the person's country)
and the person's vacation days (inclusive `(first, last)` date pairs) are skipped.
Wall-clock times are built with `zoneinfo` per local date, so a slot is 09:00 local on both
sides of a DST change; distances are measured in UTC.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from rules.rulebook.cadence import WEEKDAYS, CadenceRules

__all__ = [
    "MAX_SEARCH_DAYS",
    "Urgency",
    "Vacation",
    "paused_on",
    "paused_through",
    "send_at",
    "zone",
]

Urgency = Literal["now", "soon", "flexible"]
Vacation = tuple[date, date]
"""First and last day away, inclusive, in the person's local calendar."""

MAX_SEARCH_DAYS = 400
_SOON = timedelta(hours=24)


def zone(name: str | None, rules: CadenceRules) -> ZoneInfo:
    """The named zone, else `rules.default_timezone`, else UTC."""
    for candidate in (name, rules.default_timezone):
        if candidate:
            try:
                return ZoneInfo(candidate)
            except (ZoneInfoNotFoundError, ValueError, OSError):
                continue
    return ZoneInfo("UTC")


def paused_on(
    day: date,
    rules: CadenceRules,
    *,
    country: str | None = None,
    vacations: Iterable[Vacation] = (),
) -> Literal["holiday", "vacation"] | None:
    """Why nobody should be contacted on this local date, if anything."""
    for first, last in vacations:
        if first <= day <= last:
            return "vacation"
    wanted = country.upper() if country else None
    for holiday in rules.company_holidays:
        if holiday.date == day and (holiday.country is None or holiday.country == wanted):
            return "holiday"
    return None


def paused_through(
    start: datetime,
    end: datetime,
    *,
    timezone: str,
    rules: CadenceRules,
    vacations: Iterable[Vacation] = (),
    country: str | None = None,
) -> Literal["holiday", "vacation"] | None:
    """Why every local day from `start` to `end` is a pause, or None if one is not.

    The engine calls it before opening a window: a window whose whole lifetime falls inside
    a vacation or holidays is suppressed; otherwise `send_at` moves past the pause. The
    reason is the first day's (a vacation wins over a holiday on the same day).
    """
    tz = zone(timezone, rules)
    day, last = start.astimezone(tz).date(), end.astimezone(tz).date()
    away = tuple(vacations)
    first: Literal["holiday", "vacation"] | None = None
    while day <= last:
        why = paused_on(day, rules, country=country, vacations=away)
        if why is None:
            return None
        first = first or why
        day += timedelta(days=1)
    return first


def send_at(
    base: datetime,
    *,
    timezone: str,
    urgency: Urgency,
    rules: CadenceRules,
    vacations: Iterable[Vacation] = (),
    country: str | None = None,
) -> datetime:
    """The send time (UTC) for a window opened at `base` (aware); see the module docstring.

    If no usable day exists within `MAX_SEARCH_DAYS` (a vacation that long), `base` itself.
    """
    tz = zone(timezone, rules)
    local = base.astimezone(tz)
    if local.second or local.microsecond:
        local = local.replace(second=0, microsecond=0) + timedelta(minutes=1)
    away = tuple(vacations)
    hours = rules.business_hours
    preferred = {WEEKDAYS.index(d) for d in rules.preferred_days}
    start_utc = local.astimezone(UTC)

    earliest: datetime | None = None
    morning: datetime | None = None
    for day, opens, closes in _open_days(local, tz, rules, country, away):
        slot = max(local, opens)
        if slot >= closes:
            continue
        at = slot.astimezone(UTC)
        if earliest is None:
            earliest = at
            if urgency == "now":
                return at
        is_morning = slot.time() < hours.morning_end
        within = at - start_utc
        if (
            urgency == "flexible"
            and is_morning
            and day.weekday() in preferred
            and within <= timedelta(days=rules.prefer_within_days)
        ):
            return at
        if morning is None and is_morning and within <= _SOON:
            morning = at
            if urgency == "soon":
                return at
        if within > max(_SOON, timedelta(days=rules.prefer_within_days)):
            break
    if morning is not None:
        return morning
    return earliest if earliest is not None else base.astimezone(UTC)


def _open_days(
    local: datetime,
    tz: ZoneInfo,
    rules: CadenceRules,
    country: str | None,
    vacations: tuple[Vacation, ...],
) -> Iterator[tuple[date, datetime, datetime]]:
    """Each usable local day from `local`'s date on: (day, opening, closing), aware in tz."""
    working = {WEEKDAYS.index(d) for d in rules.working_days}
    hours = rules.business_hours
    day = local.date()
    for _ in range(MAX_SEARCH_DAYS):
        if (
            day.weekday() in working
            and paused_on(day, rules, country=country, vacations=vacations) is None
        ):
            yield (
                day,
                datetime.combine(day, hours.start, tzinfo=tz),
                datetime.combine(day, hours.end, tzinfo=tz),
            )
        day += timedelta(days=1)
