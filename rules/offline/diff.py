"""Diff two rulebooks on the same history: which windows a change adds, removes or re-plays.

`followup rules diff OLD NEW EVENTS.jsonl` calls `diff` before a rulebook change goes live:
both rulebooks replay the same signals through the core the stream runs, with the same
simulated wall clock, and their windows are matched by person key and triggering event id
(the pair a window id is derived from). A window in both with another play is "changed".

Pure: no I/O; never raises on validated rulebooks and signals.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from rules.offline.replay import Replay
from rules.rulebook.model import Rulebook
from signals.models import Signal
from signals.windows import WindowOpened

__all__ = ["PlayChange", "RulebookDiff", "diff", "render_text", "windows_of"]

_Key = tuple[str, str]  # (person key, trigger event id)


@dataclass(frozen=True, slots=True)
class PlayChange:
    old: WindowOpened
    new: WindowOpened


@dataclass(frozen=True, slots=True)
class RulebookDiff:
    old_version: str
    old_hash: str
    new_version: str
    new_hash: str
    signals: int
    old_windows: int
    new_windows: int
    added: tuple[WindowOpened, ...]  # opened under NEW only
    removed: tuple[WindowOpened, ...]  # opened under OLD only
    changed: tuple[PlayChange, ...]  # opened under both, with another play
    unchanged: int
    # window_id of a removed window -> why, when the change explains it (e.g. a cooldown)
    notes: Mapping[str, str] = field(default_factory=dict)

    @property
    def identical(self) -> bool:
        return not (self.added or self.removed or self.changed)


def windows_of(
    rulebook: Rulebook, signals: Iterable[Signal], *, now: datetime | None = None
) -> list[WindowOpened]:
    """Every window a replay opens; `now` stamps them (default: newest event time so far)."""
    state = Replay(rulebook)
    clock: datetime | None = None
    for signal in signals:
        clock = signal.occurred_at if clock is None else max(clock, signal.occurred_at)
        state.apply(signal, now or clock)
    return state.windows


def diff(
    old: Rulebook, new: Rulebook, signals: Iterable[Signal], *, now: datetime | None = None
) -> RulebookDiff:
    """Replay `signals` under both rulebooks and compare the windows they open."""
    history = list(signals)
    before = {_key(w): w for w in windows_of(old, history, now=now)}
    after = {_key(w): w for w in windows_of(new, history, now=now)}
    added = tuple(
        after[k] for k in sorted(after.keys() - before.keys(), key=lambda k: _order(after[k]))
    )
    removed = tuple(
        before[k] for k in sorted(before.keys() - after.keys(), key=lambda k: _order(before[k]))
    )
    both = sorted(before.keys() & after.keys(), key=lambda k: _order(after[k]))
    changed = tuple(
        PlayChange(before[k], after[k]) for k in both if before[k].play != after[k].play
    )
    notes = {w.window_id: note for w in removed if (note := _cooldown_note(new, w, after.values()))}
    return RulebookDiff(
        old_version=old.version,
        old_hash=old.hash,
        new_version=new.version,
        new_hash=new.hash,
        signals=len(history),
        old_windows=len(before),
        new_windows=len(after),
        added=added,
        removed=removed,
        changed=changed,
        unchanged=len(both) - len(changed),
        notes=notes,
    )


def _cooldown_note(
    new: Rulebook, removed: WindowOpened, windows: Iterable[WindowOpened]
) -> str | None:
    """Why NEW did not open `removed`, when an earlier NEW window's cooldown covers it."""
    cooldown = timedelta(days=new.windows.cooldown_days)
    earlier = [
        w
        for w in windows
        if w.person_key == removed.person_key and w.as_of <= removed.as_of < w.as_of + cooldown
    ]
    if not earlier:
        return None
    last = max(earlier, key=lambda w: w.as_of)
    return (
        f"cooldown: NEW opened one at {last.as_of.strftime('%Y-%m-%d %H:%M')} "
        f"(trigger {last.trigger_event_id})"
    )


def _key(window: WindowOpened) -> _Key:
    return (window.person_key, window.trigger_event_id)


def _order(window: WindowOpened) -> tuple[datetime, str, str]:
    return (window.as_of, window.person_key, window.trigger_event_id)


def _line(window: WindowOpened) -> str:
    top = window.reasons[0].detail if window.reasons else "fit only"
    return (
        f"{window.as_of.strftime('%Y-%m-%d %H:%M')}  {window.person_key}  "
        f"trigger {window.trigger_event_id}  play {window.play}  "
        f"total {window.score.total:g}  ({top})"
    )


def _plays(windows: Iterable[WindowOpened]) -> str:
    counts = Counter(w.play for w in windows)
    return ", ".join(f"{play} {n}" for play, n in sorted(counts.items())) or "none"


def render_text(result: RulebookDiff) -> str:
    """A summary line per side, then every added, removed and re-played window."""
    r = result
    lines = [
        f"old {r.old_version} ({r.old_hash}): {r.old_windows} windows",
        f"new {r.new_version} ({r.new_hash}): {r.new_windows} windows",
        f"over {r.signals} signals: +{len(r.added)} added, -{len(r.removed)} removed, "
        f"~{len(r.changed)} changed play, {r.unchanged} unchanged",
    ]
    if r.identical:
        lines.append("no difference in the windows this history opens")
        return "\n".join(lines)
    if r.added:
        lines += ["", f"added ({_plays(r.added)}):"]
        lines += [f"  + {_line(w)}" for w in r.added]
    if r.removed:
        lines += ["", f"removed ({_plays(r.removed)}):"]
        lines += [
            f"  - {_line(w)}"
            + (f"\n      {r.notes[w.window_id]}" if w.window_id in r.notes else "")
            for w in r.removed
        ]
    if r.changed:
        lines += ["", "changed play:"]
        lines += [
            f"  ~ {c.new.as_of.strftime('%Y-%m-%d %H:%M')}  {c.new.person_key}  "
            f"trigger {c.new.trigger_event_id}  play {c.old.play} -> {c.new.play}"
            for c in r.changed
        ]
    return "\n".join(lines)
