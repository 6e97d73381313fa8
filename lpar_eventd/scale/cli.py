"""What the scale commands share: registration, a standalone entry point,
positive-number argument types (one clear error), progress lines."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["positive_int", "positive_float", "register", "standalone", "say"]

Arguments = Callable[[argparse.ArgumentParser], None]
Run = Callable[[argparse.Namespace], int]


def register(subparsers: Any, name: str, help_text: str, description: str | None,
             arguments: Arguments, run: Run) -> argparse.ArgumentParser:
    """Add one campaign subcommand (chaos, soak, load) whose module declares its
    own arguments and ``run``; the scale CLI dispatches on ``func``."""
    p = subparsers.add_parser(name, help=help_text, description=description,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    arguments(p)
    p.set_defaults(func=run)
    return p


def standalone(module: str, description: str | None, arguments: Arguments, run: Run,
               argv: Sequence[str] | None = None) -> int:
    """``python -m <module>``: the same arguments and ``run`` as the subcommand."""
    p = argparse.ArgumentParser(prog=f"python -m {module}", description=description,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    arguments(p)
    return run(p.parse_args(argv))


def say(message: str) -> None:
    """A progress line, shown at once even when stdout is a pipe."""
    print(message, flush=True)


def positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {value!r}") from None
    if number <= 0:
        raise argparse.ArgumentTypeError(f"must be positive: {value!r}")
    return number


def positive_float(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
    if not number > 0:  # also refuses nan
        raise argparse.ArgumentTypeError(f"must be positive: {value!r}")
    return number
