"""Prometheus side of deploy/: promtool checks, and every metric name queried exists.

promtool comes from Debian's `prometheus` package (`make tools` installs it). These tests
fail rather than skip without it: CI installs it, and a skipped rule test hides broken
alerts.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from streams.metrics import Metrics

REPO = Path(__file__).resolve().parents[2]
PROMETHEUS = REPO / "deploy" / "prometheus"
ALERTS = PROMETHEUS / "alerts.yml"
ALERTS_TEST = PROMETHEUS / "alerts_test.yml"
DASHBOARD = REPO / "deploy" / "grafana" / "dashboards" / "followup.json"

# The alerts SREs were promised; each needs a firing and a non-firing unit test.
EXPECTED_ALERTS = {
    "FollowupWorkerDown",
    "FollowupConsumerLagGrowing",
    "FollowupNoEventsProcessed",
    "FollowupDeadLetterRateHigh",
    "FollowupDeadLetterVolumeHigh",
    "FollowupRebalanceStorm",
    "FollowupWindowRateDropped",
    "FollowupWorkerNotReady",
}
# Series Prometheus makes itself, not the worker.
SYNTHETIC_SERIES = {"up"}

_QUOTED = re.compile(r"\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*'|`[^`]*`")
_IDENTIFIER = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")


def _promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.fail(
            "promtool is not installed, so the alert rules cannot be checked. Run `make tools` "
            "(as root it installs Debian's `prometheus` package, which ships promtool), or "
            "`apt-get install prometheus`.",
            pytrace=False,
        )
    return path


@pytest.mark.parametrize(
    "args",
    [
        ("check", "rules", "deploy/prometheus/alerts.yml"),
        ("check", "config", "deploy/prometheus/prometheus.yml"),
        ("check", "config", "deploy/prometheus/prometheus.compose.yml"),
        ("test", "rules", "deploy/prometheus/alerts_test.yml"),
    ],
    ids=lambda args: " ".join(args),
)
def test_promtool(args: tuple[str, ...]) -> None:
    done = subprocess.run(
        [_promtool(), *args], cwd=REPO, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, f"promtool {' '.join(args)} failed:\n{done.stdout}{done.stderr}"


def _rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def _alerts() -> dict[str, dict[str, Any]]:
    return {rule["alert"]: rule for rule in _rules() if "alert" in rule}


def _exported_names() -> set[str]:
    """Series names the worker's /metrics can carry, from a fresh `Metrics()` registry.

    Labelled metrics have no samples until first used, so names come from each family's
    type: counters gain `_total`, histograms `_bucket`/`_sum`/`_count`, Info `_info`.
    """
    names: set[str] = set()
    for family in Metrics().registry.collect():
        base = family.name
        names.update(sample.name for sample in family.samples)
        if family.type == "counter":
            names.update({f"{base}_total", f"{base}_created"})
        elif family.type == "histogram":
            names.update(f"{base}{suffix}" for suffix in ("_bucket", "_sum", "_count", "_created"))
        elif family.type == "info":
            names.add(f"{base}_info")
        else:
            names.add(base)
    return names


def _metric_names(expr: str) -> set[str]:
    """The series names an expression selects: identifiers naming ours or `up`.

    Quoted strings go first, so `job="followup-worker"` is not read as a name.
    """
    bare = _QUOTED.sub("", expr)
    return {
        token
        for token in _IDENTIFIER.findall(bare)
        if "followup" in token or token in SYNTHETIC_SERIES
    }


def _dashboard_exprs() -> Iterator[tuple[str, str]]:
    dashboard = json.loads(DASHBOARD.read_text())

    def panels(items: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        for panel in items:
            yield panel
            yield from panels(panel.get("panels", []))

    for panel in panels(dashboard["panels"]):
        for target in panel.get("targets", []):
            yield f"panel {panel['title']!r}", target["expr"]
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            yield f"variable {variable['name']!r}", variable["query"]["query"]


def _all_exprs() -> Iterator[tuple[str, str]]:
    for rule in _rules():
        yield f"rule {rule.get('alert') or rule.get('record')!r}", rule["expr"]
    yield from _dashboard_exprs()


# Grafana's variables, replaced by values Prometheus parses.
_GRAFANA_VARIABLES = {"$__rate_interval": "5m", "$__range": "1h", "$job": ".*", "$instance": ".*"}


def test_dashboard_queries_are_valid_promql(tmp_path: Path) -> None:
    """promtool parses each panel query, written as a recording rule with variables filled in."""
    rules = []
    for i, (where, expr) in enumerate(_dashboard_exprs()):
        if where.startswith("variable"):  # label_values(...) is Grafana's, not PromQL
            continue
        for variable, value in _GRAFANA_VARIABLES.items():
            expr = expr.replace(variable, value)
        assert "$" not in expr, f"{where}: unreplaced variable in {expr}"
        rules.append({"record": f"dashboard:query_{i}", "expr": expr})
    path = tmp_path / "dashboard_rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    done = subprocess.run(
        [_promtool(), "check", "rules", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, f"a dashboard query does not parse:\n{done.stdout}{done.stderr}"


def test_the_name_extractor_sees_through_labels_and_functions() -> None:
    expr = (
        'sum by (topic) (rate(followup_events_consumed_total{job="followup-worker"}[5m]))'
        " and on (job) up == 1"
    )
    assert _metric_names(expr) == {"followup_events_consumed_total", "up"}


def test_every_metric_queried_is_exported_by_the_worker() -> None:
    known = _exported_names() | SYNTHETIC_SERIES
    known |= {rule["record"] for rule in _rules() if "record" in rule}
    missing = {
        f"{where}: {name}"
        for where, expr in _all_exprs()
        for name in _metric_names(expr)
        if name not in known
    }
    assert not missing, "queried but not in streams.metrics:\n" + "\n".join(sorted(missing))


def test_alerts_and_dashboard_cover_most_of_the_metrics() -> None:
    """Guards the extractor itself: if it found nothing, the test above would pass vacuously."""
    used = {name for _, expr in _all_exprs() for name in _metric_names(expr)}
    assert len(used & _exported_names()) >= 12, sorted(used)


def test_the_expected_alerts_exist_with_severity_for_and_annotations() -> None:
    alerts = _alerts()
    assert set(alerts) == EXPECTED_ALERTS
    for name, rule in alerts.items():
        assert rule.get("for"), f"{name} has no `for:`"
        assert rule["labels"]["severity"] in {"critical", "warning"}, name
        assert {"summary", "description"} <= set(rule["annotations"]), name


def test_every_alert_has_a_firing_and_a_quiet_unit_test() -> None:
    fired: set[str] = set()
    quiet: set[str] = set()
    for case in yaml.safe_load(ALERTS_TEST.read_text())["tests"]:
        for check in case.get("alert_rule_test", []):
            (fired if check.get("exp_alerts") else quiet).add(check["alertname"])
    assert not EXPECTED_ALERTS - fired, f"never shown to fire: {EXPECTED_ALERTS - fired}"
    assert not EXPECTED_ALERTS - quiet, f"never shown to stay quiet: {EXPECTED_ALERTS - quiet}"
