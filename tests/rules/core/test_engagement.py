"""The engine's running sums against the full-history oracle, on any history.

`rules.core.engagement` keeps decayed sums per rule and UTC day; `rules.offline.history`
re-scores every contribution, the way the first engine did. They must agree to 1e-9 on
random histories with late and out-of-order events, every rule construct (per-rule caps,
per-day caps, recency windows, the horizon, penalties, several half-lives) and pruning at
the running watermark, evaluated at the watermark and later: exactly while nothing has
folded, and within the fold bound once old days fold (that agreement is tested in
test_folding.py, on these histories and longer ones).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from rules.core import engagement as running
from rules.core.engagement import MAX_NOTABLE, Contribution
from rules.core.state import Engagement
from rules.offline import history
from tests.rules.core.fold_bound import fold_bound

DAY0 = datetime(2025, 3, 3, tzinfo=UTC)
RULES = ("pricing", "docs", "open")


@st.composite
def rule_settings(draw: st.DrawFn) -> dict[str, dict[str, float | None]]:
    return {
        rule: {
            "points": draw(st.sampled_from([-5.0, 1.0, 2.5, 10.0, 30.0])),
            "half_life_days": draw(st.sampled_from([0.5, 3.0, 7.0, 30.0])),
            "cap": draw(st.none() | st.floats(1, 120)),
            "cap_per_day": draw(st.none() | st.floats(1, 60)),
            "within_days": draw(st.none() | st.sampled_from([1.0, 2.5, 14.0])),
        }
        for rule in RULES
    }


@st.composite
def histories(draw: st.DrawFn) -> tuple[list[Contribution], float]:
    """Contributions in arrival order (late and out of order), and a horizon in days."""
    settings_ = draw(rule_settings())
    horizon = draw(st.sampled_from([3.0, 10.0, 90.0]))
    n = draw(st.integers(1, 40))
    items = []
    for i in range(n):
        rule = draw(st.sampled_from(RULES))
        minutes = draw(st.integers(0, 20 * 24 * 60))
        s = settings_[rule]
        items.append(
            Contribution(
                event_id=f"e{i:03}",
                signal_type="page_visited",
                rule=rule,
                points=s["points"],  # type: ignore[arg-type]
                half_life_days=s["half_life_days"],  # type: ignore[arg-type]
                occurred_at=DAY0 + timedelta(minutes=minutes, seconds=draw(st.integers(0, 59))),
                detail=rule,
                cap=s["cap"],
                cap_per_day=s["cap_per_day"],
                within_days=s["within_days"],
            )
        )
    return items, horizon


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


@settings(max_examples=150)
@given(histories())
def test_kept_contributions_are_valued_as_the_full_history_values_them(
    case: tuple[list[Contribution], float],
) -> None:
    items, horizon = case
    state = Engagement()
    applied = []
    watermark = max(c.occurred_at for c in items)
    for c in sorted(items, key=lambda c: c.occurred_at):
        state = running.prune(running.add(state, c, recent=0), c.occurred_at, horizon)
        state = running.trim(state, running.score(state.sums, c.occurred_at, horizon))
        applied.append(c)
    scored = running.score(state.sums, watermark, horizon)
    oracle = {
        c.event_id: points for c, points in history.ranked(applied, watermark, horizon_days=horizon)
    }
    exact = fold_bound(applied, running.day_of(watermark), watermark, horizon) == 0
    assert len(state.notable) <= MAX_NOTABLE
    for n in state.notable:  # one past its rule's recency window is worth nothing
        if exact:
            assert _close(scored.points_of(n), oracle.get(n.event_id, 0.0))
        else:  # a folded day's cap is gone: still its sign, at most its decayed points
            value, weight = (
                scored.points_of(n),
                0.5 ** ((scored.at - n.occurred_at.timestamp()) / 86_400 / n.half_life_days),
            )
            assert value * n.points >= 0 and abs(value) <= abs(n.points) * weight + 1e-9
    # Kept: the largest positive ones at the last update, largest first.
    at_last = running.score(state.sums, max(c.occurred_at for c in items), horizon)
    values = [at_last.points_of(n) for n in state.notable]
    if len(items) > MAX_NOTABLE:  # trimmed at least once: ranked then
        assert all(v >= 0 for v in values)


@given(histories(), st.data())
def test_arrival_order_changes_no_score(
    case: tuple[list[Contribution], float], data: st.DataObject
) -> None:
    items, horizon = case
    shuffled = data.draw(st.permutations(items))
    at = max(c.occurred_at for c in items)

    def final(order: list[Contribution]) -> float:
        state = Engagement()
        for c in order:
            state = running.add(state, c, recent=0)
        return running.score(running.prune(state, at, horizon).sums, at, horizon).total

    assert _close(final(items), final(list(shuffled)))


def test_decay_is_exact_across_days() -> None:
    c = Contribution("e1", "page_visited", "pricing", 30.0, 3.0, DAY0 + timedelta(hours=15), "d")
    state = running.add(Engagement(), c, recent=0)
    at = c.occurred_at + timedelta(days=3)
    assert math.isclose(running.score(state.sums, at, 90).total, 15.0, rel_tol=1e-12)
