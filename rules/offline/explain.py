"""Explain a score: how each event moved one person's score, and why it is what it is.

`explain(rulebook, signals, person_key)` replays a history through the same core the stream
runs (`rules.core.engine.apply_signal`) and, for every event that touched the person, records the
score right after it (fit, engagement, total, threshold, tier), what the event added, and
whether a window opened or why not (below threshold, cooldown, disqualified, duplicate). The
final reasons are ranked the way a window ranks them.

`score_at(rulebook, prospect, account, at)` is the arithmetic the engine does when it decides
(fit of the merged person and account, decayed and capped engagement sums of the person and
the account); the offline tools call it to sample a score at any time at or after the
state's newest event, e.g. to draw decay between events. Its reasons are the contributions
the state keeps whole (the largest few, as a window shows them). A test checks it agrees
with the score windows carry.

Replays use a simulated wall clock: each event is applied "as if live", with `now` the newest
event time so far, unless a `now` is given. Pure: no I/O; never raises on validated input.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from rules.core.decide import basis, evaluation_time, resolved
from rules.core.engagement import score
from rules.core.engine import Outcome
from rules.core.facts import facts_for
from rules.core.scoring import fit, match_engagement_rule, render_detail
from rules.core.state import AccountState, ProspectState
from rules.offline.replay import Replay
from rules.rulebook.model import Rulebook
from signals.identity import person_key as key_of_person
from signals.identity import signal_account_key
from signals.models import FundingAnnounced, PageVisited, Signal
from signals.records import record_of
from signals.windows import FitReason, WindowOpened

__all__ = [
    "RankedReason",
    "ScoreSnapshot",
    "Timeline",
    "TimelineStep",
    "explain",
    "explain_many",
    "render_text",
    "score_at",
]


@dataclass(frozen=True, slots=True)
class RankedReason:
    """One engagement contribution with its points at the snapshot's time (decayed, capped)."""

    event_id: str
    signal_type: str
    occurred_at: datetime
    rule: str
    points: float
    detail: str


@dataclass(frozen=True, slots=True)
class ScoreSnapshot:
    """A person's score at event time `at`, computed as the engine computes it."""

    at: datetime
    fit: float
    engagement: float
    total: float
    threshold: float
    tier: str
    disqualified_by: str | None  # the first disqualifier rule that holds
    disqualified_detail: str | None
    fit_reasons: tuple[FitReason, ...]
    reasons: tuple[RankedReason, ...]  # the contributions the state keeps, largest first
    by_rule: Mapping[str, float]  # engagement per rule after its cap

    @property
    def above_threshold(self) -> bool:
        return self.total >= self.threshold


@dataclass(frozen=True, slots=True)
class TimelineStep:
    """One event that touched the person, and the score right after it.

    `outcome` is "window", "below_threshold", "cooldown" or "disqualified" (the engine
    evaluates the person after every event, even one no engagement rule scored), or
    "duplicate" (the event id had been applied already: nothing changed).
    """

    signal: Signal
    rule: str | None  # the engagement rule that scored the event
    points: float | None  # the rule's points before decay
    added: float  # engagement after minus before, both at `score.at` (caps applied)
    score: ScoreSnapshot
    outcome: str
    window: WindowOpened | None
    # The states right after the event, to sample the score later (e.g. decay curves).
    prospect: ProspectState = field(repr=False)
    account: AccountState | None = field(repr=False)

    @property
    def event_id(self) -> str:
        return self.signal.event_id


@dataclass(frozen=True, slots=True)
class Timeline:
    """Everything that happened to one person's score over a history."""

    person_key: str
    rulebook_version: str
    rulebook_hash: str
    steps: tuple[TimelineStep, ...]
    final: ScoreSnapshot | None  # None when no event ever touched the person

    @property
    def windows(self) -> tuple[WindowOpened, ...]:
        return tuple(s.window for s in self.steps if s.window is not None)

    @property
    def max_total(self) -> float:
        return max((s.score.total for s in self.steps), default=float("-inf"))


def score_at(
    rulebook: Rulebook, prospect: ProspectState, account: AccountState | None, at: datetime
) -> ScoreSnapshot:
    """The person's score at event time `at` (`rules.core.decide.evaluate_window`'s arithmetic).

    The account's contributions (funding, anonymous visits) count when `account` is the
    person's current account, and its merged account facts are used for fit, as in the engine.
    """
    sums, notable, person_account = basis(prospect, account)
    notable = resolved(rulebook, notable)
    facts = facts_for(None, prospect.person, person_account)
    fit_points, fit_reasons, tier, disqualifier = fit(rulebook, facts)
    scored = score(sums, at, rulebook.engagement.horizon_days)
    points = {n.event_id: scored.points_of(n) for n in notable}
    reasons = tuple(
        RankedReason(
            event_id=n.event_id,
            signal_type=n.signal_type,
            occurred_at=n.occurred_at,
            rule=n.rule,
            points=points[n.event_id],
            detail=n.detail,
        )
        for n in sorted(
            notable, key=lambda n: (-points[n.event_id], -n.occurred_at.timestamp(), n.event_id)
        )
    )
    engagement_points, by_rule = scored.total, dict(scored.by_rule)
    detail = render_detail(disqualifier.detail, facts) if disqualifier is not None else None
    return ScoreSnapshot(
        at=at,
        fit=fit_points,
        engagement=engagement_points,
        total=fit_points + engagement_points,
        threshold=rulebook.windows.threshold,
        tier=tier,
        disqualified_by=disqualifier.name if disqualifier is not None else None,
        disqualified_detail=detail,
        fit_reasons=fit_reasons,
        reasons=reasons,
        by_rule=by_rule,
    )


def explain_many(
    rulebook: Rulebook,
    signals: Iterable[Signal],
    person_keys: Collection[str] | None = None,
    *,
    now: datetime | None = None,
    final_at: datetime | None = None,
) -> dict[str, Timeline]:
    """Timelines for `person_keys` (None: everyone the history names) from one replay.

    `now` stamps `opened_at` of every window (default: the newest event time so far).
    `final_at` is when the final snapshot is taken (default: each person's last step).
    """
    wanted = None if person_keys is None else frozenset(person_keys)
    state = Replay(rulebook)
    steps_of: dict[str, list[TimelineStep]] = {}
    clock: datetime | None = None
    for signal in signals:
        clock = signal.occurred_at if clock is None else max(clock, signal.occurred_at)
        key = signal_account_key(signal.account, signal.person)
        before_people = state.prospects.get(key, {}).copy()  # Replay updates it in place
        before_account = state.accounts.get(key) if key is not None else None
        outcome = state.apply(signal, now or clock)
        for pk in _touched(signal, outcome):
            if wanted is not None and pk not in wanted:
                continue
            step = _step(rulebook, state, signal, outcome, key, pk, before_people, before_account)
            if step is not None:
                steps_of.setdefault(pk, []).append(step)
    out: dict[str, Timeline] = {}
    for pk in sorted(steps_of if wanted is None else wanted):
        steps = tuple(steps_of.get(pk, ()))
        final = None
        if steps:
            last = steps[-1]
            final = score_at(rulebook, last.prospect, last.account, final_at or last.score.at)
        out[pk] = Timeline(pk, rulebook.version, rulebook.hash, steps, final)
    return out


def explain(
    rulebook: Rulebook,
    signals: Iterable[Signal],
    person_key: str,
    *,
    now: datetime | None = None,
    final_at: datetime | None = None,
) -> Timeline:
    """The timeline of one person (by person key: lowercase email, or `id:<crm id>`)."""
    return explain_many(rulebook, signals, [person_key], now=now, final_at=final_at)[person_key]


def _touched(signal: Signal, outcome: Outcome) -> list[str]:
    """Person keys the event touched: its own person, or everyone an account event scored."""
    keys = set(outcome.prospects)
    keys.update(s.person_key for s in outcome.suppressed)
    keys.update(w.person_key for w in outcome.windows)
    if signal.person is not None and not _is_account_level(signal):
        keys.add(key_of_person(signal.person))  # duplicates too: worth showing
    return sorted(keys)


def _is_account_level(signal: Signal) -> bool:
    return isinstance(signal, FundingAnnounced) or (
        isinstance(signal, PageVisited) and signal.person is None
    )


def _step(
    rulebook: Rulebook,
    state: Replay,
    signal: Signal,
    outcome: Outcome,
    key: str | None,
    pk: str,
    before_people: Mapping[str, ProspectState],
    before_account: AccountState | None,
) -> TimelineStep | None:
    prospect = state.prospects.get(key, {}).get(pk)
    if prospect is None:
        return None
    account = state.accounts.get(key) if key is not None else None
    at = evaluation_time(prospect, account, signal.occurred_at)
    after = score_at(rulebook, prospect, account, at)
    previous = before_people.get(pk)
    before = (
        score_at(rulebook, previous, before_account, at).engagement if previous is not None else 0.0
    )
    window = next((w for w in outcome.windows if w.person_key == pk), None)
    suppressed = next((s.reason for s in outcome.suppressed if s.person_key == pk), None)
    verdict: str
    if outcome.verdict != "applied":
        verdict = outcome.verdict
    elif window is not None:
        verdict = "window"
    else:
        verdict = suppressed or "below_threshold"
    rule = None
    points = None
    if not outcome.duplicate and outcome.rule is not None:
        rule = outcome.rule
        rec = record_of(signal)
        matched = match_engagement_rule(
            rulebook,
            rec,
            facts_for(rec, None if _is_account_level(signal) else rec.person, rec.account),
        )
        points = matched.points if matched is not None else None
    return TimelineStep(
        signal=signal,
        rule=rule,
        points=points,
        added=after.engagement - before,
        score=after,
        outcome=verdict,
        window=window,
        prospect=prospect,
        account=account,
    )


# ------------------------------------------------------------------------ text


def _n(value: float) -> str:
    return f"{value:.1f}"


def _when(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M")


_OUTCOME_TEXT = {
    "below_threshold": "below threshold",
    "cooldown": "no window: cooldown",
    "disqualified": "no window: disqualified",
    "duplicate": "duplicate event id: ignored",
    "too_late": "older than the horizon: too late to count",
    "stale": "no window: the signal is no longer fresh",
    "account_limit": "no window: others at the account ranked higher",
}


def render_text(timeline: Timeline) -> str:
    """The timeline as a terminal table, then the final score, its reasons and fit."""
    lines = [
        f"person {timeline.person_key}  rulebook {timeline.rulebook_version} "
        f"hash {timeline.rulebook_hash}"
    ]
    if not timeline.steps or timeline.final is None:
        lines.append("  no event in this history touched this person")
        return "\n".join(lines)
    final = timeline.final
    lines.append(f"threshold {final.threshold:g}; times are event times (UTC)")
    lines.append("")
    header = (
        f"{'time':<16}  {'event':<14} {'signal':<17} {'rule':<22} {'added':>7}"
        f" {'fit':>6} {'eng':>6} {'total':>7} tier  outcome"
    )
    lines.append(header)
    for s in timeline.steps:
        sc = s.score
        if s.outcome == "window" and s.window is not None:
            verdict = f"WINDOW {s.window.play} ({s.window.window_id})"
        else:
            verdict = _OUTCOME_TEXT.get(s.outcome, s.outcome)
        lines.append(
            f"{_when(s.signal.occurred_at):<16}  {_clip(s.event_id, 14):<14} "
            f"{s.signal.type!s:<17} {_clip(s.rule or '-', 22):<22} "
            f"{s.added:>+7.1f} {sc.fit:>6.1f} {sc.engagement:>6.1f} {sc.total:>7.1f} "
            f"{sc.tier:<4}  {verdict}"
        )
    lines.append("")
    state = "above" if final.above_threshold else "below"
    lines.append(
        f"score at {_when(final.at)}: fit {_n(final.fit)} + engagement {_n(final.engagement)}"
        f" = {_n(final.total)} ({state} threshold {final.threshold:g}), tier {final.tier}"
    )
    if final.disqualified_by is not None:
        lines.append(
            f"DISQUALIFIED by {final.disqualified_by}: {final.disqualified_detail}"
            " (no window opens whatever the score)"
        )
    counted = [r for r in final.reasons if abs(r.points) >= 0.05]
    lines.append("engagement reasons (points now, largest first):" if counted else "no engagement")
    for i, r in enumerate(counted, start=1):
        lines.append(
            f"  {i:>2}. {r.points:+7.1f}  {r.rule:<22} {r.detail}  "
            f"[{r.event_id}, {_when(r.occurred_at)}]"
        )
    lines.append("fit reasons:" if final.fit_reasons else "fit: no fit rule matched")
    for f in final.fit_reasons:
        lines.append(f"      {f.points:+7.1f}  {f.rule:<22} {f.detail}")
    return "\n".join(lines)


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
