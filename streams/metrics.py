"""Every Prometheus metric the worker exports, in one place.

Built with an injectable registry so tests get a fresh one. Names follow Prometheus
conventions: one prefix (`followup_`), base units (`_seconds`), `_total` on counters.
Labels are bounded (topic, partition, signal type, reason, play, table); no label ever
carries a person, an email address or an account.

The agents do not touch these objects directly for their per-batch numbers: they return a
plain `BatchStats` and `Metrics.record_batch` maps it onto the metrics.
"""

from __future__ import annotations

import platform
from collections import Counter as _Tally
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info

__all__ = ["PREFIX", "BatchStats", "IngestMetrics", "Metrics", "SinkMetrics"]

PREFIX = "followup"

# Scoring one signal is sub-millisecond; a window's latency from event time spans seconds
# for live traffic and much longer for replays of history.
_SCORING_BUCKETS = (0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05)
_LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 3600.0)
# One webhook delivery, retries included: tens of milliseconds to minutes of backoff.
_DELIVERY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 120.0, 600.0)


@dataclass(slots=True)
class BatchStats:
    """What one batch did, as plain numbers; filled by the agents, read by `record_batch`."""

    consumed: _Tally[tuple[str, str]] = field(default_factory=_Tally)  # (topic, signal type)
    dead_lettered: _Tally[tuple[str, str]] = field(default_factory=_Tally)  # (topic, reason)
    unmapped: _Tally[tuple[str, str]] = field(default_factory=_Tally)  # (topic, reason)
    duplicates: _Tally[str] = field(default_factory=_Tally)  # signal type
    windows: _Tally[str] = field(default_factory=_Tally)  # play
    suppressed: _Tally[str] = field(default_factory=_Tally)  # reason
    closed: _Tally[str] = field(default_factory=_Tally)  # reason
    outcomes: _Tally[tuple[str, str]] = field(default_factory=_Tally)  # (play, outcome)
    scoring_seconds: list[float] = field(default_factory=list)
    window_latency_seconds: list[float] = field(default_factory=list)
    last_event_time: float | None = None  # unix seconds, event time of the newest signal
    erased_keys: int = 0  # state keys an erasure removed on this partition
    erasures_done: int = 0  # erasure requests whose receipt this batch published


class Metrics:
    """The worker's metrics. One instance per worker process."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        p = PREFIX
        self.events_consumed = Counter(
            f"{p}_events_consumed_total",
            "Signals read from input topics.",
            ["topic", "signal_type"],
            registry=r,
        )
        self.events_dead_lettered = Counter(
            f"{p}_events_dead_lettered_total",
            "Records routed to a dead-letter topic, by reason.",
            ["topic", "reason"],
            registry=r,
        )
        self.events_unmapped = Counter(
            f"{p}_events_unmapped_total",
            "Events of a declared source that its mapping does not cover, dropped by rule.",
            ["topic", "reason"],
            registry=r,
        )
        self.events_duplicate = Counter(
            f"{p}_events_duplicate_total",
            "Signals skipped because their event_id was already applied.",
            ["signal_type"],
            registry=r,
        )
        self.erased_keys = Counter(
            f"{p}_erased_keys_total",
            "State keys removed by erasure requests (privacy.erasure), every table.",
            registry=r,
        )
        self.erasures_completed = Counter(
            f"{p}_erasures_completed_total",
            "Erasure requests finished on every partition, their receipt published.",
            registry=r,
        )
        self.windows_opened = Counter(
            f"{p}_windows_opened_total", "Follow-up windows opened.", ["play"], registry=r
        )
        self.windows_suppressed = Counter(
            f"{p}_windows_suppressed_total",
            "Evaluations that did not open a window, by reason.",
            ["reason"],
            registry=r,
        )
        self.windows_closed = Counter(
            f"{p}_windows_closed_total",
            "Follow-up windows closed (touched, expired, replied, opted_out).",
            ["reason"],
            registry=r,
        )
        self.play_outcomes = Counter(
            f"{p}_play_outcomes_total",
            "What outreach tools reported, by the play it answers: touches, replies, meetings.",
            ["play", "outcome"],
            registry=r,
        )
        self.rulebook_reload_failures = Counter(
            f"{p}_rulebook_reload_failures_total",
            "Rulebook reloads rejected (invalid file); the running rulebook was kept.",
            registry=r,
        )
        self.scoring_seconds = Histogram(
            f"{p}_scoring_seconds",
            "Time to score one signal in the pure core.",
            buckets=_SCORING_BUCKETS,
            registry=r,
        )
        self.signal_to_window_seconds = Histogram(
            f"{p}_signal_to_window_seconds",
            "From the triggering signal's event time to the window's publication.",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.consumer_lag = Gauge(
            f"{p}_consumer_lag_messages",
            "End offset minus committed offset, per assigned partition.",
            ["topic", "partition"],
            registry=r,
        )
        self.last_event_timestamp = Gauge(
            f"{p}_last_event_timestamp_seconds",
            "Event time (unix seconds) of the newest signal processed.",
            registry=r,
        )
        self.last_processed_timestamp = Gauge(
            f"{p}_last_processed_timestamp_seconds",
            "Wall-clock time (unix seconds) the worker last processed a batch.",
            registry=r,
        )
        self.table_keys = Gauge(
            f"{p}_table_keys", "Keys held locally per table.", ["table"], registry=r
        )
        self.rebalances = Counter(
            f"{p}_rebalances_total", "Consumer group rebalances seen.", registry=r
        )
        self.recoveries = Counter(
            f"{p}_table_recoveries_total",
            "Table recoveries from changelog completed.",
            registry=r,
        )
        self.partition_stalls = Counter(
            f"{p}_partition_stalls_total",
            "Assigned partitions found with lag and no commit progress; each makes the "
            "worker rejoin its consumer group (streams.watchdog).",
            ["topic"],
            registry=r,
        )
        self.frames_refilled = Counter(
            f"{p}_frames_refilled_total",
            "Keyed frames faust never delivered, read back from the broker and applied in "
            "order (streams.gaps).",
            registry=r,
        )
        self.delivery_failures = Counter(
            f"{p}_delivery_failures_total",
            "Produce attempts the broker did not acknowledge (each is retried), by topic.",
            ["topic", "error"],
            registry=r,
        )
        self.component_blocked = Gauge(
            f"{p}_component_blocked",
            "1 while a part of the worker cannot make progress (readiness is false).",
            ["component"],
            registry=r,
        )
        self.ready = Gauge(
            f"{p}_worker_ready", "1 when the worker is ready to process signals.", registry=r
        )
        self.score_api_requests = Counter(
            f"{p}_score_api_requests_total",
            "Score API requests, by status code and by who answered: this worker (local), "
            "the account's owner (forwarded), or nobody (refused before any state was read).",
            ["status", "route"],
            registry=r,
        )
        self.rulebook = Info(f"{p}_rulebook", "The rulebook in force.", registry=r)
        self.build = Info(f"{p}_build", "Build information.", registry=r)

    def set_build(self, version: str) -> None:
        self.build.info({"version": version, "python": platform.python_version()})

    def set_rulebook(self, version: str, content_hash: str) -> None:
        self.rulebook.info({"version": version, "hash": content_hash})

    def record_batch(self, stats: BatchStats, *, now: float) -> None:
        """Map one batch's numbers onto the metrics. Called by the agent after each batch."""
        for (topic, signal_type), n in stats.consumed.items():
            self.events_consumed.labels(topic, signal_type).inc(n)
        for (topic, reason), n in stats.dead_lettered.items():
            self.events_dead_lettered.labels(topic, reason).inc(n)
        for (topic, reason), n in stats.unmapped.items():
            self.events_unmapped.labels(topic, reason).inc(n)
        for signal_type, n in stats.duplicates.items():
            self.events_duplicate.labels(signal_type).inc(n)
        for play, n in stats.windows.items():
            self.windows_opened.labels(play).inc(n)
        for reason, n in stats.suppressed.items():
            self.windows_suppressed.labels(reason).inc(n)
        for reason, n in stats.closed.items():
            self.windows_closed.labels(reason).inc(n)
        for (play, outcome), n in stats.outcomes.items():
            self.play_outcomes.labels(play, outcome).inc(n)
        for seconds in stats.scoring_seconds:
            self.scoring_seconds.observe(seconds)
        for seconds in stats.window_latency_seconds:
            self.signal_to_window_seconds.observe(seconds)
        if stats.erased_keys:
            self.erased_keys.inc(stats.erased_keys)
        if stats.erasures_done:
            self.erasures_completed.inc(stats.erasures_done)
        if stats.last_event_time is not None:
            self.last_event_timestamp.set(stats.last_event_time)
        self.last_processed_timestamp.set(now)


class SinkMetrics:
    """Window deliveries to webhooks and Slack (`followup sink`, or inside the worker).

    `sink` is the sink's kind (`webhook`, `slack`); `outcome` one of delivered, dead_lettered,
    expired, invalid, tombstone (an erasure's: nothing to send); `status_class` 4xx, 5xx,
    timeout or connect (one per failed attempt).
    """

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r, p = self.registry, PREFIX
        self.deliveries = Counter(
            f"{p}_sink_deliveries_total",
            "Windows whose delivery finished, by sink and outcome.",
            ["sink", "outcome"],
            registry=r,
        )
        self.failures = Counter(
            f"{p}_sink_failed_attempts_total",
            "Delivery attempts that failed, by sink and status class.",
            ["sink", "status_class"],
            registry=r,
        )
        self.delivery_seconds = Histogram(
            f"{p}_sink_delivery_seconds",
            "From the first attempt to the final outcome of one delivery, retries included.",
            ["sink"],
            buckets=_DELIVERY_BUCKETS,
            registry=r,
        )


class IngestMetrics:
    """The HTTP ingest (`followup ingest`): requests by endpoint and status, records by outcome."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r, p = self.registry, PREFIX
        self.requests = Counter(
            f"{p}_ingest_requests_total",
            "HTTP ingest requests, by endpoint and status code.",
            ["endpoint", "status"],
            registry=r,
        )
        self.records = Counter(
            f"{p}_ingest_records_total",
            "Records in ingest requests: accepted, rejected (with reason) or unmapped.",
            ["endpoint", "outcome", "reason"],
            registry=r,
        )
