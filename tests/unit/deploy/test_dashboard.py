"""The Grafana dashboard: generated JSON in sync with its source, every panel
described and with a unit, every query within the metrics contract."""

from __future__ import annotations

import json

import pytest
import yaml

from tests.unit.deploy.contract import (
    DASHBOARD_JSON, PROMETHEUS_SERIES, THRESHOLDS, dashboard_src, exported_metric_names,
    metric_names_in, recording_rule_names)

# The panels issue 8 asks for, by a word of their title.
REQUIRED_PANELS = [
    "Events received by type", "PartitionState events vs nova get_instance calls",
    "Reduction", "Coalesced", "Skipped by reason", "Lifecycle events by transition",
    "Pending settles", "Settle delay p50 / p99", "Settle delay distribution",
    "cache hit ratio", "NovaLink source up", "errors and reconnects",
    "NVRAM stores", "Resyncs",
    # issue 17: every failure path and the target itself
    "Scrape target up", "Retries by stage", "Sink retries", "Settle errors",
    "Seconds since last feed read", "Versions running",
]


@pytest.fixture(scope="module")
def dashboard() -> dict:
    return json.loads(DASHBOARD_JSON.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def panels(dashboard: dict) -> list[dict]:
    return dashboard_src().panels(dashboard)


def test_committed_json_is_what_the_source_renders():
    fresh = dashboard_src().render()
    assert DASHBOARD_JSON.read_text(encoding="utf-8") == fresh, (
        "grafana/dashboards/lpar-eventd.json is stale: run "
        ".venv/bin/python grafana/dashboards_src/lpar_eventd_dashboard.py")


def test_render_is_deterministic():
    assert dashboard_src().render() == dashboard_src().render()


def test_ids_are_unique_and_stable(dashboard: dict):
    ids = [p["id"] for p in dashboard["panels"]]
    assert ids == list(range(1, len(ids) + 1))


def test_every_panel_has_a_description_and_a_unit(panels: list[dict]):
    for panel in panels:
        assert panel.get("description"), panel["title"]
        assert panel["fieldConfig"]["defaults"].get("unit"), panel["title"]


def test_every_issue_panel_is_there(panels: list[dict]):
    titles = " | ".join(p["title"] for p in panels)
    for needle in REQUIRED_PANELS:
        assert needle.lower() in titles.lower(), needle


def test_queries_use_only_exported_metrics_or_our_recording_rules(panels: list[dict]):
    allowed = exported_metric_names() | recording_rule_names() | PROMETHEUS_SERIES
    for panel in panels:
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            unknown = metric_names_in(target["expr"]) - allowed
            assert not unknown, f"{panel['title']}: {sorted(unknown)}"


def test_queries_select_the_instance_variable_and_use_the_datasource_variable(
        panels: list[dict]):
    for panel in panels:
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        for target in panel["targets"]:
            assert 'instance=~"$instance"' in target["expr"], panel["title"]


def test_variables_give_a_fleet_and_a_per_host_view(dashboard: dict):
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    instance = variables["instance"]
    assert instance["includeAll"] and instance["multi"]
    assert "lpar_eventd_" in instance["query"]["query"]


def test_the_dashboard_scrape_job_is_the_rules_job():
    assert dashboard_src().JOB == yaml.safe_load(THRESHOLDS.read_text())["job"]
