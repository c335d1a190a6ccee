"""The ICP rulebook: the declarative model a data team writes in YAML.

Format `followup/v1`. A rulebook has three sections:

- `fit`: points for who the person and account are (firmographics, persona), hard
  disqualifiers, and fit tiers (A to D) by minimum fit points.
- `engagement`: points per signal, chosen by the *first* rule whose `signal` and `when`
  match, decayed by half-life, capped per rule.
- `windows`: when a window opens (a threshold, optionally per fit tier), the cooldown that
  stops one person from being triggered again inside it, and how long a window stays open.

Conditions (`when`) are a small declarative vocabulary, never code: see `rules.conditions`.
The `hash` of a rulebook is taken over its validated content, so comments and key order do
not change it; every window records `version` and `hash`.
"""

from __future__ import annotations

import hashlib
from functools import cached_property
from typing import Annotated, Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, model_validator

from rules.conditions import Condition
from signals.models import SignalType
from signals.windows import Play

__all__ = [
    "Disqualifier",
    "EngagementRule",
    "EngagementSection",
    "FitRule",
    "FitSection",
    "Rulebook",
    "WindowsSection",
]

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
    play: Play = "signal_triggered"
    detail: _Detail


class EngagementSection(BaseModel):
    model_config = _STRICT

    default_half_life_days: _Days = 7.0
    horizon_days: _Days = Field(
        default=90.0, description="Signals older than this (in event time) no longer count."
    )
    rules: tuple[EngagementRule, ...] = ()


class WindowsSection(BaseModel):
    model_config = _STRICT

    threshold: Annotated[float, Field(gt=0)]
    cooldown_days: Annotated[float, Field(ge=0)] = 7.0
    expire_after_hours: Annotated[float, Field(gt=0)] = 72.0


class Rulebook(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    api_version: Literal["followup/v1"] = Field(alias="apiVersion")
    version: Annotated[str, Field(min_length=1, max_length=64)]
    name: Annotated[str, Field(max_length=200)] = ""
    fit: FitSection = FitSection()
    engagement: EngagementSection
    windows: WindowsSection

    @cached_property
    def hash(self) -> str:
        """sha256 over the canonical JSON of the validated content (first 16 hex digits)."""
        canonical = orjson.dumps(
            self.model_dump(mode="json", by_alias=True), option=orjson.OPT_SORT_KEYS
        )
        return hashlib.sha256(canonical).hexdigest()[:16]

    def model_post_init(self, context: Any, /) -> None:
        names = [r.name for r in self.fit.rules] + [r.name for r in self.engagement.rules]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"rule names must be unique; repeated: {', '.join(duplicates)}")
