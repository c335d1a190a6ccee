"""Hot reload of the rulebook: pick up a changed file without restarting the worker.

`install_reload` registers one Faust timer that runs on every worker every `interval`
seconds and, when the rulebook file's modification time or size changed (or after a
SIGHUP), loads it with `rules.rulebook.loader.load_rulebook`:

- valid, new content: the running `Pipeline.rulebook` and `app.followup_rulebook` are
  swapped (the score agent reads `pipeline.rulebook` per event, so the next event uses it),
  `followup_rulebook_info` gets the new version and hash, and the change is logged at info;
- valid, same content hash (a comment edit, a `touch`): nothing changes;
- invalid or unreadable: the error is logged at error level with `file:line: field: what is
  wrong` for every problem, `followup_rulebook_reload_failures_total` goes up, and the
  running rulebook is KEPT. The same broken file is not reported again until it changes.

A swap between two events is safe: state holds raw points per contribution, and every
window records the version and hash of the rulebook that opened it. Windows already opened
stay as they are; a cooldown in progress keeps running.

The decision is in `RulebookWatcher.check()` (plain file stat and load, no Faust) and
`RulebookReloader.tick()` (swap, metrics, logs); the timer only calls `tick()`. Nothing here
raises into the timer: a failure is a `ReloadResult`.
"""

from __future__ import annotations

import logging
import signal
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

from rules.rulebook.loader import RulebookError, load_rulebook
from rules.rulebook.model import Rulebook

__all__ = ["ReloadMetrics", "ReloadResult", "RulebookReloader", "RulebookWatcher", "install_reload"]

log = logging.getLogger(__name__)

_Stamp = tuple[int, int] | None  # (mtime in ns, size in bytes); None: the file is missing


class _Counter(Protocol):
    def inc(self, amount: float = 1) -> None: ...


class ReloadMetrics(Protocol):
    """What reloading needs from `streams.metrics.Metrics`."""

    @property
    def rulebook_reload_failures(self) -> _Counter: ...

    def set_rulebook(self, version: str, content_hash: str) -> None: ...


@dataclass(frozen=True, slots=True)
class ReloadResult:
    """What one check found. `rulebook` is the one in force after the check."""

    status: Literal["unchanged", "identical", "reloaded", "failed"]
    rulebook: Rulebook
    previous: Rulebook | None = None  # set when reloaded
    error: RulebookError | None = None  # set when failed


def _stamp(path: Path) -> _Stamp:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size)


class RulebookWatcher:
    """Decides whether the rulebook file changed and loads it; keeps the last good one.

    `check()` is called by the timer (and after SIGHUP with `force=True`); it stats the file,
    and only when the stat changed (or forced) reads and validates it. Never raises.
    """

    def __init__(
        self,
        path: str | Path,
        current: Rulebook,
        *,
        load: Callable[[Path], Rulebook] = load_rulebook,
    ) -> None:
        self.path = Path(path)
        self.current = current
        self._load = load
        self._stamp = _stamp(self.path)

    def check(self, *, force: bool = False) -> ReloadResult:
        stamp = _stamp(self.path)
        if stamp == self._stamp and not force:
            return ReloadResult("unchanged", self.current)
        # Remember the stamp even when the load fails: a broken file is reported once, and
        # the fix (which changes the stamp) is picked up on the next tick.
        self._stamp = stamp
        try:
            rulebook = self._load(self.path)
        except RulebookError as exc:
            return ReloadResult("failed", self.current, error=exc)
        except Exception as exc:  # a loader bug must not stop the worker's timer
            error = RulebookError(str(self.path), None, None, f"{type(exc).__name__}: {exc}")
            return ReloadResult("failed", self.current, error=error)
        if rulebook.hash == self.current.hash:
            return ReloadResult("identical", self.current)
        previous, self.current = self.current, rulebook
        return ReloadResult("reloaded", rulebook, previous=previous)


class RulebookReloader:
    """Applies a watcher's results to the running worker: swap, metrics, logs."""

    def __init__(
        self, watcher: RulebookWatcher, *, app: Any, pipeline: Any, metrics: ReloadMetrics
    ) -> None:
        self.watcher = watcher
        self.app = app
        self.pipeline = pipeline
        self.metrics = metrics
        self.forced = False  # set by the SIGHUP handler, read by the next tick

    def request(self, *_: Any) -> None:
        """Ask for a reload on the next tick even if the file's stat did not change."""
        self.forced = True

    def tick(self) -> ReloadResult:
        force, self.forced = self.forced, False
        result = self.watcher.check(force=force)
        path = self.watcher.path
        if result.status == "reloaded":
            new, old = result.rulebook, result.previous
            self.pipeline.rulebook = new
            self.app.followup_rulebook = new
            self.metrics.set_rulebook(new.version, new.hash)
            log.info(
                "rulebook reloaded from %s: version %s hash %s (was version %s hash %s)",
                path,
                new.version,
                new.hash,
                old.version if old is not None else "?",
                old.hash if old is not None else "?",
            )
        elif result.status == "failed":
            assert result.error is not None
            self.metrics.rulebook_reload_failures.inc()
            error = result.error
            problems = "\n".join(f"  {issue.render(error.path)}" for issue in error.issues)
            log.error(
                "rulebook reload REJECTED, still running version %s hash %s; fix %s:\n%s",
                result.rulebook.version,
                result.rulebook.hash,
                path,
                problems,
            )
        elif result.status == "identical" or force:
            log.info("rulebook %s checked: content unchanged (hash %s)", path, result.rulebook.hash)
        return result


def install_reload(
    app: Any,
    pipeline: Any,
    path: str | Path,
    metrics: ReloadMetrics,
    *,
    interval: float = 2.0,
    sighup: bool = True,
) -> RulebookReloader:
    """Watch `path` and swap `pipeline.rulebook` when it changes (see the module docstring).

    Call from `create_app`, after the pipeline is built. With `sighup`, a SIGHUP makes the
    next tick reload even if the file's stat is unchanged (only from the main thread).
    """
    reloader = RulebookReloader(
        RulebookWatcher(path, pipeline.rulebook), app=app, pipeline=pipeline, metrics=metrics
    )

    @app.timer(interval)
    async def _check_rulebook() -> None:
        reloader.tick()

    if sighup and hasattr(signal, "SIGHUP"):
        try:
            signal.signal(signal.SIGHUP, reloader.request)
        except ValueError:  # not the main thread (some test harnesses): no SIGHUP reload
            log.debug("SIGHUP reload not installed: not in the main thread")
    app.followup_reloader = reloader
    return reloader
