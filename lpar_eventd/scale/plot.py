"""The e2e comparison as one PNG: what each policy cost over the storm.

Why a picture: the table gives totals, but whether a policy's nova calls
track the feed (one per event, legacy) or the state changes (default) shows
in the slope, and that is what convinces. Four panels, one colour per
policy: cumulative get_instance calls and NovaLink state reads over
scenario time (the lower bound as a dashed line), cumulative events
received (the same feed for all, so the lines should lie on each other),
and the reduction ratios as bars.

    write_png(report, "e2e.png")
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lpar_eventd.scale import report as tables
from lpar_eventd.scale.e2e import E2EReport

__all__ = ["write_png", "COLOURS"]

COLOURS = {"legacy": "#d62728", "reference": "#ff7f0e", "default": "#2ca02c"}


def write_png(result: E2EReport, path: str | Path) -> None:
    """Draw the four panels to ``path`` (Agg: no display needed)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    opts = result.options
    fig, axes = plt.subplots(2, 2, figsize=(13, 8.5))
    _cumulative(axes[0][0], result, "get_instance_calls", "nova get_instance calls",
                bound=result.lower_bound)
    _cumulative(axes[0][1], result, "state_reads", "NovaLink state reads",
                bound=result.read_bound or None, bound_label="read lower bound")
    _cumulative(axes[1][0], result, "events_received",
                "feed events received (same feed sent; a daemon behind it\n"
                "loses its unread backlog at the CACHE_CLEARED)")
    _ratios(axes[1][1], result)
    fig.suptitle(f"lpar_eventd end to end: scenario {opts.scenario}, {opts.lpars} LPARs x "
                 f"{opts.hosts} host(s), x{opts.speed:g} time, seed {opts.seed}, "
                 f"{result.events:,} events", fontsize=13)
    fig.tight_layout(rect=(0, 0, 1, 0.96))
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _cumulative(ax: Any, result: E2EReport, key: str, title: str,
                bound: int | None = None, bound_label: str = "lower bound") -> None:
    for run in result.runs:
        name = run.result.policy
        xs = [t for t, _ in run.series]
        ys = [f.get(key, 0.0) for _, f in run.series]
        final = run.result.figures.get(key, 0.0)
        ax.plot(xs, ys, color=COLOURS.get(name), linewidth=2,
                label=f"{name}: {final:,.0f}")
    if bound is not None:
        ax.axhline(bound, color="black", linestyle="--", linewidth=1,
                   label=f"{bound_label}: {bound:,}")
    ax.set_title(title)
    ax.set_xlabel("scenario time (s, uncompressed)")
    ax.set_ylabel("cumulative count")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left")


def _ratios(ax: Any, result: E2EReport) -> None:
    ratios = tables.ratios([r.result for r in result.runs], result.lower_bound,
                           result.read_bound or None)
    labels = {
        "legacy_calls_vs_default": "legacy\n/ default\nnova calls",
        "reference_calls_vs_default": "reference\n/ default\nnova calls",
        "legacy_reads_vs_default": "legacy\n/ default\nstate reads",
        "reference_reads_vs_default": "reference\n/ default\nstate reads",
        "default_calls_vs_lower_bound": "default\n/ lower bound\nnova calls",
        "default_reads_vs_read_lower_bound": "default\n/ read bound\nstate reads",
    }
    names = [k for k in labels if k in ratios]
    values = [ratios[k] for k in names]
    colours = [COLOURS["legacy"] if k.startswith("legacy") else
               COLOURS["reference"] if k.startswith("reference") else COLOURS["default"]
               for k in names]
    bars = ax.bar(range(len(names)), values, color=colours)
    for bar, value in zip(bars, values, strict=True):
        ax.annotate(f"{value:.2f}x", (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                    ha="center", va="bottom", fontsize=11)
    ax.axhline(1.0, color="black", linewidth=1)
    ax.set_xticks(range(len(names)), [labels[k] for k in names], fontsize=9)
    ax.set_title("reduction ratios (higher = default saves more;\n"
                 "against a lower bound, 1.0 is ideal)")
    ax.set_ylabel("ratio")
    ax.set_ylim(0, max(values + [1.0]) * 1.18)
    ax.grid(axis="y", alpha=0.3)
