"""`streams.metrics`: naming conventions, `record_batch`, and an exposition promtool accepts."""

from __future__ import annotations

import re

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from streams.metrics import PREFIX, BatchStats, IngestMetrics, Metrics, SinkMetrics
from tests.prom import promtool_check_metrics

# A label with one of these words in its name could carry a person or an account.
_PERSONAL = re.compile(r"person|email|account|user|name|domain|(^|_)id$|_key$")


def _batch() -> BatchStats:
    stats = BatchStats()
    stats.consumed[("signals.page-visited", "page_visited")] += 3
    stats.consumed[("signals.email-opened", "email_opened")] += 1
    stats.dead_lettered[("signals.page-visited", "not_json")] += 2
    stats.unmapped[("segment.events", "event")] += 3
    stats.duplicates["page_visited"] += 1
    stats.windows["pricing_visit"] += 2
    stats.suppressed["cooldown"] += 4
    stats.closed["expired"] += 1
    stats.outcomes[("pricing_visit", "replied")] += 1
    stats.closed["touched"] += 1
    stats.outcomes[("funding", "replied")] += 1
    stats.scoring_seconds.extend([0.0002, 0.003])
    stats.window_latency_seconds.extend([0.4, 7.0])
    stats.last_event_time = 1_700_000_000.0
    stats.erased_keys = 5
    stats.erasures_done = 1
    return stats


def _populated() -> Metrics:
    """Every metric with at least one sample, as on a busy worker."""
    metrics = Metrics(CollectorRegistry())
    metrics.record_batch(_batch(), now=1_700_000_100.0)
    metrics.consumer_lag.labels("signals.page-visited", "0").set(5)
    metrics.table_keys.labels("accounts").set(10)
    metrics.rebalances.inc()
    metrics.recoveries.inc()
    metrics.partition_stalls.labels("followup.signals-by-account").inc()
    metrics.frames_refilled.inc(3)
    metrics.rulebook_reload_failures.inc()
    metrics.ready.set(1)
    metrics.delivery_failures.labels("followup.windows-opened", "KafkaTimeoutError").inc()
    metrics.component_blocked.labels("router").set(0)
    metrics.score_api_requests.labels("200", "forwarded").inc()
    metrics.rulebook_reload_failures.inc()
    metrics.set_rulebook("2024-06", "abc123")
    metrics.set_build("0.1.0")
    return metrics


def _families(metrics: Metrics) -> list:
    return list(metrics.registry.collect())


def test_every_metric_has_the_prefix_help_and_a_sample():
    families = _families(_populated())
    assert len(families) == 27
    for family in families:
        assert family.name.startswith(f"{PREFIX}_"), family.name
        assert family.documentation, family.name
        assert family.samples, f"{family.name} exported nothing"


def test_counters_end_in_total_and_units_are_base_units():
    for family in _families(_populated()):
        names = {s.name for s in family.samples if not s.name.endswith("_created")}
        if family.type == "counter":
            assert all(n.endswith("_total") for n in names), names
        else:
            assert not any(n.endswith("_total") for n in names), names
        for name in names:
            assert not re.search(r"_(ms|milliseconds|minutes|hours|kilobytes|megabytes)", name)


def test_no_label_could_carry_a_person_or_an_account():
    labels = {
        label
        for family in _families(_populated())
        for sample in family.samples
        for label in sample.labels
    }
    # Every label is a bounded enumeration; a new one is reviewed here before it ships.
    assert labels <= {
        *("topic", "partition", "signal_type", "reason", "play", "outcome", "table", "le"),
        *("component", "error"),  # router/score/suppressions; aiokafka error class names
        *("version", "hash", "python"),  # the info metrics
        *("status", "route"),  # score API: HTTP status code; local, forwarded or none
    }
    assert not {label for label in labels if _PERSONAL.search(label)}


def test_record_batch_maps_every_field():
    registry = CollectorRegistry()
    metrics = Metrics(registry)
    metrics.record_batch(_batch(), now=1_700_000_100.0)
    metrics.record_batch(_batch(), now=1_700_000_200.0)  # counters add up; gauges follow

    def value(name: str, **labels: str) -> float | None:
        return registry.get_sample_value(name, labels)

    assert value(
        "followup_events_consumed_total", topic="signals.page-visited", signal_type="page_visited"
    ) == pytest.approx(6)
    assert value(
        "followup_events_consumed_total", topic="signals.email-opened", signal_type="email_opened"
    ) == pytest.approx(2)
    assert value(
        "followup_events_dead_lettered_total", topic="signals.page-visited", reason="not_json"
    ) == pytest.approx(4)
    assert value("followup_events_duplicate_total", signal_type="page_visited") == 2
    assert value("followup_events_unmapped_total", topic="segment.events", reason="event") == 6
    assert value("followup_windows_opened_total", play="pricing_visit") == 4
    assert value("followup_windows_suppressed_total", reason="cooldown") == 8
    assert value("followup_scoring_seconds_count") == 4
    assert value("followup_scoring_seconds_sum") == pytest.approx(2 * 0.0032)
    assert value("followup_scoring_seconds_bucket", le="0.00025") == 2
    assert value("followup_signal_to_window_seconds_count") == 4
    assert value("followup_signal_to_window_seconds_bucket", le="0.5") == 2
    assert value("followup_signal_to_window_seconds_bucket", le="5.0") == 2
    assert value("followup_signal_to_window_seconds_bucket", le="10.0") == 4
    assert value("followup_last_event_timestamp_seconds") == 1_700_000_000.0
    assert value("followup_last_processed_timestamp_seconds") == 1_700_000_200.0


def test_an_empty_batch_only_moves_the_processed_time():
    registry = CollectorRegistry()
    metrics = Metrics(registry)
    metrics.record_batch(BatchStats(), now=42.0)
    assert registry.get_sample_value("followup_last_processed_timestamp_seconds") == 42.0
    assert registry.get_sample_value("followup_last_event_timestamp_seconds") == 0.0
    assert registry.get_sample_value("followup_scoring_seconds_count") == 0.0


def test_each_metrics_object_has_its_own_registry():
    a, b = Metrics(), Metrics()
    a.rebalances.inc()
    assert b.registry.get_sample_value("followup_rebalances_total") == 0.0


def test_promtool_accepts_the_exposition():
    promtool_check_metrics(generate_latest(_populated().registry).decode())


def test_sink_and_ingest_metrics_follow_the_same_conventions():
    sink, ingest = SinkMetrics(), IngestMetrics()
    sink.deliveries.labels("webhook", "delivered").inc()
    sink.failures.labels("webhook", "5xx").inc()
    sink.delivery_seconds.labels("slack").observe(0.2)
    ingest.requests.labels("/v1/events", "202").inc()
    ingest.records.labels("/v1/events", "rejected", "invalid").inc()
    labels = set()
    for registry in (sink.registry, ingest.registry):
        for family in registry.collect():
            assert family.name.startswith(f"{PREFIX}_") and family.documentation
            names = {s.name for s in family.samples if not s.name.endswith("_created")}
            assert family.type != "counter" or all(n.endswith("_total") for n in names)
            labels |= {label for sample in family.samples for label in sample.labels}
        promtool_check_metrics(generate_latest(registry).decode())
    assert labels <= {"sink", "outcome", "status_class", "le", "endpoint", "status", "reason"}
