"""Worker processes for the chaos scenarios: start, SIGKILL, restart, and notice crashes.

`followup run` is a black box here: settings go in through the environment
(`streams.local.WorkerProcess`), and what comes out is read from its log, `/metrics` and
`/health/ready`. A worker that exits without being told to is a *crash*: the fleet
records it (with the exception lines of its log) and, like Kubernetes' restart policy,
starts it again on the same state directory, so a scenario sees both the crash and
whether the engine recovers from it.
"""

from __future__ import annotations

import re
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from streams.broker import free_port
from streams.local import WorkerProcess, is_ready
from streams.settings import Settings

__all__ = ["Crash", "Fleet", "Slot", "exception_lines"]

# What a worker log says when something went wrong (faust, aiokafka, mode, ours).
_TROUBLE = re.compile(
    r"Traceback|Error|Exception|Crashed|crashed|CRITICAL|consistency|Stalled|stall", re.I
)


# Faust's line for an agent that raised: it restarts the agent and the batch is skipped.
_AGENT_CRASH = re.compile(r"Agent\*?: .*\]: Crashed reason=")
# Warnings for records dead-lettered as designed are not trouble.
_ROUTINE = re.compile(r"\[WARNING\] dead-lettered ")


@dataclass(slots=True)
class Crash:
    worker: str
    exit_code: int | None
    at: float  # seconds since the fleet started
    lines: list[str]


@dataclass(slots=True)
class Slot:
    """One worker identity: a name, a state directory, its current process and history."""

    name: str
    state_dir: Path
    port: int
    process: WorkerProcess | None = None
    starts: int = 0
    logs: list[Path] = field(default_factory=list)
    told_to_exit: bool = False  # killed or stopped by the scenario: not a crash

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.alive


class Fleet:
    """The scenario's workers. Not thread-safe: drive it from one task."""

    def __init__(self, settings: Settings, directory: Path) -> None:
        self.settings = settings
        self.directory = directory
        self.slots: dict[str, Slot] = {}
        self.crashes: list[Crash] = []
        self.kills = 0
        self.started = time.monotonic()
        self._fresh = 0

    # -- lifecycle ----------------------------------------------------------------------

    def start(self, name: str, *, fresh_state: bool = False) -> Slot:
        """Start worker `name` (again), on its state directory or on a new empty one."""
        slot = self.slots.get(name)
        if slot is None:
            slot = Slot(name, self.directory / "state" / name, free_port())
            self.slots[name] = slot
        elif fresh_state:
            self._fresh += 1
            slot.state_dir = self.directory / "state" / f"{name}-empty-{self._fresh}"
        assert not slot.alive, f"{name} is running"
        slot.starts += 1
        slot.told_to_exit = False
        log = self.directory / "logs" / f"{name}-{slot.starts}.log"
        slot.logs.append(log)
        settings = self.settings.model_copy(
            update={"state_dir": slot.state_dir, "web_port": slot.port}
        )
        slot.process = WorkerProcess.start(settings, log)
        return slot

    def kill(self, name: str) -> None:
        """SIGKILL: no shutdown, no commit, no goodbye to the group."""
        slot = self.slots[name]
        assert slot.process is not None
        slot.told_to_exit = True
        slot.process.kill()
        self.kills += 1

    def stop(self, name: str) -> None:
        """SIGTERM: a clean leave (the group rebalances at once). Blocks until it exited:
        call it in a thread from a scenario's event loop."""
        slot = self.slots[name]
        if slot.process is not None:
            slot.told_to_exit = True
            slot.process.stop()

    def stop_all(self) -> None:
        for slot in self.slots.values():
            if slot.process is not None:
                slot.told_to_exit = True
                slot.process.stop(timeout=10)

    def supervise(self) -> list[Crash]:
        """Record and restart workers that exited on their own; return the new crashes."""
        new = []
        for slot in self.slots.values():
            process = slot.process
            if process is None or process.alive or slot.told_to_exit:
                continue
            process.stop()  # already gone: this only closes its log
            crash = Crash(
                slot.name,
                process.process.returncode,
                round(time.monotonic() - self.started, 1),
                exception_lines(slot.logs[-1]),
            )
            self.crashes.append(crash)
            new.append(crash)
            self.start(slot.name)
        return new

    # -- observation --------------------------------------------------------------------

    def running(self) -> list[str]:
        return [name for name, slot in self.slots.items() if slot.alive]

    def ready(self, name: str) -> bool:
        slot = self.slots[name]
        if not slot.alive:
            return False
        return is_ready(slot.port)

    def metric(self, name: str, **labels: str) -> float:
        """A counter or gauge summed over every running worker (0 where unreachable)."""
        return sum(
            value
            for found, value in self.samples(name).items()
            if all(dict(found).get(k) == v for k, v in labels.items())
        )

    def samples(self, name: str) -> dict[frozenset[tuple[str, str]], float]:
        """Every label set of metric `name`, summed over the running workers."""
        out: dict[frozenset[tuple[str, str]], float] = {}
        for slot in self.slots.values():
            if not slot.alive:
                continue
            try:
                url = f"http://127.0.0.1:{slot.port}/metrics"
                with urllib.request.urlopen(url, timeout=2) as response:
                    text = response.read().decode()
            except (urllib.error.URLError, OSError):
                continue
            for family in text_string_to_metric_families(text):
                for sample in family.samples:
                    if sample.name == name:
                        labels = frozenset(sample.labels.items())
                        out[labels] = out.get(labels, 0.0) + sample.value
        return out

    def agent_crashes(self) -> list[str]:
        """Faust's lines for an agent that raised (it restarts it; the batch is skipped)."""
        out = []
        for slot in self.slots.values():
            for log in slot.logs:
                out += [
                    f"{log.name}: {line}"
                    for line in exception_lines(log, 50)
                    if "Agent" in line and "Crashed" in line
                ]
        return out

    def trouble(self, limit: int = 12) -> list[str]:
        """Exception lines from every log of every worker, most recent last."""
        out = []
        for slot in self.slots.values():
            for log in slot.logs:
                out += [f"{log.name}: {line}" for line in exception_lines(log, limit)]
        return out


def exception_lines(log: Path, limit: int = 12) -> list[str]:
    """The distinct lines of `log` that report an error, the last `limit` of them."""
    return _lines(log, _TROUBLE)[-limit:]


def _lines(log: Path, pattern: re.Pattern[str]) -> list[str]:
    try:
        text = log.read_text(errors="replace")
    except OSError:
        return []
    seen: dict[str, None] = {}
    for line in text.splitlines():
        if pattern.search(line) and not _ROUTINE.search(line):
            seen[line.strip()[:300]] = None
    return list(seen)
