"""The commands a newcomer runs first: `followup broker` and `followup demo`."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys

import pytest

from streams.broker import wait_for_broker
from streams.settings import Settings

pytestmark = pytest.mark.integration


def test_broker_command_prints_a_url_that_answers_kafka_requests() -> None:
    with subprocess.Popen(
        [sys.executable, "-m", "streams.cli", "broker"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    ) as process:
        try:
            assert process.stdout is not None
            url = process.stdout.readline().strip()
            assert url.startswith("kafka://127.0.0.1:")
            asyncio.run(wait_for_broker(Settings(broker_url=url), timeout=20))
        finally:
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=20) == 0


def test_demo_replays_the_sample_and_summarises(tmp_path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FOLLOWUP_")}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "streams.cli",
            "demo",
            "--people",
            "60",
            "--accounts",
            "10",
            "--days",
            "10",
            "--timeout",
            "90",
        ],
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    assert "▶" in out, "the demo should show windows as they open"
    assert "summary" in out and "windows opened" in out
    assert "dead-lettered" in out and "not_json" in out
    # The live step went in over HTTP and out through the sink to the local webhook.
    assert "POST /v1/events        202, 2 accepted" in out
    received = re.search(
        r"webhook receiver +window (w_[0-9a-f]{24}): \w+ for alex@live-demo\.example", out
    )
    assert received, out[-3000:]
    assert re.search(r"at the webhook \d+\.\d\ds after the POST, signature verified", out)
    assert f"open window {received.group(1)}" in out  # the score API knows the same window
    assert re.search(r"webhook deliveries +[1-9]\d* windows, signatures verified", out)
