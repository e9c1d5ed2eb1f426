"""Kept for callers of the old module (train/trainer.py imports ``sum_of_squares``).

The CPU's block-by-block work now lives in the device ops (nn/ops/numpy_ops.py); a caller with
a network should use ``net.ops.sum_of_squares(a)``.
"""

from __future__ import annotations

from typing import Any

from desktop_nn.backend import array_module
from desktop_nn.nn.ops import device_ops


def sum_of_squares(a: Any) -> Any:
    """sum(a * a) as a 0-d array on a's device, by the device ops of a's array module."""
    return device_ops(array_module(a)).sum_of_squares(a)
