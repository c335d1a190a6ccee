"""The ICP rulebook: the declarative model a data team writes in YAML.

Format `followup/v1`. A rulebook has three sections:

- `fit`: points for who the person and account are (firmographics, persona), hard
  disqualifiers, and fit tiers (A to D) by minimum fit points.
- `engagement`: points per signal, chosen by the *first* rule whose `signal` and `when`
  match, scaled down to the rule's `cap_per_day` per UTC day, decayed by half-life, capped
  per rule, and counted for `horizon_days` (or the rule's shorter `within_days`).
- `windows`: when a window opens (a threshold, optionally per fit tier, or a trigger such
  as "pricing twice in 48 hours"), the cooldown that stops one person from being triggered
  again inside it, and how long a window stays open.

Optional sections with defaults (a rulebook without them stays valid) include:

- `cadence`: touch spacing and caps, channel switching, breakup, pauses and send times
  (`rules.rulebook.cadence.CadenceRules`).
- `plays`: draft copy per play, overriding `rules.rulebook.templates.DEFAULT_TEMPLATES`
  field by field.

Conditions (`when`) are a small declarative vocabulary, never code: see `rules.rulebook.conditions`.
The `hash` of a rulebook is taken over its validated content, so comments and key order do
not change it; every window records `version` and `hash`.
"""

from __future__ import annotations

import hashlib
from functools import cached_property
from typing import Annotated, Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, model_validator

from rules.rulebook.cadence import CadenceRules
from rules.rulebook.conditions import Condition
from rules.rulebook.templates import PlayTemplates
from signals.models import SignalType
from signals.windows import Play

__all__ = [
    "AccountsSection",
    "ChampionsSection",
    "Disqualifier",
    "EngagementRule",
    "EngagementSection",
    "FitRule",
    "FitSection",
    "Rulebook",
    "Tier",
    "Trigger",
    "WindowsSection",
]

MAX_TRIGGER_COUNT = 20
"""The most contributions a count trigger may ask for (the engine keeps that many times)."""

DEFAULT_FRESH_HOURS: dict[Play, float] = {
    # A page view or an open is news for a day; a round or a move stays news for weeks.
    "funding": 14 * 24.0,
    "champion_moved": 14 * 24.0,
}

_STRICT = ConfigDict(frozen=True, extra="forbid")

_Name = Annotated[str, Field(min_length=1, max_length=80, pattern=r"^[a-z0-9][a-z0-9_.-]*$")]
_Detail = Annotated[str, Field(min_length=1, max_length=300)]
_Days = Annotated[float, Field(gt=0, le=3650)]


class FitRule(BaseModel):
    model_config = _STRICT

    name: _Name
    when: Condition
    points: Annotated[float, Field(ge=-1000, le=1000)]
    detail: _Detail


class Disqualifier(BaseModel):
    model_config = _STRICT

    name: _Name
    when: Condition
    detail: _Detail


_Tier = Literal["A", "B", "C"]


def _default_tiers() -> dict[_Tier, float]:
    return {"A": 60.0, "B": 40.0, "C": 20.0}


class FitSection(BaseModel):
    model_config = _STRICT

    tiers: dict[_Tier, float] = Field(
        default_factory=_default_tiers,
        description="Minimum fit points for each tier; below C is tier D.",
    )
    rules: tuple[FitRule, ...] = ()
    disqualify: tuple[Disqualifier, ...] = ()

    @model_validator(mode="after")
    def _tiers_descend(self) -> FitSection:
        a, b, c = (self.tiers.get(t) for t in ("A", "B", "C"))
        present = [x for x in (a, b, c) if x is not None]
        if present != sorted(present, reverse=True):
            raise ValueError("fit tiers must descend: A >= B >= C")
        return self


class EngagementRule(BaseModel):
    model_config = _STRICT

    name: _Name
    signal: SignalType
    when: Condition | None = None
    points: Annotated[float, Field(ge=-1000, le=1000)]
    half_life_days: _Days | None = Field(
        default=None, description="Defaults to engagement.default_half_life_days."
    )
    cap: Annotated[float, Field(gt=0)] | None = Field(
        default=None, description="Most points this rule may contribute in total, after decay."
    )
    cap_per_day: Annotated[float, Field(gt=0)] | None = Field(
        default=None,
        description=(
            "Most points this rule may contribute from the events of one UTC day, before "
            "decay: ten visits in an afternoon count as this much, not ten times the points."
        ),
    )
    within_days: _Days | None = Field(
        default=None,
        description=(
            "A contribution of this rule stops counting once it is older than this (in event "
            "time), even inside engagement.horizon_days."
        ),
    )
    play: Play = "signal_triggered"
    detail: _Detail


class EngagementSection(BaseModel):
    model_config = _STRICT

    default_half_life_days: _Days = 7.0
    horizon_days: _Days = Field(
        default=90.0, description="Signals older than this (in event time) no longer count."
    )
    rules: tuple[EngagementRule, ...] = ()


Tier = Literal["A", "B", "C", "D"]


class Trigger(BaseModel):
    """A signal that opens a window whatever the score, for a good enough fit.

    Matched on the signal's own facts (and `champion.*` for a job change that carries the
    person's history at their previous account). Cooldown and disqualifiers still apply.
    With `min_count` above 1 it also needs that many contributions of engagement rule `rule`
    (the current signal's included) within `within_hours` before the current signal:
    "pricing twice in 48 hours" (see `rules.core.scoring.trigger_fires`).
    """

    model_config = _STRICT

    name: _Name
    signal: SignalType
    when: Condition | None = None
    rule: _Name | None = Field(
        default=None,
        description="Engagement rule whose contributions count; default: the one that scored "
        "the current signal.",
    )
    min_count: Annotated[int, Field(ge=1, le=MAX_TRIGGER_COUNT)] = Field(
        default=1,
        description="Fire only when the person has at least this many contributions of `rule`, "
        "the current signal's included.",
    )
    within_hours: Annotated[float, Field(gt=0, le=87_600)] | None = Field(
        default=None,
        description="Count only contributions at most this many hours before the current "
        "signal; default: all the person still has (engagement.horizon_days).",
    )
    min_fit_tier: Tier = "B"
    play: Play = "signal_triggered"
    detail: _Detail


class WindowsSection(BaseModel):
    model_config = _STRICT

    threshold: Annotated[float, Field(gt=0)] = Field(
        description="A window opens when fit + engagement reaches this."
    )
    min_engagement_by_tier: dict[Tier, Annotated[float, Field(ge=0)]] = Field(
        default_factory=dict,
        description=(
            "Also open when engagement alone reaches this for the person's fit tier "
            "(e.g. {A: 40, C: 80}), whatever the total."
        ),
    )
    triggers: tuple[Trigger, ...] = ()
    cooldown_days: Annotated[float, Field(ge=0)] = 7.0
    expire_after_hours: Annotated[float, Field(gt=0)] = 72.0
    fresh_for_hours: Annotated[float, Field(gt=0, le=24 * 3650)] = Field(
        default=24.0,
        description=(
            "A window whose triggering signal is older than this (against the clock) is "
            "suppressed as stale: a backlog replayed after an outage opens no windows for "
            "last week's signals."
        ),
    )
    fresh_for_hours_by_play: dict[Play, Annotated[float, Field(gt=0, le=24 * 3650)]] = Field(
        default_factory=lambda: dict(DEFAULT_FRESH_HOURS),
        description="Longer or shorter freshness for some plays (funding, champion moves).",
    )

    def fresh_for(self, play: str) -> float:
        """Hours a trigger of `play` stays fresh."""
        return self.fresh_for_hours_by_play.get(play, self.fresh_for_hours)  # type: ignore[call-overload]


class AccountsSection(BaseModel):
    """How account-level signals (funding, visits that name only an account) reach people."""

    model_config = _STRICT

    max_windows_per_signal: Annotated[int, Field(ge=1, le=100)] = Field(
        default=3,
        description=(
            "At most this many people at the account get a window for one account-level "
            "signal, best total score first; the second and later get the multi_thread play."
        ),
    )


class ChampionsSection(BaseModel):
    """Who counts as a champion at the account a person leaves (see `champion.*` facts)."""

    model_config = _STRICT

    min_windows: Annotated[int, Field(ge=1)] = Field(
        default=1, description="Had at least this many windows opened there."
    )
    min_engagement: Annotated[float, Field(gt=0)] = Field(
        default=40.0, description="Or had at least this much engagement there when they left."
    )
    roles: tuple[Annotated[str, Field(max_length=50)], ...] = Field(
        default=("champion", "customer_contact"),
        description="Or holds one of these roles in the CRM contact feed.",
    )


class Rulebook(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    api_version: Literal["followup/v1"] = Field(alias="apiVersion")
    version: Annotated[str, Field(min_length=1, max_length=64)]
    name: Annotated[str, Field(max_length=200)] = ""
    fit: FitSection = FitSection()
    engagement: EngagementSection
    windows: WindowsSection
    accounts: AccountsSection = AccountsSection()
    champions: ChampionsSection = ChampionsSection()
    cadence: CadenceRules = CadenceRules()
    plays: dict[Play, PlayTemplates] = Field(default_factory=dict)

    @cached_property
    def recent_kept(self) -> int:
        """How many newest contribution times count triggers need of any rule (0: none)."""
        return max(self._recent_by_rule.values(), default=0)

    def recent_for(self, rule: str) -> int:
        """How many newest contribution times of engagement rule `rule` to keep: as many
        as the count triggers that can count it ask for, else none."""
        return self._recent_by_rule.get(rule, 0)

    @cached_property
    def _recent_by_rule(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for t in self.windows.triggers:
            if t.min_count <= 1 and t.rule is None:
                continue  # fires on its own signal: nothing to count
            # A trigger without a rule counts the rule that scored its signal: any rule
            # for the trigger's signal type.
            names = (
                [t.rule]
                if t.rule
                else [r.name for r in self.engagement.rules if r.signal == t.signal]
            )
            for name in names:
                out[name] = max(out.get(name, 0), t.min_count)
        return out

    @cached_property
    def hash(self) -> str:
        """sha256 over the canonical JSON of the validated content (first 16 hex digits)."""
        canonical = orjson.dumps(
            self.model_dump(mode="json", by_alias=True), option=orjson.OPT_SORT_KEYS
        )
        return hashlib.sha256(canonical).hexdigest()[:16]

    def model_post_init(self, context: Any, /) -> None:
        names = [r.name for r in self.fit.rules] + [r.name for r in self.engagement.rules]
        names += [t.name for t in self.windows.triggers]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"rule names must be unique; repeated: {', '.join(duplicates)}")
        engagement_rules = {r.name for r in self.engagement.rules}
        for trigger in self.windows.triggers:
            if trigger.rule is not None and trigger.rule not in engagement_rules:
                raise ValueError(
                    f"trigger {trigger.name!r} counts rule {trigger.rule!r}, which is not an "
                    "engagement rule (engagement.rules names: "
                    f"{', '.join(sorted(engagement_rules)) or 'none'})"
                )
        # Fixed now: evaluating a condition later can change how pydantic dumps it
        # (`eq: true` as `eq: 1`), and with it a hash computed lazily.
        _ = self.hash
