"""The one settings object, read from `FOLLOWUP_*` environment variables at the edge.

Nothing below the CLI reads the environment: `Settings` is built once and passed in.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

__all__ = ["DEFAULT_RULEBOOK", "SECRET_FIELDS", "Settings", "env_name", "secret_values"]

#: Settings whose values are secrets: never logged, never in reprs or exported environments.
SECRET_FIELDS = frozenset(
    {
        "broker_password",
        "broker_key_password",
        "suppression_salt",
        "ingest_token",
        "sink_webhook_secret",
        "sink_slack_webhook_url",
        "score_api_token",
    }
)


def env_name(field: str) -> str:
    """The environment variable of a settings field, as error messages name it."""
    return f"FOLLOWUP_{field.upper()}"


def _comma_list(value: Any) -> Any:
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    return value


_CommaList = Annotated[tuple[str, ...], NoDecode, BeforeValidator(_comma_list)]

DEFAULT_RULEBOOK = Path(__file__).resolve().parent.parent / "rules" / "examples" / "b2b_saas.yaml"


class Settings(BaseSettings):
    """Worker settings. Every field maps to `FOLLOWUP_<FIELD NAME IN CAPITALS>`."""

    # Errors never echo input values: a model-level error would print every setting given,
    # passwords included.
    model_config = SettingsConfigDict(
        env_prefix="FOLLOWUP_", extra="ignore", frozen=True, hide_input_in_errors=True
    )

    broker_url: str = Field(
        default="kafka://127.0.0.1:9092",
        description="Kafka bootstrap servers, `kafka://host:port[;host:port]`.",
    )
    broker_security: Literal["plaintext", "ssl", "sasl_plaintext", "sasl_ssl"] = Field(
        default="plaintext", description="How clients talk to the broker: TLS, SASL, both."
    )
    broker_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = Field(
        default="PLAIN", description="SASL mechanism for `sasl_plaintext` and `sasl_ssl`."
    )
    broker_username: str | None = None
    broker_password: SecretStr | None = None
    broker_password_file: Path | None = Field(
        default=None,
        description="File holding the SASL password (a mounted Kubernetes secret); read when "
        "clients are built, so a rotated secret is picked up by the next start.",
    )
    broker_ca_file: Path | None = Field(
        default=None, description="PEM CA bundle that signs the broker's certificate."
    )
    broker_cert_file: Path | None = Field(
        default=None, description="PEM client certificate for mutual TLS."
    )
    broker_key_file: Path | None = Field(
        default=None, description="PEM private key of the client certificate."
    )
    broker_key_password: SecretStr | None = None
    broker_check_hostname: bool = Field(
        default=True,
        description="Check that the broker's certificate names the host connected to. The "
        "certificate chain is verified either way.",
    )
    broker_wait_seconds: float = Field(
        default=30.0,
        gt=0,
        description="How long start-up retries an unreachable broker before giving up.",
    )
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
    stall_after_seconds: float = Field(
        default=60.0,
        ge=0,
        description=(
            "A keyed partition with lag whose committed offset has not moved for this long "
            "makes the worker rejoin its group (streams.watchdog); 0 turns the watchdog off."
        ),
    )
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
    topic_suppressions: str = Field(
        default="followup.suppressions",
        description="Person-level opt-outs, bounces and replies (salted keys), compacted.",
    )
    topic_erasure: str = Field(
        default="privacy.erasure",
        description="Erasure requests, keyed by person key, compacted (`followup forget`).",
    )
    topic_erasure_done: str = Field(
        default="privacy.erasure.done",
        description="Erasure receipts, keyed by request id: no personal data.",
    )
    suppression_salt: SecretStr = Field(
        default=SecretStr("followup-signals"),
        description=(
            "Salt of the suppression keys (a keyed hash of the person key). Set it once per "
            "deployment and never change it: a new salt forgets every opt-out."
        ),
    )
    state_memo_bytes: int = Field(
        default=128 * 1024 * 1024,
        ge=0,
        description="Decoded states kept across frames, least recently used out (estimate).",
    )
    rocksdb_block_cache_bytes: int = Field(
        default=64 * 1024 * 1024,
        ge=1024 * 1024,
        description="One RocksDB block cache shared by every table partition of the worker.",
    )
    rocksdb_write_buffer_bytes: int = Field(
        default=4 * 1024 * 1024,
        ge=64 * 1024,
        description="RocksDB write buffer (memtable) per table partition; two are kept.",
    )
    rocksdb_compression: Literal["snappy", "lz4", "zstd", "none"] = Field(
        default="snappy",
        description="Compression of the RocksDB table files (none: what is on disk is greppable).",
    )
    producer_linger_ms: int = Field(
        default=0,
        ge=0,
        le=1000,
        description=(
            "How long the output producer waits to fill a batch. Every send is awaited at once,"
            " so waiting only adds latency; records queued together still share batches."
        ),
    )
    producer_batch_bytes: int = Field(
        default=512 * 1024,
        ge=16 * 1024,
        description="The output producer's batch size per partition (aiokafka's max_batch_size).",
    )
    log_level: Literal["debug", "info", "warn", "error", "crit"] = "info"

    # -- declared foreign sources, HTTP ingest and sinks (issue 9) ---------------------------
    sources: Path | None = Field(
        default=None,
        description="YAML file declaring extra input topics (Segment, RudderStack, CloudEvents).",
    )
    ingest_host: str = "127.0.0.1"
    ingest_port: int = Field(default=6067, ge=0, le=65535)
    ingest_token: SecretStr | None = Field(
        default=None, description="Bearer token for `followup ingest` (comma-separated: several)."
    )
    ingest_token_file: Path | None = Field(
        default=None, description="File with one ingest bearer token per line."
    )
    ingest_max_body_bytes: int = Field(default=5_000_000, ge=1024)
    sink_webhook_urls: _CommaList = Field(
        default=(), description="Webhook endpoints windows are delivered to (comma-separated)."
    )
    sink_webhook_secret: SecretStr | None = Field(
        default=None, description="Shared secret of the webhook signature (HMAC-SHA256)."
    )
    sink_webhook_secret_file: Path | None = None
    sink_slack_webhook_url: SecretStr | None = Field(
        default=None, description="Slack incoming-webhook URL (a secret: it carries the token)."
    )
    sink_timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    sink_max_attempts: int = Field(default=6, ge=1, le=50)
    sink_backoff_seconds: float = Field(
        default=0.5, gt=0, description="First retry delay; doubles per attempt, with jitter."
    )
    sink_backoff_max_seconds: float = Field(default=60.0, gt=0)
    sink_skip_expired: bool = Field(
        default=True, description="Do not deliver windows already past their expiry."
    )
    sink_in_worker: bool = Field(
        default=False, description="Also run the configured sinks inside `followup run`."
    )
    sink_port: int = Field(
        default=6068, ge=0, le=65535, description="/metrics and /health of `followup sink`."
    )
    score_api_token: SecretStr | None = Field(
        default=None,
        description="Bearer token of the score API on the worker's web port (comma-separated: "
        "several); unset (and no file): the API is off.",
    )
    score_api_token_file: Path | None = Field(
        default=None, description="File with one score API bearer token per line."
    )

    @field_validator("broker_url")
    @classmethod
    def _has_scheme(cls, value: str) -> str:
        return value if "://" in value else f"kafka://{value}"

    @model_validator(mode="after")
    def _security_is_coherent(self) -> Settings:
        """Refuse combinations that would connect differently than the operator meant,
        e.g. credentials set while the protocol sends none. Files are read later, when
        clients are built (`streams.kafka_security`)."""
        protocol = self.broker_security
        sasl, tls = protocol.startswith("sasl_"), protocol in ("ssl", "sasl_ssl")
        security = f"{env_name('broker_security')}={protocol}"
        if sasl and not self.broker_username:
            raise ValueError(f"{env_name('broker_username')} is required with {security}")
        if self.broker_password is not None and self.broker_password_file is not None:
            raise ValueError(
                f"set {env_name('broker_password')} or {env_name('broker_password_file')}, not both"
            )
        if sasl and self.broker_password is None and self.broker_password_file is None:
            raise ValueError(
                f"{env_name('broker_password')} or {env_name('broker_password_file')} is "
                f"required with {security}"
            )
        unused = (
            []
            if sasl
            else [
                (field, "sends no credentials (use sasl_plaintext or sasl_ssl)")
                for field in ("broker_username", "broker_password", "broker_password_file")
            ]
        )
        if not tls:
            unused += [
                (field, "does not use TLS (use ssl or sasl_ssl)")
                for field in ("broker_ca_file", "broker_cert_file", "broker_key_file")
            ]
        for field, why in unused:
            if getattr(self, field) is not None:
                raise ValueError(f"{env_name(field)} is set but {security} {why}")
        for field in ("broker_key_file", "broker_key_password"):
            if getattr(self, field) is not None and self.broker_cert_file is None:
                raise ValueError(f"{env_name(field)} needs {env_name('broker_cert_file')}")
        return self

    @property
    def sink_group(self) -> str:
        """The sinks' consumer group: separate, so delivery never slows scoring."""
        return f"{self.app_id}-sinks"

    @property
    def bootstrap_servers(self) -> str:
        """`host:port,host:port` for plain Kafka clients (aiokafka)."""
        return ",".join(
            part.split("://", 1)[-1] for part in self.broker_url.replace(",", ";").split(";")
        )


def secret_values(inline: SecretStr | None, file: Path | None) -> tuple[str, ...]:
    """The secrets a setting names: comma-separated inline, plus one per line of `file`.

    Read at the edge (start-up). Raises OSError when the file cannot be read.
    """
    values: list[str] = []
    if inline is not None:
        values += [v.strip() for v in inline.get_secret_value().split(",") if v.strip()]
    if file is not None:
        text = file.read_text(encoding="utf-8")
        values += [line.strip() for line in text.splitlines() if line.strip()]
    return tuple(values)
