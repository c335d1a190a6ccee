"""Run scenario files (`rules.offline.scenarios`) through the pure core and check expectations.

`run_scenarios` is what `followup rules test` calls: pure, and it never raises on a
validated rulebook and scenarios. Each result says what was expected and what happened.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from rules.offline.explain import ScoreSnapshot, score_at
from rules.offline.replay import Replay
from rules.offline.scenarios import (
    ExpectedScore,
    ExpectedWindow,
    Scenario,
    ScenarioResult,
    normalise_person,
)
from rules.rulebook.model import Rulebook
from signals.windows import WindowOpened

__all__ = ["run_scenarios"]


def run_scenarios(rulebook: Rulebook, scenarios: Sequence[Scenario]) -> list[ScenarioResult]:
    """Run each scenario on a fresh state; one result per scenario, in order."""
    return [_run(rulebook, scenario, i) for i, scenario in enumerate(scenarios)]


def _run(rulebook: Rulebook, scenario: Scenario, index: int) -> ScenarioResult:
    state = Replay(rulebook)
    clock: datetime | None = None
    for signal in scenario.events:
        clock = signal.occurred_at if clock is None else max(clock, signal.occurred_at)
        state.apply(signal, scenario.now or clock)
    windows = tuple(state.windows)
    failures: list[str] = []
    expect = scenario.expect
    if expect.checks_windows:
        failures += _check_windows(expect.windows or (), windows)
    last = max(s.occurred_at for s in scenario.events)
    for expected in expect.scores:
        at = expected.at or last
        known = state if at >= last else _replayed(rulebook, scenario, at)
        failures += _check_score(rulebook, known, expected, at)
    return ScenarioResult(scenario.name, index, tuple(failures), windows)


def _replayed(rulebook: Rulebook, scenario: Scenario, until: datetime) -> Replay:
    """The state as it stood at `until`: the scenario's events up to then, in order."""
    state = Replay(rulebook)
    clock: datetime | None = None
    for signal in scenario.events:
        if signal.occurred_at > until:
            continue
        clock = signal.occurred_at if clock is None else max(clock, signal.occurred_at)
        state.apply(signal, scenario.now or clock)
    return state


def _describe(window: WindowOpened) -> str:
    return (
        f"{window.person_key}, play {window.play}, trigger {window.trigger_event_id} "
        f"(total {window.score.total:g} at {window.as_of.isoformat()})"
    )


def _check_windows(
    expected: Sequence[ExpectedWindow], windows: Sequence[WindowOpened]
) -> list[str]:
    """Match expected entries to windows one to one (a maximum bipartite matching)."""
    candidates = [[j for j, w in enumerate(windows) if e.matches(w)] for e in expected]
    owner: dict[int, int] = {}  # window index -> expected index

    def claim(i: int, seen: set[int]) -> bool:
        for j in candidates[i]:
            if j in seen:
                continue
            seen.add(j)
            if j not in owner or claim(owner[j], seen):
                owner[j] = i
                return True
        return False

    matched = {i for i in range(len(expected)) if claim(i, set())}
    failures = []
    got = "; ".join(_describe(w) for w in windows) or "none"
    for i, e in enumerate(expected):
        if i not in matched:
            why = "no window matches" if not candidates[i] else "its windows match other entries"
            failures.append(f"expected a window for {e}: {why}; windows opened: {got}")
    for j, w in enumerate(windows):
        if j not in owner:
            failures.append(f"unexpected window: {_describe(w)}")
    return failures


def _check_score(
    rulebook: Rulebook, state: Replay, expected: ExpectedScore, at: datetime
) -> list[str]:
    pk = normalise_person(expected.person)
    snapshot = _final_score(rulebook, state, pk, at)
    where = f"score of {pk} at {at.isoformat()}"
    if snapshot is None:
        return [f"{where}: no event in the scenario is about this person"]
    failures = []
    for name, wanted in (
        ("total", expected.total),
        ("fit", expected.fit),
        ("engagement", expected.engagement),
    ):
        value = getattr(snapshot, name)
        if wanted is not None and not wanted.holds(value):
            failures.append(f"{where}: expected {name} {wanted}, got {value:.2f}{_parts(snapshot)}")
    if expected.tier is not None and snapshot.tier != expected.tier:
        failures.append(f"{where}: expected tier {expected.tier}, got {snapshot.tier}")
    if expected.disqualified is not None:
        got = snapshot.disqualified_by is not None
        if got != expected.disqualified:
            detail = f" by {snapshot.disqualified_by}" if got else ""
            failures.append(
                f"{where}: expected disqualified {str(expected.disqualified).lower()}, "
                f"got {str(got).lower()}{detail}"
            )
    return failures


def _parts(s: ScoreSnapshot) -> str:
    return f" (fit {s.fit:.2f} + engagement {s.engagement:.2f}, threshold {s.threshold:g})"


def _final_score(rulebook: Rulebook, state: Replay, pk: str, at: datetime) -> ScoreSnapshot | None:
    """Score from the person's newest state (a person who moved has one per account)."""
    found = [
        (key, prospect)
        for key, people in state.prospects.items()
        if (prospect := people.get(pk)) is not None
    ]
    if not found:
        return None
    key, prospect = max(found, key=lambda f: (f[1].watermark or at, f[0] or ""))
    account = state.accounts.get(key) if key is not None else None
    return score_at(rulebook, prospect, account, at)
