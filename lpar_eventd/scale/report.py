"""Side-by-side tables of policy figures (stdout) and their JSON form."""

from __future__ import annotations

from typing import Any
from collections.abc import Sequence

from lpar_eventd.scale.nova_judge import NOVA_VIEW_ROWS
from lpar_eventd.scale.virtual import RunResult

__all__ = ["compare_table", "compare_json", "ratios"]

ROWS = [
    ("events received", "events_received"),
    ("coalesced", "coalesced"),
    ("skipped: not an LPAR", "skipped_not_lpar"),
    ("skipped: unchanged state", "skipped_unchanged_state"),
    ("skipped: task_state", "skipped_task_state"),
    ("skipped: instance not found", "skipped_instance_not_found"),
    ("skipped: LPAR gone", "skipped_lpar_gone"),
    ("skipped: no transition", "skipped_no_transition"),
    ("skipped: other host", "skipped_other_host"),
    ("get_instance calls", "get_instance_calls"),
    ("NovaLink state reads", "state_reads"),
    ("lifecycle events", "lifecycle_events"),
    ("NVRAM stores", "nvram_stores"),
    ("admin contexts", "admin_contexts"),
    ("resyncs", "resyncs"),
]


def ratios(results: Sequence[RunResult], bound: int,
           read_bound: int | None = None) -> dict[str, float]:
    by = {r.policy: r.figures for r in results}
    out: dict[str, float] = {}
    default = by.get("default", {}).get("get_instance_calls", 0.0)
    if default and bound:
        out["default_calls_vs_lower_bound"] = default / bound
    if read_bound and "default" in by:
        out["default_reads_vs_read_lower_bound"] = by["default"]["state_reads"] / read_bound
    for other in ("legacy", "reference"):
        if default and other in by:
            out[f"{other}_calls_vs_default"] = by[other]["get_instance_calls"] / default
            reads = by["default"]["state_reads"]
            if reads:
                out[f"{other}_reads_vs_default"] = by[other]["state_reads"] / reads
    return out


def compare_table(results: Sequence[RunResult], bound: int, title: str,
                  read_bound: int | None = None) -> str:
    names = [r.policy for r in results]
    width = max(len(label) for label, _ in ROWS + NOVA_VIEW_ROWS) + 2
    lines = [title, f"{'':{width}}" + "".join(f"{n:>12}" for n in names)]
    for label, key in ROWS:
        lines.append(f"{label:{width}}" + "".join(
            f"{r.figures.get(key, 0):>12.0f}" for r in results))
    judged = all(NOVA_VIEW_ROWS[0][1] in r.figures for r in results)
    if judged:   # what nova did, counted from nova (its rules, on a virtual clock)
        for label, key in NOVA_VIEW_ROWS:
            lines.append(f"{label:{width}}" + "".join(
                f"{r.figures.get(key, 0):>12.0f}" for r in results))
    else:
        lines.append(f"{'final-state mismatches':{width}}" + "".join(
            f"{len(r.mismatches):>12}" for r in results))
    lines.append(f"{'settle delay p50 (s)':{width}}" + "".join(
        f"{r.settle_p50:>12.2f}" for r in results))
    lines.append(f"{'settle delay p99 (s)':{width}}" + "".join(
        f"{r.settle_p99:>12.2f}" for r in results))
    lines.append(f"{'pending after the run':{width}}" + "".join(
        f"{r.extra.get('pending_after', 0):>12}" for r in results))
    lines.append(f"{'timers left in table':{width}}" + "".join(
        f"{r.extra.get('leaked_timers', 0):>12}" for r in results))
    for label, key in (("nova refused: other host", "refused_other_host"),
                       ("nova refused: task_state", "refused_task_state")):
        lines.append(f"{label:{width}}" + "".join(
            f"{r.extra.get(key, 0):>12}" for r in results))
    lines.append(f"lower bound of nova calls (bursts in which a managed LPAR's state "
                 f"changed): {bound}")
    if read_bound is not None:
        lines.append(f"lower bound of state reads (bursts of nova-managed LPARs): {read_bound}")
    finals = {r.policy: r.extra.get("final_power_states") for r in results}
    if "default" in finals and "reference" in finals:
        same = finals["default"] == finals["reference"]
        lines.append("final nova power states, default vs reference: "
                     + ("identical" if same else "DIFFERENT"))
    for name, value in ratios(results, bound, read_bound).items():
        lines.append(f"{name.replace('_', ' ')}: {value:.2f}x")
    return "\n".join(lines)


def compare_json(results: Sequence[RunResult], bound: int,
                 read_bound: int | None = None, **meta: Any) -> dict[str, Any]:
    return {
        **meta,
        "lower_bound": bound,
        "read_lower_bound": read_bound,
        "ratios": ratios(results, bound, read_bound),
        "policies": {r.policy: {**r.figures, "mismatches": len(r.mismatches),
                                "mismatch_examples": r.mismatches[:5],
                                "settle_p50_s": r.settle_p50,
                                "settle_p99_s": r.settle_p99,
                                "wall_seconds": r.wall_seconds,
                                **{k: v for k, v in r.extra.items()
                                   if k != "final_power_states"}}
                     for r in results},
    }
