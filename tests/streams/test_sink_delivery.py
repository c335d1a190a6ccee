"""Webhook delivery against a local server that fails on purpose: retries, Retry-After,
timeouts, permanent refusals; the signature recipe; the Slack message. No broker."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from zoneinfo import ZoneInfo

import httpx
import orjson
import pytest

from signals.codec import encode
from signals.windows import WindowOpened
from streams.settings import Settings
from streams.sinks.delivery import Outcome, Policy, backoff_delay, deliver, retry_after_seconds
from streams.sinks.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign, verify
from streams.sinks.slack import slack_message
from streams.sinks.targets import SlackTarget, WebhookTarget, targets_from_settings
from tests.http_receivers import FlakyReceiver, always, fail_then_ok
from tests.sink_windows import sample_window

SECRET = b"s3cret"


async def _deliver(script, policy: Policy, window: WindowOpened | None = None):
    window = window or sample_window("w-1")
    receiver = FlakyReceiver(script)
    url = await receiver.start()
    delays: list[float] = []

    async def sleep(seconds: float) -> None:  # recorded, not waited: the test moves time
        delays.append(seconds)

    target = WebhookTarget(url, SECRET)
    raw = encode(window)
    try:
        async with httpx.AsyncClient() as client:
            outcome = await deliver(
                client,
                url,
                lambda now: target.build(raw, window, now),
                policy,
                clock=lambda: 1_700_000_000.0,
                sleep=sleep,
                rand=lambda: 1.0,
            )
    finally:
        await receiver.stop()
    return outcome, receiver, delays


def test_500_twice_then_200_is_delivered_on_the_third_attempt() -> None:
    outcome, receiver, delays = asyncio.run(_deliver(fail_then_ok(2), Policy(attempts=5)))
    assert outcome == Outcome(True, 3, "200", ("5xx", "5xx"), outcome.seconds)
    assert delays == [0.5, 1.0]  # full jitter at its top (rand=1): base, then doubled
    assert list(receiver.accepted) == ["w-1"]
    headers, body = receiver.requests[-1]
    assert headers["Idempotency-Key"] == "w-1"
    assert verify(
        SECRET, headers[TIMESTAMP_HEADER], body, headers[SIGNATURE_HEADER], now=1_700_000_000.0
    )
    assert WindowOpened.model_validate_json(body).window_id == "w-1"  # the window as published


def test_429_waits_as_long_as_retry_after_says() -> None:
    script = lambda key, attempt: (429, {"Retry-After": "7"}) if attempt == 1 else (200, {})  # noqa: E731
    outcome, _, delays = asyncio.run(_deliver(script, Policy(attempts=3)))
    assert outcome.delivered and outcome.failures == ("4xx",)
    assert delays == [7.0]


def test_a_receiver_that_hangs_times_out_and_is_retried() -> None:
    script = lambda key, attempt: "hang" if attempt == 1 else (200, {})  # noqa: E731
    outcome, _, _ = asyncio.run(_deliver(script, Policy(attempts=3, timeout=0.3)))
    assert outcome.delivered and outcome.failures == ("timeout",) and outcome.attempts == 2


def test_after_the_last_attempt_the_outcome_is_final_with_the_last_status() -> None:
    outcome, receiver, delays = asyncio.run(_deliver(always(503), Policy(attempts=4)))
    assert not outcome.delivered and outcome.status == "503" and outcome.attempts == 4
    assert len(delays) == 3 and receiver.attempts["w-1"] == 4


def test_a_refusal_is_not_retried() -> None:
    outcome, receiver, delays = asyncio.run(_deliver(always(410), Policy(attempts=4)))
    assert not outcome.delivered and outcome.status == "410" and outcome.attempts == 1
    assert delays == [] and receiver.attempts["w-1"] == 1


def test_a_connection_refused_is_retried_then_final() -> None:
    async def run() -> Outcome:
        async with httpx.AsyncClient() as client:
            return await deliver(
                client,
                "http://127.0.0.1:9/hook",  # discard port: nothing listens
                lambda now: (b"{}", {}),
                Policy(attempts=2, timeout=1.0),
                sleep=lambda s: asyncio.sleep(0),
            )

    outcome = asyncio.run(run())
    assert outcome.status == "connect_error" and outcome.failures == ("connect", "connect")


def test_backoff_grows_to_its_cap_with_full_jitter() -> None:
    policy = Policy(backoff=0.5, backoff_max=4.0)
    assert [backoff_delay(n, policy, lambda: 1.0) for n in range(1, 6)] == [0.5, 1, 2, 4, 4]
    assert backoff_delay(3, policy, lambda: 0.25) == 0.5


def test_retry_after_reads_seconds_and_http_dates() -> None:
    now = datetime(2024, 5, 14, 12, 0, tzinfo=UTC)
    later = format_datetime(now + timedelta(seconds=30), usegmt=True)
    assert retry_after_seconds("12", now=now.timestamp()) == 12.0
    assert retry_after_seconds(later, now=now.timestamp()) == pytest.approx(30.0)
    assert retry_after_seconds("soon", now=now.timestamp()) is None
    assert retry_after_seconds(None, now=0) is None


def test_the_signature_recipe_rejects_tampering_and_replays() -> None:
    body = b'{"window_id": "w-1"}'
    signature = sign(SECRET, "1700000000", body)
    assert verify(SECRET, "1700000000", body, signature, now=1_700_000_100)
    assert not verify(SECRET, "1700000000", body + b" ", signature, now=1_700_000_100)
    assert not verify(b"other", "1700000000", body, signature, now=1_700_000_100)
    assert not verify(SECRET, "1700000000", body, signature, now=1_700_001_000)  # too old
    assert not verify(SECRET, "yesterday", body, signature, now=1_700_000_000)


def _texts(node: object) -> list[str]:
    if isinstance(node, dict):
        return [t for v in node.values() for t in _texts(v)]
    if isinstance(node, list):
        return [t for v in node for t in _texts(v)]
    return [node] if isinstance(node, str) else []


def test_the_slack_message_says_who_where_what_why_and_when_in_their_zone() -> None:
    window = sample_window("w-9")
    message = slack_message(window)
    text = "\n".join(_texts(message["blocks"]))
    assert window.person.name and window.person.name in message["text"]
    assert "Why now" in text and window.draft.why_now[:20] in text
    assert window.draft.talking_points
    for point in window.draft.talking_points:
        assert point[:20] in text
    assert window.draft.timezone in text
    local = window.draft.send_at.astimezone(ZoneInfo(window.draft.timezone))
    assert f"{local:%H:%M}" in text
    assert message["blocks"][0]["type"] == "header"
    hostile = window.model_copy(
        update={"person": window.person.model_copy(update={"name": "<!channel> & co"})}
    )
    assert "<!channel>" not in orjson.dumps(slack_message(hostile)["blocks"][1:]).decode()


def test_targets_come_from_settings_and_a_webhook_needs_a_secret(tmp_path) -> None:
    from streams.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="SECRET"):
        targets_from_settings(Settings(sink_webhook_urls=("http://127.0.0.1:1/x",)))
    secret = tmp_path / "secret"
    secret.write_text("from-file\n")
    targets = targets_from_settings(
        Settings(
            sink_webhook_urls=("http://127.0.0.1:1/x?token=abc",),
            sink_webhook_secret_file=secret,
            sink_slack_webhook_url="https://hooks.slack.example/services/T/B/X",
        )
    )
    assert targets[0] == WebhookTarget("http://127.0.0.1:1/x?token=abc", b"from-file")
    assert targets[0].label == "http://127.0.0.1:1"  # the token stays out of logs
    assert isinstance(targets[1], SlackTarget) and targets[1].label == "slack"


def test_the_readme_verification_recipe_accepts_our_signature() -> None:
    """The copy-paste snippet in the README, run as a receiver would run it."""
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("### Verifying the webhook signature", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    assert code is not None
    namespace: dict[str, object] = {}
    exec(code.group(1), namespace)  # the README's own code, nothing else
    check = namespace["followup_signature_ok"]
    window = sample_window("w-readme")
    raw = encode(window)
    import time

    body, headers = WebhookTarget("http://x", SECRET).build(raw, window, time.time())
    assert check(SECRET, headers, body)  # type: ignore[operator]
    assert not check(SECRET, headers, body + b"x")  # type: ignore[operator]
    assert not check(b"wrong", headers, body)  # type: ignore[operator]
