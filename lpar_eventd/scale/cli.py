"""Argument types the scale commands share: positive numbers, one clear error."""

from __future__ import annotations

import argparse

__all__ = ["positive_int", "positive_float"]


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
