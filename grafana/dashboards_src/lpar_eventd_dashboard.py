#!/usr/bin/env python3
"""The lpar_eventd Grafana dashboard, as code (grafana-foundation-sdk).

Why code: every panel's query is reviewable PromQL next to its unit and
description, a test checks each query against the metric names
lpar_eventd/metrics.py exports, and the JSON operators import is generated,
never hand-edited (a test regenerates it and fails on drift).

One lpar_eventd runs per NovaLink host, so the ``instance`` variable is the
host: "All" gives the fleet view (stats sum over hosts, graphs draw a line
per host), one value gives the per-host view.

    .venv/bin/python grafana/dashboards_src/lpar_eventd_dashboard.py   # writes the JSON
    text = render()                                                    # the JSON text
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.builders import heatmap, prometheus, stat, timeseries
from grafana_foundation_sdk.builders.common import ReduceDataOptions
from grafana_foundation_sdk.models.common import BigValueGraphMode
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import dashboard as dm
from grafana_foundation_sdk.models.prometheus import PromQueryFormat

OUTPUT = Path(__file__).resolve().parents[1] / "dashboards" / "lpar-eventd.json"
UID = "lpar-eventd"
DATASOURCE = dm.DataSourceRef(type_val="prometheus", uid="${datasource}")
# Every query selects the hosts picked in the instance variable.
SEL = 'instance=~"$instance"'
# The scrape job of deploy/prometheus (thresholds.yaml ``job``): ``up`` is
# Prometheus' own series, so it needs the job to leave other targets out.
JOB = "lpar-eventd"
RATE = "$__rate_interval"


def _query(expr: str, legend: str = "", ref: str = "A") -> prometheus.Dataquery:
    q = prometheus.Dataquery().expr(expr).ref_id(ref).datasource(DATASOURCE)
    return q.legend_format(legend) if legend else q


def _series(title: str, description: str, unit: str,
            queries: list[prometheus.Dataquery], width: int = 12,
            height: int = 8, **options: Any) -> timeseries.Panel:
    panel = (timeseries.Panel().title(title).description(description).unit(unit)
             .datasource(DATASOURCE).span(width).height(height)
             .line_width(1).fill_opacity(10))
    for query in queries:
        panel = panel.with_target(query)
    if "min_val" in options:
        panel = panel.min(options["min_val"])
    if "max_val" in options:
        panel = panel.max(options["max_val"])
    if options.get("stacked"):
        panel = panel.stacking(_stacking())
    return panel


def _stacking() -> Any:
    from grafana_foundation_sdk.builders.common import StackingConfig
    from grafana_foundation_sdk.models.common import StackingMode
    return StackingConfig().mode(StackingMode.NORMAL)


def _stat(title: str, description: str, unit: str, expr: str, width: int = 6,
          decimals: float | None = None) -> stat.Panel:
    panel = (stat.Panel().title(title).description(description).unit(unit)
             .datasource(DATASOURCE).span(width).height(4)
             .with_target(_query(expr).instant())
             .reduce_options(ReduceDataOptions().calcs(["lastNotNull"]))
             .graph_mode(BigValueGraphMode.NONE))
    return panel.decimals(decimals) if decimals is not None else panel


def _variables() -> list[Any]:
    datasource = (db.DatasourceVariable("datasource").label("Data source")
                  .type("prometheus"))
    instance = (db.QueryVariable("instance").label("NovaLink host")
                .description("One lpar_eventd per NovaLink host; All is the fleet view.")
                .datasource(DATASOURCE)
                .query({"query": "label_values(lpar_eventd_source_up, instance)",
                        "refId": "instance"})
                .refresh(dm.VariableRefresh.ON_TIME_RANGE_CHANGED)
                .sort(dm.VariableSort.ALPHABETICAL_ASC)
                .multi(True).include_all(True).all_value(".*")
                .current(dm.VariableOption(selected=True, text="All", value="$__all")))
    return [datasource, instance]


def _overview() -> list[Any]:
    calls = f"sum(increase(lpar_eventd_get_instance_calls_total{{{SEL}}}[$__range]))"
    events = f"sum(increase(lpar_eventd_partition_state_events_total{{{SEL}}}[$__range]))"
    hits = f"sum(increase(lpar_eventd_instance_cache_hits_total{{{SEL}}}[$__range]))"
    return [
        _stat("Reduction: PartitionState events per nova call",
              "PartitionState events received divided by nova get_instance calls made, "
              "over the dashboard's time range. The pre-2017 handler made one or more "
              "calls per event (<= 1x); each settled burst should cost at most one call.",
              "suffix:x", f"{events}\n/\n{calls}", decimals=1),
        _stat("NovaLink feeds up",
              "Hosts whose lpar_eventd is connected to its NovaLink event feed, "
              "out of the selected hosts.",
              "none", f"sum(lpar_eventd_source_up{{{SEL}}})"),
        _stat("Instance cache hit ratio",
              "Share of instance lookups answered by lpar_eventd's caches instead of a "
              "nova call, over the time range.",
              "percentunit", f"{hits}\n/\n({hits} + {calls})", decimals=1),
        _stat("Pending settles",
              "LPARs waiting for their settle time now, summed over the selected hosts; "
              "past max_pending the oldest settle early.",
              "short", f"sum(lpar_eventd_pending_settles{{{SEL}}})"),
    ]


def _events() -> list[Any]:
    return [
        _series("Events received by type",
                "NovaLink feed events per second by EventType (MODIFY_URI is modify; "
                "new_client, cache_cleared and missing_events trigger resyncs).",
                "ops", [_query(f"sum by (type) (rate(lpar_eventd_events_received_total"
                               f"{{{SEL}}}[{RATE}]))", "{{type}}")], stacked=True),
        _series("PartitionState events vs nova get_instance calls",
                "The reduction: PartitionState events in, get_instance calls out, per "
                "host. The gap between the two lines is what lpar_eventd saves nova.",
                "ops", [
                    _query(f"sum by (instance) (rate(lpar_eventd_partition_state_events_total"
                           f"{{{SEL}}}[{RATE}]))", "events {{instance}}", "A"),
                    _query(f"sum by (instance) (rate(lpar_eventd_get_instance_calls_total"
                           f"{{{SEL}}}[{RATE}]))", "get_instance {{instance}}", "B"),
                ]),
        _series("Coalesced events by kind",
                "Events merged into a settle already pending for their LPAR (a "
                "PartitionState burst, NVRAM changes): each one is work not done.",
                "ops", [_query(f"sum by (kind) (rate(lpar_eventd_events_coalesced_total"
                               f"{{{SEL}}}[{RATE}]))", "{{kind}}")], width=8),
        _series("Skipped by reason",
                "Events or settles that ended without a lifecycle event: not an LPAR, "
                "state unchanged, nova busy (task_state), unknown instance, LPAR gone.",
                "ops", [_query(f"sum by (reason) (rate(lpar_eventd_events_skipped_total"
                               f"{{{SEL}}}[{RATE}]))", "{{reason}}")], width=8),
        _series("Lifecycle events by transition",
                "Lifecycle events delivered to nova (or the configured sink): what "
                "actually changed.",
                "ops", [_query(f"sum by (transition) (rate("
                               f"lpar_eventd_lifecycle_events_emitted_total{{{SEL}}}[{RATE}]))",
                               "{{transition}}")], width=8),
        _series("nova get_instance calls by result",
                "Calls made to nova (cache hits are not calls); errors are retried "
                "with backoff and alert above 1%.",
                "ops", [_query(f"sum by (result) (rate(lpar_eventd_get_instance_calls_total"
                               f"{{{SEL}}}[{RATE}]))", "{{result}}")], width=12),
        _series("Instance cache hit ratio",
                "Lookups answered by the uuid-form and not-found caches, per host.",
                "percentunit", [_query(
                    f"sum by (instance) (rate(lpar_eventd_instance_cache_hits_total"
                    f"{{{SEL}}}[{RATE}]))\n/\n(sum by (instance) (rate("
                    f"lpar_eventd_instance_cache_hits_total{{{SEL}}}[{RATE}]))\n+\n"
                    f"sum by (instance) (rate(lpar_eventd_get_instance_calls_total"
                    f"{{{SEL}}}[{RATE}])))", "{{instance}}")],
                width=12, min_val=0, max_val=1),
    ]


def _settles() -> list[Any]:
    buckets = f"lpar_eventd_settle_delay_seconds_bucket{{{SEL}}}"
    return [
        _series("Pending settles",
                "LPARs waiting for their settle time, per host. A steady climb "
                "towards max_pending (10000 by default) raises LparEventdSettleBacklog.",
                "short", [_query(f"sum by (instance) (lpar_eventd_pending_settles{{{SEL}}})",
                                 "{{instance}}")], width=8),
        _series("Settle delay p50 / p99",
                "First event of a burst received -> lifecycle event emitted. Near "
                "settle_seconds (15 s) is the debounce working; near max_wait (60 s) "
                "means LPARs keep changing.",
                "s", [
                    _query(f"histogram_quantile(0.5, sum by (le) (rate({buckets}[{RATE}])))",
                           "p50", "A"),
                    _query(f"histogram_quantile(0.99, sum by (le) (rate({buckets}[{RATE}])))",
                           "p99", "B"),
                ], width=8),
        _series("Longest running settle",
                "Age of the oldest settle still running (state read, lookup, emit). "
                "Growing without bound means a stuck NovaLink read or nova call.",
                "s", [_query(f"max by (instance) (lpar_eventd_longest_running_settle_seconds"
                             f"{{{SEL}}})", "{{instance}}")], width=8),
        (heatmap.Panel().title("Settle delay distribution")
         .description("Settle delays per bucket over time (Prometheus histogram "
                      "buckets): the debounce window shows as a band.")
         .unit("s").datasource(DATASOURCE).span(24).height(8)
         .calculate(False)
         .with_target(_query(f"sum by (le) (increase({buckets}[{RATE}]))", "{{le}}")
                      .format(PromQueryFormat.HEATMAP))
         .y_axis(heatmap.YAxisConfig().unit("s"))),
    ]


def _source() -> list[Any]:
    return [
        _series("NovaLink source up",
                "1 while lpar_eventd is connected to its host's NovaLink event feed.",
                "none", [_query(f"max by (instance) (lpar_eventd_source_up{{{SEL}}})",
                                "{{instance}}")], width=8, min_val=0, max_val=1),
        _series("NovaLink source errors and reconnects",
                "Feed read errors and reconnects per second, per host.",
                "ops", [
                    _query(f"sum by (instance) (rate(lpar_eventd_source_errors_total"
                           f"{{{SEL}}}[{RATE}]))", "errors {{instance}}", "A"),
                    _query(f"sum by (instance) (rate(lpar_eventd_source_reconnects_total"
                           f"{{{SEL}}}[{RATE}]))", "reconnects {{instance}}", "B"),
                ], width=8),
        _series("Seconds since last feed read",
                "Time since the last successful feed read, per host (LparEventdFeedDown "
                "fires after 2m).",
                "s", [_query(f"time() - max by (instance) ("
                             f"lpar_eventd_last_feed_read_timestamp_seconds{{{SEL}}})",
                             "{{instance}}")], width=8),
        _series("NVRAM stores by result",
                "NVRAM store calls per second after per-LPAR coalescing.",
                "ops", [_query(f"sum by (result) (rate(lpar_eventd_nvram_stores_total"
                               f"{{{SEL}}}[{RATE}]))", "{{result}}")]),
        _series("Resyncs by reason",
                "Resyncs per interval: new_client is a reconnect, missing_events and "
                "cache_cleared mean NovaLink lost events (LparEventdEventsLost).",
                "short", [_query(f"sum by (reason) (increase(lpar_eventd_resyncs_total"
                                 f"{{{SEL}}}[{RATE}]))", "{{reason}}")]),
    ]


def _failures() -> list[Any]:
    retries = f"lpar_eventd_retries_total{{{SEL}}}"
    return [
        _series("Scrape target up",
                "1 while Prometheus scrapes the host's lpar_eventd (LparEventdDown after "
                "5m at 0). A host missing here altogether is LparEventdTargetMissing.",
                "none", [_query(f'max by (instance) (up{{job="{JOB}",{SEL}}})',
                                "{{instance}}")], width=6, min_val=0, max_val=1),
        _series("Retries by stage",
                "Work retried after a failure, per second, by stage: state_read and "
                "resync are NovaLink reads, lookup is nova, sink is delivery, nvram the "
                "NVRAM store (LparEventdRetrying, LparEventdSinkFailing).",
                "ops", [_query(f"sum by (stage) (rate({retries}[{RATE}]))", "{{stage}}")],
                width=6),
        _series("Sink retries and lifecycle events delivered",
                "Lifecycle events retried at the sink against those delivered, per "
                "host: retries with no deliveries mean nova is not being told "
                "(LparEventdSinkFailing).",
                "ops", [
                    _query(f'sum by (instance) (rate(lpar_eventd_retries_total{{{SEL},'
                           f'stage="sink"}}[{RATE}]))', "sink retries {{instance}}", "A"),
                    _query(f"sum by (instance) (rate(lpar_eventd_lifecycle_events_emitted_total"
                           f"{{{SEL}}}[{RATE}]))", "delivered {{instance}}", "B"),
                ], width=6),
        _series("Settle errors",
                "Settles that ended in an unexpected error per interval, per host: "
                "each is a traceback in that daemon's log (LparEventdSettleErrors).",
                "short", [_query(f"sum by (instance) (increase(lpar_eventd_settle_errors_total"
                                 f"{{{SEL}}}[{RATE}]))", "{{instance}}")], width=6),
        _stat("Versions running",
              "How many of the selected hosts run each lpar_eventd version "
              "(lpar_eventd_build_info).",
              "none", f"count by (version) (lpar_eventd_build_info{{{SEL}}})", width=24),
    ]


def build() -> Any:
    """The dashboard model (grafana_foundation_sdk.models.dashboard.Dashboard)."""
    builder = (db.Dashboard("lpar_eventd").uid(UID)
               .description("NovaLink event reduction: events in, nova calls and "
                            "lifecycle events out, settles, feed health. One lpar_eventd "
                            "per NovaLink host.")
               .tags(["lpar_eventd", "powervm", "nova"])
               .editable().time("now-1h", "now").refresh("30s")
               .timezone("browser")
               .tooltip(dm.DashboardCursorSync.CROSSHAIR)
               .variables(_variables()))
    sections = [("Overview", _overview()), ("Events and the reduction", _events()),
                ("Settles", _settles()), ("NovaLink source, NVRAM, resyncs", _source()),
                ("Failures, retries, versions", _failures())]
    for title, panels in sections:
        builder = builder.with_row(db.Row(title))
        for panel in panels:
            builder = builder.with_panel(panel)
    model = builder.build()
    for number, panel in enumerate(model.panels or [], start=1):
        panel.id_val = number  # stable ids: the JSON must not change between runs
    return model


def render() -> str:
    """The dashboard as deterministic JSON text (sorted keys, stable ids)."""
    data = json.loads(json.dumps(build(), cls=JSONEncoder))
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


def panels(data: dict[str, Any]) -> list[dict[str, Any]]:
    """Every panel of a dashboard JSON, rows excluded, in order."""
    found: list[dict[str, Any]] = []
    for panel in data.get("panels", []):
        if panel.get("type") == "row":
            found.extend(panel.get("panels", []))
        else:
            found.append(panel)
    return found


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    out = Path(args[0]) if args else OUTPUT
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render(), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
