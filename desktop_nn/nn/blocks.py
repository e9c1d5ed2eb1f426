"""Elementwise work on big CPU arrays, one cache-sized block at a time.

A chain of NumPy operations over a whole (4096, 4096) array makes one pass through memory per
operation, each with its own array-sized temporary. Run block by block, the chain works on a
block that stays in the core's cache: the arrays are read from memory once, and the only
scratch is one block. The operations and their order are unchanged, so elementwise results
are the same to the bit. CuPy arrays and small arrays are never split (one kernel, or one pass
that already fits in cache, is cheaper than a Python loop).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

# Elements per block. Adam's five block-sized arrays (W, dW, v, s, scratch) take 5 MB in
# float32, within a desktop CPU's L3 cache; much smaller blocks pay Python's per-call cost too
# often (on the project's VM blocks of 4096 were slower than none).
BLOCK = 262144


def blockable(p: Any, *others: Any) -> bool:
    """Whether p (and the arrays that go with it) can be split into blocks: big C-contiguous
    NumPy arrays of one shape (a reshape of anything else could be a copy)."""
    return isinstance(p, np.ndarray) and p.size > BLOCK and all(
        isinstance(a, np.ndarray) and a.flags.c_contiguous and a.shape == p.shape
        for a in (p, *others))


def flat_blocks(*arrays: np.ndarray) -> Iterator[tuple[np.ndarray, ...]]:
    """Matching 1-D views of at most ``BLOCK`` elements of arrays for which
    :func:`blockable` holds (views: writing to them writes to the arrays)."""
    flat = [a.reshape(-1) for a in arrays]
    size = arrays[0].size
    for start in range(0, size, BLOCK):
        stop = min(start + BLOCK, size)
        yield tuple(f[start:stop] for f in flat)


def sum_of_squares(a: Any) -> Any:
    """sum(a * a) as a 0-d array on a's device. A big NumPy array is summed block by block
    (pairwise in a's dtype within a block, the blocks' sums added in float64, returned as
    float64), with no a-sized temporary: on (4096, 4096) float32 about 2x faster than
    ``(a * a).sum()`` and no less accurate (the order of the sum differs, so the last bits
    may too)."""
    if not blockable(a):
        return (a * a).sum()
    scratch = np.empty(min(BLOCK, a.size), dtype=a.dtype)
    total = 0.0
    for (block,) in flat_blocks(a):
        sq = np.multiply(block, block, out=scratch[:block.size])
        total += float(sq.sum())
    return np.asarray(total)


def add_scaled(out: Any, a: Any, scale: float) -> None:
    """out += scale * a, in place (the L2 term lambda / n * W added to dW). Big NumPy arrays
    go block by block, with the same two operations per element: no a-sized temporary.
    ``scale`` is taken as a Python float, so that both ways compute in a's dtype."""
    scale = float(scale)
    if not blockable(out, a):
        out += scale * a
        return
    scratch = np.empty(min(BLOCK, a.size), dtype=a.dtype)
    for o, x in flat_blocks(out, a):
        o += np.multiply(x, scale, out=scratch[:x.size])
