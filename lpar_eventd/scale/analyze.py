"""``lpar-eventd-scale analyze FILE.jsonl``: what each policy would cost on a real feed.

Why: an operator's question is "what would this save on MY host?". A feed
recorded there (``lpar-eventd --record FILE`` or ``lpar-eventd-sim record``,
the simulator's replay format) is turned into a scenario and played through
every policy on the engine's virtual clock (``virtual.play``: same
batching, in-memory host and nova, nova-compute's part), and the usual
table is printed.

A feed says what happened on the host, not what nova or the host held, so
the world is inferred; the assumptions (each printed with the table):

* LPARs: every ``.../LogicalPartition/<uuid>`` in the feed. Its state at the
  start is the first ``state`` recorded for it, else ``--default-state``
  (the daemon's recorder writes no ``state``: then every state read returns
  that state and the figures measure the cost of the redundancy, not
  transitions). An event with a ``state`` changes it from then on; an
  ADD_URI without one creates the LPAR in ``--default-state``; DELETE_URI
  removes it.
* nova: every LPAR is an instance (uuid = the LPAR's, lower-cased: one
  get_instance call per lookup; instances created with the high bit set
  would cost two on a miss), with the power_state its starting state
  implies and no task_state (nova never mid-operation), unless listed in
  ``--unmanaged`` (nova does not know it: instance_not_found).
* time: the recorded timestamps; events within 50 ms form one feed response
  (the recorder stamps a whole response with one time).

    lpar-eventd-scale analyze /var/log/lpar-eventd/feed.jsonl --json out.json
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

__all__ = ["add_arguments", "run", "scenario_from_feed", "analyze"]

_LPAR = re.compile(r"/ManagedSystem/([0-9A-Fa-f-]{36})/LogicalPartition/([0-9A-Fa-f-]{36})")
POLICIES = ("legacy", "reference", "default")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("feed", metavar="FILE.jsonl",
                        help="recorded feed (the simulator's replay format)")
    parser.add_argument("--default-state", default="running",
                        help="state of an LPAR the feed gives none for (default running)")
    parser.add_argument("--unmanaged", action="append", default=[], metavar="LPAR_UUID",
                        help="an LPAR nova does not know (repeatable)")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")


def scenario_from_feed(events: list[Any], default_state: str = "running",
                       unmanaged: set[str] | None = None) -> Any:
    """A ``Scenario`` whose steps are the feed and whose world is inferred."""
    from nova.compute import power_state

    from lpar_eventd.engine import policy
    from lpar_eventd.scale.scenarios import HostEvent, LparSpec, Scenario

    unmanaged = {u.upper() for u in unmanaged or set()}
    first_state: dict[str, str] = {}
    order: list[str] = []
    seen: set[str] = set()
    ms_uuid = ""
    steps = []
    for event in events:
        match = _LPAR.search(event.path)
        lpar = match.group(2).upper() if match else None
        if match and not ms_uuid:
            ms_uuid = match.group(1).upper()
        state = event.state
        if lpar is not None:
            if lpar not in seen:
                seen.add(lpar)
                order.append(lpar)
            if state is not None:
                first_state.setdefault(lpar, state)
            if event.event_type == "ADD_URI" and state is None:
                state = default_state
        steps.append(HostEvent(event.at, event.event_type, event.path, event.detail,
                               lpar, state))
    lpars = {}
    for n, lpar in enumerate(order, 1):
        state = first_state.get(lpar, default_state)
        managed = lpar not in unmanaged
        lpars[lpar] = LparSpec(
            lpar, f"lpar-{n:05d}", state, lpar.lower() if managed else None,
            (policy.expected_power_state(state) or power_state.NOSTATE)
            if managed else power_state.NOSTATE)
    return Scenario("recorded", 0, ms_uuid, lpars, [], steps)


def analyze(path: str | Path, default_state: str = "running",
            unmanaged: set[str] | None = None) -> tuple[Any, list[Any], int]:
    """(scenario, [RunResult per policy], lower bound) for a recorded feed."""
    from lpar_eventd.scale import virtual
    from lpar_eventd.simulator.replay import read_jsonl

    scenario = scenario_from_feed(read_jsonl(path), default_state, unmanaged)
    results = [virtual.play(scenario, name) for name in POLICIES]
    return scenario, results, virtual.lower_bound(scenario)


def run(args: argparse.Namespace) -> int:
    """Print the table (and JSON); 2 when the file cannot be read."""
    from lpar_eventd.scale import report
    from lpar_eventd.simulator.replay import ReplayFormatError

    try:
        scenario, results, bound = analyze(args.feed, args.default_state,
                                           set(args.unmanaged))
    except (OSError, ReplayFormatError) as exc:
        print(f"lpar-eventd-scale analyze: {args.feed}: {exc}", file=sys.stderr)
        return 2
    with_state = sum(1 for s in scenario.steps if s.state is not None)
    title = (f"recorded feed {args.feed}: {len(scenario.steps)} events over "
             f"{scenario.duration:.1f} s, {len(scenario.lpars)} LPARs "
             f"({len(scenario.managed())} known to nova), {with_state} events with a state")
    print(report.compare_table(results, bound, title))
    print("assumed: nova agrees with each LPAR's first recorded state (else "
          f"{args.default_state!r}) and is never mid-operation; instance uuid = LPAR uuid "
          "lower-cased; settle window 15 s, max-wait 60 s")
    if not with_state:
        print("the feed has no 'state' fields: every state read returns the "
              "assumed state, so these are the costs of the redundancy alone")
    if args.json:
        data = report.compare_json(results, bound, feed=str(args.feed), mode="analyze",
                                   events=len(scenario.steps), lpars=len(scenario.lpars),
                                   default_state=args.default_state)
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=2, sort_keys=True)
            fh.write("\n")
    return 0
