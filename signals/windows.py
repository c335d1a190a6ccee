"""The outbound contract: the "follow-up window opened" event.

Published on `followup.windows-opened`, keyed by the person key, one JSON object per window.
The producer is us, so the models are strict (`extra="forbid"`): consumers can rely on every
field named here and on nothing else. `window_id` is deterministic (same input, same id), so
a consumer deduplicates on it after an at-least-once redelivery.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from signals.models import Account, Person

__all__ = [
    "ChampionHistory",
    "Channel",
    "CloseReason",
    "Draft",
    "FitReason",
    "Play",
    "Reason",
    "RulebookRef",
    "Score",
    "WindowClosed",
    "WindowOpened",
]

_OUTBOUND = ConfigDict(frozen=True, extra="forbid")

Play = Literal[
    "post_demo",
    "no_response",
    "value_add",
    "signal_triggered",
    "champion_moved",
    "funding",
    "multi_thread",
    "breakup",
    "post_purchase",
]
Channel = Literal["email", "linkedin", "phone"]


class Score(BaseModel):
    model_config = _OUTBOUND

    fit: float
    engagement: float
    total: float
    threshold: float
    fit_tier: Annotated[str, Field(max_length=8)] | None = None


class Reason(BaseModel):
    """One engagement signal that contributed to the window, with its points *now* (decayed)."""

    model_config = _OUTBOUND

    event_id: str
    signal_type: str
    occurred_at: AwareDatetime
    rule: str
    points: float
    detail: str


class FitReason(BaseModel):
    """One ICP fit rule that matched the person or account."""

    model_config = _OUTBOUND

    rule: str
    points: float
    detail: str


class ChampionHistory(BaseModel):
    """What the engine knew of a person at the account they just left.

    Built at the old account's partition and carried with the job change to the new one.
    """

    model_config = _OUTBOUND

    previous_account_key: str
    previous_account_name: str | None = None
    previous_title: str | None = None
    windows_opened: int = 0
    last_window_at: AwareDatetime | None = None
    engagement: float = Field(default=0.0, description="Engagement there when they left.")
    roles: tuple[str, ...] = Field(default=(), description="CRM roles held there.")
    is_champion: bool = False
    evidence: tuple[str, ...] = Field(default=(), description="Why they count as a champion.")


class RulebookRef(BaseModel):
    model_config = _OUTBOUND

    version: str
    hash: str


class Draft(BaseModel):
    """What a rep or an outreach tool needs to write the follow-up. The engine never sends it."""

    model_config = _OUTBOUND

    trigger: str
    why_now: str
    channel: Channel
    send_at: AwareDatetime
    expires_at: AwareDatetime
    timezone: str
    subject_hint: str
    opening_line: str
    talking_points: tuple[str, ...]
    call_to_action: str
    avoid: tuple[str, ...]


class WindowOpened(BaseModel):
    model_config = _OUTBOUND

    schema_version: Literal[1] = 1
    window_id: str
    opened_at: AwareDatetime = Field(description="Wall-clock time the engine opened the window.")
    as_of: AwareDatetime = Field(description="Event time the score was evaluated at.")
    trigger_event_id: str
    trigger_source: str = Field(
        default="", description="`source` of the triggering event: with its id, the dedup key."
    )
    person_key: str
    account_key: str | None
    person: Person
    account: Account | None
    play: Play
    score: Score
    reasons: tuple[Reason, ...] = Field(description="Engagement reasons, largest first.")
    fit_reasons: tuple[FitReason, ...]
    rulebook: RulebookRef
    draft: Draft
    champion: ChampionHistory | None = Field(
        default=None, description="For a job change: the person's history at the old account."
    )


CloseReason = Literal["touched", "expired", "superseded", "replied", "opted_out"]


class WindowClosed(BaseModel):
    """Published on `followup.windows-closed` when a window is used or no longer useful.

    `touched`: an outreach tool logged a touch for it; `expired`: nobody acted before
    `expires_at`; `superseded`: a newer window for the same person replaced it while still
    open; `replied` / `opted_out`: the person answered or asked not to be contacted.
    """

    model_config = _OUTBOUND

    schema_version: Literal[1] = 1
    window_id: str
    person_key: str
    account_key: str | None
    closed_at: AwareDatetime
    reason: CloseReason
    event_id: str | None = Field(default=None, description="The activity that closed it.")
    channel: str | None = None
    play: Play | None = None
