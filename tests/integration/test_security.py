"""`followup run`, the demo and the local clients against secured brokers, end to end.

The bundled Tansu 0.6.0 can do neither TLS nor SASL (exact findings in
tests/secured_broker.py), so the secured brokers here are the real embedded broker behind
stunnel4 (TLS, client certificates required for mutual TLS) and behind `tests.sasl_gateway`
(SASL PLAIN and SCRAM-SHA-256/512, scramp's SCRAM server). The broker advertises the front's
address, so every connection of every client goes through the terminator. Certificates are
made per session by tests/pki.py.

Wrong credentials and untrusted certificates must fail at once with exit code 2 and one line
naming the setting; the subprocess timeout is only a safety net.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from streams.broker import create_topics, free_port, wait_for_broker
from streams.local import Record, WorkerProcess, produce, read_topic, settings_env
from streams.settings import Settings
from tests.conftest import scrape
from tests.secured_broker import USERS, SecuredBroker
from tests.support import hot_history, read_windows, records_on_one_topic

pytestmark = pytest.mark.integration

USER = "followup-svc"
PASSWORD = USERS[USER]

Secured = Callable[[str], SecuredBroker]


def _secured(settings: Settings, broker: SecuredBroker, **extra: Any) -> Settings:
    """`settings` (fresh topics and group) pointed at `broker` with its security."""
    return Settings(**{**settings.model_dump(), **broker.security, **extra})


def _sasl(mechanism: str, password: str = PASSWORD) -> dict[str, Any]:
    return {
        "broker_sasl_mechanism": mechanism,
        "broker_username": USER,
        "broker_password": password,
    }


def _run_and_fail(settings: Settings, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """`followup run` that is expected to exit by itself (not a long-lived worker)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FOLLOWUP_")}
    return subprocess.run(
        [sys.executable, "-m", "streams.cli", "run"],
        env={**env, **settings_env(settings)},
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )


def _one_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def _window_opens(settings: Settings, worker: WorkerProcess) -> None:
    start = datetime.now(UTC) - timedelta(days=1)
    records = records_on_one_topic(
        settings.topic_page_visited, hot_history(f"sec-{uuid.uuid4().hex[:6]}", start)
    )
    asyncio.run(produce(settings, records))
    windows = read_windows(settings, count=1, timeout=90)
    assert worker.alive, worker.log_tail()
    assert windows and windows[0].person.email == "dana.vp@acme-data.example"


def test_worker_opens_a_window_over_sasl_scram_with_the_password_in_a_file(
    secured_broker: Secured, settings: Settings, start_worker: Any, tmp_path: Path
) -> None:
    broker = secured_broker("sasl")
    secret = tmp_path / "password"
    secret.write_text(PASSWORD + "\n")  # as `echo` writes a Kubernetes secret
    s = _secured(
        settings,
        broker,
        broker_sasl_mechanism="SCRAM-SHA-256",
        broker_username=USER,
        broker_password_file=secret,
    )
    assert s.broker_security == "sasl_plaintext"
    worker = start_worker(s)
    _window_opens(s, worker)
    metrics = scrape(worker.web_port)
    assert "followup_windows_opened_total" in metrics
    worker.stop()
    for text in (metrics, worker.log_path.read_text(errors="replace")):
        assert PASSWORD not in text


def test_worker_opens_a_window_over_mutual_tls(
    secured_broker: Secured, settings: Settings, start_worker: Any
) -> None:
    broker = secured_broker("mtls")
    s = _secured(settings, broker)
    assert s.broker_security == "ssl" and s.broker_cert_file is not None
    _window_opens(s, start_worker(s))


def test_demo_runs_over_sasl_ssl_with_scram_sha_512(
    secured_broker: Secured, tmp_path: Path
) -> None:
    broker = secured_broker("sasl_ssl")
    env = {k: v for k, v in os.environ.items() if not k.startswith("FOLLOWUP_")}
    env |= {f"FOLLOWUP_{k.upper()}": str(v) for k, v in broker.security.items()}
    env |= {
        "FOLLOWUP_BROKER_SASL_MECHANISM": "SCRAM-SHA-512",
        "FOLLOWUP_BROKER_USERNAME": USER,
        "FOLLOWUP_BROKER_PASSWORD": PASSWORD,
    }
    args = ["--people", "40", "--accounts", "8", "--days", "7", "--timeout", "90"]
    result = subprocess.run(
        [sys.executable, "-m", "streams.cli", "demo", *args],
        capture_output=True,
        text=True,
        timeout=240,
        env=env,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "from FOLLOWUP_BROKER_URL" in result.stdout
    assert "▶" in result.stdout, "windows should open over SASL_SSL"
    assert PASSWORD not in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("kind", "mechanism"),
    [
        ("sasl", "PLAIN"),
        ("sasl", "SCRAM-SHA-512"),
        ("ssl", None),
        ("sasl_ssl", "PLAIN"),  # Confluent Cloud's shape: API key and secret over TLS
        ("sasl_ssl", "SCRAM-SHA-256"),
    ],
)
def test_local_clients_work_over_each_security(
    secured_broker: Secured, settings: Settings, kind: str, mechanism: str | None
) -> None:
    """The start-up probe, the admin client (topic creation), producer and consumer."""
    s = _secured(settings, secured_broker(kind), **(_sasl(mechanism) if mechanism else {}))
    topic = s.topic_page_visited

    async def round_trip() -> list[Any]:
        await wait_for_broker(s, timeout=20)
        assert topic in await create_topics(s, [topic], partitions=2)
        await produce(s, [Record(topic, f"v{n}".encode(), key=b"k") for n in range(3)])
        return await read_topic(s, topic, until=lambda got: len(got) >= 3, timeout=20)

    assert [m.value for m in asyncio.run(round_trip())] == [b"v0", b"v1", b"v2"]


def test_wrong_password_exits_2_at_once_naming_the_password(
    secured_broker: Secured, settings: Settings, tmp_path: Path
) -> None:
    broker = secured_broker("sasl_ssl")
    assert broker.gateway is not None
    rejected = broker.gateway.rejected
    s = _secured(settings, broker, **_sasl("SCRAM-SHA-256", password="not-the-password"))
    result = _run_and_fail(s, tmp_path)
    assert result.returncode == 2, result.stderr
    line = _one_line(result)
    assert line.startswith("configuration error: ")
    assert "FOLLOWUP_BROKER_PASSWORD" in line and "SCRAM-SHA-256" in line
    assert "not-the-password" not in result.stdout + result.stderr
    assert broker.gateway.rejected == rejected + 1, "one attempt, no retries"


def test_untrusted_broker_certificate_exits_2_naming_the_ca_file(
    secured_broker: Secured, settings: Settings, tmp_path: Path
) -> None:
    broker = secured_broker("ssl")
    s = _secured(settings, broker, broker_ca_file=broker.pki.other_ca)
    result = _run_and_fail(s, tmp_path)
    assert result.returncode == 2, result.stderr
    line = _one_line(result)
    assert "FOLLOWUP_BROKER_CA_FILE" in line and "verification" in line


def test_missing_client_certificate_on_mutual_tls_exits_2_naming_it(
    secured_broker: Secured, settings: Settings, tmp_path: Path
) -> None:
    broker = secured_broker("mtls")
    s = _secured(settings, broker, broker_cert_file=None, broker_key_file=None)
    result = _run_and_fail(s, tmp_path)
    assert result.returncode == 2, result.stderr
    assert "FOLLOWUP_BROKER_CERT_FILE" in _one_line(result)


def test_unreachable_broker_is_retried_then_exits_1(settings: Settings, tmp_path: Path) -> None:
    nobody = f"kafka://127.0.0.1:{free_port()}"
    s = Settings(**{**settings.model_dump(), "broker_url": nobody, "broker_wait_seconds": 1.5})
    result = _run_and_fail(s, tmp_path)
    assert result.returncode == 1, result.stderr
    line = _one_line(result)
    assert line.startswith("broker error: ") and "FOLLOWUP_BROKER_URL" in line
    assert "did not answer in 1.5s" in line
