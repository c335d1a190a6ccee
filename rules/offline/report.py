"""A self-contained HTML report of score timelines: one chart per person, no external files.

`followup rules report` writes what `render_html` returns: for each person, the total score
over time against the threshold line (inline SVG), the windows that opened marked on the
line, and the reasons behind the final score. The file has no scripts and loads nothing
(inline CSS and SVG only), so it can be mailed, attached to a ticket or opened offline.

The line is sampled at every event (just before it, decayed, and right after it) and at
regular intervals in between, computed with `rules.offline.explain.score_at` from the states the
timeline recorded, so decay between events is drawn as the engine computes it.

Every piece of text from the data (people, paths, subjects, rule details) is escaped.
Pure: no I/O; never raises on timelines built by `rules.offline.explain`.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import datetime, timedelta

from rules.offline.explain import Timeline, score_at
from rules.rulebook.model import Rulebook

__all__ = ["curve", "render_html"]

_W, _H = 960, 280
_LEFT, _RIGHT, _TOP, _BOTTOM = 56, 24, 18, 40
_SAMPLES = 240


def curve(
    timeline: Timeline, rulebook: Rulebook, *, end: datetime | None = None, samples: int = _SAMPLES
) -> list[tuple[datetime, float]]:
    """(event time, total) points: before and after each event, and evenly in between.

    `end` extends the line past the last event to show decay (default: the last event plus
    a tenth of the span, at least a day). About `samples` points between events in all.
    """
    steps = timeline.steps
    if not steps:
        return []
    start = steps[0].score.at
    last = steps[-1].score.at
    if end is None:
        end = last + max(timedelta(days=1), (last - start) / 10)
    interval = max((end - start) / max(samples, 1), timedelta(minutes=5))
    points: list[tuple[datetime, float]] = []
    previous = None
    for step in steps:
        at = step.score.at
        if previous is not None:
            t = previous.score.at + interval
            while t < at:
                points.append((t, score_at(rulebook, previous.prospect, previous.account, t).total))
                t += interval
            points.append((at, score_at(rulebook, previous.prospect, previous.account, at).total))
        points.append((at, step.score.total))
        previous = step
    assert previous is not None
    t = last + interval
    while t < end:
        points.append((t, score_at(rulebook, previous.prospect, previous.account, t).total))
        t += interval
    points.append((end, score_at(rulebook, previous.prospect, previous.account, end).total))
    return points


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _when(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M")


class _Axes:
    def __init__(self, t0: datetime, t1: datetime, y0: float, y1: float) -> None:
        self.t0, self.y0, self.y1 = t0, y0, y1
        self.span = max((t1 - t0).total_seconds(), 1.0)
        self.t1 = t1

    def x(self, t: datetime) -> float:
        frac = (t - self.t0).total_seconds() / self.span
        return _LEFT + frac * (_W - _LEFT - _RIGHT)

    def y(self, value: float) -> float:
        frac = (value - self.y0) / (self.y1 - self.y0)
        return _TOP + (1 - frac) * (_H - _TOP - _BOTTOM)


def _chart(timeline: Timeline, rulebook: Rulebook, index: int) -> str:
    points = curve(timeline, rulebook)
    threshold = rulebook.windows.threshold
    values = [v for _, v in points]
    y0 = min(0.0, min(values))
    y1 = max(threshold * 1.15, max(values) * 1.05)
    ax = _Axes(points[0][0], points[-1][0], y0, y1)
    person = _e(timeline.person_key)
    out = [
        f'<svg class="chart" id="chart-{index}" xmlns="http://www.w3.org/2000/svg" '
        f'viewBox="0 0 {_W} {_H}" width="{_W}" height="{_H}" role="img" '
        f'aria-label="Score of {person} over time">',
        f'<rect x="{_LEFT}" y="{_TOP}" width="{_W - _LEFT - _RIGHT}" '
        f'height="{_H - _TOP - _BOTTOM}" class="plot"/>',
    ]
    for i in range(5):  # horizontal grid and value labels
        value = y0 + (y1 - y0) * i / 4
        y = ax.y(value)
        out.append(
            f'<line class="grid" x1="{_LEFT}" x2="{_W - _RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>'
        )
        out.append(
            f'<text class="label" x="{_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">'
            f"{value:.0f}</text>"
        )
    for i in range(5):  # time labels
        t = ax.t0 + (ax.t1 - ax.t0) * i / 4
        anchor = ("start", "middle", "middle", "middle", "end")[i]
        out.append(
            f'<text class="label" x="{ax.x(t):.1f}" y="{_H - _BOTTOM + 16}" '
            f'text-anchor="{anchor}">{_e(t.strftime("%b %d %H:%M"))}</text>'
        )
    ty = ax.y(threshold)
    out.append(
        f'<line class="threshold" x1="{_LEFT}" x2="{_W - _RIGHT}" y1="{ty:.1f}" '
        f'y2="{ty:.1f}"><title>threshold {threshold:g}</title></line>'
    )
    out.append(
        f'<text class="threshold-label" x="{_W - _RIGHT - 4}" y="{ty - 5:.1f}" '
        f'text-anchor="end">threshold {threshold:g}</text>'
    )
    for step in timeline.steps:  # one tick per event along the bottom
        x = ax.x(step.score.at)
        tip = f"{_when(step.signal.occurred_at)} {step.signal.type} {step.event_id}"
        if step.rule:
            tip += f" ({step.rule}, {step.added:+.1f})"
        out.append(
            f'<line class="event" x1="{x:.1f}" x2="{x:.1f}" y1="{_H - _BOTTOM}" '
            f'y2="{_H - _BOTTOM - 8}"><title>{_e(tip)}</title></line>'
        )
    coords = " ".join(f"{ax.x(t):.1f},{ax.y(v):.1f}" for t, v in points)
    out.append(f'<polyline class="score" data-person="{person}" points="{coords}"/>')
    for step in timeline.steps:
        if step.window is None:
            continue
        w = step.window
        tip = (
            f"window {w.play} at {_when(w.as_of)}, total {w.score.total:g}, "
            f"trigger {w.trigger_event_id}"
        )
        out.append(
            f'<circle class="window" cx="{ax.x(step.score.at):.1f}" '
            f'cy="{ax.y(step.score.total):.1f}" r="6"><title>{_e(tip)}</title></circle>'
        )
    out.append("</svg>")
    return "\n".join(out)


def _section(timeline: Timeline, rulebook: Rulebook, index: int) -> str:
    person = _e(timeline.person_key)
    final = timeline.final
    if final is None or not timeline.steps:
        return (
            f'<section class="person"><h2>{person}</h2>'
            "<p>No event in this history touched this person.</p></section>"
        )
    state = "above" if final.above_threshold else "below"
    flags = ""
    if final.disqualified_by is not None:
        flags = (
            f' <span class="flag">disqualified by {_e(final.disqualified_by)}: '
            f"{_e(final.disqualified_detail)}</span>"
        )
    parts = [
        f'<section class="person" id="person-{index}">',
        f"<h2>{person}{flags}</h2>",
        f'<p class="summary">{len(timeline.steps)} events, {len(timeline.windows)} windows. '
        f"Score at {_e(_when(final.at))}: fit {final.fit:.1f} + engagement "
        f"{final.engagement:.1f} = <strong>{final.total:.1f}</strong> ({state} threshold "
        f"{final.threshold:g}), tier {_e(final.tier)}.</p>",
        _chart(timeline, rulebook, index),
    ]
    if timeline.windows:
        parts.append(
            "<h3>Windows</h3><table><tr><th>as of</th><th>play</th><th>total</th>"
            "<th>trigger</th><th>top reasons</th></tr>"
        )
        for w in timeline.windows:
            reasons = "; ".join(f"{r.detail} ({r.points:+g})" for r in w.reasons[:3])
            parts.append(
                f"<tr><td>{_e(_when(w.as_of))}</td><td>{_e(w.play)}</td>"
                f"<td>{w.score.total:g}</td><td>{_e(w.trigger_event_id)}</td>"
                f"<td>{_e(reasons)}</td></tr>"
            )
        parts.append("</table>")
    counted = [r for r in final.reasons if abs(r.points) >= 0.05]
    parts.append("<h3>Why: engagement now</h3>")
    if counted:
        parts.append("<ol>")
        parts += [
            f"<li><b>{r.points:+.1f}</b> {_e(r.rule)}: {_e(r.detail)} "
            f'<span class="muted">({_e(r.event_id)}, {_e(_when(r.occurred_at))})</span></li>'
            for r in counted[:10]
        ]
        parts.append("</ol>")
        if len(counted) > 10:
            parts.append(f'<p class="muted">and {len(counted) - 10} smaller contributions</p>')
    else:
        parts.append("<p>No engagement counts any more.</p>")
    parts.append("<h3>Fit</h3>")
    if final.fit_reasons:
        parts.append("<ul>")
        parts += [
            f"<li><b>{f.points:+g}</b> {_e(f.rule)}: {_e(f.detail)}</li>" for f in final.fit_reasons
        ]
        parts.append("</ul>")
    else:
        parts.append("<p>No fit rule matched.</p>")
    parts.append("</section>")
    return "\n".join(parts)


_CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 24px;
       color: #1f2933; background: #fff; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 17px; margin: 28px 0 4px; }
h3 { font-size: 14px; margin: 14px 0 4px; }
.muted, .meta { color: #616e7c; } .flag { color: #b42318; font-size: 13px; font-weight: normal; }
section.person { border-top: 1px solid #e4e7eb; }
svg.chart { display: block; max-width: 100%; height: auto; }
svg .plot { fill: #fbfcfd; stroke: #cbd2d9; }
svg .grid { stroke: #e4e7eb; } svg .label { fill: #616e7c; font-size: 11px; }
svg .threshold { stroke: #d64545; stroke-width: 1.5; stroke-dasharray: 6 4; }
svg .threshold-label { fill: #d64545; font-size: 11px; }
svg .score { fill: none; stroke: #2680c2; stroke-width: 2; }
svg .window { fill: #f0b429; stroke: #8d2b0b; stroke-width: 1.5; }
svg .event { stroke: #7b8794; stroke-width: 1; }
table { border-collapse: collapse; } td, th { border: 1px solid #e4e7eb; padding: 3px 8px;
text-align: left; vertical-align: top; }
"""


def render_html(
    timelines: Sequence[Timeline], rulebook: Rulebook, *, title: str = "Follow-up score report"
) -> str:
    """The whole report as one HTML document (UTF-8, no external resources)."""
    toc = "".join(
        f'<li><a href="#person-{i}">{_e(t.person_key)}</a> '
        f'<span class="muted">max {t.max_total:.1f}, {len(t.windows)} windows</span></li>'
        for i, t in enumerate(timelines)
        if t.steps
    )
    body = "\n".join(_section(t, rulebook, i) for i, t in enumerate(timelines))
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_e(title)}</title>
<style>{_CSS}</style>
</head>
<body>
<h1>{_e(title)}</h1>
<p class="meta">Rulebook {_e(rulebook.version)} (hash {_e(rulebook.hash)}), threshold
{rulebook.windows.threshold:g}, cooldown {rulebook.windows.cooldown_days:g} days.
Times are event times in UTC. Blue: total score (fit + decayed engagement); dashed red: the
threshold; gold dots: windows opened; grey ticks: events.</p>
<ul class="toc">{toc}</ul>
{body}
</body>
</html>
"""
