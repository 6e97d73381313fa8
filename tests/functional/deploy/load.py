"""A synthetic load on a real ``lpar_eventd.metrics.Metrics``: counters bumped
at chosen per-second rates from a thread, as a daemon under a storm would.

Why not the daemon: these tests prove the rules, the routing and the
dashboard's PromQL; the figures only need to have the right shape.

    load = MetricsLoad(metrics, QUIET).start()
    load.rates = STORM          # switch at any time
    load.stop()
"""

from __future__ import annotations

import threading
import time

from lpar_eventd.metrics import Metrics

# Per-second rates; PartitionState events dominate, one nova call per ~40.
QUIET = {"partition_state": 2.0, "get_instance": 0.2, "cache_hits": 0.5,
         "emitted": 0.2, "coalesced": 1.5, "skipped": 0.3, "nvram": 0.2,
         "source_errors": 0.05}
STORM = {**QUIET, "partition_state": 120.0, "get_instance": 3.0, "cache_hits": 6.0,
         "emitted": 2.5, "coalesced": 110.0, "skipped": 1.0}
TICK = 0.1


class MetricsLoad:
    """Bumps ``metrics`` every TICK seconds at ``rates`` (mutable while running)."""

    def __init__(self, metrics: Metrics, rates: dict[str, float]) -> None:
        self.metrics, self.rates = metrics, dict(rates)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._carry: dict[str, float] = {}

    def start(self) -> MetricsLoad:
        m = self.metrics
        m.source_up.set(1)
        m.max_pending.set(10000)
        m.resyncs.labels(reason="startup").inc()
        m.source_reconnects.inc()
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _whole(self, name: str) -> int:
        """Whole events due this tick; fractions carried over."""
        due = self._carry.get(name, 0.0) + self.rates.get(name, 0.0) * TICK
        whole = int(due)
        self._carry[name] = due - whole
        return whole

    def _run(self) -> None:
        m = self.metrics
        while not self._stop.wait(TICK):
            events = self._whole("partition_state")
            m.partition_state_events.inc(events)
            m.received["modify"].inc(events + self._whole("nvram"))
            m.calls["miss"].inc(self._whole("get_instance"))
            m.instance_cache_hits.inc(self._whole("cache_hits"))
            m.coalesced["partition_state"].inc(self._whole("coalesced"))
            m.skipped["unchanged_state"].inc(self._whole("skipped"))
            m.stores["ok"].inc(self._whole("nvram"))
            m.source_errors.inc(self._whole("source_errors"))
            for _ in range(self._whole("emitted")):
                m.emitted["started"].inc()
                m.settle_delay.observe(15.2)
            m.pending_settles.set(min(events * 10, 500))
            m.longest_running_settle.set(0.05)
            m.last_feed_read.set(time.time())
