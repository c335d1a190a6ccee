"""The score API's answers: one person's live score, and what stands between them and a window.

Served by the worker at `GET /v1/accounts/{domain}/people/{person_key}` (`streams.score_api`);
the OpenAPI document at `/v1/openapi.json` is generated from these models, never written by
hand. The producer is us, so the models are strict (`extra="forbid"`) and frozen; a field is
only ever added, with a default, and `schema_version` is bumped for anything else.

Scores are the engine's own arithmetic (`rules.core.standing`): fit of the merged person and
account, engagement decayed to `as_of`, the largest contributions the state keeps, ranked as a
window ranks them.
"""

from __future__ import annotations

from typing import Annotated, Final, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from rules.core.decide import SuppressionReason
from signals.windows import FitReason, Play, Reason, RulebookRef

__all__ = [
    "SCORE_API_VERSION",
    "ApiError",
    "Bounce",
    "OpenWindow",
    "PersonScore",
    "PersonSuppression",
    "WindowNow",
]

SCORE_API_VERSION: Final = 1

# Every field is always serialized, so the published schema marks every field required.
_OUTBOUND = ConfigDict(
    frozen=True, extra="forbid", json_schema_serialization_defaults_required=True
)


class OpenWindow(BaseModel):
    """The person's latest window, while it is neither used nor expired."""

    model_config = _OUTBOUND

    window_id: str
    expires_at: AwareDatetime | None = None


class Bounce(BaseModel):
    model_config = _OUTBOUND

    channel: str
    at: AwareDatetime


class PersonSuppression(BaseModel):
    """What follows the person from every account: an opt-out, their latest reply, bounces."""

    model_config = _OUTBOUND

    opted_out_at: AwareDatetime | None = None
    replied_at: AwareDatetime | None = None
    bounced: tuple[Bounce, ...] = ()


class WindowNow(BaseModel):
    """Whether a fresh signal now, matching no trigger, would open a window, and if not why.

    `blocked_by` is the first check that refuses, in the engine's order (disqualified, below
    threshold, cooldown, the cadence gate, pauses). The other fields are each obstacle on its
    own, whichever comes first: how far the total is below the threshold (None when the
    threshold or the fit tier's engagement minimum is met), when the cooldown since the last
    window ends, the disqualifier that holds, the person-level suppression on record."""

    model_config = _OUTBOUND

    would_open: bool
    blocked_by: SuppressionReason | None = None
    play: Play
    below_threshold_by: float | None = None
    cooldown_until: AwareDatetime | None = None
    disqualified_by: str | None = None
    suppression: PersonSuppression | None = None


class PersonScore(BaseModel):
    """A person at an account, scored now."""

    model_config = _OUTBOUND

    schema_version: Literal[1] = SCORE_API_VERSION
    account_key: str | None = Field(
        description="The account key; None for a person known by no account."
    )
    person_key: str
    as_of: AwareDatetime = Field(description="The time the score is taken at (UTC).")
    fit: float
    engagement: float
    total: float
    threshold: float
    tier: Annotated[str, Field(max_length=8)]
    reasons: tuple[Reason, ...] = Field(
        description="The largest engagement contributions now, largest first (at most five)."
    )
    fit_reasons: tuple[FitReason, ...]
    open_window: OpenWindow | None = None
    window_now: WindowNow
    rulebook: RulebookRef


class ApiError(BaseModel):
    """Every error answer of the score API: a sentence, never an echo of personal data."""

    model_config = _OUTBOUND

    error: str
