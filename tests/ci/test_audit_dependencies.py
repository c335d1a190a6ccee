"""`make lint`'s dependency audit: a known vulnerability fails, a closed network skips."""

from __future__ import annotations

import importlib.util
import json
import stat
import sys
from pathlib import Path
from typing import Any

import pytest

_PATH = Path(__file__).resolve().parents[2] / ".ci" / "audit_dependencies.py"
_spec = importlib.util.spec_from_file_location("audit_dependencies", _PATH)
assert _spec is not None and _spec.loader is not None
audit = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(audit)

VULNERABLE = {
    "dependencies": [
        {
            "name": "jinja2",
            "version": "2.4.1",
            "vulns": [{"id": "PYSEC-2014-8", "fix_versions": ["2.7.2"]}],
        },
        {"name": "six", "version": "1.17.0", "vulns": []},
    ]
}
CLEAN = {
    "dependencies": [
        {"name": "six", "version": "1.17.0", "vulns": []},
        {"name": "orjson", "skip_reason": "Dependency not found on PyPI"},
    ]
}
NOTHING_AUDITED = {"dependencies": [{"name": "six", "skip_reason": "Dependency not found on PyPI"}]}


def test_a_known_vulnerability_fails_naming_it() -> None:
    code, summary = audit.verdict(VULNERABLE, "pypi")
    assert code == 1 and "jinja2 2.4.1: PYSEC-2014-8 (fixed in 2.7.2)" in summary


def test_clean_dependencies_pass_and_name_what_was_not_audited() -> None:
    code, summary = audit.verdict(CLEAN, "pypi")
    assert code == 0 and "1 dependencies" in summary and "not audited: orjson" in summary


def test_a_report_that_audited_nothing_is_no_verdict() -> None:
    assert audit.verdict(NOTHING_AUDITED, "pypi") is None


def _fake_pip_audit(tmp_path: Path, outputs: dict[str, str]) -> str:
    """A pip-audit stand-in printing `outputs[service]` (or failing like a closed network)."""
    script = tmp_path / "pip-audit"
    script.write_text(
        f"#!{sys.executable}\n"
        "import sys\n"
        f"outputs = {outputs!r}\n"
        "service = sys.argv[sys.argv.index('-s') + 1]\n"
        "if service not in outputs:\n"
        "    sys.exit('requests.exceptions.ConnectionError: Failed to resolve')\n"
        "print(outputs[service])\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return str(script)


@pytest.mark.parametrize(
    ("outputs", "code", "expected"),
    [
        ({}, 0, "dependency audit skipped"),
        ({"pypi": '{"dependencies": [{"name": "six", "skip_reason": "x"}]}'}, 0, "skipped"),
        ({"osv": '{"dependencies": [{"name": "six", "version": "1", "vulns": []}]}'}, 0, "(osv)"),
        ({"pypi": json.dumps(VULNERABLE)}, 1, "PYSEC-2014-8"),
    ],
)
def test_main_prints_one_outcome(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    outputs: dict[str, Any],
    code: int,
    expected: str,
) -> None:
    assert audit.main(["audit", _fake_pip_audit(tmp_path, outputs)]) == code
    assert expected in capsys.readouterr().out
