"""lpar-eventd-scale: compare policies on the same stream, and benchmarks.

    lpar-eventd-scale compare --scenario mixed --lpars 500            # virtual clock
    lpar-eventd-scale compare --mode e2e --lpars 500 --plot e2e.png   # nova's nova-compute
    lpar-eventd-scale analyze feed.jsonl      # what would each policy cost on my host?
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from lpar_eventd import __version__
from lpar_eventd.scale.cli import positive_float, positive_int
from collections.abc import Sequence

POLICIES = ("legacy", "reference", "default")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="lpar-eventd-scale", description=__doc__)
    p.add_argument("--version", action="version", version=__version__)
    sub = p.add_subparsers(dest="command", required=True)
    c = sub.add_parser("compare", help="the same scenario through every policy")
    c.add_argument("--mode", choices=("engine", "e2e"), default="engine",
                   help="engine: in-memory host and nova (by nova's rules) on a virtual "
                        "clock; e2e: simulator(s), nova's own nova-compute per host, "
                        "sqlite nova DB(s)")
    c.add_argument("--engine", choices=("embedded", "standalone"), default="embedded",
                   help="e2e: the engine inside nova-compute (embedded), or the "
                        "lpar-eventd daemon delivering to it over a private "
                        "rabbitmq-server (standalone)")
    c.add_argument("--scenario", default="mixed")
    c.add_argument("--lpars", type=positive_int, default=500, help="LPARs per host")
    c.add_argument("--seed", type=int, default=1)
    c.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    c.add_argument("--hosts", type=positive_int, default=1,
                   help="e2e: NovaLink hosts (one simulator + one nova-compute each, "
                        "run together; host k plays the scenario seeded seed + k)")
    c.add_argument("--speed", type=positive_float, default=10.0,
                   help="e2e: time compression (windows are divided by it too)")
    c.add_argument("--plot", metavar="PNG", help="e2e: write the comparison as a PNG")
    c.add_argument("--burst", type=int, default=20_000,
                   help="e2e: saturation-burst events after the storm (0: none)")
    c.add_argument("--policies", default=",".join(POLICIES),
                   help="e2e: comma-separated policies to run")
    c.add_argument("--workdir", metavar="DIR",
                   help="e2e: keep configs, logs and nova DBs here (default: a "
                        "temporary directory, removed)")
    c.add_argument("--daemon-option", action="append", default=[],
                   metavar="GROUP.OPTION=VALUE",
                   help="e2e: set a daemon option for every policy (repeatable)")
    a = sub.add_parser("analyze", help="a recorded feed (JSON lines) through every "
                       "policy on a virtual clock: what each would cost")
    from lpar_eventd.scale.analyze import add_arguments
    add_arguments(a)
    sub.add_parser("bench-sim", add_help=False,
                   help="is the simulator ever a pypowervm client's bottleneck? "
                        "(its own options: bench-sim --help)")
    _add_campaigns(sub)
    b = sub.add_parser("bench-engine", help="engine events/s and bytes per LPAR")
    b.add_argument("--lpars", type=positive_int, default=2000,
                   help="LPARs in the mixed storm used for throughput")
    b.add_argument("--memory-lpars", type=positive_int, default=10000)
    b.add_argument("--repeats", type=positive_int, default=5)
    b.add_argument("--json", metavar="FILE")
    s = sub.add_parser("bench-source",
                       help="CPU of pypowervm's EventListener vs our feed reader")
    s.add_argument("--idle-seconds", type=positive_int, default=10)
    s.add_argument("--burst", type=positive_int, default=2000)
    s.add_argument("--json", metavar="FILE")
    return p


def _add_campaigns(sub: argparse._SubParsersAction) -> None:
    """Subcommands whose modules declare their own arguments: ``report``
    (dashboard panels to PNG), ``chaos``, ``soak``, ``load`` and
    ``bench-delivery``."""
    from lpar_eventd.scale import bench_delivery, chaos, load, promreport, soak
    for module in (promreport, chaos, soak, load, bench_delivery):
        module.add_parser(sub)






def compare(args: argparse.Namespace) -> int:
    if args.mode == "e2e":
        return compare_e2e(args)
    if args.plot or args.hosts != 1:
        print("lpar-eventd-scale: --plot and --hosts need --mode e2e", file=sys.stderr)
        return 2
    from lpar_eventd.scale import report, scenarios, virtual
    try:
        scenario = scenarios.build(args.scenario, args.lpars, args.seed)
    except KeyError as exc:
        print(f"lpar-eventd-scale: {exc.args[0]}", file=sys.stderr)
        return 2
    bound = virtual.lower_bound(scenario)
    read_bound = virtual.read_lower_bound(scenario)
    results = [virtual.play(scenario, name) for name in POLICIES]
    title = (f"scenario {args.scenario}, {args.lpars} LPARs, seed {args.seed}, "
             f"{results[0].events} events, mode {args.mode}")
    print(report.compare_table(results, bound, title, read_bound))
    if args.json:
        _write_json(args.json, report.compare_json(
            results, bound, read_bound, scenario=args.scenario, lpars=args.lpars,
            seed=args.seed, mode=args.mode, events=results[0].events))
    return 0


def compare_e2e(args: argparse.Namespace) -> int:
    """The real stack per policy: table on stdout, optional JSON and PNG."""
    from pathlib import Path

    from lpar_eventd.scale import e2e, scenarios
    if args.scenario not in scenarios.SCENARIOS:
        print(f"lpar-eventd-scale: unknown scenario {args.scenario!r}; choose from "
              f"{', '.join(sorted(scenarios.SCENARIOS))}", file=sys.stderr)
        return 2
    policies = [p.strip() for p in args.policies.split(",") if p.strip()]
    unknown = sorted(set(policies) - set(POLICIES))
    if unknown or not policies:
        print(f"lpar-eventd-scale: unknown policies {unknown}; choose from "
              f"{', '.join(POLICIES)}", file=sys.stderr)
        return 2
    try:
        options = dict(item.split("=", 1) for item in args.daemon_option)
    except ValueError:
        print("lpar-eventd-scale: --daemon-option wants GROUP.OPTION=VALUE", file=sys.stderr)
        return 2
    opts = e2e.E2EOptions(
        scenario=args.scenario, lpars=args.lpars, hosts=args.hosts, speed=args.speed,
        seed=args.seed, policies=policies, burst=max(0, args.burst),
        workdir=Path(args.workdir) if args.workdir else None, daemon_options=options,
        mode=args.engine,
        progress=lambda msg: print(msg, file=sys.stderr, flush=True))
    result = e2e.run(opts)
    print(e2e.format_table(result))
    if args.json:
        _write_json(args.json, e2e.to_json(result))
    if args.plot:
        from lpar_eventd.scale.plot import write_png
        write_png(result, args.plot)
        print(f"plot: {args.plot}")
    return 0


def analyze(args: argparse.Namespace) -> int:
    from lpar_eventd.scale.analyze import run
    return run(args)


def bench_sim(argv: Sequence[str]) -> int:
    from lpar_eventd.scale import bench_sim as bench
    return bench.run(list(argv))


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
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "bench-sim":   # its own parser (bench_sim.build_parser)
        return bench_sim(argv[1:])
    args = _parser().parse_args(argv)
    if getattr(args, "func", None) is not None:  # the campaigns' own ``run``
        return args.func(args)
    commands = {"compare": compare, "bench-engine": bench_engine,
                "bench-source": bench_source, "analyze": analyze}
    return commands[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
