"""The draft a window hands to the rep: trigger, why now, channel, send time, talking points.

Called by the engine once per opened window (`build_draft`), after the score and the
cadence gate are known. Pure: the send time comes from the injected `opened_at`, never from
a clock. It never raises on a validated person and account; an unusable zone falls back.

- Channel, urgency and lifetime come from the cadence gate (`rules.core.cadence.gate`).
- `send_at` is the next business-hours slot in the person's zone for that urgency, skipping
  weekends, company holidays and the person's vacations (`rules.core.sendtime.send_at`);
  `expires_at` is the play's lifetime after the later of `opened_at` and `send_at`.
- Subject, opening line, call to action and phrases to avoid are the play's templates from
  the rulebook (`plays:`), rendered in the placeholder-only sandbox of `rules.rulebook.templates`.
- Talking points: one evidence point per kind of signal behind the window (pricing, docs,
  a round, a new role...), then the play's template points, at most four.

Text names nobody but the person by first name; the company, its round and the pages
visited are facts about the account, not personal data.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime

from rules.core.cadence import Gate
from rules.core.engagement import day_of
from rules.core.sendtime import send_at
from rules.core.state import FACT_KEYS, Notable, RuleSum
from rules.rulebook.cadence import CadenceRules
from rules.rulebook.model import Rulebook
from rules.rulebook.templates import FILLER, money, render_draft_text, template_facts
from signals.models import SignalType
from signals.records import AccountRec, PersonRec
from signals.windows import Draft, FitReason, Play, Reason, Score

__all__ = ["COUNTRY_ZONES", "DRAFT_FACT_KEYS", "build_draft", "zone_for"]

DRAFT_FACT_KEYS: tuple[str, ...] = FACT_KEYS
"""Event facts a contribution keeps for the talking points (`rules.core.state.FACT_KEYS`)."""

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


def zone_for(person: PersonRec, account: AccountRec | None, rules: CadenceRules) -> str:
    """The IANA zone to schedule in: the person's, else the account country's, else the
    rulebook's `cadence.default_timezone`."""
    if person.timezone:
        return person.timezone
    if account is not None and account.country and account.country in COUNTRY_ZONES:
        return COUNTRY_ZONES[account.country]
    return rules.default_timezone


def build_draft(
    rulebook: Rulebook,
    *,
    play: Play,
    gate: Gate,
    person: PersonRec,
    account: AccountRec | None,
    score: Score,
    reasons: Sequence[Reason],
    fit_reasons: Sequence[FitReason],
    notable: Sequence[Notable],
    sums: Sequence[RuleSum],
    opened_at: datetime,
    vacations: Sequence[tuple[date, date]] = (),
) -> Draft:
    """Assemble the draft from the gate, the ranked reasons and the play's templates.

    `notable` are the kept contributions behind `reasons` (their facts feed the talking
    points) and `sums` the engagement sums (how often the lead rule fired lately).
    """
    by_id = {c.event_id: c for c in notable}
    top = [by_id[r.event_id] for r in reasons if r.event_id in by_id]
    zone = zone_for(person, account, rulebook.cadence)
    trigger = _trigger(top, sums)
    text = render_draft_text(
        rulebook.plays,
        play,
        template_facts(
            person=person,
            account=account,
            trigger=trigger,
            trigger_facts=top[0].fact_map() if top else None,
            fit_reason=fit_reasons[0].detail if fit_reasons else None,
        ),
    )
    send = send_at(
        opened_at,
        timezone=zone,
        urgency=gate.urgency,
        rules=rulebook.cadence,
        vacations=vacations,
        country=account.country if account is not None else None,
    )
    return Draft(
        trigger=trigger,
        why_now=_why_now(trigger, top, score),
        channel=gate.channel,
        send_at=send,
        expires_at=max(opened_at, send) + gate.expires_in,
        timezone=zone,
        subject_hint=text.subject_hint,
        opening_line=text.opening_line,
        talking_points=_talking_points(text.talking_points, top, account),
        call_to_action=text.call_to_action,
        avoid=text.avoid,
    )


def _talking_points(
    templated: Sequence[str], top: Sequence[Notable], account: AccountRec | None
) -> tuple[str, ...]:
    """Evidence per kind of signal first (the specific facts), then the play's points;
    fillers only to reach two."""
    points: list[str] = []
    kinds: set[str] = set()
    for c in top:
        kind = _kind(c)
        if kind in kinds:
            continue
        kinds.add(kind)
        point = _point(kind, c.fact_map(), account, c.occurred_at.date())
        if point:
            points.append(point)
    points += [p for p in templated if p not in FILLER and p not in points]
    for filler in FILLER:
        if len(points) >= 2:
            break
        points.append(filler)
    return tuple(points[:4])


def _trigger(top: Sequence[Notable], sums: Sequence[RuleSum]) -> str:
    """The top reason's detail, with how often its rule fired in the 30 days up to it and
    over how many days (UTC calendar days from the first to the lead, at least one). A
    folded period counts whole when its oldest day is inside the 30 days."""
    if not top:
        return "Engagement crossed the threshold"
    lead = top[0]
    lead_day = day_of(lead.occurred_at)
    # (first day, count) of each day, and of each folded period by its oldest day
    held = [
        held
        for s in sums
        if s.rule == lead.rule
        for held in (
            *((d.day, d.count) for d in s.days),
            *((p.start + p.first, p.count) for p in s.periods),
        )
        if 0 <= lead_day - held[0] < 30
    ]
    count = sum(n for _, n in held) or 1
    text = lead.detail.strip() or lead.rule.replace("_", " ")
    if count > 1:
        span = max(1, lead_day - min(day for day, _ in held))
        text = f"{text} {count}x in {span} day{'s' if span != 1 else ''}"
    return text


def _why_now(trigger: str, top: Sequence[Notable], score: Score) -> str:
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


def _kind(c: Notable) -> str:
    if c.signal_type == SignalType.PAGE_VISITED:
        path = c.fact_map().get("properties.path", "").lower()
        for kind in ("pricing", "security", "docs", "case"):
            if kind in path:
                return f"page:{kind}"
        return f"page:{path}"
    return str(c.signal_type)


def _point(
    kind: str, facts: Mapping[str, str], account: AccountRec | None, day: date
) -> str | None:
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
        amount = money(facts.get("properties.amount_usd"))
        investors = facts.get("properties.investors")
        announced = facts.get("properties.announced_on") or day.isoformat()
        text = f"New {round_}" + (f" of {amount}" if amount else "")
        text += f" led by {investors}" if investors else ""
        text += f", announced {announced}"
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
