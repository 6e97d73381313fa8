"""lpar-eventd: the daemon's console script.

``lpar-eventd demo`` plays a built-in scenario (a deploy storm with reboots
and a flapper, the ``mixed`` scenario) through lpar_eventd's policy and the
two historical ones on the engine's virtual clock, and prints what each cost.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from lpar_eventd.cmd import scale


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="lpar-eventd", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    d = sub.add_parser("demo", help="play a storm through every policy and compare")
    d.add_argument("--lpars", type=scale._positive, default=200)
    d.add_argument("--scenario", default="mixed")
    d.add_argument("--seed", type=int, default=1)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    return scale.main(["compare", "--mode", "engine", "--scenario", args.scenario,
                       "--lpars", str(args.lpars), "--seed", str(args.seed)])


if __name__ == "__main__":
    sys.exit(main())
