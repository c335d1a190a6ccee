"""The full-history scorer (the oracle the engine's running sums are held to)."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest

from rules.core.engagement import Contribution
from rules.offline.history import engagement, ranked, recent_count
from tests.rules.builders import T0


def contribution(
    event_id: str,
    age_days: float,
    *,
    rule: str = "r",
    points: float = 10,
    half_life: float = 7,
    cap: float | None = None,
) -> Contribution:
    return Contribution(
        event_id=event_id,
        signal_type="page_visited",
        rule=rule,
        points=points,
        half_life_days=half_life,
        cap=cap,
        occurred_at=T0 - timedelta(days=age_days),
        detail="d",
    )


@pytest.mark.parametrize(
    ("contributions", "total", "breakdown"),
    [
        ([], 0, {}),
        ([contribution("a", 0), contribution("b", 7)], 15, {"r": 15}),
        (
            [contribution("a", 0, half_life=90), contribution("b", 3, half_life=90)],
            10 + 10 * 0.5 ** (3 / 90),
            None,
        ),
        ([contribution("a", 0, cap=12), contribution("b", 0, cap=12)], 12, {"r": 12}),
        (
            [contribution("a", 0, points=-10, cap=5), contribution("b", 0, rule="s")],
            5,
            {"r": -5, "s": 10},
        ),
        ([contribution("penalty", 7, points=-10)], -5, {"r": -5}),  # penalties fade too
        ([contribution("future", -1)], 0, {"r": 0}),
        ([contribution("stale", 91)], 0, {}),
    ],
)
def test_engagement(
    contributions: list[Contribution], total: float, breakdown: dict[str, float] | None
) -> None:
    got_total, got = engagement(contributions, T0, horizon_days=90)
    assert math.isclose(got_total, total, abs_tol=1e-9)
    if breakdown is not None:
        assert got == pytest.approx(breakdown)


def test_the_cap_of_the_newest_contribution_applies() -> None:
    items = [contribution("old", 1, cap=100), contribution("new", 0, cap=12)]
    assert engagement(items, T0, horizon_days=90)[0] == pytest.approx(12)


def test_ranked_is_largest_first_and_adds_up_to_engagement() -> None:
    items = [
        contribution("old", 14, rule="visit", cap=8),
        contribution("new", 0, rule="visit", cap=8),
        contribution("open", 1, rule="open", points=4),
    ]
    scored = ranked(items, T0, horizon_days=90)
    assert [p for _, p in scored] == sorted((p for _, p in scored), reverse=True)
    assert sum(p for _, p in scored) == pytest.approx(engagement(items, T0, horizon_days=90)[0])
    assert scored[0][0].event_id == "new"


def test_ranked_breaks_ties_by_newest_then_id() -> None:
    items = [contribution("b", 0), contribution("a", 0), contribution("c", 0, half_life=1e9)]
    assert [c.event_id for c, _ in ranked(items, T0, horizon_days=90)] == ["a", "b", "c"]


def test_recent_count_sees_the_newest_only() -> None:
    items = [contribution(f"e{i}", i / 24) for i in range(5)]  # one an hour back
    assert recent_count(items, "r", T0, within_hours=2.5, keep=10) == 3
    assert recent_count(items, "r", T0, within_hours=None, keep=2) == 2
    assert recent_count(items, "r", T0 - timedelta(hours=1), within_hours=None, keep=10) == 4
