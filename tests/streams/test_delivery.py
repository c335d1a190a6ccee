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


class FakeBatch:
    """aiokafka's BatchBuilder as the sender uses it: `append` answers the record's offset
    in the batch, or None once `room` records are in (a first record always fits)."""

    def __init__(self, room: int) -> None:
        self.room = room
        self.records: list[bytes | None] = []
        self.closed = False

    def close(self) -> None:
        self.closed = True

    def append(self, *, key: bytes | None, value: bytes | None, **_: Any) -> Any:
        if self.records and len(self.records) >= self.room:
            return None
        self.records.append(value)

        class Added:
            offset = len(self.records) - 1

        return Added


class BatchingProducer(FlakyProducer):
    """Batches fail by position too (0-based over batch attempts); a partition's log
    gives each record of an acknowledged batch the next offsets."""

    def __init__(self, fail_batches: set[int], room: int = 100, too_big: int = 10**9) -> None:
        super().__init__(set())
        self.fail_batches = fail_batches
        self.room = room
        self.too_big = too_big  # batches of more records than this are over the limit
        self.batch_attempts = 0
        self.logs: dict[tuple[str, int], list[bytes | None]] = {}

    def create_batch(self) -> FakeBatch:
        return FakeBatch(self.room)

    async def send_batch(self, batch: FakeBatch, topic: str, *, partition: int) -> Any:
        n = self.batch_attempts
        self.batch_attempts += 1
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        log = self.logs.setdefault((topic, partition), [])
        assert batch.closed  # or it would linger
        if len(batch.records) > self.too_big:
            future.set_exception(MessageSizeTooLargeError())
        elif n in self.fail_batches:
            future.set_exception(KafkaTimeoutError())
        else:

            class Acked:
                offset = len(log)

            Acked.topic, Acked.partition = topic, partition  # type: ignore[attr-defined]
            log.extend(batch.records)
            future.set_result(Acked)
        return future


def _changelog(n: int, partitions: int = 2) -> list[Out]:
    return [
        Out("t-changelog", f"k{i}".encode(), f"v{i}".encode(), i % partitions) for i in range(n)
    ]


def test_records_for_a_partition_go_in_batches_with_each_offset_reported() -> None:
    producer, health, failures = BatchingProducer(set(), room=3), Health(), []
    records = _changelog(10)
    results = asyncio.run(_sender(producer, health, failures).deliver(records))
    assert producer.batch_attempts == 4  # 5 records per partition, 3 to a batch
    assert producer.attempts == 0  # nothing sent one by one
    for out, acked in zip(records, results, strict=True):
        assert producer.logs[("t-changelog", out.partition)][acked.offset] == out.value
    assert producer.logs[("t-changelog", 0)] == [f"v{i}".encode() for i in range(0, 10, 2)]


def test_a_failed_batch_is_retried_whole_and_no_record_is_skipped() -> None:
    producer, health, failures = BatchingProducer({0, 2}, room=2), Health(), []
    records = _changelog(6)
    results = asyncio.run(_sender(producer, health, failures).deliver(records))
    written = sorted(v for log in producer.logs.values() for v in log)  # type: ignore[type-var]
    assert written == sorted(out.value for out in records)  # type: ignore[type-var]
    assert len(failures) == 2 and health.ok
    for out, acked in zip(records, results, strict=True):
        assert producer.logs[("t-changelog", out.partition)][acked.offset] == out.value


def test_a_batch_over_the_broker_limit_is_resent_record_by_record() -> None:
    producer, health, failures = BatchingProducer(set(), too_big=1), Health(), []
    records = [*_changelog(3, partitions=1), Out("w", None, b"alone")]
    results = asyncio.run(_sender(producer, health, failures).deliver(records))
    assert producer.logs == {("t-changelog", 0): []}  # the one batch was refused
    assert sorted(v for _, v in producer.written) == [b"alone", b"v0", b"v1", b"v2"]
    assert all(r is not None for r in results) and health.ok
