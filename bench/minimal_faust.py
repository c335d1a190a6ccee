"""The smallest useful Faust worker, as a baseline for `bench/pipeline.py`.

One agent reads raw bytes from the input topics one message at a time
(`async for value in stream`), decodes each with orjson and, in table mode, adds one to a
RocksDB-backed table per message (`table[key] += 1`: one store write and one changelog
record per message). It uses the settings the pipeline worker uses where they matter for
throughput: uvloop, at-least-once, rocksdb://, raw bytes in, short rebalance and session
timeouts for the embedded broker.

Run by the bench as its own process and configured from the environment (it is a bench
fixture, not product code):

    BENCH_BROKER       kafka://127.0.0.1:PORT
    BENCH_APP_ID       consumer group id and prefix of the changelog topic
    BENCH_TOPICS       comma-separated input topics
    BENCH_PARTITIONS   partitions of the table's changelog
    BENCH_DATADIR      directory for the RocksDB state
    BENCH_TABLE        "1" to count into the table, "0" to count in memory only
    BENCH_LOG_LEVEL    Faust worker log level (default info; see below)

It stops on SIGTERM like any Faust worker. The log level matters for speed: at "warn" or
above, faust.Worker installs its progress-spinner handler and sets the root logger to DEBUG,
so every `logger.debug` in faust and aiokafka builds a LogRecord.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

import faust
import orjson

__all__ = ["build_app", "main"]

_SESSION_SECONDS = 6.0


def build_app(
    *, broker: str, app_id: str, topics: list[str], partitions: int, datadir: str, table: bool
) -> faust.App:
    app = faust.App(
        app_id,
        broker=broker,
        store="rocksdb://",
        datadir=datadir,
        topic_partitions=partitions,
        processing_guarantee="at_least_once",
        broker_rebalance_timeout=_SESSION_SECONDS,
        broker_session_timeout=_SESSION_SECONDS,
        broker_heartbeat_interval=1.0,
        consumer_auto_offset_reset="earliest",
        web_enabled=False,
        # The table's keys and counts use the app's default (json); the topic is raw bytes.
        key_serializer="json",
        value_serializer="json",
    )
    source = app.topic(*topics, key_serializer="raw", value_serializer="raw")
    counts = (
        app.Table(
            "counts",
            default=int,
            key_type=str,
            value_type=int,
            partitions=partitions,
        )
        if table
        else None
    )
    seen: dict[str, int] = {}

    async def count(stream: Any) -> None:
        async for value in stream:
            data = orjson.loads(value)
            account = data.get("account") or {}
            key = account.get("domain") or data.get("type") or "-"
            if counts is not None:
                counts[key] += 1
            else:
                seen[key] = seen.get(key, 0) + 1

    app.agent(source, name="count")(count)
    return app


def main() -> None:
    env = os.environ
    app = build_app(
        broker=env["BENCH_BROKER"],
        app_id=env["BENCH_APP_ID"],
        topics=env["BENCH_TOPICS"].split(","),
        partitions=int(env.get("BENCH_PARTITIONS", "4")),
        datadir=env["BENCH_DATADIR"],
        table=env.get("BENCH_TABLE", "1") == "1",
    )
    try:
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    except ImportError:  # the pipeline worker falls back the same way
        pass
    asyncio.set_event_loop(asyncio.new_event_loop())
    loglevel = env.get("BENCH_LOG_LEVEL", "info")
    worker = faust.Worker(app, loglevel=loglevel, quiet=True, redirect_stdouts=False)
    worker.execute_from_commandline()


if __name__ == "__main__":
    main()
