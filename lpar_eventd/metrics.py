"""Every lpar_eventd metric, declared once (names are the contract of DESIGN.md).

Each ``Metrics`` owns its metrics in the registry it is given: the daemon
passes prometheus_client's default registry, tests and the scale harness make
one ``CollectorRegistry`` per handler so that policies are counted apart.
Label values come from small fixed sets; there are no per-LPAR labels.

    m = Metrics(CollectorRegistry())
    m.events_received.labels(type="modify").inc()
    registry.get_sample_value("lpar_eventd_events_received_total", {"type": "modify"})
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from lpar_eventd import __version__

__all__ = ["Metrics", "EVENT_TYPES", "SKIP_REASONS", "LOOKUP_RESULTS",
           "TRANSITIONS", "RETRY_STAGES", "RESYNC_REASONS"]

PREFIX = "lpar_eventd_"
EVENT_TYPES = ("add", "modify", "delete", "new_client", "cache_cleared",
               "missing_events", "other")
COALESCE_KINDS = ("partition_state", "nvram")
SKIP_REASONS = ("not_lpar", "unchanged_state", "task_state", "instance_not_found",
                "lpar_gone", "no_transition", "other_host")
LOOKUP_RESULTS = ("hit", "miss", "not_found", "error")
STATE_READ_RESULTS = ("ok", "gone", "error")
TRANSITIONS = ("started", "stopped", "suspended", "resumed")
STORE_RESULTS = ("ok", "error")
RESYNC_REASONS = ("new_client", "cache_cleared", "missing_events", "startup")
RETRY_STAGES = ("state_read", "lookup", "sink", "nvram", "resync")
LPAR_LIST_RESULTS = ("ok", "error")

# Settle delay spans the debounce window (15 s by default) up to max-wait.
_DELAY_BUCKETS = (0.1, 0.5, 1, 2, 5, 10, 15, 16, 20, 30, 45, 60, 90, 120, 300)
_DURATION_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5,
                     5, 10, 30)


class Metrics:
    """The metric objects of one handler (or one daemon)."""

    def __init__(self, registry: CollectorRegistry | None = None):
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.events_received = Counter(
            PREFIX + "events_received", "Feed events received, by EventType.",
            ["type"], registry=r)
        self.events_coalesced = Counter(
            PREFIX + "events_coalesced",
            "Events merged into a settle already pending for their LPAR.",
            ["kind"], registry=r)
        self.events_skipped = Counter(
            PREFIX + "events_skipped",
            "Events or settles that ended without a lifecycle event, by reason.",
            ["reason"], registry=r)
        self.partition_state_events = Counter(
            PREFIX + "partition_state_events",
            "MODIFY events of an LPAR naming PartitionState: the input the "
            "engine reduces (the numerator of the reduction ratio).", registry=r)
        self.get_instance_calls = Counter(
            PREFIX + "get_instance_calls",
            "Calls made to nova for instances (cache hits are counted apart).",
            ["result"], registry=r)
        self.instance_cache_hits = Counter(
            PREFIX + "instance_cache_hits",
            "Nova calls saved by the uuid-form and not-found caches.", registry=r)
        self.state_reads = Counter(
            PREFIX + "state_reads", "PartitionState reads from NovaLink.",
            ["result"], registry=r)
        self.lpar_list_reads = Counter(
            PREFIX + "lpar_list_reads", "LPAR feed reads made for resyncs.",
            ["result"], registry=r)
        self.lifecycle_events_emitted = Counter(
            PREFIX + "lifecycle_events_emitted",
            "Lifecycle events delivered to the sink, by transition.",
            ["transition"], registry=r)
        self.nvram_stores = Counter(
            PREFIX + "nvram_stores", "NVRAM store calls.", ["result"], registry=r)
        self.resyncs = Counter(
            PREFIX + "resyncs", "Resyncs run (events may have been lost).",
            ["reason"], registry=r)
        self.admin_context_created = Counter(
            PREFIX + "admin_context_created", "Nova admin contexts created.",
            registry=r)
        self.max_wait_flushes = Counter(
            PREFIX + "max_wait_flushes",
            "LPARs that kept changing and were settled at max-wait.", registry=r)
        self.early_settles = Counter(
            PREFIX + "early_settles",
            "Settles made early because max_pending LPARs were waiting.",
            registry=r)
        self.retries = Counter(
            PREFIX + "retries", "Work retried after a failure, by stage.",
            ["stage"], registry=r)
        self.settle_errors = Counter(
            PREFIX + "settle_errors",
            "Settles lost to an error: unexpected errors caught at the per-LPAR "
            "isolation boundary, and failures the legacy and reference policies drop.",
            registry=r)
        self.max_pending = Gauge(
            PREFIX + "max_pending",
            "The configured [events] max_pending bound (0 until set), so that "
            "backlog alerts compare against the daemon's own limit.", registry=r)
        self.pending_settles = Gauge(
            PREFIX + "pending_settles", "LPAR settles waiting for their time.",
            registry=r)
        self.settle_delay = Histogram(
            PREFIX + "settle_delay_seconds",
            "First event received to lifecycle event emitted.",
            buckets=_DELAY_BUCKETS, registry=r)
        self.settle_duration = Histogram(
            PREFIX + "settle_duration_seconds",
            "One settle's work: state read, lookup, emit.",
            buckets=_DURATION_BUCKETS, registry=r)
        self.longest_running_settle = Gauge(
            PREFIX + "longest_running_settle_seconds",
            "Age of the oldest settle still running (a stuck settle shows here).",
            registry=r)
        self.source_up = Gauge(
            PREFIX + "source_up", "1 while the NovaLink event feed is connected.",
            registry=r)
        self.source_errors = Counter(
            PREFIX + "source_errors", "NovaLink feed read errors.", registry=r)
        self.source_reconnects = Counter(
            PREFIX + "source_reconnects", "NovaLink feed reconnects.", registry=r)
        self.last_feed_read = Gauge(
            PREFIX + "last_feed_read_timestamp_seconds",
            "Unix time of the last successful feed read.", registry=r)
        self.build_info = Gauge(
            PREFIX + "build_info",
            "Always 1, labelled with the version running: which hosts run which "
            "release (join on it by instance).", ["version"], registry=r)
        self.build_info.labels(version=__version__).set(1)
        self._prime()

    def _prime(self) -> None:
        """Create every labelled child so that rates start from zero, and keep
        them in dicts: the engine's hot path then skips ``labels()``."""
        self.received = _children(self.events_received, "type", EVENT_TYPES)
        self.coalesced = _children(self.events_coalesced, "kind", COALESCE_KINDS)
        self.skipped = _children(self.events_skipped, "reason", SKIP_REASONS)
        self.calls = _children(self.get_instance_calls, "result", LOOKUP_RESULTS)
        self.reads = _children(self.state_reads, "result", STATE_READ_RESULTS)
        self.emitted = _children(self.lifecycle_events_emitted, "transition", TRANSITIONS)
        self.stores = _children(self.nvram_stores, "result", STORE_RESULTS)
        self.retried = _children(self.retries, "stage", RETRY_STAGES)
        for value in EVENT_TYPES:
            self.events_received.labels(type=value)
        for value in COALESCE_KINDS:
            self.events_coalesced.labels(kind=value)
        for value in SKIP_REASONS:
            self.events_skipped.labels(reason=value)
        for value in LOOKUP_RESULTS:
            self.get_instance_calls.labels(result=value)
        for value in STATE_READ_RESULTS:
            self.state_reads.labels(result=value)
        for value in LPAR_LIST_RESULTS:
            self.lpar_list_reads.labels(result=value)
        for value in TRANSITIONS:
            self.lifecycle_events_emitted.labels(transition=value)
        for value in STORE_RESULTS:
            self.nvram_stores.labels(result=value)
        for value in RESYNC_REASONS:
            self.resyncs.labels(reason=value)
        for value in RETRY_STAGES:
            self.retries.labels(stage=value)

    def value(self, name: str, **labels: str) -> float:
        """A sample's current value (0 when absent): for tests and tables."""
        sample = self.registry.get_sample_value(PREFIX + name, labels or None)
        return sample or 0.0

    def total(self, name: str) -> float:
        """Sum of a counter over all its label values."""
        total = 0.0
        for metric in self.registry.collect():
            for sample in metric.samples:
                if sample.name == PREFIX + name:
                    total += sample.value
        return total


def _children(metric: Counter, label: str, values: tuple[str, ...]) -> dict[str, Counter]:
    return {value: metric.labels(**{label: value}) for value in values}
