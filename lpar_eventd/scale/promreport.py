"""``lpar-eventd-scale report``: the dashboard's panels as PNGs, without Grafana.

Why: a storm seen in a test lab or on a customer's host should be attachable
to a ticket as pictures, and Grafana is not always at hand. This reads the
generated dashboard JSON (grafana/dashboards/lpar-eventd.json, so the panels
and their PromQL are the dashboard's own), fills in Grafana's variables the
way Grafana would, asks Prometheus' HTTP API (``/api/v1/query_range``, and
``/api/v1/query`` for the stat panels) and draws each panel with matplotlib,
plus an index.html that shows them in dashboard order.

    lpar-eventd-scale report --prometheus http://127.0.0.1:9090 --out /tmp/storm
    lpar-eventd-scale report --prometheus URL --out DIR --since 30m --instance 'nl1:.*'
"""

from __future__ import annotations

import argparse
import html
import json
import math
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["add_parser", "run", "Report", "Window", "substitute", "parse_duration"]

DEFAULT_DASHBOARD = (Path(__file__).resolve().parents[2] / "grafana" / "dashboards"
                     / "lpar-eventd.json")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$")
# About one point per two horizontal pixels of a 1200 px wide figure.
MAX_POINTS = 600


def parse_duration(text: str) -> float:
    """Seconds in "90", "90s", "15m", "1h", "1.5h"."""
    match = _DURATION.match(text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (e.g. 30s, 15m, 1h)")
    return float(match.group(1)) * _UNITS[match.group(2) or "s"]


def _prom_duration(seconds: float) -> str:
    return f"{max(1, math.ceil(seconds))}s"


@dataclass(frozen=True)
class Window:
    """The time range and Grafana's interval variables derived from it.

    ``rate_interval`` follows Grafana's ``$__rate_interval``:
    max(step + scrape interval, 4 x scrape interval), so a rate always spans
    enough scrapes.
    """

    start: float
    end: float
    scrape_interval: float = 15.0
    instance: str = ".*"

    @property
    def step(self) -> float:
        return max(self.scrape_interval, (self.end - self.start) / MAX_POINTS, 1.0)

    @property
    def rate_interval(self) -> float:
        return max(self.step + self.scrape_interval, 4 * self.scrape_interval)

    def variables(self) -> dict[str, str]:
        return {
            "$__rate_interval": _prom_duration(self.rate_interval),
            "$__interval": _prom_duration(self.step),
            "$__range": _prom_duration(self.end - self.start),
            "$instance": self.instance,
            "${instance}": self.instance,
        }


def substitute(expr: str, window: Window) -> str:
    """The expression with Grafana's variables replaced, longest names first
    (``$__range`` before ``$__rate_interval`` would not matter, ``$instance``
    inside ``${instance}`` would)."""
    for name, value in sorted(window.variables().items(), key=lambda kv: -len(kv[0])):
        expr = expr.replace(name, value)
    return expr


class PrometheusError(RuntimeError):
    """Prometheus could not be reached or refused a query."""


@dataclass
class Prometheus:
    """The two HTTP API calls the report needs."""

    url: str
    timeout: float = 30.0

    def _get(self, path: str, params: dict[str, str]) -> list[dict[str, Any]]:
        query = urllib.parse.urlencode(params)
        target = f"{self.url.rstrip('/')}{path}?{query}"
        if not target.startswith(("http://", "https://")):
            raise PrometheusError(f"not an http(s) URL: {self.url}")
        try:
            with urllib.request.urlopen(target, timeout=self.timeout) as resp:  # noqa: S310  # nosec B310
                body = json.load(resp)
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")[:300]
            raise PrometheusError(f"{path}: HTTP {exc.code}: {detail}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise PrometheusError(f"cannot reach Prometheus at {self.url}: {exc}") from None
        if body.get("status") != "success":
            raise PrometheusError(f"{path}: {body.get('error', body)}")
        return body["data"]["result"]

    def query_range(self, expr: str, window: Window) -> list[dict[str, Any]]:
        return self._get("/api/v1/query_range", {
            "query": expr, "start": f"{window.start:.3f}", "end": f"{window.end:.3f}",
            "step": f"{window.step:g}"})

    def query(self, expr: str, at: float) -> list[dict[str, Any]]:
        return self._get("/api/v1/query", {"query": expr, "time": f"{at:.3f}"})


def legend(fmt: str, labels: dict[str, str], fallback: str) -> str:
    """Grafana's legendFormat: ``{{label}}`` replaced by the series' label."""
    if not fmt:
        inner = ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items()) if k != "__name__")
        return f"{{{inner}}}" if inner else fallback
    text = re.sub(r"\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}",
                  lambda m: labels.get(m.group(1), ""), fmt).strip()
    return text or fallback


def format_value(value: float, unit: str) -> str:
    """A stat panel's number in its Grafana unit."""
    if math.isnan(value):
        return "no data"
    if unit == "percentunit":
        return f"{value * 100:.1f}%"
    if unit.startswith("suffix:"):
        return f"{value:.1f}{unit[len('suffix:'):]}"
    if unit == "s":
        return f"{value:.2f} s"
    if unit == "ops":
        return f"{value:.3g}/s"
    return f"{value:.4g}"


_AXIS_LABELS = {"ops": "per second", "s": "seconds", "percentunit": "ratio",
                "short": "", "none": ""}


@dataclass
class Rendered:
    """One panel's outcome, for the index page and the caller."""

    title: str
    description: str
    image: str
    queries: list[str]
    series: int
    values: dict[str, str] = field(default_factory=dict)


@dataclass
class Report:
    """Draws every panel of a dashboard JSON from one Prometheus."""

    prometheus: Prometheus
    window: Window
    dashboard: dict[str, Any]

    def panels(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        for panel in self.dashboard.get("panels", []):
            if panel.get("type") == "row":
                found.extend(panel.get("panels", []))
            elif panel.get("targets"):
                found.append(panel)
        return found

    def write(self, out: Path) -> list[Rendered]:
        import matplotlib
        matplotlib.use("Agg")
        out.mkdir(parents=True, exist_ok=True)
        rendered: list[Rendered] = []
        stats = [p for p in self.panels() if p["type"] == "stat"]
        if stats:
            rendered.append(self._stats(stats, out / "00-overview.png"))
        number = 0
        for panel in self.panels():
            if panel["type"] == "stat":
                continue
            number += 1
            name = f"{number:02d}-{_slug(panel['title'])}.png"
            if panel["type"] == "heatmap":
                rendered.append(self._heatmap(panel, out / name))
            else:
                rendered.append(self._timeseries(panel, out / name))
        (out / "index.html").write_text(self._index(rendered), encoding="utf-8")
        return rendered

    def _queries(self, panel: dict[str, Any]) -> list[tuple[str, str]]:
        return [(substitute(t["expr"], self.window), t.get("legendFormat", ""))
                for t in panel["targets"] if not t.get("hide")]

    def _stats(self, panels: list[dict[str, Any]], path: Path) -> Rendered:
        import matplotlib.pyplot as plt
        fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 2.2))
        axes = axes if len(panels) > 1 else [axes]
        values: dict[str, str] = {}
        queries: list[str] = []
        for ax, panel in zip(axes, panels, strict=True):
            expr, _ = self._queries(panel)[0]
            queries.append(expr)
            result = self.prometheus.query(expr, self.window.end)
            value = float(result[0]["value"][1]) if result else float("nan")
            text = format_value(value, panel["fieldConfig"]["defaults"].get("unit", ""))
            values[panel["title"]] = text
            ax.axis("off")
            ax.text(0.5, 0.45, text, ha="center", va="center", fontsize=22,
                    fontweight="bold", color="#1f77b4" if result else "#999999")
            ax.set_title(_wrap(panel["title"], 28), fontsize=9)
        fig.tight_layout()
        fig.savefig(path, dpi=100)
        plt.close(fig)
        return Rendered("Overview", "Stat panels at the end of the range.",
                        path.name, queries, len(values), values)

    def _timeseries(self, panel: dict[str, Any], path: Path) -> Rendered:
        import matplotlib.dates as mdates
        import matplotlib.pyplot as plt
        from matplotlib.ticker import PercentFormatter
        unit = panel["fieldConfig"]["defaults"].get("unit", "")
        fig, ax = plt.subplots(figsize=(10, 3.6))
        count = 0
        queries = []
        for expr, fmt in self._queries(panel):
            queries.append(expr)
            for series in self.prometheus.query_range(expr, self.window):
                xs = [_time(float(t)) for t, _ in series["values"]]
                ys = [_float(v) for _, v in series["values"]]
                ax.plot(xs, ys, linewidth=1.3,
                        label=legend(fmt, series["metric"], f"series {count + 1}"))
                count += 1
        if unit == "percentunit":
            ax.yaxis.set_major_formatter(PercentFormatter(1.0))
        self._y_limits(ax, panel["fieldConfig"]["defaults"])
        ax.set_ylabel(_AXIS_LABELS.get(unit, unit))
        ax.set_title(panel["title"], fontsize=11, loc="left")
        ax.grid(True, alpha=0.3)
        ax.set_xlim(_time(self.window.start), _time(self.window.end))
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M:%S"))
        if count:
            ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
        else:
            ax.text(0.5, 0.5, "no data", transform=ax.transAxes, ha="center",
                    color="#999999", fontsize=14)
        fig.tight_layout()
        fig.savefig(path, dpi=100)
        plt.close(fig)
        return Rendered(panel["title"], panel.get("description", ""), path.name,
                        queries, count)

    @staticmethod
    def _y_limits(ax: Any, defaults: dict[str, Any]) -> None:
        """The panel's min/max when set; otherwise counts and rates start at 0
        so that a small wobble does not look like a cliff."""
        low, _ = ax.get_ylim()
        bottom = defaults.get("min", 0 if low >= 0 else None)
        top = defaults.get("max")
        # 5% headroom keeps a line at exactly max (source up = 1) visible.
        ax.set_ylim(bottom=bottom, top=None if top is None else top * 1.05)

    def _heatmap(self, panel: dict[str, Any], path: Path) -> Rendered:
        """Prometheus buckets are cumulative; Grafana's heatmap (format
        "heatmap") shows per-bucket counts, so do the same de-accumulation."""
        import matplotlib.dates as mdates
        import matplotlib.pyplot as plt
        import numpy as np
        expr, _ = self._queries(panel)[0]
        result = self.prometheus.query_range(expr, self.window)
        fig, ax = plt.subplots(figsize=(10, 3.6))
        series = sorted(((_le(s["metric"].get("le", "+Inf")), s) for s in result),
                        key=lambda item: item[0])
        if series:
            times = sorted({float(t) for _, s in series for t, _ in s["values"]})
            index = {t: i for i, t in enumerate(times)}
            cumulative = np.zeros((len(series), len(times)))
            for row, (_, s) in enumerate(series):
                for t, v in s["values"]:
                    cumulative[row, index[float(t)]] = _float(v)
            counts = np.diff(np.vstack([np.zeros(len(times)), cumulative]), axis=0)
            counts = np.clip(np.nan_to_num(counts), 0, None)
            left, right = mdates.date2num([_time(times[0]), _time(times[-1])])
            image = ax.imshow(counts, aspect="auto", origin="lower", cmap="viridis",
                              interpolation="nearest",
                              extent=(left, right, 0, len(series)))
            ax.xaxis_date()
            ax.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M:%S"))
            ax.set_yticks([i + 0.5 for i in range(len(series))])
            ax.set_yticklabels([_le_label(le) for le, _ in series], fontsize=7)
            fig.colorbar(image, ax=ax, label="settles per interval")
        else:
            ax.text(0.5, 0.5, "no data", transform=ax.transAxes, ha="center",
                    color="#999999", fontsize=14)
        ax.set_ylabel("settle delay bucket (upper bound, s)")
        ax.set_title(panel["title"], fontsize=11, loc="left")
        fig.tight_layout()
        fig.savefig(path, dpi=100)
        plt.close(fig)
        return Rendered(panel["title"], panel.get("description", ""), path.name,
                        [expr], len(series))

    def _index(self, rendered: Sequence[Rendered]) -> str:
        title = html.escape(self.dashboard.get("title", "dashboard"))
        span = (f"{time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime(self.window.start))} to "
                f"{time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime(self.window.end))}")
        parts = [
            "<!doctype html>", '<html lang="en"><head><meta charset="utf-8">',
            f"<title>{title} report</title>",
            "<style>body{font-family:sans-serif;max-width:1100px;margin:auto}"
            "img{max-width:100%;border:1px solid #ddd}code{font-size:80%;"
            "white-space:pre-wrap}section{margin-bottom:2em}</style></head><body>",
            f"<h1>{title}</h1>",
            f"<p>{html.escape(span)}, instance <code>{html.escape(self.window.instance)}"
            f"</code>, step {self.window.step:g} s, rate interval "
            f"{self.window.rate_interval:g} s, Prometheus "
            f"<code>{html.escape(self.prometheus.url)}</code></p>",
        ]
        for item in rendered:
            parts.append(f"<section><h2>{html.escape(item.title)}</h2>")
            parts.append(f"<p>{html.escape(item.description)}</p>")
            parts.append(f'<img src="{html.escape(item.image)}" '
                         f'alt="{html.escape(item.title)}">')
            if item.values:
                parts.append("<ul>" + "".join(
                    f"<li>{html.escape(k)}: <b>{html.escape(v)}</b></li>"
                    for k, v in item.values.items()) + "</ul>")
            parts.append("<details><summary>PromQL</summary>" + "".join(
                f"<p><code>{html.escape(q)}</code></p>" for q in item.queries)
                + "</details></section>")
        parts.append("</body></html>\n")
        return "\n".join(parts)


def _slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:60]


def _wrap(text: str, width: int) -> str:
    import textwrap
    return "\n".join(textwrap.wrap(text, width))


def _time(epoch: float) -> Any:
    from datetime import UTC, datetime
    return datetime.fromtimestamp(epoch, tz=UTC)


def _float(value: str) -> float:
    try:
        return float(value)
    except ValueError:
        return float("nan")


def _le(text: str) -> float:
    return math.inf if text in ("+Inf", "Inf") else float(text)


def _le_label(le: float) -> str:
    return "+Inf" if math.isinf(le) else f"{le:g}"


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``report`` on the ``lpar-eventd-scale`` sub-command parsers."""
    r = subparsers.add_parser(
        "report", help="render the dashboard's panels from Prometheus to PNG + HTML",
        description=__doc__.split("\n\n")[0])
    r.add_argument("--prometheus", required=True, metavar="URL",
                   help="Prometheus base URL, e.g. http://127.0.0.1:9090")
    r.add_argument("--out", required=True, type=Path, metavar="DIR",
                   help="directory for the PNGs and index.html (created)")
    r.add_argument("--since", type=parse_duration, default=3600.0, metavar="DURATION",
                   help="range length ending at --end (default 1h)")
    r.add_argument("--end", type=float, default=None, metavar="EPOCH",
                   help="end of the range, Unix seconds (default now)")
    r.add_argument("--instance", default=".*", metavar="REGEX",
                   help="the dashboard's instance variable (default: all hosts)")
    r.add_argument("--scrape-interval", type=parse_duration, default=15.0,
                   metavar="DURATION", help="scrape interval, for $__rate_interval "
                   "(default 15s)")
    r.add_argument("--dashboard", type=Path, default=DEFAULT_DASHBOARD, metavar="FILE",
                   help="dashboard JSON (default: the repository's generated one)")
    r.set_defaults(func=run)
    return r


def run(args: argparse.Namespace) -> int:
    """Write the report; 2 on a usage problem, 1 when Prometheus fails."""
    try:
        dashboard = json.loads(Path(args.dashboard).read_text(encoding="utf-8"))
    except OSError as exc:
        print(f"lpar-eventd-scale report: cannot read dashboard {args.dashboard}: "
              f"{exc.strerror} (pass --dashboard FILE)", file=sys.stderr)
        return 2
    end = args.end if args.end is not None else time.time()
    window = Window(start=end - args.since, end=end,
                    scrape_interval=args.scrape_interval, instance=args.instance)
    report = Report(Prometheus(args.prometheus), window, dashboard)
    try:
        rendered = report.write(Path(args.out))
    except PrometheusError as exc:
        print(f"lpar-eventd-scale report: {exc}", file=sys.stderr)
        return 1
    empty = [r.title for r in rendered if not r.series]
    print(f"wrote {len(rendered)} panels to {Path(args.out) / 'index.html'}"
          + (f" ({len(empty)} without data: {', '.join(empty)})" if empty else ""))
    return 0
