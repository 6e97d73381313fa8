"""``lpar-eventd-scale chaos``: randomized storms with faults, end to end; does nova converge?

Why: the promise to operators is that under storms and faults every LPAR's
state still reaches nova, and nova never acts wrongly on what it hears. A
unit test proves one fault at a time on a fake clock; this proves it on the
stack that runs on a host -- the NovaLink simulator on loopback, nova's own
nova-compute with the engine embedded (real pypowervm, compressed windows)
and nova's own sqlite schema (one ``testbed.hoststack.HostStack`` per run)
-- with several faults of every kind (``faults.KINDS``) at random times of
each storm.

Per run (seed ``S + i``): a fresh copy of one nova schema (``db_sync`` is
done once per campaign) seeded with the instances of a ``--scenario`` storm
(``mixed`` by default; ``field`` plays the field cases' patterns); a
simulator holding its LPARs; nova-compute reading its database through a
symlink (so the database can "disappear" for it alone, the harness's
nova-api writes keep working); the storm played at ``--speed``; 2-6 faults
from a seeded plan (a restart kind restarts nova-compute, and the engine in
it). After the storm: converged when, within ``--converge-timeout`` wall
seconds, the engine has nothing pending and nothing in flight
(``pending_settles`` and ``longest_running_settle_seconds`` both 0: no
leaks) AND nova's whole view is right (``nova_judge``: no wrong nova action,
no (vm_state, power_state) mismatch against the scenario's truth). A
diverged run keeps its directory (configs, nova-compute's log, nova DB) and
the fault plan is printed, so ``--runs 1 --seed S+i`` replays it.

    python -m lpar_eventd.scale.chaos --runs 200 --seed 1 --jobs 2 --json chaos.json
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import sys
import time
import traceback
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from lpar_eventd.scale import scenarios
from lpar_eventd.scale.cli import positive_float, positive_int, register, say, standalone
from lpar_eventd.scale.faults import KINDS, NovaDbFaults, inject, plan_faults
from lpar_eventd.scale.nova_judge import NOVA_VIEW_ROWS, NovaView, as_json
from lpar_eventd.testbed.hoststack import (
    HostOptions, HostStack, build_template, scratch_dir)
from lpar_eventd.testbed.procs import wait_quiet

__all__ = ["ChaosOptions", "RunOutcome", "Campaign", "run_campaign", "run_one",
           "add_parser", "run", "main"]

PREFIX = "lpar_eventd_"


@dataclass
class ChaosOptions:
    runs: int = 200
    seed: int = 1
    lpars: int = 40
    speed: float = 20.0
    scenario: str = "mixed"
    min_faults: int = 2
    max_faults: int = 6
    max_restarts: int = 1
    converge_timeout: float = 75.0
    jobs: int = 1
    kinds: tuple[str, ...] = KINDS
    workdir: Path | None = None
    keep: bool = False
    progress: Callable[[str], None] | None = None


@dataclass
class RunOutcome:
    index: int
    seed: int
    converged: bool = False
    converge_seconds: float | None = None   # wall s from storm end to convergence
    faults: list[dict[str, Any]] = field(default_factory=list)
    mismatches: list[str] = field(default_factory=list)
    pending: float | None = None
    longest_running: float | None = None
    daemon_starts: int = 0
    sigterm_exit: list[int | None] = field(default_factory=list)
    nova_write_retries: int = 0
    nova_writes_lost: int = 0
    wall_seconds: float = 0.0
    effects: dict[str, int] = field(default_factory=dict)
    nova: dict[str, Any] = field(default_factory=dict)    # nova_judge.as_json
    error: str | None = None
    workdir: str | None = None


@dataclass
class Campaign:
    options: ChaosOptions
    outcomes: list[RunOutcome] = field(default_factory=list)
    template_seconds: float = 0.0
    wall_seconds: float = 0.0

    def summary(self) -> dict[str, Any]:
        done = self.outcomes
        converged = [o for o in done if o.converged]
        times = [o.converge_seconds for o in converged if o.converge_seconds is not None]
        kinds: Counter[str] = Counter(f["kind"] for o in done for f in o.faults)
        return {
            "runs": len(done),
            "converged": len(converged),
            "converged_pct": 100.0 * len(converged) / len(done) if done else 0.0,
            "faults_by_kind": {k: kinds.get(k, 0) for k in self.options.kinds},
            "faults_total": sum(kinds.values()),
            "converge_seconds_max": max(times, default=None),
            "converge_seconds_p50": statistics.median(times) if times else None,
            "converge_seconds_p95": _quantile(times, 0.95),
            "converge_scenario_seconds_max": (max(times) * self.options.speed
                                              if times else None),
            "pending_leaks": sum(1 for o in done if (o.pending or 0) or
                                 (o.longest_running or 0)),
            "daemon_starts": sum(o.daemon_starts for o in done),
            "sigterm_nonzero_exits": sum(1 for o in done for s in o.sigterm_exit if s != 0),
            "nova_writes_lost": sum(o.nova_writes_lost for o in done),
            "errors": sum(1 for o in done if o.error),
            "effects": {k: sum(o.effects.get(k, 0) for o in done) for k in EFFECTS},
            "nova": {key: sum(o.nova.get(key, 0) for o in done)
                     for _, key in NOVA_VIEW_ROWS},
            "wall_seconds": round(self.wall_seconds, 1),
            "diverged": [{"index": o.index, "seed": o.seed, "error": o.error,
                          "mismatches": o.mismatches[:10], "pending": o.pending,
                          "longest_running": o.longest_running, "faults": o.faults,
                          "workdir": o.workdir}
                         for o in done if not o.converged],
        }


def _quantile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


#: What the daemon's log shows of the faults (summed over its restarts):
#: proof that a fault reached the daemon, not only that it was armed.
EFFECTS = {"sink_retries": "sink failed for LPAR",
           "lookup_retries": "lookup failed for LPAR",
           "state_read_retries": "state_read failed for LPAR",
           "resync_failures": "resync failed for LPAR",
           "feed_errors": "NovaLink feed at",
           "resyncs": "Resync (",
           "logons": "Session logging on"}


def effects(log: Path) -> dict[str, int]:
    """Count the daemon log's lines that show each kind of trouble handled."""
    counts = dict.fromkeys(EFFECTS, 0)
    try:
        text = log.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return counts
    for line in text.splitlines():
        for name, needle in EFFECTS.items():
            if needle in line:
                counts[name] += 1
    return counts


def _build_template(work: Path) -> tuple[Path, float]:
    template = work / "nova-template.sqlite"
    return template, build_template(template)


def run_one(index: int, seed: int, template: Path, opts: ChaosOptions,
            work: Path) -> RunOutcome:
    """One randomized storm with faults; every process stopped on the way out."""
    outcome = RunOutcome(index, seed)
    rundir = work / f"run-{index:04d}-seed-{seed}"
    rng = random.Random(seed)   # noqa: S311 - a reproducible plan, not secrets
    started = time.monotonic()
    scenario = scenarios.build(opts.scenario, opts.lpars, seed)
    stack = HostStack(scenario, rundir, template,
                      HostOptions(speed=opts.speed, long_poll=0.5, nova_link=True,
                                  max_queue=10_000))
    try:
        stack.start().healthy(60.0)
        db_faults = NovaDbFaults(stack.db_path, stack.nova_path)
        storm = scenario.duration / opts.speed
        plan = plan_faults(rng, storm, rng.randint(opts.min_faults, opts.max_faults),
                           opts.max_restarts, opts.kinds)
        play = stack.play()
        t0 = time.monotonic()
        for fault in plan:
            delay = t0 + fault.at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            record = {"kind": fault.kind, "at": fault.at, "params": fault.params,
                      "fired_at": round(time.monotonic() - t0, 3)}
            record.update(inject(fault, stack.sim, db_faults, stack.engine))
            outcome.faults.append(record)
            if fault.kind == "sigterm":
                outcome.sigterm_exit.append(record.get("exit_status"))
        play.result(timeout=storm + 120.0)
        stack.finish_changes()
        outcome.nova_write_retries = stack.nova_api.retries
        outcome.nova_writes_lost = stack.nova_api.lost
        _converge(outcome, stack, opts)
    except Exception as exc:  # a harness or engine failure is a failed run, with why
        outcome.error = f"{type(exc).__name__}: {exc}"
        outcome.mismatches.append(traceback.format_exc(limit=3))
    finally:
        outcome.daemon_starts = stack.engine.starts if stack.compute else 0
        stack.stop()
        outcome.effects = effects(stack.engine_log) if stack.compute else {}
        outcome.wall_seconds = round(time.monotonic() - started, 2)
        if outcome.converged and not opts.keep:
            shutil.rmtree(rundir, ignore_errors=True)
        else:
            outcome.workdir = str(rundir)
    return outcome


def _converge(outcome: RunOutcome, stack: HostStack, opts: ChaosOptions) -> None:
    """Until the engine is quiet (nothing pending, nothing running); then judge
    nova's whole view once."""
    storm_end = time.monotonic()
    engine = stack.engine
    if not engine.alive():
        raise RuntimeError(f"{engine.what} exited with status {engine.proc.returncode}")
    quiet = wait_quiet([stack.scrape], opts.converge_timeout)
    samples = stack.scrape()
    outcome.pending = samples.get(PREFIX + "pending_settles")
    outcome.longest_running = samples.get(PREFIX + "longest_running_settle_seconds")
    settle_seconds = round(time.monotonic() - storm_end, 3)
    view: NovaView = stack.nova_view()
    outcome.nova = as_json(view)
    outcome.mismatches = view.examples["mismatch"] + view.examples["wrong"]
    if quiet and not outcome.pending and not outcome.longest_running and \
            not view.mismatch and not view.wrong_nova_actions:
        outcome.converged = True
        outcome.converge_seconds = settle_seconds


def run_campaign(opts: ChaosOptions) -> Campaign:
    """``opts.runs`` runs, ``opts.jobs`` at a time; returns every outcome."""
    say = opts.progress or (lambda _msg: None)
    work = opts.workdir or scratch_dir("lpar-eventd-chaos-")
    work.mkdir(parents=True, exist_ok=True)
    campaign = Campaign(opts)
    started = time.monotonic()
    template, campaign.template_seconds = _build_template(work)
    say(f"nova schema template built in {campaign.template_seconds:.1f} s; "
        f"working directory {work}")
    with ThreadPoolExecutor(max(1, opts.jobs), thread_name_prefix="chaos-run") as pool:
        futures = {pool.submit(run_one, i, opts.seed + i, template, opts, work): i
                   for i in range(opts.runs)}
        for future in as_completed(futures):
            outcome = future.result()
            campaign.outcomes.append(outcome)
            say(_run_line(outcome, len(campaign.outcomes), opts.runs))
    campaign.outcomes.sort(key=lambda o: o.index)
    campaign.wall_seconds = time.monotonic() - started
    if all(o.converged for o in campaign.outcomes) and not opts.keep \
            and opts.workdir is None:
        shutil.rmtree(work, ignore_errors=True)
    return campaign


def _run_line(o: RunOutcome, done: int, runs: int) -> str:
    kinds = ",".join(f["kind"] for f in o.faults)
    if o.converged:
        return (f"[{done}/{runs}] run {o.index} seed {o.seed}: converged in "
                f"{o.converge_seconds:.2f} s ({o.wall_seconds:.1f} s run) [{kinds}]")
    return (f"[{done}/{runs}] run {o.index} seed {o.seed}: DIVERGED "
            f"({o.error or ''}; {len(o.mismatches)} mismatches, pending {o.pending}, "
            f"longest running {o.longest_running}) [{kinds}] kept in {o.workdir}")


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def report(campaign: Campaign) -> str:
    s = campaign.summary()
    o = campaign.options
    lines = [f"chaos campaign: {s['runs']} runs, seed {o.seed}..{o.seed + o.runs - 1}, "
             f"{o.scenario} storm of {o.lpars} LPARs at x{o.speed:g}, "
             f"{o.min_faults}-{o.max_faults} faults per run, {o.jobs} at a time, "
             f"{s['wall_seconds']:.0f} s",
             f"faults injected by kind ({s['faults_total']} in all):"]
    lines += [f"  {kind:18}{count:>6}" for kind, count in s["faults_by_kind"].items()]
    lines += [
        f"runs converged: {s['converged']}/{s['runs']} ({s['converged_pct']:.1f}%)",
        f"time to converge after the storm (wall s): p50 {_fmt(s['converge_seconds_p50'])}, "
        f"p95 {_fmt(s['converge_seconds_p95'])}, max {_fmt(s['converge_seconds_max'])} "
        f"(max {_fmt(s['converge_scenario_seconds_max'])} s of scenario time)",
        f"pending leaks: {s['pending_leaks']}; nova-compute (+engine) starts "
        f"{s['daemon_starts']}; SIGTERM exits != 0: {s['sigterm_nonzero_exits']}; "
        f"harness nova writes lost: {s['nova_writes_lost']}; run errors: {s['errors']}",
        "what nova did (summed over runs): " + ", ".join(
            f"{label.removeprefix('nova: ')} {s['nova'][key]}"
            for label, key in NOVA_VIEW_ROWS),
        "seen in nova-compute's logs: " + ", ".join(f"{k} {v}"
                                                    for k, v in s["effects"].items())]
    for d in s["diverged"]:
        lines.append(f"DIVERGED run {d['index']} (seed {d['seed']}): {d['error'] or ''} "
                     f"pending {d['pending']} longest {d['longest_running']} "
                     f"dir {d['workdir']}")
        lines += [f"    fault {f.get('fired_at', 0.0):6.2f}s {f['kind']} {f.get('params', {})}"
                  for f in d["faults"]]
        lines += [f"    {m}" for m in d["mismatches"]]
    return "\n".join(lines)


# -- command line -------------------------------------------------------------
def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``chaos`` on the scale CLI's subparsers."""
    return register(subparsers, "chaos", "randomized storms with faults, end to end", __doc__,
                    _arguments, run)


def _arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--runs", type=positive_int, default=200)
    p.add_argument("--seed", type=int, default=1, help="run i uses seed S+i")
    p.add_argument("--lpars", type=positive_int, default=40)
    p.add_argument("--scenario", default="mixed", choices=sorted(scenarios.SCENARIOS),
                   help="the storm each run plays (e.g. field: the field cases' "
                        "patterns on one host)")
    p.add_argument("--speed", type=positive_float, default=20.0,
                   help="time compression of the storm and the daemon's windows")
    p.add_argument("--faults", type=positive_int, nargs=2, default=(2, 6),
                   metavar=("MIN", "MAX"), help="faults per run")
    p.add_argument("--kinds", default=",".join(KINDS),
                   help="comma-separated fault kinds to draw from")
    p.add_argument("--max-restarts", type=int, default=1,
                   help="daemon restarts (SIGTERM/SIGKILL) per run at most")
    p.add_argument("--converge-timeout", type=positive_float, default=45.0,
                   help="wall seconds after the storm for nova to converge (the "
                        "daemon's feed reconnect backoff cap, [novalink] "
                        "reconnect_backoff_max_seconds, is compressed like every "
                        "other window)")
    p.add_argument("--jobs", type=positive_int, default=1, help="runs at the same time")
    p.add_argument("--workdir", type=Path, help="keep every run's files here")
    p.add_argument("--keep", action="store_true", help="keep converged runs' files too")
    p.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    p.add_argument("--quiet", action="store_true", help="no line per run")


def run(args: argparse.Namespace) -> int:
    """Run the campaign; exit 0 only when every run converged."""
    kinds = tuple(k.strip() for k in args.kinds.split(",") if k.strip())
    unknown = set(kinds) - set(KINDS)
    if unknown or not kinds:
        print(f"lpar-eventd-scale chaos: unknown fault kinds {sorted(unknown)}; "
              f"choose from {','.join(KINDS)}", file=sys.stderr)
        return 2
    low, high = args.faults
    if low > high:
        print("lpar-eventd-scale chaos: --faults MIN MAX needs MIN <= MAX", file=sys.stderr)
        return 2
    opts = ChaosOptions(runs=args.runs, seed=args.seed, lpars=args.lpars,
                        scenario=args.scenario,
                        speed=args.speed, min_faults=low, max_faults=high,
                        max_restarts=args.max_restarts,
                        converge_timeout=args.converge_timeout, jobs=args.jobs,
                        kinds=kinds, workdir=args.workdir, keep=args.keep,
                        progress=None if args.quiet else say)
    campaign = run_campaign(opts)
    print(report(campaign), flush=True)
    if args.json:
        data = {"options": {k: (str(v) if isinstance(v, Path) else v)
                            for k, v in asdict(opts).items() if k != "progress"},
                "summary": campaign.summary(),
                "runs": [asdict(o) for o in campaign.outcomes]}
        Path(args.json).write_text(json.dumps(data, indent=2, default=str) + "\n",
                                   encoding="utf-8")
    return 0 if all(o.converged for o in campaign.outcomes) else 1


def main(argv: Sequence[str] | None = None) -> int:
    return standalone("lpar_eventd.scale.chaos", __doc__, _arguments, run, argv)


if __name__ == "__main__":
    import os
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    sys.exit(main())
