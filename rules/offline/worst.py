"""The largest person a history can make: an adversarial builder for the size bound.

`bench/core.py` measures what it builds and `tests/rules/core/test_size_bound.py` holds
it under `rules.core.budget.MAX_PROSPECT_BYTES`. Every text and id at the contract's
limit, in characters of `char` (one to four bytes of UTF-8 each); for every day of the
horizon and five past it, two rounds of a pricing, a docs and an other page view (the
three page rules, each path and title at its limit) and an email open, and a job change
into the account from a new previous account, alternating senior and other titles (both
job rules): so more ids than the state keeps inline, and every per-day and per-period
slot filled. With `outreach`, the most the cadence keeps on top (`_outreach`), and a CRM
contact naming more roles than a prospect keeps.

Pure: it replays validated records through `rules.offline.replay.Replay` at a fixed
clock; nothing is read or written.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import TypeAdapter

from rules.core.cadence import MAX_TOUCHES, MAX_VACATIONS
from rules.core.state import ProspectState
from rules.offline.replay import Replay
from rules.rulebook.model import Rulebook
from signals.activity import Activity
from signals.contacts import CrmContact
from signals.identity import person_key
from signals.models import Person, Signal
from signals.records import record_of

__all__ = ["ACCOUNT", "END", "longest_person", "worst"]

END = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
ACCOUNT = {
    "domain": "acme-data.example",
    "name": "Acme Data",
    "industry": "software",
    "employees": 400,
    "country": "US",
    "technologies": ["kafka", "dbt", "snowflake"],
}
_SIGNAL: TypeAdapter[Any] = TypeAdapter(Signal)
_ACTIVITY: TypeAdapter[Any] = TypeAdapter(Activity)


def longest_person(char: str = "x") -> dict[str, Any]:
    """A person with every field at its input limit (`signals.models`), texts of `char`;
    the email's local part upper case where `char` has case (stored as given, not as its
    key)."""
    return {
        "email": (char.upper() * 300)[:300] + "@acme-data.example",
        "id": char * 128,
        "name": char * 200,
        "title": char * 200,
        "seniority": char * 100,
        "department": char * 100,
        "timezone": "America/Argentina/ComodRivadavia",
    }


class _Sender:
    def __init__(self, state: Replay, person: dict[str, Any], char: str) -> None:
        self.state, self.person, self.char, self.n = state, person, char, 0

    def body(self, kind: str, at: datetime, props: dict[str, Any]) -> dict[str, Any]:
        self.n += 1
        return {
            "type": kind,
            # event ids at their limit: kept contributions cite them
            "event_id": f"e{self.n}-".ljust(128, self.char),
            "occurred_at": at,
            "source": self.char * 100,
            "person": self.person,
            "account": ACCOUNT,
            "properties": props,
        }

    def signal(self, type_: str, at: datetime, **props: Any) -> None:
        self.state.apply(record_of(_SIGNAL.validate_python(self.body(type_, at, props))), END)

    def activity(self, type_: str, at: datetime, **props: Any) -> None:
        self.state.apply_activity(_ACTIVITY.validate_python(self.body(type_, at, props)), END)


def worst(rulebook: Rulebook, *, char: str = "x", outreach: bool = True) -> ProspectState:
    """The largest person this builder can make under `rulebook` (see the module)."""
    horizon = int(rulebook.engagement.horizon_days)
    state = Replay(rulebook)
    person = longest_person(char)
    c = char
    send = _Sender(state, person, char)
    for day in range(horizon + 5):
        start = END - timedelta(days=horizon + 5 - day)
        for hour in (9, 14):
            at = start + timedelta(hours=hour)
            for page in ("/pricing/" + c * 1990, "/docs/" + c * 1994, "/" + c * 1999):
                send.signal("page_visited", at, path=page, title=c * 200)
            send.signal("email_opened", at, subject=c * 300)
        title = ("VP " if day % 2 else "Engineer ") + c * 190
        previous = {"domain": f"old{day}-" + "o" * 230 + ".example", "name": c * 200}
        send.signal(
            "job_changed",
            start + timedelta(hours=11),
            new_title=title,
            previous_title=c * 200,
            previous_account=previous,
        )
    if outreach:
        _outreach(send)
    built = state.prospect("acme-data.example", person_key(Person.model_validate(person)))
    assert built is not None  # every signal above names the person at the account
    return built


def _outreach(send: _Sender) -> None:
    """`MAX_TOUCHES` touches (every id at its limit) over the last 50 days, inside the
    cadence memory, with a reply, a bounce and a deal stage (at its limit) after every
    tenth, a booked and a held meeting after every twentieth, `MAX_VACATIONS` distinct
    out-of-office spans at their longest, and a CRM contact with 40 roles at their limit."""
    c = send.char
    start = END - timedelta(days=50)
    for i in range(MAX_TOUCHES):
        at = start + timedelta(hours=12 * i)
        channel = ("email", "linkedin", "phone", "sms")[i % 4]
        send.activity("touch_sent", at, channel=channel, play="no_response", window_id=c * 128)
        if i % 10 == 9:
            send.activity("replied", at + timedelta(hours=1), channel="email", window_id=c * 128)
            send.activity("bounced", at + timedelta(hours=2), channel="email")
            stage = c * 49 + str(i % 10)
            send.activity("deal_stage_changed", at + timedelta(hours=3), stage=stage)
        if i % 20 == 19:
            meeting = at + timedelta(days=2)
            send.activity("meeting_booked", at + timedelta(hours=4), meeting_at=meeting.isoformat())
            send.activity("meeting_held", at + timedelta(hours=5), meeting_id=c * 128, kind=c * 50)
    for i in range(MAX_VACATIONS):
        first = (start + timedelta(days=2 * i)).date()
        send.activity(
            "out_of_office", start + timedelta(days=2 * i), until=first + timedelta(days=300)
        )
    contact = send.body("crm_contact", END - timedelta(days=1), {})
    contact.pop("type"), contact.pop("properties")
    roles = [f"{i:02}" + c * 48 for i in range(40)]
    send.state.apply_contact(CrmContact.model_validate({**contact, "roles": roles}))
