"""`make lint`'s check of the installed dependencies against known vulnerabilities.

Runs pip-audit (a dev extra) on the virtualenv, first with PyPI's vulnerability data, then
with OSV's. Outcomes, each printed as one summary line:

- a known vulnerability in any dependency: each is listed and the exit code is 1;
- no service could audit anything (network closed, or an index mirror that serves no
  vulnerability data, so every dependency comes back "not found"): "dependency audit
  skipped: ..." and exit code 0, so a closed network does not fail lint;
- otherwise "no known vulnerabilities in N dependencies", naming any it could not audit.

Usage: python .ci/audit_dependencies.py [path to pip-audit]
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

__all__ = ["main", "verdict"]

SERVICES = ("pypi", "osv")


def verdict(report: dict[str, Any], service: str) -> tuple[int, str] | None:
    """Exit code and summary for one pip-audit JSON report; None when it audited nothing."""
    dependencies = report.get("dependencies", [])
    audited = [d for d in dependencies if "skip_reason" not in d]
    vulnerable = [d for d in audited if d.get("vulns")]
    if vulnerable:
        lines = [
            f"  {d['name']} {d['version']}: {v['id']}"
            + (f" (fixed in {', '.join(v['fix_versions'])})" if v.get("fix_versions") else "")
            for d in vulnerable
            for v in d["vulns"]
        ]
        count = sum(len(d["vulns"]) for d in vulnerable)
        return 1, f"{count} known vulnerabilities ({service}):\n" + "\n".join(lines)
    if not audited:
        return None
    skipped = sorted(d["name"] for d in dependencies if "skip_reason" in d)
    note = f"; not audited: {', '.join(skipped)}" if skipped else ""
    return 0, f"no known vulnerabilities in {len(audited)} dependencies ({service}){note}"


def _audit(pip_audit: str, service: str) -> tuple[dict[str, Any] | None, str]:
    command = [pip_audit, "--skip-editable", "--progress-spinner", "off", "-f", "json"]
    try:
        result = subprocess.run(
            [*command, "-s", service],
            capture_output=True,
            text=True,
            timeout=300,
        )
    except subprocess.TimeoutExpired:
        return None, f"{service} did not answer in 300 s"
    try:
        return json.loads(result.stdout), ""
    except json.JSONDecodeError:
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        return None, f"{service}: {last[:120]}"


def main(argv: list[str]) -> int:
    pip_audit = argv[1] if len(argv) > 1 else str(Path(sys.executable).with_name("pip-audit"))
    reasons = []
    for service in SERVICES:
        report, problem = _audit(pip_audit, service)
        if report is None:
            reasons.append(problem)
            continue
        outcome = verdict(report, service)
        if outcome is not None:
            code, summary = outcome
            print(f"dependency audit: {summary}")
            return code
        reasons.append(f"{service} had no vulnerability data for any dependency")
    print(f"dependency audit skipped (no vulnerability service reachable): {'; '.join(reasons)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
