"""Draft copy per play: subject hint, opening line, talking points, call to action, avoid.

The rulebook's `plays:` section overrides any field of any play; what it leaves out comes
from `DEFAULT_TEMPLATES` below. The engine calls `render_draft_text` once per opened window
with the facts `template_facts` builds; it never raises.

Rendering is a sandbox, not a template language: the only syntax is a placeholder
`{dotted.path}` or `{dotted.path|fallback text}`, replaced by a flat lookup in the facts
mapping (no attribute access, no indexing, no format specs, no code). Everything else with
a brace is refused when the rulebook loads and left as plain text if it gets through.
A missing fact renders the explicit fallback, else a neutral word from `NEUTRAL` (for
example "there" for a first name), else nothing. A talking point whose placeholders are
all missing is left out; the draft still gets 2 to 4 points (`FILLER` tops it up).

Facts the defaults use (`template_facts` fills them): `person.first_name`, `person.title`,
`account.name`, `account.employees`, `trigger`, `fit.reason`, `funding.amount`, and the
trigger's event facts from `rules.core.draft.DRAFT_FACT_KEYS` (`properties.path`, ...).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Final

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from signals.records import AccountRec, PersonRec
from signals.windows import Play

__all__ = [
    "DEFAULT_TEMPLATES",
    "FILLER",
    "NEUTRAL",
    "DraftText",
    "PlayTemplates",
    "money",
    "render_draft_text",
    "resolve",
    "template_facts",
]

_PLACEHOLDER: Final = re.compile(
    r"\{([a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)*)(?:\|([^{}|]{0,100}))?\}"
)
_MAX_VALUE: Final = 200
_SPACES: Final = re.compile(r" {2,}")

NEUTRAL: Mapping[str, str] = {"person.first_name": "there", "account.name": "your team"}
FILLER: tuple[str, ...] = (
    "Tie the note to what they just did, not to our calendar.",
    "Keep it to 6-8 sentences with one clear ask.",
)
_AVOID: tuple[str, ...] = ("just checking in", "touching base", "circling back")


def _only_placeholders(text: str) -> str:
    if "{" in _PLACEHOLDER.sub("", text) or "}" in _PLACEHOLDER.sub("", text):
        raise ValueError(
            "only {dotted.path} or {dotted.path|fallback} placeholders are allowed "
            "(lower case, no attributes, indexes or format specs)"
        )
    return text


_Line = Annotated[str, Field(min_length=1, max_length=500), AfterValidator(_only_placeholders)]
_Phrase = Annotated[str, Field(min_length=1, max_length=100)]


class PlayTemplates(BaseModel):
    """Copy for one play. In a rulebook every field is optional (unset = the default's)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    subject_hint: _Line | None = None
    opening_line: _Line | None = None
    talking_points: Annotated[tuple[_Line, ...], Field(min_length=1, max_length=4)] | None = None
    call_to_action: _Line | None = None
    avoid: Annotated[tuple[_Phrase, ...], Field(max_length=20)] | None = None


@dataclass(frozen=True, slots=True)
class DraftText:
    subject_hint: str
    opening_line: str
    talking_points: tuple[str, ...]
    call_to_action: str
    avoid: tuple[str, ...]


def _t(subject: str, opening: str, points: tuple[str, ...], cta: str, *avoid: str) -> PlayTemplates:
    return PlayTemplates(
        subject_hint=subject,
        opening_line=opening,
        talking_points=points,
        call_to_action=cta,
        avoid=(*_AVOID, *avoid),
    )


DEFAULT_TEMPLATES: Mapping[Play, PlayTemplates] = {
    "post_demo": _t(
        "Recap and next steps for {account.name}",
        "Hi {person.first_name}, thanks for the time today: here is what we covered and "
        "what happens next.",
        (
            "Recap the two or three problems {account.name} raised, in their words.",
            "Answer each open question from the call, or say when you will.",
            "Attach only what was promised: deck, pricing or security pack.",
        ),
        "Propose a date for the next step while the demo is fresh.",
        "a full feature tour",
    ),
    "no_response": _t(
        "A different angle for {account.name}",
        "Hi {person.first_name}, one thought I did not share last time.",
        (
            "Lead with one new angle, not a repeat of the last note.",
            "Anchor it in what they did: {trigger}.",
            "Name a result a team like {account.name} got, with its number.",
        ),
        "Ask one yes/no question that is easy to answer.",
        "following up on my last email",
        "bumping this",
    ),
    "value_add": _t(
        "Something useful for {account.name}",
        "Hi {person.first_name}, this seemed worth passing on whether or not we talk.",
        (
            "Share one resource (benchmark, report or case study) from a similar company.",
            "Pull out the one number that matters to a {person.title}.",
            "No ask beyond whether it was useful.",
        ),
        "Offer the resource and ask whether a short walk-through would help.",
        "following up on my last email",
    ),
    "signal_triggered": _t(
        "Quick answers for {account.name}",
        "Hi {person.first_name}, teams looking at what you looked at usually ask about cost, "
        "rollout time and security, so here are short answers.",
        (
            "Why now: {trigger}.",
            "They read {properties.path}: connect it to a problem they likely have.",
            "Offer a short ROI estimate for a team of about {account.employees}.",
            "Why they fit: {fit.reason}.",
        ),
        "Offer a 15-minute call this week on exactly what they looked at.",
        "I saw you visited our website",
    ),
    "champion_moved": _t(
        "Congrats on the new role",
        "Hi {person.first_name}, congratulations on the move to {account.name}.",
        (
            "New role as {properties.new_title}: the first 90 days are when tools get chosen.",
            "Recall one result from {properties.previous_account.name}, in numbers.",
            "Ask what the new team's first priorities are.",
        ),
        "Suggest a short call to see whether it fits the new team.",
        "a product pitch in the first line",
    ),
    "funding": _t(
        "Congrats on the {properties.round|round}, {account.name}",
        "Hi {person.first_name}, congratulations to {account.name} on the "
        "{properties.round|new round}.",
        (
            "Raised {funding.amount}: new money usually means hiring and new tooling budgets.",
            "Backed by {properties.investors}: name a portfolio company we work with.",
            "Offer a plan for scaling what they run today, not a rebuild.",
        ),
        "Offer a 15-minute call on scaling the team after the round.",
        "now that you have budget",
    ),
    "multi_thread": _t(
        "Who else at {account.name} should see this?",
        "Hi {person.first_name}, a quick question about who else at {account.name} is involved.",
        (
            "Ask who else owns the problem: finance, security, the team lead.",
            "Offer a short summary they can forward as is.",
            "Why now: {trigger}.",
        ),
        "Ask who else on the team should see this.",
        "going over their head",
    ),
    "breakup": _t(
        "Closing the loop",
        "Hi {person.first_name}, I have not heard back, so I will assume the timing is not right.",
        (
            "Say plainly this is the last note from you.",
            "Leave one useful resource and the door open.",
            "Keep it under five sentences.",
        ),
        "Say this is the last note and leave the door open.",
        "guilt or pressure",
        "one last chance",
    ),
    "post_purchase": _t(
        "How are the first weeks going?",
        "Hi {person.first_name}, thanks again for choosing us: how is the rollout at "
        "{account.name} going?",
        (
            "Ask what is working and what is in the way.",
            "Offer one adoption tip or a session with support.",
            "Why now: {trigger}.",
        ),
        "Ask how the first weeks went and offer help with adoption.",
        "an upsell in the first note",
    ),
}


def resolve(overrides: Mapping[Play, PlayTemplates], play: Play) -> PlayTemplates:
    """The play's templates: the rulebook's fields over the defaults."""
    base = DEFAULT_TEMPLATES[play]
    mine = overrides.get(play)
    if mine is None:
        return base
    return base.model_copy(update=mine.model_dump(exclude_none=True))


def render_draft_text(
    templates: Mapping[Play, PlayTemplates], play: Play, facts: Mapping[str, Any]
) -> DraftText:
    """Render a play's copy from facts; see the module docstring for the sandbox rules."""
    t = resolve(templates, play)
    points = [text for text, found in (_render(p, facts) for p in t.talking_points or ()) if found]
    for filler in FILLER:
        if len(points) >= 2:
            break
        if filler not in points:
            points.append(filler)
    return DraftText(
        subject_hint=_render(t.subject_hint or "", facts)[0],
        opening_line=_render(t.opening_line or "", facts)[0],
        talking_points=tuple(points[:4]),
        call_to_action=_render(t.call_to_action or "", facts)[0],
        avoid=t.avoid or (),
    )


def template_facts(
    *,
    person: PersonRec,
    account: AccountRec | None,
    trigger: str | None = None,
    trigger_facts: Mapping[str, str] | None = None,
    fit_reason: str | None = None,
) -> dict[str, str]:
    """The facts the templates read, from the window's person, account and top reason."""
    facts: dict[str, str] = dict(trigger_facts or {})
    if person.name:
        words = [w for w in person.name.split() if not w.endswith(".")]
        if words:
            facts["person.first_name"] = words[0]
    if person.title:
        facts["person.title"] = person.title
    if account is not None:
        facts["account.name"] = account.name or account.domain
        if account.employees:
            facts["account.employees"] = str(account.employees)
    if trigger:
        facts["trigger"] = trigger[:1].lower() + trigger[1:]
    if fit_reason:
        facts["fit.reason"] = fit_reason
    amount = money(facts.get("properties.amount_usd"))
    if amount:
        facts["funding.amount"] = amount
    return facts


def _render(template: str, facts: Mapping[str, Any]) -> tuple[str, bool]:
    """(text, whether any placeholder found a value or fallback; True with none at all)."""
    hits: list[bool] = []

    def fill(match: re.Match[str]) -> str:
        path, fallback = match.group(1), match.group(2)
        value = _text(facts.get(path))
        if value:
            hits.append(True)
            return value[:_MAX_VALUE]
        hits.append(fallback is not None)
        return fallback if fallback is not None else NEUTRAL.get(path, "")

    text = _PLACEHOLDER.sub(fill, template)
    text = _SPACES.sub(" ", text).replace(" .", ".").replace(" ,", ",").strip()
    return text, (not hits) or any(hits)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (tuple, list)):
        return ", ".join(str(v) for v in value)
    return str(value).strip()


def money(amount: str | None) -> str | None:
    """A USD amount in words a rep reads ($36M, $1.2B), or None when it is not a number."""
    if not amount or not amount.isdigit():
        return None
    value = int(amount)
    if value >= 1_000_000_000:
        return f"${value / 1_000_000_000:.1f}B"
    if value >= 1_000_000:
        return f"${value / 1_000_000:.0f}M"
    return f"${value:,}"
