"""The draft a window hands to the rep: trigger, why now, channel, send time, talking points.

Called by the engine once per opened window (`build_draft`), after the score is known.
Pure: the send time comes from the injected `opened_at`, never from a clock. It never
raises on a validated person and account; an unusable time zone falls back to UTC.

Text names nobody but the person by first name; the company, its round and the pages
visited are facts about the account, not personal data.

Send time: in the person's zone (`person.timezone`, else by the account's country, else
UTC), the next business-hours minute (Mon-Fri 09:00-17:00 local) at or after `opened_at`.
Hot plays (`HOT_PLAYS`) take that earliest slot; other plays prefer a Tuesday or Thursday
morning (before 12:00) within three days, and fall back to the earliest slot.
`expires_at` is `opened_at + windows.expire_after_hours` even when the slot falls later.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from rules.rulebook import Rulebook
from rules.state import Contribution
from signals.models import Account, Person, SignalType
from signals.windows import Channel, Draft, FitReason, Play, Reason, Score

__all__ = [
    "AVOID",
    "COUNTRY_ZONES",
    "DRAFT_FACT_KEYS",
    "HOT_PLAYS",
    "build_draft",
    "send_slot",
    "zone_for",
]

AVOID: tuple[str, ...] = ("just checking in", "touching base", "circling back")

HOT_PLAYS: frozenset[Play] = frozenset({"signal_triggered", "champion_moved", "funding"})

# Event facts a contribution keeps for the talking points (see `Contribution.facts`).
DRAFT_FACT_KEYS: tuple[str, ...] = (
    "properties.path",
    "properties.title",
    "properties.subject",
    "properties.round",
    "properties.amount_usd",
    "properties.investors",
    "properties.new_title",
    "properties.previous_title",
    "properties.previous_account.name",
    "properties.previous_account.domain",
)

# A business-hours zone per common country, for people without their own time zone.
COUNTRY_ZONES: Mapping[str, str] = {
    "AT": "Europe/Vienna",
    "AU": "Australia/Sydney",
    "BE": "Europe/Brussels",
    "BR": "America/Sao_Paulo",
    "CA": "America/Toronto",
    "CH": "Europe/Zurich",
    "DE": "Europe/Berlin",
    "DK": "Europe/Copenhagen",
    "ES": "Europe/Madrid",
    "FI": "Europe/Helsinki",
    "FR": "Europe/Paris",
    "GB": "Europe/London",
    "IE": "Europe/Dublin",
    "IL": "Asia/Jerusalem",
    "IN": "Asia/Kolkata",
    "IT": "Europe/Rome",
    "JP": "Asia/Tokyo",
    "MX": "America/Mexico_City",
    "NL": "Europe/Amsterdam",
    "NO": "Europe/Oslo",
    "NZ": "Pacific/Auckland",
    "PL": "Europe/Warsaw",
    "SE": "Europe/Stockholm",
    "SG": "Asia/Singapore",
    "US": "America/New_York",
}

_OPEN = time(9, 0)
_MORNING_END = time(12, 0)
_CLOSE = time(17, 0)
_PREFERRED_DAYS = (1, 3)  # Tuesday, Thursday
_PREFER_WITHIN = timedelta(days=3)

_CTA: Mapping[Play, str] = {
    "post_demo": "Propose a 20-minute follow-up to settle the open questions from the demo.",
    "no_response": "Ask one yes/no question that is easy to answer.",
    "value_add": "Offer the resource and ask whether a short walk-through would help.",
    "signal_triggered": "Offer a 15-minute call this week on exactly what they looked at.",
    "champion_moved": "Suggest a short call to see whether it fits the new team.",
    "funding": "Offer a 15-minute call on scaling the team after the round.",
    "multi_thread": "Ask who else on the team should see this.",
    "breakup": "Say this is the last note and leave the door open.",
    "post_purchase": "Ask how the first weeks went and offer help with adoption.",
}


def zone_for(person: Person, account: Account | None) -> str:
    """The IANA zone to schedule in: the person's, else the account country's, else UTC."""
    if person.timezone:
        return person.timezone
    if account is not None and account.country:
        return COUNTRY_ZONES.get(account.country, "UTC")
    return "UTC"


def send_slot(base: datetime, zone: str, *, hot: bool) -> datetime:
    """The send time (UTC) for a window opened at `base`; see the module docstring."""
    try:
        tz = ZoneInfo(zone)
    except (KeyError, ValueError):
        tz = ZoneInfo("UTC")
    local = base.astimezone(tz)
    if local.second or local.microsecond:
        local = local.replace(second=0, microsecond=0) + timedelta(minutes=1)
    earliest = _next_business(local, tz)
    if not hot:
        for offset in range(4):
            day = local.date() + timedelta(days=offset)
            if day.weekday() not in _PREFERRED_DAYS:
                continue
            slot = max(local, datetime.combine(day, _OPEN, tzinfo=tz))
            if slot.time() < _MORNING_END and slot - local <= _PREFER_WITHIN:
                return slot.astimezone(UTC)
    return earliest.astimezone(UTC)


def build_draft(
    rulebook: Rulebook,
    *,
    play: Play,
    person: Person,
    account: Account | None,
    score: Score,
    reasons: Sequence[Reason],
    fit_reasons: Sequence[FitReason],
    contributions: Sequence[Contribution],
    opened_at: datetime,
) -> Draft:
    """Assemble the draft from the ranked reasons and the contributions behind them."""
    by_id = {c.event_id: c for c in contributions}
    top = [by_id[r.event_id] for r in reasons if r.event_id in by_id]
    zone = zone_for(person, account)
    company = (account.name or account.domain) if account is not None else None
    first = _first_name(person)
    trigger = _trigger(top, contributions)
    return Draft(
        trigger=trigger,
        why_now=_why_now(trigger, top, score),
        channel=_channel(play, top),
        send_at=send_slot(opened_at, zone, hot=play in HOT_PLAYS),
        expires_at=opened_at + timedelta(hours=rulebook.windows.expire_after_hours),
        timezone=zone,
        subject_hint=_subject(play, top, company),
        opening_line=_opening(play, top, first, company),
        talking_points=_talking_points(top, fit_reasons, account),
        call_to_action=_CTA[play],
        avoid=AVOID,
    )


def _next_business(local: datetime, tz: ZoneInfo) -> datetime:
    day: date = local.date()
    if local.weekday() < 5:
        clock = local.time()
        if clock < _OPEN:
            return datetime.combine(day, _OPEN, tzinfo=tz)
        if clock < _CLOSE:
            return local
    day += timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return datetime.combine(day, _OPEN, tzinfo=tz)


def _first_name(person: Person) -> str | None:
    if not person.name:
        return None
    words = [w for w in person.name.split() if not w.endswith(".")]
    return words[0] if words else None


def _trigger(top: Sequence[Contribution], contributions: Sequence[Contribution]) -> str:
    """The top reason's detail, with how often its rule fired and over how many days."""
    if not top:
        return "Engagement crossed the threshold"
    lead = top[0]
    same = [c for c in contributions if c.rule == lead.rule and c.occurred_at <= lead.occurred_at]
    same = [c for c in same if (lead.occurred_at - c.occurred_at).days < 30] or [lead]
    text = lead.detail.strip() or lead.rule.replace("_", " ")
    if len(same) > 1:
        first = min(c.occurred_at for c in same)
        days = max(1, math.ceil((lead.occurred_at - first).total_seconds() / 86_400))
        text = f"{text} {len(same)}x in {days} day{'s' if days != 1 else ''}"
    return text


def _why_now(trigger: str, top: Sequence[Contribution], score: Score) -> str:
    also = ""
    if len(top) > 1:
        second = top[1].detail.strip()
        if second and second != top[0].detail.strip():
            also = f", on top of: {second[0].lower()}{second[1:]}"
    tier = f", fit tier {score.fit_tier}" if score.fit_tier else ""
    return (
        f"{trigger}{also}. Score {score.total:.0f} reached the threshold of "
        f"{score.threshold:.0f}{tier}: act while it is fresh."
    )


def _channel(play: Play, top: Sequence[Contribution]) -> Channel:
    if play == "champion_moved" or (top and top[0].signal_type == SignalType.JOB_CHANGED):
        return "linkedin"
    return "email"


def _subject(play: Play, top: Sequence[Contribution], company: str | None) -> str:
    facts = top[0].facts if top else {}
    at = f" at {company}" if company else ""
    if play == "champion_moved" or "properties.new_title" in facts:
        return f"Congrats on the new role{at}"
    if play == "funding" or "properties.round" in facts:
        round_ = facts.get("properties.round", "round")
        return f"Congrats on the {round_}" + (f", {company}" if company else "")
    path = facts.get("properties.path", "")
    if "pricing" in path:
        return f"Pricing questions{at}?" if company else "Pricing questions?"
    subject = facts.get("properties.subject")
    if subject:
        return f"Re: {subject}"
    return f"An idea for {company}" if company else "A quick idea"


def _opening(
    play: Play, top: Sequence[Contribution], first: str | None, company: str | None
) -> str:
    hello = f"Hi {first}," if first else "Hi,"
    facts = top[0].facts if top else {}
    if play == "champion_moved" or "properties.new_title" in facts:
        role = facts.get("properties.new_title")
        where = f" at {company}" if company else ""
        what = f"the new role as {role}{where}" if role else f"the move{where}"
        return f"{hello} congratulations on {what}."
    if play == "funding" or "properties.round" in facts:
        who = company or "the team"
        round_ = facts.get("properties.round", "round")
        return f"{hello} congratulations to {who} on the {round_}."
    if "pricing" in facts.get("properties.path", ""):
        return f"{hello} teams weighing our pricing tend to ask the same three things."
    if "properties.subject" in facts:
        return f'{hello} one more thought on "{facts["properties.subject"]}".'
    return f"{hello} something specific came up that seemed worth a short note."


def _talking_points(
    top: Sequence[Contribution], fit_reasons: Sequence[FitReason], account: Account | None
) -> tuple[str, ...]:
    points: list[str] = []
    kinds: set[str] = set()
    for c in top:
        kind = _kind(c)
        if kind in kinds:
            continue
        kinds.add(kind)
        point = _point(kind, c.facts, account)
        if point:
            points.append(point)
        if len(points) == 3:
            break
    if fit_reasons and len(points) < 4:
        points.append(f"Why they fit: {fit_reasons[0].detail}")
    if len(points) < 2:
        points.append("Keep it to 6-8 sentences with one clear ask.")
    if len(points) < 2:
        points.insert(0, "Tie the note to what they just did, not to our calendar.")
    return tuple(points[:4])


def _kind(c: Contribution) -> str:
    if c.signal_type == SignalType.PAGE_VISITED:
        path = c.facts.get("properties.path", "").lower()
        for kind in ("pricing", "security", "docs", "case"):
            if kind in path:
                return f"page:{kind}"
        return f"page:{path}"
    return str(c.signal_type)


def _point(kind: str, facts: Mapping[str, str], account: Account | None) -> str | None:
    size = f" for a team of about {account.employees}" if account and account.employees else ""
    path = facts.get("properties.path", "")
    if kind == "page:pricing":
        return f"They looked at pricing: offer a short ROI estimate{size} and the plan that fits."
    if kind == "page:security":
        return "They read the security pages: offer the security pack and a review call."
    if kind == "page:docs":
        return f"They read the docs ({path}): offer a technical session with an engineer."
    if kind == "page:case":
        return "They read a case study: share one from a similar company and its numbers."
    if kind.startswith("page:"):
        return f"They visited {path}: connect it to a problem they likely have." if path else None
    if kind == SignalType.FUNDING_ANNOUNCED:
        round_ = facts.get("properties.round", "round")
        amount = _money(facts.get("properties.amount_usd"))
        investors = facts.get("properties.investors")
        text = f"New {round_}" + (f" of {amount}" if amount else "")
        text += f" led by {investors}" if investors else ""
        return f"{text}: new funding usually means hiring and new tooling budgets."
    if kind == SignalType.JOB_CHANGED:
        role = facts.get("properties.new_title")
        before = facts.get("properties.previous_account.name") or facts.get(
            "properties.previous_account.domain"
        )
        text = f"New role as {role}" if role else "New role"
        text += f", previously at {before}" if before else ""
        return f"{text}: the first 90 days are when new tools get chosen."
    if kind == SignalType.EMAIL_OPENED:
        subject = facts.get("properties.subject")
        if subject:
            return f'They re-opened "{subject}": build on it with one new point.'
        return "They keep opening our emails: add one new angle, not a reminder."
    return None


def _money(amount: str | None) -> str | None:
    if not amount or not amount.isdigit():
        return None
    value = int(amount)
    if value >= 1_000_000_000:
        return f"${value / 1_000_000_000:.1f}B"
    if value >= 1_000_000:
        return f"${value / 1_000_000:.0f}M"
    return f"${value:,}"
