"""Command-line argument types shared by every command (train, bench, reproduce, ...): each
checks a value as argparse reads it, so a bad value is refused naming its option before
anything is loaded. Imports nothing of the app: any layer may use it."""

from __future__ import annotations

import argparse
from collections.abc import Callable


def whole_number(lo: int, hi: int) -> Callable[[str], int]:
    """An argparse type: a whole number in [lo, hi] (argparse names the option)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if not lo <= value <= hi:
            raise argparse.ArgumentTypeError(f"must be between {lo} and {hi}, got {text}")
        return value

    parse.__name__ = "whole number"  # what argparse calls it in "invalid ... value"
    return parse
