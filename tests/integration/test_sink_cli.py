"""`followup sink` and `followup webhook-receiver` as processes: a window produced to the
topic is printed by the receiver, once, and the sink's /metrics counts the delivery."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from signals.codec import encode
from streams.broker import free_port
from streams.kafka_security import client_kwargs
from streams.local import settings_env, wait_until
from streams.worker import prepare_topics
from tests.sink_windows import sample_window

pytestmark = pytest.mark.integration


def _start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(
            [sys.executable, "-m", "streams.cli", *args],
            env={**os.environ, **env, "PYTHONUNBUFFERED": "1"},
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def test_the_sink_command_delivers_to_the_receiver_command(settings, tmp_path: Path):
    receiver_port, sink_port = free_port(), free_port()
    settings = settings.model_copy(
        update={
            "sink_webhook_urls": (f"http://127.0.0.1:{receiver_port}/",),
            "sink_port": sink_port,
        }
    )
    env = {**settings_env(settings), "FOLLOWUP_SINK_WEBHOOK_SECRET": "cli-secret"}
    receiver_log, sink_log = tmp_path / "receiver.log", tmp_path / "sink.log"
    receiver = _start(["webhook-receiver", "--port", str(receiver_port)], env, receiver_log)
    sink = _start(["sink"], env, sink_log)
    window = sample_window("w-cli")

    async def scenario() -> None:
        await prepare_topics(settings)
        producer = AIOKafkaProducer(**client_kwargs(settings))
        await producer.start()
        try:
            for _ in range(2):  # a redelivery: the receiver prints it once
                await producer.send_and_wait(
                    settings.topic_windows_opened, encode(window), key=b"k"
                )
        finally:
            await producer.stop()

        def delivered() -> bool:
            assert receiver.poll() is None and sink.poll() is None, sink_log.read_text()
            return "window w-cli" in receiver_log.read_text()

        await wait_until(delivered, timeout=90, what="the receiver printing the window")

        async def counted() -> bool:
            async with httpx.AsyncClient() as client:
                text = (await client.get(f"http://127.0.0.1:{sink_port}/metrics")).text
            return 'followup_sink_deliveries_total{outcome="delivered",sink="webhook"} 2.0' in text

        await wait_until(counted, timeout=30, what="two deliveries counted")

    try:
        asyncio.run(scenario())
        assert receiver_log.read_text().count("window w-cli") == 1
        assert "bad or missing signature" not in receiver_log.read_text()
    finally:
        for process in (sink, receiver):
            process.terminate()
        assert sink.wait(timeout=30) == 0, sink_log.read_text()
        receiver.wait(timeout=30)
