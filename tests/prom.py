"""Prometheus tools for the tests: `promtool check metrics` and a real Prometheus server.

Both come from Debian's `prometheus` package (`make tools` installs it). Tests fail rather
than skip without them: a skipped check hides a broken exposition.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml

__all__ = ["PrometheusServer", "promtool_check_metrics", "require_binary"]


def require_binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(
            f"`{name}` is not installed. Run `make tools` (as root it installs Debian's "
            "`prometheus` package, which ships prometheus and promtool), or "
            "`apt-get install prometheus`.",
            pytrace=False,
        )
    return path


def promtool_check_metrics(exposition: str) -> None:
    """Fail the test with promtool's findings unless `exposition` passes its lint."""
    result = subprocess.run(
        [require_binary("promtool"), "check", "metrics"],
        input=exposition.encode(),
        capture_output=True,
        timeout=30,
        check=False,
    )
    findings = (result.stdout + result.stderr).decode(errors="replace").strip()
    assert result.returncode == 0 and not findings, f"promtool check metrics:\n{findings}"


class PrometheusServer:
    """A Prometheus process scraping `targets` every second, with its own TSDB directory."""

    def __init__(self, process: subprocess.Popen[bytes], port: int, log_path: Path) -> None:
        self.process = process
        self.port = port
        self.log_path = log_path

    @classmethod
    def start(
        cls,
        workdir: Path,
        *,
        port: int,
        targets: list[str],
        rule_files: Sequence[Path] = (),
        timeout: float = 60.0,
    ) -> PrometheusServer:
        workdir.mkdir(parents=True, exist_ok=True)
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(p) for p in rule_files],
            "scrape_configs": [
                {
                    # The alert rules select this job name.
                    "job_name": "followup-worker",
                    "scrape_timeout": "1s",
                    "static_configs": [{"targets": targets}],
                }
            ],
        }
        config_path = workdir / "prometheus.yml"
        config_path.write_text(yaml.safe_dump(config))
        log_path = workdir / "prometheus.log"
        with log_path.open("ab") as log:
            process = subprocess.Popen(
                [
                    require_binary("prometheus"),
                    f"--config.file={config_path}",
                    f"--storage.tsdb.path={workdir / 'tsdb'}",
                    f"--web.listen-address=127.0.0.1:{port}",
                    "--log.level=warn",
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        server = cls(process, port, log_path)
        deadline = time.monotonic() + timeout
        while not server._ready():
            if process.poll() is not None:
                raise AssertionError(f"prometheus exited:\n{server.log_tail()}")
            if time.monotonic() > deadline:
                server.stop()
                raise AssertionError(f"prometheus not ready after {timeout}s:\n{server.log_tail()}")
            time.sleep(0.2)
        return server

    def _ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/-/ready", timeout=1) as r:
                return bool(r.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def api(self, path: str, **params: str) -> Any:
        """GET `/api/v1/<path>` and return its `data`; fail on an API error."""
        query = urllib.parse.urlencode(params)
        url = f"http://127.0.0.1:{self.port}/api/v1/{path}" + (f"?{query}" if query else "")
        with urllib.request.urlopen(url, timeout=5) as response:
            body = json.load(response)
        assert body["status"] == "success", body
        return body["data"]

    def query(self, promql: str) -> list[dict[str, Any]]:
        """An instant query: a list of `{"metric": {labels}, "value": [time, "value"]}`."""
        data = self.api("query", query=promql)
        assert data["resultType"] == "vector", data
        return list(data["result"])

    def scalar(self, promql: str) -> float | None:
        """The value of a query expected to give at most one series (None when empty)."""
        result = self.query(promql)
        assert len(result) <= 1, result
        return float(result[0]["value"][1]) if result else None

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, timeout: float = 10.0) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
