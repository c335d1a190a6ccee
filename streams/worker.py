"""Run one worker process: load the rulebook, make sure topics exist, start Faust."""

from __future__ import annotations

import asyncio
import logging
from importlib.metadata import PackageNotFoundError, version

from rules.rulebook.loader import RulebookError, load_rulebook
from rules.rulebook.model import Rulebook
from signals.codec import Rejected, encode
from signals.contacts import decode_contact
from signals.identity import person_key
from signals.sources import SourcesError, SourceSet, load_sources
from streams.broker import create_topics, wait_for_broker
from streams.errors import ConfigurationError
from streams.local import Record, produce
from streams.metrics import Metrics
from streams.settings import Settings
from streams.topics import Topics

__all__ = [
    "build_version",
    "load_rulebook_or_fail",
    "load_sources_or_fail",
    "prepare_topics",
    "publish_contacts_file",
    "run_worker",
]

log = logging.getLogger(__name__)


def build_version() -> str:
    try:
        return version("followup-signals")
    except PackageNotFoundError:  # running from a source tree without an install
        return "0+unknown"


def load_rulebook_or_fail(settings: Settings) -> Rulebook:
    try:
        return load_rulebook(settings.rulebook)
    except (RulebookError, OSError) as exc:
        raise ConfigurationError(f"cannot use rulebook: {exc}") from exc


def load_sources_or_fail(settings: Settings) -> SourceSet:
    """The declared sources (`FOLLOWUP_SOURCES`), or none. Raises `ConfigurationError`."""
    if settings.sources is None:
        return SourceSet.empty()
    try:
        sources = load_sources(settings.sources)
    except SourcesError as exc:
        raise ConfigurationError(f"cannot use sources: {exc}") from exc
    builtin = set(Topics.from_settings(settings).all_created)
    clash = sorted(set(sources.topics) & builtin)
    if clash:
        raise ConfigurationError(
            f"{settings.sources}: source topics are built-in topics: {', '.join(clash)}"
        )
    return sources


async def prepare_topics(settings: Settings, sources: SourceSet | None = None) -> list[str]:
    """Wait for the broker and create the input, output and dead-letter topics if missing.

    Raises `ConfigurationError` at once for rejected credentials or an untrusted broker
    certificate, `BrokerError` when the broker stays unreachable (see `wait_for_broker`)."""
    await wait_for_broker(settings)
    declared = sources.topics if sources is not None else ()
    return await create_topics(
        settings,
        Topics.from_settings(settings, sources=declared).all_created,
        partitions=settings.partitions,
        replication_factor=settings.replication_factor,
    )


async def publish_contacts_file(settings: Settings) -> int:
    """Publish `FOLLOWUP_CONTACTS_FILE` (JSONL) to the contacts topic; return how many.

    Each line is one CRM contact. A line that is not a valid contact is logged with its line
    number (never its content) and skipped. Republishing the same file is harmless: the
    latest record per contact wins.
    """
    if settings.contacts_file is None:
        return 0
    records = []
    for number, line in enumerate(settings.contacts_file.read_bytes().splitlines(), 1):
        if not line.strip():
            continue
        contact = decode_contact(line, max_bytes=settings.max_message_bytes)
        if isinstance(contact, Rejected):
            log.error(
                "%s:%d: not a CRM contact (%s: %s); skipped",
                settings.contacts_file,
                number,
                contact.reason,
                contact.detail,
            )
            continue
        key = person_key(contact.person).encode()
        records.append(Record(settings.topic_crm_contacts, encode(contact), key=key))
    await produce(settings, records)
    log.info("published %d contacts from %s", len(records), settings.contacts_file)
    return len(records)


def run_worker(settings: Settings) -> None:
    """Block until the worker is stopped (SIGTERM/SIGINT). Raises `ConfigurationError`."""
    import faust

    from streams.app import create_app
    from streams.score_api import score_api_tokens
    from streams.sinks.run import install_sinks

    rulebook = load_rulebook_or_fail(settings)
    sources = load_sources_or_fail(settings)
    score_api_tokens(settings)  # an unreadable token file fails before the broker is touched
    created = asyncio.run(prepare_topics(settings, sources))
    if created:
        log.info("created topics: %s", ", ".join(created))
    asyncio.run(publish_contacts_file(settings))
    try:
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    except ImportError:  # uvloop is optional (not on Windows); asyncio's loop works too
        pass
    asyncio.set_event_loop(asyncio.new_event_loop())
    metrics = Metrics()
    metrics.set_build(build_version())
    metrics.set_rulebook(rulebook.version, rulebook.hash)
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    app = create_app(settings, rulebook=rulebook, metrics=metrics, sources=sources)
    install_sinks(app, settings, metrics.registry)
    worker = faust.Worker(app, loglevel=settings.log_level, quiet=True, redirect_stdouts=False)
    # Faust's progress spinner sets the root logger to DEBUG, so every debug call in faust and
    # aiokafka builds a record (some format message values) even when nothing prints it.
    worker.spinner = None
    worker.execute_from_commandline()
