"""NumpyOps: the device ops on the CPU, the reference's numbers with the CPU's speed work.

- The layout trick: a layer of few units fed by many inputs stored example-major (a
  trainer's batch is the transpose of an (m, n_x) array) computes Z^T = A_prev^T W^T, both
  operands row-major for OpenBLAS, 15-30 % faster than W A_prev with a transposed right
  operand (the `cat` bench's first layer).
- Reused buffers: Z += b in place, the gradients into the previous step's dW and db, the
  updates into the parameter and its state with the optimiser's scratch (in_place.py): a
  fresh (n_l, n_{l-1}) array per step costs page faults comparable to the update itself.
- Blocks: an elementwise chain over a big array (the updates, the L2 term, a sum of squares)
  runs ``BLOCK`` elements at a time, on a block that stays in the core's cache: the arrays
  are read from memory once instead of once per operation, and the only scratch is one
  block. The operations and their order are unchanged, so elementwise results are the same
  to the bit (a sum of squares adds its blocks in float64: the last bits may differ).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from desktop_nn.nn.activations import Activation
from desktop_nn.nn.ops import in_place
from desktop_nn.nn.ops.reference import DeviceOps

Array = Any

# Elements per block. Adam's five block-sized arrays (W, dW, v, s, scratch) take 5 MB in
# float32, within a desktop CPU's L3 cache; much smaller blocks pay Python's per-call cost too
# often (on the project's VM blocks of 4096 were slower than none).
BLOCK = 262144


def blockable(p: np.ndarray, *others: np.ndarray) -> bool:
    """Whether p (and the arrays that go with it) can be split into blocks: big C-contiguous
    arrays of one shape (a reshape of anything else could be a copy)."""
    return p.size > BLOCK and all(a.flags.c_contiguous and a.shape == p.shape
                                  for a in (p, *others))


def flat_blocks(*arrays: np.ndarray) -> Iterator[tuple[np.ndarray, ...]]:
    """Matching 1-D views of at most ``BLOCK`` elements of arrays for which
    :func:`blockable` holds (views: writing to them writes to the arrays)."""
    flat = [a.reshape(-1) for a in arrays]
    size = arrays[0].size
    for start in range(0, size, BLOCK):
        stop = min(start + BLOCK, size)
        yield tuple(f[start:stop] for f in flat)


def add_scaled(out: np.ndarray, a: np.ndarray, scale: float) -> None:
    """out += scale * a, in place (the L2 term decay * W added to dW), block by block for big
    arrays: no a-sized temporary. ``scale`` is taken as a Python float, so that both ways
    compute in a's dtype."""
    scale = float(scale)
    if not blockable(out, a):
        out += scale * a
        return
    scratch = np.empty(min(BLOCK, a.size), dtype=a.dtype)
    for o, x in flat_blocks(out, a):
        o += np.multiply(x, scale, out=scratch[:x.size])


class NumpyOps(DeviceOps):
    """The CPU's ops. Holds no buffers of its own: the scratch arrays belong to the caller
    (the optimiser, the trainer's gradients), so two networks training in two threads share
    nothing."""

    name = "numpy"

    def layer_forward(self, W: np.ndarray, b: np.ndarray, a_prev: np.ndarray,
                      g: Activation) -> tuple[np.ndarray, np.ndarray]:
        n_out, n_in = W.shape
        if (8 * n_out <= n_in and a_prev.flags.f_contiguous
                and not a_prev.flags.c_contiguous):
            # the layout trick (module docstring): the same product; the small Z is copied
            # back to row-major for the layers after
            z = np.ascontiguousarray((a_prev.T @ W.T).T)
        else:
            z = W @ a_prev
        z += b
        return z, g.forward(z)

    def layer_gradients(self, dz: np.ndarray, a_prev: np.ndarray, W: np.ndarray, m: int,
                        decay: float, dW: np.ndarray | None = None,
                        db: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        reuse = in_place.fits(dW, W.shape, W) and in_place.fits(db, (W.shape[0], 1), W)
        dW, db = in_place.layer_gradients(np, dz, a_prev, m, dW if reuse else None,
                                          db if reuse else None)
        if decay:
            add_scaled(dW, W, decay)
        return dW, db

    def sum_of_squares(self, a: np.ndarray) -> np.ndarray:
        """A big array is summed block by block (pairwise in a's dtype within a block, the
        blocks' sums added in float64, returned as float64), with no a-sized temporary: on
        (4096, 4096) float32 about 2x faster than ``(a * a).sum()`` and no less accurate."""
        if not blockable(a):
            return (a * a).sum()
        scratch = np.empty(min(BLOCK, a.size), dtype=a.dtype)
        total = 0.0
        for (block,) in flat_blocks(a):
            sq = np.multiply(block, block, out=scratch[:block.size])
            total += float(sq.sum())
        return np.asarray(total)

    # ---------------------------------------------------------------- optimiser updates
    def scratch_like(self, p: np.ndarray) -> np.ndarray:
        """One block for a parameter updated block by block, else an array shaped like p."""
        if blockable(p):
            return np.empty(BLOCK, dtype=p.dtype)
        return p * 0

    def sgd(self, p: np.ndarray, g: np.ndarray, lr: float, scratch: np.ndarray) -> None:
        for pb, gb, buf in self._blocks(scratch, p, g):
            in_place.sgd(np, pb, gb, lr, buf)

    def momentum(self, p: np.ndarray, g: np.ndarray, v: np.ndarray, lr: float, beta: float,
                 scratch: np.ndarray) -> None:
        for pb, gb, vb, buf in self._blocks(scratch, p, g, v):
            in_place.momentum(np, pb, gb, vb, lr, beta, buf)

    def adam(self, p: np.ndarray, g: np.ndarray, v: np.ndarray, s: np.ndarray, step: float,
             beta1: float, beta2: float, eps_hat: float, scratch: np.ndarray) -> None:
        for pb, gb, vb, sb, buf in self._blocks(scratch, p, g, v, s):
            in_place.adam(np, pb, gb, vb, sb, step, beta1, beta2, eps_hat, buf)

    def adam_step_sum_of_squares(self, v: np.ndarray, s: np.ndarray, step: float,
                                 eps_hat: float, scratch: np.ndarray) -> np.ndarray:
        """In the scratch, block by block like :meth:`adam`: no v-sized temporary."""
        total = 0.0
        for vb, sb, buf in self._blocks(scratch, v, s):
            total += float(in_place.adam_step_sum_of_squares(np, vb, sb, step, eps_hat, buf))
        return np.asarray(total)

    def _blocks(self, scratch: np.ndarray,
                *arrays: np.ndarray) -> Iterator[tuple[np.ndarray, ...]]:
        """(*arrays, scratch) block by block for big C-contiguous arrays, else the whole
        arrays once."""
        if blockable(*arrays):
            flat = scratch.reshape(-1)
            for views in flat_blocks(*arrays):
                yield (*views, flat[:views[0].size])
            return
        p = arrays[0]
        if scratch.shape != p.shape:
            # a big p whose gradient or state has another layout (never from the trainer):
            # its scratch is one block, too small for the whole arrays
            scratch = np.empty_like(p)
        yield (*arrays, scratch)

    # ---------------------------------------------------------------- data
    def gather(self, rows: np.ndarray, idx: np.ndarray, out: np.ndarray) -> np.ndarray:
        # NumPy buffers ``out`` (an extra copy) unless told that out-of-range indices need no
        # check, so it is told: idx is a slice of a permutation.
        return np.take(rows, idx, axis=0, out=out, mode="clip")
