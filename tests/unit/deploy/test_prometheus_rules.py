"""Prometheus rules: rendered from thresholds.yaml without drift, valid for
promtool, unit-tested by promtool (each alert firing and not firing), in the
monitoring-mixin conventions, and within the metrics contract."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.unit.deploy.contract import (
    PROM_DIR, PROMETHEUS_SERIES, RUNBOOKS, exported_metric_names, metric_names_in,
    recording_rule_names, render_rules)

ALERTS = ["LparEventdDown", "LparEventdFeedDown", "LparEventdEventStorm",
          "LparEventdEventsLost", "LparEventdSettleBacklog", "LparEventdStuckSettle",
          "LparEventdFlapping", "LparEventdNovaLookupErrors",
          "LparEventdReductionRegressed", "LparEventdTargetMissing",
          "LparEventdRetrying", "LparEventdSinkFailing", "LparEventdSettleErrors"]
RULES = PROM_DIR / "rules"
TESTS = sorted((PROM_DIR / "tests").glob("*.yaml"))


def _run(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(a) for a in args], capture_output=True, text=True,
                          timeout=120, cwd=cwd)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def _alerts() -> list[dict]:
    data = yaml.safe_load((RULES / render_rules().ALERTS_FILE).read_text())
    return [rule for group in data["groups"] for rule in group["rules"]]


def _all_rules() -> list[dict]:
    rules = []
    for path in sorted(RULES.glob("*.yaml")):
        for group in yaml.safe_load(path.read_text())["groups"]:
            rules.extend(group["rules"])
    return rules


def test_rule_files_are_rendered_from_thresholds():
    mod = render_rules()
    for name, text in mod.render(mod.load_thresholds()).items():
        assert (RULES / name).read_text() == text, (
            f"{name} is stale: run .venv/bin/python deploy/prometheus/render_rules.py")


def test_promtool_check_rules(promtool: str):
    _run(promtool, "check", "rules", *sorted(RULES.glob("*.yaml")))


def test_compressed_test_variant_is_valid_too(promtool: str, tmp_path: Path):
    mod = render_rules()
    mod.write(tmp_path, mod.render(mod.load_thresholds(), scale=1 / 60))
    _run(promtool, "check", "rules", *sorted(tmp_path.glob("*.yaml")))
    storm = yaml.safe_load((tmp_path / mod.ALERTS_FILE).read_text())["groups"][0]["rules"]
    assert {r["alert"]: r["for"] for r in storm}["LparEventdEventStorm"] == "5s"


def test_promtool_unit_tests(promtool: str):
    _run(promtool, "test", "rules", *TESTS)


def test_scrape_config_example_is_valid(promtool: str):
    _run(promtool, "check", "config", "prometheus.yml.example", cwd=PROM_DIR)


def test_every_alert_of_the_issue_exists():
    assert sorted(r["alert"] for r in _alerts()) == sorted(ALERTS)


@pytest.mark.parametrize("rule", _alerts(), ids=lambda r: r["alert"])
def test_alert_follows_mixin_conventions(rule: dict):
    assert re.fullmatch(r"LparEventd[A-Z][A-Za-z]+", rule["alert"])
    assert rule["labels"]["severity"] in {"critical", "warning", "info"}
    annotations = rule["annotations"]
    assert annotations["summary"].endswith(".")
    assert annotations["description"]
    anchor = annotations["runbook_url"].split("#", 1)[1]
    assert anchor == rule["alert"].lower()
    headings = {line[3:].strip().lower() for line in RUNBOOKS.read_text().splitlines()
                if line.startswith("## ")}
    assert anchor in headings, f"runbooks.md has no section {rule['alert']}"


def test_rules_use_only_exported_metrics_and_our_recording_rules():
    allowed = exported_metric_names() | recording_rule_names() | PROMETHEUS_SERIES
    for rule in _all_rules():
        unknown = metric_names_in(rule["expr"]) - allowed
        assert not unknown, f"{rule.get('alert') or rule['record']}: {sorted(unknown)}"


def test_recording_rules_follow_level_metric_operation_naming():
    for name in recording_rule_names():
        assert re.fullmatch(r"instance:lpar_eventd_[a-z_]+:[a-z0-9_]+", name), name


def _cases() -> dict[str, dict[str, int]]:
    """Per alert: evaluations expecting it firing, and evaluations where a
    series of the test (an instance) must not fire."""
    found: dict[str, dict[str, int]] = {a: {"firing": 0, "not_firing": 0} for a in ALERTS}
    for path in TESTS:
        for test in yaml.safe_load(path.read_text())["tests"]:
            instances = {m for s in test.get("input_series", [])
                         for m in re.findall(r'instance="([^"]+)"', s["series"])}
            for case in test.get("alert_rule_test", []):
                expected = case.get("exp_alerts") or []
                firing = {a["exp_labels"].get("instance") for a in expected}
                counts = found.setdefault(case["alertname"], {"firing": 0, "not_firing": 0})
                counts["firing"] += bool(expected)
                counts["not_firing"] += bool(instances - firing) or not expected
    return found


def test_promtool_tests_cover_firing_and_not_firing_for_every_alert():
    for alert, counts in _cases().items():
        assert counts["firing"], f"{alert}: no promtool case where it fires"
        assert counts["not_firing"], f"{alert}: no promtool case where it must not fire"
