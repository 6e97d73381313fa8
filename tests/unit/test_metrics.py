"""Metric names follow the contract and Prometheus' own linter."""

import subprocess

from prometheus_client import CollectorRegistry, generate_latest

from lpar_eventd.metrics import Metrics
from tests.debian_tools import require

CONTRACT = [
    "lpar_eventd_events_received_total", "lpar_eventd_events_coalesced_total",
    "lpar_eventd_events_skipped_total", "lpar_eventd_get_instance_calls_total",
    "lpar_eventd_instance_cache_hits_total", "lpar_eventd_state_reads_total",
    "lpar_eventd_lifecycle_events_emitted_total", "lpar_eventd_nvram_stores_total",
    "lpar_eventd_resyncs_total", "lpar_eventd_admin_context_created_total",
    "lpar_eventd_pending_settles", "lpar_eventd_settle_delay_seconds_bucket",
    "lpar_eventd_source_up", "lpar_eventd_source_errors_total",
    "lpar_eventd_source_reconnects_total", "lpar_eventd_max_wait_flushes_total",
    "lpar_eventd_settle_duration_seconds_bucket",
    "lpar_eventd_longest_running_settle_seconds", "lpar_eventd_retries_total",
    "lpar_eventd_last_feed_read_timestamp_seconds",
    "lpar_eventd_partition_state_events_total", "lpar_eventd_max_pending",
]


def exposition() -> bytes:
    return generate_latest(Metrics(CollectorRegistry()).registry)


def test_every_design_metric_is_exposed():
    text = exposition().decode()
    for name in CONTRACT:
        assert f"\n{name}" in text or text.startswith(name), name


def test_labelled_counters_start_at_zero_for_every_value():
    text = exposition().decode()
    assert 'lpar_eventd_events_skipped_total{reason="task_state"} 0.0' in text
    assert 'lpar_eventd_get_instance_calls_total{result="not_found"} 0.0' in text


def test_each_registry_counts_apart():
    a, b = Metrics(CollectorRegistry()), Metrics(CollectorRegistry())
    a.events_received.labels(type="modify").inc()
    assert a.value("events_received_total", type="modify") == 1
    assert b.value("events_received_total", type="modify") == 0


def test_promtool_check_metrics_passes():
    promtool = require("promtool", "prometheus")
    proc = subprocess.run([promtool, "check", "metrics"], input=exposition(),
                          capture_output=True, timeout=60)
    assert proc.returncode == 0, proc.stdout.decode() + proc.stderr.decode()
