"""Checked sends: every record acknowledged, failures retried, nothing skipped."""

from __future__ import annotations

import asyncio
from typing import Any

from aiokafka.errors import KafkaTimeoutError, MessageSizeTooLargeError

from streams.delivery import Out, Sender
from streams.health import Health


class FlakyProducer:
    """Fails the sends listed by position (0-based, counting every attempt)."""

    def __init__(self, fail_at: set[int], too_large: set[bytes] = frozenset()) -> None:  # type: ignore[assignment]
        self.fail_at = fail_at
        self.too_large = too_large
        self.attempts = 0
        self.written: list[tuple[str, bytes | None]] = []

    async def send(self, topic: str, value: bytes | None, **kwargs: Any) -> asyncio.Future[Any]:
        n = self.attempts
        self.attempts += 1
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        if value in self.too_large:
            future.set_exception(MessageSizeTooLargeError())
        elif n in self.fail_at:
            future.set_exception(KafkaTimeoutError())
        else:
            self.written.append((topic, value))
            future.set_result(("metadata", n))
        return future


def _sender(producer: FlakyProducer, health: Health, failures: list[str]) -> Sender:
    return Sender(
        lambda: producer,
        health=health,
        component="score",
        max_bytes=10_000,
        dead_letter_suffix=".dlq",
        on_failure=lambda topic, error: failures.append(f"{topic}:{error}"),
        backoff=(0.001, 0.002),
    )


def test_a_failed_send_is_retried_until_acknowledged_and_none_is_skipped() -> None:
    producer, health, failures = FlakyProducer({1, 3, 4}), Health(), []
    records = [Out("w", None, b"a"), Out("w", None, b"b"), Out("w", None, b"c")]
    results = asyncio.run(_sender(producer, health, failures).deliver(records))
    assert sorted(v for _, v in producer.written) == [b"a", b"b", b"c"]
    assert all(r is not None for r in results)
    assert failures == ["w:KafkaTimeoutError"] * 3
    assert health.ok  # blocked while retrying, clear once delivered


def test_readiness_is_blocked_while_sends_keep_failing() -> None:
    producer, health, failures = FlakyProducer(set(range(1000))), Health(), []
    sender = _sender(producer, health, failures)

    async def run() -> None:
        task = asyncio.ensure_future(sender.deliver([Out("w", None, b"a")]))
        await asyncio.sleep(0.05)
        assert not task.done() and not health.ok
        assert "produce failing" in health.blocked["score"]
        producer.fail_at = set()  # the broker is back
        await asyncio.wait_for(task, 5)

    asyncio.run(run())
    assert health.ok and producer.written == [("w", b"a")]


def test_an_output_too_large_becomes_a_dead_letter_instead_of_blocking() -> None:
    big = b"x" * 20_000
    producer, health, failures = FlakyProducer(set(), too_large={big}), Health(), []
    asyncio.run(
        _sender(producer, health, failures).deliver([Out("w", None, big), Out("w", None, b"ok")])
    )
    topics = [t for t, _ in producer.written]
    assert topics.count("w.dlq") == 1 and ("w", b"ok") in producer.written
    letter = next(v for t, v in producer.written if t == "w.dlq")
    assert letter is not None and len(letter) < 10_000 and big.startswith(letter)
    assert "w:MessageSizeTooLargeError" in failures
