"""`followup rules test|explain|diff|report` and `followup sample`: exit codes and output."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import click
import orjson
import pytest
from click.testing import CliRunner

from streams.cli import cli
from streams.rules_cli import register_sample
from tests.rules.builders import T0 as _T0
from tests.support import ICP_ACCOUNT, ICP_PERSON, event

ROOT = Path(__file__).resolve().parents[2]
RULEBOOK = ROOT / "rules" / "examples" / "b2b_saas.yaml"
CASES = ROOT / "rules" / "examples" / "b2b_saas.scenarios.yaml"


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def events(tmp_path: Path) -> Path:
    """Dana (ICP, VP) opens an email and visits pricing twice; one bad line in the middle."""
    bodies = [
        event("email_opened", "d1", _T0, person=ICP_PERSON, account=ICP_ACCOUNT, subject="Hi"),
        event(
            "page_visited",
            "d2",
            _T0 + timedelta(hours=2),
            person=ICP_PERSON,
            account=ICP_ACCOUNT,
            path="/pricing",
        ),
        event(
            "page_visited",
            "d3",
            _T0 + timedelta(hours=20),
            person=ICP_PERSON,
            account=ICP_ACCOUNT,
            path="/pricing/enterprise",
        ),
    ]
    lines = [
        orjson.dumps(bodies[0]),
        b"{not json",
        orjson.dumps(bodies[1]),
        b"",
        orjson.dumps({"type": "email_clicked"}),
        orjson.dumps(bodies[2]),
    ]
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


# ------------------------------------------------------------------------- test


def test_the_example_scenarios_pass() -> None:
    code, out, _ = _run("rules", "test", RULEBOOK, CASES)
    assert code == 0, out
    assert "FAIL" not in out
    assert out.count("PASS") >= 6
    assert "0 failed" in out


def test_a_failing_scenario_exits_1_with_expected_and_got(tmp_path: Path) -> None:
    stricter = tmp_path / "strict.yaml"
    stricter.write_text(
        RULEBOOK.read_text(encoding="utf-8")
        .replace("threshold: 100", "threshold: 200")
        .replace("min_count: 2", "min_count: 3"),
        encoding="utf-8",
    )
    code, out, _ = _run("rules", "test", stricter, CASES)
    assert code == 1
    assert "FAIL  An A-fit VP who visits pricing twice" in out
    assert f"({CASES}:" in out  # where the scenario is
    assert (
        "expected a window for dana.ito@acme-data.example, play signal_triggered, "
        "trigger pv-2: no window matches; windows opened: none" in out
    )
    assert f"note: {CASES} names b2b_saas.yaml; testing {stricter}" in out


def test_invalid_scenario_file_exits_2_with_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("scenarios:\n  - name: x\n    events: []\n    expect: {no_windows: true}\n")
    code, out, err = _run("rules", "test", RULEBOOK, CASES, bad)
    assert code == 2
    assert f"{bad}:3: scenarios[0].events:" in err
    assert "PASS" in out  # the valid file still ran


def test_invalid_rulebook_exits_2(tmp_path: Path) -> None:
    broken = tmp_path / "rules.yaml"
    broken.write_text("apiVersion: followup/v1\nversion: x\nengagement: {}\nwindows: {}\n")
    code, _, err = _run("rules", "test", broken, CASES)
    assert code == 2
    assert f"error: {broken}:4: windows.threshold: Field required" in err
    code, _, err = _run("rules", "test", tmp_path / "absent.yaml", CASES)
    assert code == 2 and "cannot read the file" in err


# ---------------------------------------------------------------------- explain


def test_explain_prints_the_timeline_and_skips_bad_lines(events: Path) -> None:
    code, out, err = _run(
        "rules", "explain", RULEBOOK, events, "--person", "Dana.VP@acme-data.example"
    )
    assert code == 0, err
    assert "person dana.vp@acme-data.example" in out
    assert "WINDOW signal_triggered" in out
    assert "engagement reasons" in out and "Visited the pricing page" in out
    assert f"skipped {events}:2: not_json" in err
    assert f"skipped {events}:5: unknown_type" in err
    assert "skipped 2 bad lines of 5" in err


def test_explain_unknown_person_suggests_close_keys(events: Path) -> None:
    code, _, err = _run(
        "rules", "explain", RULEBOOK, events, "--person", "dana.vp@acme-data.exampl"
    )
    assert code == 1
    assert "did you mean dana.vp@acme-data.example" in err


def test_explain_at_a_later_time(events: Path) -> None:
    code, out, _ = _run(
        "rules",
        "explain",
        RULEBOOK,
        events,
        "--person",
        "dana.vp@acme-data.example",
        "--at",
        "2030-01-01T00:00:00Z",
    )
    assert code == 0
    assert "score at 2030-01-01 00:00" in out
    code, _, _ = _run("rules", "explain", RULEBOOK, events, "--person", "x", "--at", "2030-01-01")
    assert code == 2  # a time without a zone is a usage error


# ------------------------------------------------------------------------- diff


def test_diff_reports_removed_windows_and_exit_code(events: Path, tmp_path: Path) -> None:
    stricter = tmp_path / "strict.yaml"
    stricter.write_text(
        RULEBOOK.read_text(encoding="utf-8")
        .replace("threshold: 100", "threshold: 200")
        .replace("min_count: 2", "min_count: 3"),
        encoding="utf-8",
    )
    code, out, _ = _run("rules", "diff", RULEBOOK, stricter, events)
    assert code == 0
    assert "-1 removed" in out and "dana.vp@acme-data.example" in out
    code, _, _ = _run("rules", "diff", RULEBOOK, stricter, events, "--exit-code")
    assert code == 1
    code, out, _ = _run("rules", "diff", RULEBOOK, RULEBOOK, events, "--exit-code")
    assert code == 0 and "no difference" in out


# ----------------------------------------------------------------------- report


def test_report_writes_html_for_the_top_people(events: Path, tmp_path: Path) -> None:
    out_file = tmp_path / "report.html"
    code, out, _ = _run("rules", "report", RULEBOOK, events, "-o", out_file, "--top", "3")
    assert code == 0
    assert f"wrote {out_file}: 1 people, 1 windows" in out
    page = out_file.read_text(encoding="utf-8")
    assert 'data-person="dana.vp@acme-data.example"' in page


def test_report_for_named_people(events: Path, tmp_path: Path) -> None:
    out_file = tmp_path / "report.html"
    code, _, err = _run(
        "rules",
        "report",
        RULEBOOK,
        events,
        "-o",
        out_file,
        "--person",
        "dana.vp@acme-data.example",
        "--person",
        "ghost@acme-data.example",
    )
    assert code == 0
    assert "no event in" in err and "ghost@acme-data.example" in err
    code, _, _ = _run("rules", "report", RULEBOOK, events, "-o", out_file, "--person", "ghost@x.io")
    assert code == 1


# ----------------------------------------------------------------------- sample


def test_sample_writes_jsonl_that_the_tools_read(tmp_path: Path) -> None:
    @click.group()
    def top() -> None:
        pass

    register_sample(top)
    target = tmp_path / "events.jsonl"
    result = CliRunner().invoke(
        top,
        [
            "sample",
            "--seed",
            "3",
            "--people",
            "20",
            "--accounts",
            "4",
            "--days",
            "5",
            "--end",
            "2026-11-20T00:00:00Z",
            "-o",
            str(target),
        ],
    )
    assert result.exit_code == 0, result.output
    lines = target.read_bytes().splitlines()
    assert len(lines) > 20
    assert all(orjson.loads(line)["type"] for line in lines)
    again = CliRunner().invoke(
        top,
        [
            "sample",
            "--seed",
            "3",
            "--people",
            "20",
            "--accounts",
            "4",
            "--days",
            "5",
            "--end",
            "2026-11-20T00:00:00Z",
        ],
    )
    assert again.stdout.encode() == target.read_bytes()  # deterministic, '-' is stdout
    code, _, err = _run("rules", "explain", RULEBOOK, target, "--person", "nobody@x.io")
    assert code == 1 and "skipped" not in err
