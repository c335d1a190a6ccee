"""Offline rulebook tools on the command line: test, explain, diff, report, and sample data.

    followup rules test RULES.yaml CASES.yaml...      run scenario files (rules.offline.scenarios)
    followup rules explain RULES.yaml EVENTS.jsonl --person KEY
    followup rules diff OLD.yaml NEW.yaml EVENTS.jsonl
    followup rules report RULES.yaml EVENTS.jsonl -o report.html [--person KEY...] [--top N]
    followup sample --seed 7 -o events.jsonl           demo history to try the above on

`register(rules)` attaches the four commands to the `rules` group of `streams.cli`;
`register_sample(cli)` attaches `sample` to the top-level group. Thin glue: the work is done
by the pure modules in `rules/`; nothing here needs a broker.

EVENTS.jsonl holds one input-shaped JSON object per line, with `type`; events are replayed in
file order (the order one partition would see them). A line that is not a valid signal is
reported with its line number and skipped, never fatal. Exit codes: 0 ok, 1 a scenario
failed (or, with `diff --exit-code`, the windows differ), 2 a file is missing or invalid.
"""

from __future__ import annotations

import difflib
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import click

if TYPE_CHECKING:
    from rules.rulebook.model import Rulebook
    from signals.models import Signal

__all__ = ["register", "register_sample"]

_MAX_EVENT_BYTES = 10 * 1024 * 1024
_SHOWN_BAD_LINES = 20

_FilePath = click.Path(path_type=Path, dir_okay=False)


def _fail(message: str, code: int = 2) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def _rulebook(path: Path) -> Rulebook:
    from rules.rulebook.loader import RulebookError, load_rulebook

    try:
        return load_rulebook(path)
    except RulebookError as exc:
        _fail(str(exc))


@dataclass(frozen=True, slots=True)
class _History:
    signals: list[Signal]
    bad: int
    lines: int


def _read_events(path: Path) -> _History:
    """Decode EVENTS.jsonl; bad lines are reported on stderr with their numbers and skipped."""
    from signals.codec import Rejected, decode_signal

    try:
        raw_lines = path.read_bytes().splitlines()
    except OSError as exc:
        _fail(f"{path}: cannot read the file: {exc}")
    signals: list[Signal] = []
    problems: list[str] = []
    lines = 0
    for number, raw in enumerate(raw_lines, start=1):
        raw = raw.strip()
        if not raw:
            continue
        lines += 1
        decoded = decode_signal(raw, default_type=None, max_bytes=_MAX_EVENT_BYTES)
        if isinstance(decoded, Rejected):
            problems.append(f"{path}:{number}: {decoded.reason}: {decoded.detail}")
        else:
            signals.append(decoded)
    for problem in problems[:_SHOWN_BAD_LINES]:
        click.echo(f"skipped {problem}", err=True)
    if len(problems) > _SHOWN_BAD_LINES:
        click.echo(f"... and {len(problems) - _SHOWN_BAD_LINES} more bad lines", err=True)
    if problems:
        click.echo(f"skipped {len(problems)} bad lines of {lines} in {path}", err=True)
    return _History(signals, len(problems), lines)


def _people(signals: Sequence[Signal]) -> list[str]:
    from signals.identity import person_key

    return sorted({person_key(s.person) for s in signals if s.person is not None})


def _resolve_person(text: str) -> str:
    from rules.offline.scenarios import normalise_person

    return normalise_person(text)


def _unknown_person(key: str, known: Sequence[str], events: Path) -> str:
    close = difflib.get_close_matches(key, known, n=3, cutoff=0.6)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    return f"no event in {events} is about {key} ({len(known)} people named){hint}"


# ------------------------------------------------------------------------- test


@click.command("test")
@click.argument("file", type=_FilePath)
@click.argument("cases", nargs=-1, required=True, type=_FilePath)
def rules_test(file: Path, cases: tuple[Path, ...]) -> None:
    """Run the scenario files CASES against the rulebook FILE.

    Prints PASS or FAIL per scenario, with what was expected and what happened. Exit 1 when a
    scenario fails, 2 when a file is missing or invalid (file:line: field: what is wrong).
    """
    from rules.offline.scenario_run import run_scenarios
    from rules.offline.scenarios import load_scenarios, scenario_lines
    from rules.rulebook.loader import RulebookError

    rulebook = _rulebook(file)
    click.echo(f"rulebook {file}: version {rulebook.version}, hash {rulebook.hash}")
    invalid = failed = passed = 0
    for case in cases:
        try:
            loaded = load_scenarios(case)
        except RulebookError as exc:
            click.echo(f"error: {exc}", err=True)
            invalid += 1
            continue
        named = loaded.rulebook_path(case)
        if named is not None and named != file.resolve():
            click.echo(f"note: {case} names {loaded.rulebook}; testing {file} as asked")
        lines = scenario_lines(case.read_text(encoding="utf-8"))
        click.echo(f"{case}")
        for result in run_scenarios(rulebook, loaded.scenarios):
            where = f"{case}:{lines[result.index]}" if result.index < len(lines) else str(case)
            if result.passed:
                passed += 1
                click.echo(f"  PASS  {result.name}")
                continue
            failed += 1
            click.echo(f"  FAIL  {result.name}  ({where})")
            for failure in result.failures:
                click.echo(f"        {failure}")
    summary = f"{passed + failed} scenarios: {passed} passed, {failed} failed"
    if invalid:
        summary += f"; {invalid} invalid files"
    click.echo(summary)
    if invalid:
        sys.exit(2)
    if failed:
        sys.exit(1)


# ---------------------------------------------------------------------- explain


def _parse_time(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(f"not an ISO 8601 time: {value!r}") from None
    if parsed.tzinfo is None:
        raise click.BadParameter("give a time zone, e.g. 2026-11-20T12:00:00Z")
    return parsed.astimezone(UTC)


@click.command("explain")
@click.argument("file", type=_FilePath)
@click.argument("events", type=_FilePath)
@click.option("--person", "person", required=True, help="Person key: email, or id:<crm id>.")
@click.option("--at", "at", default=None, help="Score the final reasons at this time (ISO 8601).")
def rules_explain(file: Path, events: Path, person: str, at: str | None) -> None:
    """Show how each event in EVENTS moved one person's score under FILE, and why."""
    from rules.offline.explain import explain, render_text

    final_at = _parse_time(at)
    rulebook = _rulebook(file)
    history = _read_events(events)
    key = _resolve_person(person)
    timeline = explain(rulebook, history.signals, key, final_at=final_at)
    if not timeline.steps:
        _fail(_unknown_person(key, _people(history.signals), events), code=1)
    click.echo(render_text(timeline))


# ------------------------------------------------------------------------- diff


@click.command("diff")
@click.argument("old", type=_FilePath)
@click.argument("new", type=_FilePath)
@click.argument("events", type=_FilePath)
@click.option("--exit-code", is_flag=True, help="Exit 1 when the windows differ (for CI).")
def rules_diff(old: Path, new: Path, events: Path, exit_code: bool) -> None:
    """Which windows a change from OLD to NEW adds, removes or re-plays over EVENTS."""
    from rules.offline.diff import diff, render_text

    before, after = _rulebook(old), _rulebook(new)
    history = _read_events(events)
    result = diff(before, after, history.signals)
    click.echo(render_text(result))
    if exit_code and not result.identical:
        sys.exit(1)


# ----------------------------------------------------------------------- report


@click.command("report")
@click.argument("file", type=_FilePath)
@click.argument("events", type=_FilePath)
@click.option(
    "-o", "--output", type=_FilePath, required=True, help="Where to write the HTML report."
)
@click.option("--person", "persons", multiple=True, help="Person key to include (repeatable).")
@click.option(
    "--top", default=10, show_default=True, help="Without --person: the N highest max scores."
)
def rules_report(
    file: Path, events: Path, output: Path, persons: tuple[str, ...], top: int
) -> None:
    """Write an HTML report: score over time against the threshold, windows and reasons."""
    from rules.offline.explain import explain_many
    from rules.offline.report import render_html

    if top < 1:
        raise click.BadParameter("must be at least 1", param_hint="--top")
    rulebook = _rulebook(file)
    history = _read_events(events)
    if persons:
        keys = [_resolve_person(p) for p in persons]
        timelines = list(explain_many(rulebook, history.signals, keys).values())
        known = _people(history.signals)
        for timeline in timelines:
            if not timeline.steps:
                click.echo(f"note: {_unknown_person(timeline.person_key, known, events)}", err=True)
        timelines = [t for t in timelines if t.steps]
        if not timelines:
            _fail("none of the people asked for is in the history", code=1)
    else:
        everyone = explain_many(rulebook, history.signals).values()
        timelines = sorted(everyone, key=lambda t: (-t.max_total, t.person_key))[:top]
    text = render_html(timelines, rulebook, title=f"Follow-up score report: {events.name}")
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        _fail(f"{output}: cannot write: {exc}")
    windows = sum(len(t.windows) for t in timelines)
    click.echo(f"wrote {output}: {len(timelines)} people, {windows} windows")


# ----------------------------------------------------------------------- sample


@click.command("sample")
@click.option("--seed", default=7, show_default=True, help="Seed of the sample generator.")
@click.option("--people", default=300, show_default=True)
@click.option("--accounts", default=36, show_default=True)
@click.option("--days", default=21, show_default=True, help="Days of history.")
@click.option("--end", default=None, help="Time of the last event (ISO 8601; default: now).")
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, dir_okay=False, allow_dash=True),
    default="-",
    show_default=True,
    help="JSONL file to write ('-': standard output).",
)
def sample(seed: int, people: int, accounts: int, days: int, end: str | None, output: Path) -> None:
    """Write a seeded demo history as JSONL (one signal per line, with `type`).

    Try the rules tools on it: `followup rules report RULES.yaml events.jsonl -o r.html`.
    """
    import orjson

    from signals.sample import generate

    until = _parse_time(end) or datetime.now(UTC)
    try:
        records = generate(seed, people=people, accounts=accounts, days=days, end=until)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    lines = []
    for kind, raw in records:
        data = orjson.loads(raw)
        data.setdefault("type", kind)
        lines.append(orjson.dumps(data))
    body = b"\n".join(lines) + b"\n"
    if str(output) == "-":
        click.echo(body.decode(), nl=False)
        return
    try:
        output.write_bytes(body)
    except OSError as exc:
        _fail(f"{output}: cannot write: {exc}")
    click.echo(f"wrote {len(lines)} events to {output}", err=True)


def register(rules: click.Group) -> None:
    """Attach `test`, `explain`, `diff` and `report` to the `followup rules` group."""
    for command in (rules_test, rules_explain, rules_diff, rules_report):
        rules.add_command(command)


def register_sample(cli: click.Group) -> None:
    """Attach `sample` to the top-level `followup` group."""
    cli.add_command(sample)
