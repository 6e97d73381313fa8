"""Argument types the scale commands share: positive numbers, one clear error."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

__all__ = ["positive_int", "positive_float", "register"]


def register(subparsers: Any, name: str, help_text: str, description: str | None,
             arguments: Callable[[argparse.ArgumentParser], None],
             run: Callable[[argparse.Namespace], int]) -> argparse.ArgumentParser:
    """Add one campaign subcommand (chaos, soak, load) whose module declares its
    own arguments and ``run``; the scale CLI dispatches on ``func``."""
    p = subparsers.add_parser(name, help=help_text, description=description,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    arguments(p)
    p.set_defaults(func=run)
    return p


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
