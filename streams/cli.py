"""The `followup` command line.

    followup broker            start the embedded broker and print its URL
    followup run               run a worker against FOLLOWUP_BROKER_URL
    followup demo              the whole product on a bundled sample, in about a minute
    followup rules check FILE  validate a rulebook and summarise it
    followup rules test|explain|diff|report   offline tools on the same pure core
    followup sample            write the seeded demo data set as JSONL
    followup schemas           regenerate the published JSON Schemas and the AsyncAPI document
    followup ingest            the HTTP way in: POST /v1/events, /v1/segment
    followup sink              deliver windows to webhooks and Slack
    followup webhook-receiver  a local webhook endpoint that prints what it receives
    followup forget EMAIL      erase a person: publish a request on privacy.erasure

Settings come from `FOLLOWUP_*` environment variables (see `streams.settings.Settings`).
Exit codes: 0 ok, 1 runtime failure, 2 bad configuration or usage.
"""

from __future__ import annotations

import logging
import signal as _signal
import sys
import threading
from pathlib import Path
from typing import Any

import click
from pydantic import ValidationError

from streams.errors import BrokerError, ConfigurationError
from streams.rules_cli import register as _register_rules_commands
from streams.rules_cli import register_sample as _register_sample_command
from streams.settings import Settings, env_name

__all__ = ["main"]


def _settings(**overrides: Any) -> Settings:
    """Settings from the environment; a bad one is a `ConfigurationError` (exit 2) naming
    each setting at fault, one per line, without echoing any value (passwords included)."""
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_input=False, include_url=False):
            where = ", ".join(env_name(str(part)) for part in error["loc"])
            message = error["msg"].removeprefix("Value error, ")
            problems.append(f"{where}: {message}" if where else message)
        raise ConfigurationError("; ".join(problems)) from exc


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="followup-signals")
def cli() -> None:
    """followup-signals: open sales follow-up windows within a second of the signal."""


@cli.command()
@click.option("--port", type=int, default=None, help="Port on 127.0.0.1 (default: a free one).")
def broker(port: int | None) -> None:
    """Start the embedded Kafka-compatible broker (memory only) and print its URL."""
    from streams.broker import EmbeddedBroker

    b = EmbeddedBroker.start(port)
    click.echo(b.url)
    click.echo(
        f"export FOLLOWUP_BROKER_URL={b.url}   # memory only: a restart loses every topic",
        err=True,
    )
    stop = threading.Event()
    for sig in (_signal.SIGINT, _signal.SIGTERM):
        _signal.signal(sig, lambda *_: stop.set())
    try:
        while not stop.wait(0.5):
            if b.process.poll() is not None:
                raise click.ClickException(f"broker exited with code {b.process.returncode}")
    finally:
        b.stop()


@cli.command()
@click.option("--broker-url", default=None, help="Overrides FOLLOWUP_BROKER_URL.")
@click.option("--rulebook", type=click.Path(path_type=Path), default=None)
@click.option("--web-port", type=int, default=None)
def run(broker_url: str | None, rulebook: Path | None, web_port: int | None) -> None:
    """Run a long-lived worker (stops on SIGTERM or Ctrl-C)."""
    from streams.worker import run_worker

    settings = _settings(broker_url=broker_url, rulebook=rulebook, web_port=web_port)
    logging.basicConfig(
        level=settings.log_level.upper().replace("WARN", "WARNING").replace("CRIT", "CRITICAL"),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    run_worker(settings)


@cli.command()
@click.option("--seed", default=7, show_default=True, help="Seed of the sample generator.")
@click.option("--people", default=300, show_default=True)
@click.option("--accounts", default=36, show_default=True)
@click.option("--days", default=21, show_default=True, help="Days of history to replay.")
@click.option("--timeout", default=120.0, show_default=True, help="Give up after N seconds.")
def demo(seed: int, people: int, accounts: int, days: int, timeout: float) -> None:
    """Replay a realistic sample through a real broker and worker; show the windows."""
    from streams.demo import run_demo

    code = run_demo(
        _settings(), seed=seed, people=people, accounts=accounts, days=days, timeout=timeout
    )
    sys.exit(code)


@cli.group()
def rules() -> None:
    """Offline tools for rulebooks (no broker needed)."""


@rules.command("check")
@click.argument("file", type=click.Path(path_type=Path, exists=True, dir_okay=False))
def rules_check(file: Path) -> None:
    """Validate FILE and print a summary; exit 2 when it is not a valid rulebook."""
    from rules.rulebook.loader import RulebookError, load_rulebook, summarise

    try:
        rulebook = load_rulebook(file)
    except RulebookError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    click.echo(summarise(rulebook))


_register_rules_commands(rules)
_register_sample_command(cli)


@cli.command()
def schemas() -> None:
    """Regenerate every published schema: the contract, the rulebook, the scenarios, and the
    AsyncAPI document of every topic."""
    from rules.offline.scenarios import write_scenarios_schema
    from rules.rulebook.loader import write_rulebook_schema
    from signals.schema import write_schemas
    from streams.asyncapi import write_asyncapi

    paths = [*write_schemas(), write_rulebook_schema(), write_scenarios_schema()]
    for path in [*paths, write_asyncapi()]:
        click.echo(str(path))


@cli.command()
def ingest() -> None:
    """Serve the HTTP ingest on FOLLOWUP_INGEST_HOST:PORT (needs FOLLOWUP_INGEST_TOKEN)."""
    from streams.ingest.run import run_ingest

    settings = _settings()
    _logging(settings)
    run_ingest(settings)


@cli.command()
def sink() -> None:
    """Deliver every window to the configured webhooks and Slack (own consumer group)."""
    from streams.sinks.run import run_sink

    settings = _settings()
    _logging(settings)
    run_sink(settings)


@cli.command("webhook-receiver")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=8765, show_default=True)
@click.option(
    "--secret-env",
    default="FOLLOWUP_SINK_WEBHOOK_SECRET",
    show_default=True,
    help="Environment variable holding the shared secret; unset: signatures are not checked.",
)
@click.option("--json", "full", is_flag=True, help="Print each window's full JSON.")
def webhook_receiver(host: str, port: int, secret_env: str, full: bool) -> None:
    """A tiny local webhook endpoint that verifies, deduplicates and prints deliveries."""
    import os

    from streams.sinks.receiver import run_receiver

    secret = os.environ.get(secret_env)
    run_receiver(host, port, secret=secret.encode() if secret else None, full=full)


@cli.command()
@click.argument("email", required=False)
@click.option("--id", "person_id", default=None, help="The person's CRM id (with EMAIL or alone).")
@click.option(
    "--wait",
    type=float,
    default=60.0,
    show_default=True,
    help="Seconds to wait for the receipt on privacy.erasure.done; 0: do not wait.",
)
def forget(email: str | None, person_id: str | None, wait: float) -> None:
    """Erase a person's state everywhere (their email, their CRM id, or both)."""
    from streams.forget import forget as request_erasure

    if not email and not person_id:
        raise click.UsageError("give the person's EMAIL, --id, or both")
    settings = _settings()
    try:
        receipt = request_erasure(
            settings, email=email, person_id=person_id, wait=wait, say=click.echo
        )
    except ValidationError as exc:
        fields = sorted({str(e["loc"][-1]) for e in exc.errors(include_input=False)})
        raise click.UsageError(f"not a person to erase ({', '.join(fields)})") from None
    if wait <= 0:
        return
    if receipt is None:
        click.echo(f"no receipt within {wait:g} s: is a worker running?", err=True)
        sys.exit(1)
    click.echo(
        f"erased: {receipt.keys_removed} keys on {receipt.partitions} partitions "
        f"at {receipt.erased_at.isoformat()}"
    )


def _logging(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level.upper().replace("WARN", "WARNING").replace("CRIT", "CRITICAL"),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def main() -> None:
    try:
        cli(standalone_mode=True)
    except ConfigurationError as exc:
        click.echo(f"configuration error: {exc}", err=True)
        sys.exit(2)
    except BrokerError as exc:
        click.echo(f"broker error: {exc}", err=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
