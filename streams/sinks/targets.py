"""Where windows are delivered: a generic webhook, or a Slack incoming webhook.

A target turns the window as published (its raw bytes, and the decoded model) into the
body and headers of one attempt; `streams.sinks.delivery` does the sending. Built once at
start from settings (`targets_from_settings`).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

import orjson

from signals.windows import WindowOpened
from streams.errors import ConfigurationError
from streams.settings import Settings, secret_values
from streams.sinks.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from streams.sinks.slack import slack_message

__all__ = ["SlackTarget", "Target", "WebhookTarget", "targets_from_settings"]


@dataclass(frozen=True, slots=True)
class WebhookTarget:
    """JSON body = the window as published; `Idempotency-Key: <window_id>`; signed."""

    url: str
    secret: bytes | None
    kind: str = "webhook"

    @property
    def label(self) -> str:
        """For logs: scheme, host and port only (a path or query may carry a token)."""
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.netloc}"

    def build(self, raw: bytes, window: WindowOpened, now: float) -> tuple[bytes, dict[str, str]]:
        timestamp = str(int(now))
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": window.window_id,
            TIMESTAMP_HEADER: timestamp,
            "User-Agent": "followup-signals-sink",
        }
        if self.secret is not None:
            headers[SIGNATURE_HEADER] = sign(self.secret, timestamp, raw)
        return raw, headers


@dataclass(frozen=True, slots=True)
class SlackTarget:
    """A readable Slack message (blocks), posted to an incoming-webhook URL."""

    url: str
    kind: str = "slack"

    @property
    def label(self) -> str:
        return "slack"  # the URL is the credential

    def build(self, raw: bytes, window: WindowOpened, now: float) -> tuple[bytes, dict[str, str]]:
        return orjson.dumps(slack_message(window)), {"Content-Type": "application/json"}


Target = WebhookTarget | SlackTarget


def targets_from_settings(settings: Settings) -> list[Target]:
    """Every configured target. Raises `ConfigurationError` for a webhook without a secret
    (receivers could not tell our deliveries from anyone's) or an unreadable secret file."""
    targets: list[Target] = []
    if settings.sink_webhook_urls:
        try:
            secrets = secret_values(settings.sink_webhook_secret, settings.sink_webhook_secret_file)
        except OSError as exc:
            raise ConfigurationError(f"cannot read the webhook secret file: {exc}") from exc
        if not secrets:
            raise ConfigurationError(
                "webhook sinks need FOLLOWUP_SINK_WEBHOOK_SECRET or _SECRET_FILE (to sign)"
            )
        for url in settings.sink_webhook_urls:
            if urlsplit(url).scheme not in ("http", "https"):
                raise ConfigurationError("FOLLOWUP_SINK_WEBHOOK_URLS: http(s) URLs only")
            targets.append(WebhookTarget(url, secrets[0].encode()))
    if settings.sink_slack_webhook_url is not None:
        targets.append(SlackTarget(settings.sink_slack_webhook_url.get_secret_value()))
    return targets
