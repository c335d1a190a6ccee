"""Scenario files: test a rulebook against hand-written histories before it goes live.

In the spirit of `promtool test rules`: a YAML file gives events and what the rulebook must
make of them. `followup rules test RULES.yaml CASES.yaml...` runs them and prints PASS/FAIL
per scenario; a data team keeps these files next to the rulebook and runs them in CI.

    rulebook: b2b_saas.yaml          # optional, relative to this file; the CLI argument wins
    scenarios:
      - name: An A-fit VP who visits pricing twice opens a window
        now: 2026-11-20T12:00:00Z    # optional wall clock for `opened_at`
        events:                      # the input topics' JSON shape; `type` is required here
          - {type: page_visited, event_id: e1, occurred_at: 2026-11-18T10:00:00Z,
             source: web, person: {email: dana@acme.example, title: VP Engineering},
             account: {domain: acme.example, industry: software}, properties: {path: /pricing}}
          - ...
        expect:
          windows:                   # exactly these windows, in any order
            - {person: dana@acme.example, play: signal_triggered, trigger: e2}
          # or `no_windows: true`
          scores:                    # the score at `at` (default: the scenario's last event)
            - {person: dana@acme.example, at: 2026-11-19T00:00:00Z,
               total: {min: 100}, fit: {min: 60}, tier: A, disqualified: false}

Semantics:

- Events are applied in the order written (the order one partition would see them), through
  the same core the stream runs, so what passes here is what the worker does.
- `windows` lists every window the scenario must open: each entry matches one window by
  person key (lowercase email, or `id:<crm id>`) and, when given, `play` and `trigger` (the
  triggering event id); a window no entry matches is a failure, and so is an entry no window
  matches. `windows: []` is the same as `no_windows: true`.
- `scores` checks the score the engine would compute at event time `at` from the final state:
  `total`, `fit` and `engagement` as ranges (`{min, max}`, both inclusive, either optional),
  `tier` (A-D) and `disqualified`. Fit is the person's fit after all the events.
- YAML anchors (`person: &dana {...}` then `person: *dana`) keep repeated people short.

`load_scenarios` raises `RulebookError` (file, line, dotted field) for a file that is not
valid, the same way the rulebook loader does. `run_scenarios` is pure and never raises on a
validated rulebook and scenarios. The JSON Schema in `rules/schemas/scenarios.schema.json` is
generated from the models (`followup schemas`); never edit it by hand. Running them lives
in `rules.offline.scenario_run`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, model_validator

from rules.rulebook.loader import (
    Issue,
    RulebookError,
    compose_yaml,
    error_message,
    locate,
    write_json_schema,
    yaml_json_schema,
)
from signals.identity import person_key
from signals.models import Person, Signal, SignalType
from signals.windows import Play, WindowOpened

__all__ = [
    "SCHEMA_PATH",
    "Expectations",
    "ExpectedScore",
    "ExpectedWindow",
    "Range",
    "Scenario",
    "ScenarioFile",
    "ScenarioResult",
    "load_scenarios",
    "normalise_person",
    "parse_scenarios",
    "scenario_lines",
    "scenarios_json_schema",
    "write_scenarios_schema",
]

SCHEMA_PATH = Path(__file__).parent.parent / "schemas" / "scenarios.schema.json"
_STRICT = ConfigDict(frozen=True, extra="forbid")
_SIGNAL_TAGS = frozenset(t.value for t in SignalType)

_PersonKey = Annotated[
    str,
    Field(
        min_length=1,
        max_length=320,
        description="Person key: the email (any case), or `id:<crm id>` for people without one.",
    ),
]


def normalise_person(text: str) -> str:
    """The person key a scenario means: emails are keyed like the engine keys them."""
    text = text.strip()
    if text.startswith("id:") or "@" not in text:
        return text
    try:
        return person_key(Person(email=text))
    except ValidationError:
        return text.lower()


class Range(BaseModel):
    """An inclusive range; either end may be left out."""

    model_config = _STRICT

    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _bounded(self) -> Range:
        if self.min is None and self.max is None:
            raise ValueError("a range needs min, max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("min must not exceed max")
        return self

    def holds(self, value: float) -> bool:
        return (self.min is None or value >= self.min) and (self.max is None or value <= self.max)

    def __str__(self) -> str:
        if self.min is not None and self.max is not None:
            return f"between {self.min:g} and {self.max:g}"
        return f">= {self.min:g}" if self.min is not None else f"<= {self.max:g}"


class ExpectedWindow(BaseModel):
    model_config = _STRICT

    person: _PersonKey
    play: Play | None = None
    trigger: Annotated[str, Field(min_length=1, max_length=200)] | None = Field(
        default=None, description="The event_id of the event that opened the window."
    )

    def matches(self, window: WindowOpened) -> bool:
        return (
            window.person_key == normalise_person(self.person)
            and (self.play is None or window.play == self.play)
            and (self.trigger is None or window.trigger_event_id == self.trigger)
        )

    def __str__(self) -> str:
        parts = [normalise_person(self.person)]
        if self.play is not None:
            parts.append(f"play {self.play}")
        if self.trigger is not None:
            parts.append(f"trigger {self.trigger}")
        return ", ".join(parts)


class ExpectedScore(BaseModel):
    model_config = _STRICT

    person: _PersonKey
    at: AwareDatetime | None = Field(
        default=None, description="Event time to score at; default: the last event's time."
    )
    total: Range | None = None
    fit: Range | None = None
    engagement: Range | None = None
    tier: Literal["A", "B", "C", "D"] | None = None
    disqualified: bool | None = None

    @model_validator(mode="after")
    def _checks_something(self) -> ExpectedScore:
        if all(
            v is None for v in (self.total, self.fit, self.engagement, self.tier, self.disqualified)
        ):
            raise ValueError(
                "a score expectation needs total, fit, engagement, tier or disqualified"
            )
        return self


class Expectations(BaseModel):
    model_config = _STRICT

    windows: tuple[ExpectedWindow, ...] | None = Field(
        default=None, description="Exactly these windows open (any order)."
    )
    no_windows: bool = Field(default=False, description="No window opens (same as windows: []).")
    scores: tuple[ExpectedScore, ...] = ()

    @model_validator(mode="after")
    def _consistent(self) -> Expectations:
        if self.no_windows and self.windows:
            raise ValueError("no_windows: true contradicts a non-empty windows list")
        if not self.no_windows and self.windows is None and not self.scores:
            raise ValueError("expect needs windows, no_windows: true or scores")
        return self

    @property
    def checks_windows(self) -> bool:
        return self.no_windows or self.windows is not None


class Scenario(BaseModel):
    model_config = _STRICT

    name: Annotated[str, Field(min_length=1, max_length=200)]
    now: AwareDatetime | None = Field(
        default=None,
        description="Wall-clock time for opened_at; default: the newest event time so far.",
    )
    events: Annotated[tuple[Signal, ...], Field(min_length=1, max_length=10_000)]
    expect: Expectations


class ScenarioFile(BaseModel):
    model_config = _STRICT

    rulebook: str | None = Field(
        default=None, description="Rulebook path relative to this file; the CLI argument wins."
    )
    scenarios: Annotated[tuple[Scenario, ...], Field(min_length=1)]

    def rulebook_path(self, source: str | Path) -> Path | None:
        """The `rulebook:` path resolved against the directory of the file at `source`."""
        if self.rulebook is None:
            return None
        return (Path(source).parent / self.rulebook).resolve()


@dataclass(frozen=True, slots=True)
class ScenarioResult:
    name: str
    index: int  # position in the file's `scenarios` list
    failures: tuple[str, ...]  # empty when the scenario passed
    windows: tuple[WindowOpened, ...]

    @property
    def passed(self) -> bool:
        return not self.failures


# --------------------------------------------------------------------- loading


def parse_scenarios(text: str, source: str = "<string>") -> ScenarioFile:
    """Validate YAML text as a scenario file. Raises RulebookError (file:line: field: why)."""
    root, data = compose_yaml(text, source)
    try:
        return ScenarioFile.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        issues = []
        for error in errors:
            # Drop the signal-type tag pydantic puts in a tagged union's error location.
            loc = tuple(p for p in error["loc"] if p not in _SIGNAL_TAGS)
            if error["type"] == "too_short" and any(
                len(e["loc"]) > len(error["loc"]) and e["loc"][: len(error["loc"])] == error["loc"]
                for e in errors
            ):
                continue  # pydantic counts only the valid items: the invalid ones say why
            line, field = locate(root, loc)
            issues.append(Issue(line, field or None, error_message(error)))
        issues.sort(key=lambda i: i.line if i.line is not None else 0)
        first = issues[0]
        raise RulebookError(source, first.line, first.field, first.message, tuple(issues)) from None


def load_scenarios(path: str | Path) -> ScenarioFile:
    """Read and validate a scenario file. Raises RulebookError (also when it cannot be read)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RulebookError(str(path), None, None, f"cannot read the file: {exc}") from None
    return parse_scenarios(text, source=str(path))


def scenario_lines(text: str) -> list[int]:
    """1-based line of each scenario in a (valid) file, for messages; [] if not found."""
    import yaml

    node = yaml.compose(text, Loader=yaml.SafeLoader)
    if not isinstance(node, yaml.MappingNode):
        return []
    for key, value in node.value:
        if key.value == "scenarios" and isinstance(value, yaml.SequenceNode):
            return [item.start_mark.line + 1 for item in value.value]
    return []


# ---------------------------------------------------------------------- schema


def scenarios_json_schema() -> dict[str, Any]:
    """The JSON Schema of the YAML form (editors use it for completion and checks)."""
    return yaml_json_schema(ScenarioFile, "followup/v1/scenarios")


def write_scenarios_schema(path: str | Path = SCHEMA_PATH) -> Path:
    return write_json_schema(path, scenarios_json_schema())
