"""lpar-eventd-scale: compare policies on the same stream, and benchmarks."""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from collections.abc import Sequence

POLICIES = ("legacy", "reference", "default")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="lpar-eventd-scale", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    c = sub.add_parser("compare", help="the same scenario through every policy")
    c.add_argument("--mode", choices=("engine",), default="engine",
                   help="engine: in-memory host and nova on a virtual clock")
    c.add_argument("--scenario", default="mixed")
    c.add_argument("--lpars", type=_positive, default=500)
    c.add_argument("--seed", type=int, default=1)
    c.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    b = sub.add_parser("bench-engine", help="engine events/s and bytes per LPAR")
    b.add_argument("--lpars", type=_positive, default=2000,
                   help="LPARs in the mixed storm used for throughput")
    b.add_argument("--memory-lpars", type=_positive, default=10000)
    b.add_argument("--repeats", type=_positive, default=5)
    b.add_argument("--json", metavar="FILE")
    s = sub.add_parser("bench-source",
                       help="CPU of pypowervm's EventListener vs our feed reader")
    s.add_argument("--idle-seconds", type=_positive, default=10)
    s.add_argument("--burst", type=_positive, default=2000)
    s.add_argument("--json", metavar="FILE")
    return p


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {value!r}") from None
    if number <= 0:
        raise argparse.ArgumentTypeError(f"must be positive: {value!r}")
    return number


def compare(args: argparse.Namespace) -> int:
    from lpar_eventd.scale import report, scenarios, virtual
    try:
        scenario = scenarios.build(args.scenario, args.lpars, args.seed)
    except KeyError as exc:
        print(f"lpar-eventd-scale: {exc.args[0]}", file=sys.stderr)
        return 2
    bound = virtual.lower_bound(scenario)
    results = [virtual.play(scenario, name) for name in POLICIES]
    title = (f"scenario {args.scenario}, {args.lpars} LPARs, seed {args.seed}, "
             f"{results[0].events} events, mode {args.mode}")
    print(report.compare_table(results, bound, title))
    if args.json:
        _write_json(args.json, report.compare_json(
            results, bound, scenario=args.scenario, lpars=args.lpars,
            seed=args.seed, mode=args.mode, events=results[0].events))
    return 0


def bench_engine(args: argparse.Namespace) -> int:
    from lpar_eventd.scale import bench_engine as bench
    figures = bench.throughput(args.lpars, args.repeats)
    memory = bench.memory_per_lpar(args.memory_lpars)
    print(f"engine throughput, mixed storm of {args.lpars} LPARs "
          f"({figures.events} events), median of {figures.repeats} runs, one core:")
    print(f"  parse + accept:              {figures.accept_events_per_s:>12,.0f} events/s")
    print(f"  parse + accept + settles:    {figures.total_events_per_s:>12,.0f} events/s")
    print(f"memory (tracemalloc), {memory['lpars']} LPARs:")
    print(f"  all pending (storm peak):    {memory['pending_bytes_per_lpar']:>12,.0f} bytes/LPAR")
    print(f"  settled (steady state):      {memory['settled_bytes_per_lpar']:>12,.0f} bytes/LPAR")
    if args.json:
        _write_json(args.json, {"throughput": vars(figures), "memory": memory})
    return 0


def bench_source(args: argparse.Namespace) -> int:
    from lpar_eventd.scale import bench_source as bench
    results = bench.measure(args.idle_seconds, args.burst)
    print(bench.format_table(results, args.idle_seconds))
    if args.json:
        _write_json(args.json, results)
    return 0


def _write_json(path: str, data: object) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=2, sort_keys=True)
        fh.write("\n")


def main(argv: Sequence[str] | None = None) -> int:
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    args = _parser().parse_args(argv)
    commands = {"compare": compare, "bench-engine": bench_engine,
                "bench-source": bench_source}
    return commands[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
