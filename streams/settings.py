"""The one settings object, read from `FOLLOWUP_*` environment variables at the edge.

Nothing below the CLI reads the environment: `Settings` is built once and passed in.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["DEFAULT_RULEBOOK", "Settings"]

DEFAULT_RULEBOOK = Path(__file__).resolve().parent.parent / "rules" / "examples" / "b2b_saas.yaml"


class Settings(BaseSettings):
    """Worker settings. Every field maps to `FOLLOWUP_<FIELD NAME IN CAPITALS>`."""

    model_config = SettingsConfigDict(env_prefix="FOLLOWUP_", extra="ignore", frozen=True)

    broker_url: str = Field(
        default="kafka://127.0.0.1:9092",
        description="Kafka bootstrap servers, `kafka://host:port[;host:port]`.",
    )
    broker_username: str | None = None
    broker_password: SecretStr | None = None
    broker_security: Literal["plaintext", "ssl", "sasl_plaintext", "sasl_ssl"] = "plaintext"
    app_id: str = Field(
        default="followup-signals",
        description="Consumer group id and prefix of Faust's internal topics.",
    )
    rulebook: Path = DEFAULT_RULEBOOK
    state_dir: Path = Path(".followup-state")
    store: Literal["rocksdb", "memory"] = "rocksdb"
    web_host: str = "127.0.0.1"
    web_port: int = Field(default=6066, ge=0, le=65535)

    topic_email_opened: str = "signals.email-opened"
    topic_page_visited: str = "signals.page-visited"
    topic_job_changed: str = "signals.job-changed"
    topic_funding_announced: str = "signals.funding-announced"
    topic_crm_contacts: str = Field(
        default="crm.contacts",
        description="CRM contacts and their roles (champion, customer_contact), compacted.",
    )
    contacts_file: Path | None = Field(
        default=None,
        description="JSONL of CRM contacts published to the contacts topic at start.",
    )
    topic_outreach_activity: str = Field(
        default="outreach.activity",
        description="What outreach tools did: touches, replies, opt-outs, meetings.",
    )
    topic_windows_opened: str = "followup.windows-opened"
    topic_windows_closed: str = "followup.windows-closed"
    topic_keyed: str = Field(
        default="followup.signals-by-account",
        description="Internal topic: validated signals re-keyed by account.",
    )
    dead_letter_suffix: str = ".dlq"

    partitions: int = Field(default=4, ge=1, le=1024)
    replication_factor: int = Field(default=1, ge=1)
    max_message_bytes: int = Field(default=1_000_000, ge=1024)
    batch_size: int = Field(default=500, ge=1, le=10_000)
    batch_seconds: float = Field(default=0.05, gt=0, le=10)
    fetch_max_wait_ms: int = Field(
        default=100,
        ge=1,
        le=10_000,
        description=(
            "Longest a fetch waits for data; Faust fixes 1,500 ms, which brokers without "
            "long-poll wake-up (the embedded one) add to every hop of a signal."
        ),
    )
    commit_interval_seconds: float = Field(
        default=2.8, gt=0, description="How often consumed offsets are committed."
    )
    rebalance_timeout_seconds: float = Field(default=6.0, gt=0)
    session_timeout_seconds: float = Field(default=6.0, gt=0)
    clock: Literal["wall", "event"] = Field(
        default="wall",
        description=(
            "wall: windows are stamped and expire by the wall clock. event: by the event time "
            "of the records on each partition, for backfills and simulations of history."
        ),
    )
    max_future_skew_seconds: float = Field(
        default=300.0,
        ge=0,
        description=(
            "An event dated further than this ahead of the clock is dead-lettered as "
            "future_event: one event from 2099 must not move a person's watermark."
        ),
    )
    expiry_sweep_seconds: float = Field(
        default=60.0, gt=0, description="How often each partition closes windows past expiry."
    )
    log_level: Literal["debug", "info", "warn", "error", "crit"] = "info"

    @field_validator("broker_url")
    @classmethod
    def _has_scheme(cls, value: str) -> str:
        return value if "://" in value else f"kafka://{value}"

    @property
    def bootstrap_servers(self) -> str:
        """`host:port,host:port` for plain Kafka clients (aiokafka)."""
        return ",".join(
            part.split("://", 1)[-1] for part in self.broker_url.replace(",", ";").split(";")
        )
