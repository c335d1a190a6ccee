"""Hot reload: RulebookWatcher decisions and RulebookReloader effects, without Faust."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import pytest

from rules.rulebook.loader import load_rulebook
from streams.reload import RulebookReloader, RulebookWatcher, install_reload

EXAMPLE = Path(__file__).resolve().parents[2] / "rules" / "examples" / "b2b_saas.yaml"


class _Counter:
    def __init__(self) -> None:
        self.value = 0.0

    def inc(self, amount: float = 1) -> None:
        self.value += amount


class _Metrics:
    def __init__(self) -> None:
        self.rulebook_reload_failures = _Counter()
        self.info: list[tuple[str, str]] = []

    def set_rulebook(self, version: str, content_hash: str) -> None:
        self.info.append((version, content_hash))


class _Holder:
    def __init__(self, rulebook: Any) -> None:
        self.rulebook = rulebook
        self.followup_rulebook = rulebook


@pytest.fixture
def path(tmp_path: Path) -> Path:
    target = tmp_path / "rules.yaml"
    target.write_text(EXAMPLE.read_text(encoding="utf-8"), encoding="utf-8")
    return target


def _rewrite(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")
    # Filesystems with coarse timestamps: make sure the stat changes.
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))


def _reloader(path: Path) -> tuple[RulebookReloader, _Holder, _Metrics]:
    pipeline = _Holder(load_rulebook(path))
    metrics = _Metrics()
    watcher = RulebookWatcher(path, pipeline.rulebook)
    return (
        RulebookReloader(watcher, app=pipeline, pipeline=pipeline, metrics=metrics),
        pipeline,
        metrics,
    )


def test_unchanged_file_is_not_reloaded(path: Path) -> None:
    loads: list[Path] = []
    watcher = RulebookWatcher(
        path, load_rulebook(path), load=lambda p: loads.append(p) or load_rulebook(p)
    )
    assert watcher.check().status == "unchanged"
    assert watcher.check().status == "unchanged"
    assert loads == []  # a stat, not a read, per tick


def test_changed_file_is_loaded_and_swapped(path: Path, caplog: pytest.LogCaptureFixture) -> None:
    reloader, pipeline, metrics = _reloader(path)
    old = pipeline.rulebook
    _rewrite(
        path,
        path.read_text()
        .replace("threshold: 100", "threshold: 120")
        .replace(old.version, "reloaded-2"),
    )
    with caplog.at_level(logging.INFO, logger="streams.reload"):
        result = reloader.tick()
    assert result.status == "reloaded"
    assert pipeline.rulebook.windows.threshold == 120
    assert pipeline.followup_rulebook is pipeline.rulebook
    assert metrics.info == [("reloaded-2", pipeline.rulebook.hash)]
    assert f"version reloaded-2 hash {pipeline.rulebook.hash}" in caplog.text
    assert f"was version {old.version} hash {old.hash}" in caplog.text
    assert reloader.tick().status == "unchanged"


def test_broken_file_is_rejected_and_the_old_rulebook_kept(
    path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    reloader, pipeline, metrics = _reloader(path)
    good = pipeline.rulebook
    text = path.read_text()
    _rewrite(path, text.replace("threshold: 100", "threshold: -5"))
    with caplog.at_level(logging.INFO, logger="streams.reload"):
        result = reloader.tick()
    assert result.status == "failed" and result.error is not None
    assert pipeline.rulebook is good and pipeline.followup_rulebook is good
    assert metrics.rulebook_reload_failures.value == 1
    assert metrics.info == []
    [record] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert "REJECTED" in record.getMessage()
    line = next(i for i, t in enumerate(text.splitlines(), 1) if "threshold: 100" in t)
    assert f"{path}:{line}: windows.threshold:" in record.getMessage()
    # The same broken file is reported once, not on every tick.
    assert reloader.tick().status == "unchanged"
    assert metrics.rulebook_reload_failures.value == 1
    # Fixing it is picked up on the next tick.
    _rewrite(path, text.replace("threshold: 100", "threshold: 110"))
    assert reloader.tick().status == "reloaded"
    assert pipeline.rulebook.windows.threshold == 110


def test_deleted_file_keeps_the_running_rulebook(path: Path) -> None:
    reloader, pipeline, metrics = _reloader(path)
    good = pipeline.rulebook
    path.unlink()
    result = reloader.tick()
    assert result.status == "failed" and "cannot read the file" in str(result.error)
    assert pipeline.rulebook is good
    assert metrics.rulebook_reload_failures.value == 1


def test_identical_content_does_not_swap(path: Path) -> None:
    reloader, pipeline, metrics = _reloader(path)
    before = pipeline.rulebook
    _rewrite(path, "# only a comment changed\n" + path.read_text())
    assert reloader.tick().status == "identical"
    assert pipeline.rulebook is before and metrics.info == []


def test_sighup_forces_a_check(path: Path) -> None:
    loads: list[Path] = []
    pipeline = _Holder(load_rulebook(path))
    watcher = RulebookWatcher(
        path, pipeline.rulebook, load=lambda p: loads.append(p) or load_rulebook(p)
    )
    reloader = RulebookReloader(watcher, app=pipeline, pipeline=pipeline, metrics=_Metrics())
    reloader.request()
    assert reloader.tick().status == "identical"
    assert loads == [path]
    assert reloader.tick().status == "unchanged"  # the request is used up


def test_loader_bugs_are_failures_not_exceptions(path: Path) -> None:
    def explode(_: Path) -> Any:
        raise RuntimeError("boom")

    watcher = RulebookWatcher(path, load_rulebook(path), load=explode)
    result = watcher.check(force=True)
    assert result.status == "failed" and "RuntimeError: boom" in str(result.error)


def test_install_reload_registers_one_timer(path: Path) -> None:
    timers: list[tuple[float, Any]] = []

    class _App:
        def timer(self, interval: float) -> Any:
            def register(fun: Any) -> Any:
                timers.append((interval, fun))
                return fun

            return register

    app = _App()
    pipeline = _Holder(load_rulebook(path))
    reloader = install_reload(app, pipeline, path, _Metrics(), interval=0.5, sighup=False)
    assert [interval for interval, _ in timers] == [0.5]
    assert app.followup_reloader is reloader  # type: ignore[attr-defined]
