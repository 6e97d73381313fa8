"""What the deploy artefacts may refer to: the metric names lpar_eventd/metrics.py
exports and the recording rules we define; and how to load the two generator
scripts, which live outside the package (grafana/, deploy/prometheus/).

    names = exported_metric_names() | recording_rule_names()
    assert metric_names_in('rate(lpar_eventd_x_total[5m])') <= names
"""

from __future__ import annotations

import importlib.util
import re
import sys
from functools import cache
from pathlib import Path
from types import ModuleType

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from lpar_eventd.metrics import Metrics

ROOT = Path(__file__).resolve().parents[3]
RENDER_RULES = ROOT / "deploy" / "prometheus" / "render_rules.py"
DASHBOARD_SRC = ROOT / "grafana" / "dashboards_src" / "lpar_eventd_dashboard.py"
DASHBOARD_JSON = ROOT / "grafana" / "dashboards" / "lpar-eventd.json"
RUNBOOKS = ROOT / "deploy" / "prometheus" / "runbooks.md"
PROM_DIR = ROOT / "deploy" / "prometheus"
THRESHOLDS = PROM_DIR / "thresholds.yaml"
# Series Prometheus makes itself, which rules may use.
PROMETHEUS_SERIES = frozenset({"up"})

_SELECTOR = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\s*[\{\[]")
_OURS = re.compile(r"(?<![a-zA-Z0-9_:])((?:instance:)?lpar_eventd_[a-zA-Z0-9_:]*)")


def load_script(path: Path) -> ModuleType:
    """Import a script that is not part of a package, once."""
    name = "_lpar_eventd_" + path.stem
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def render_rules() -> ModuleType:
    return load_script(RENDER_RULES)


def dashboard_src() -> ModuleType:
    return load_script(DASHBOARD_SRC)


@cache
def exported_metric_names() -> frozenset[str]:
    """Sample names in the exposition of a fresh Metrics: the contract."""
    text = generate_latest(Metrics(CollectorRegistry()).registry).decode()
    return frozenset(sample.name for family in text_string_to_metric_families(text)
                     for sample in family.samples)


@cache
def recording_rule_names() -> frozenset[str]:
    import yaml
    mod = render_rules()
    rules = yaml.safe_load(mod.render(mod.load_thresholds())[mod.RECORDING_FILE])
    return frozenset(rule["record"] for group in rules["groups"] for rule in group["rules"])


def metric_names_in(expr: str) -> set[str]:
    """Metric names an expression selects (``name{...}`` or ``name[...]``) plus
    every lpar_eventd_* identifier, wherever it stands."""
    without_strings = re.sub(r'"[^"]*"', '""', expr)
    names = {m.group(1) for m in _SELECTOR.finditer(without_strings)}
    names |= {m.group(1) for m in _OURS.finditer(without_strings)}
    # by (...) / on (...) label lists are followed by "(" not "{", so they never match.
    return names
