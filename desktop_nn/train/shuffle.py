"""The epoch's shuffled order, drawn on the device that holds the data.

A permutation of ``range(m)`` is the index order of ``m`` random keys, sorted. Each key is a
counter-based hash (SplitMix64's finaliser) of the example's index and the epoch's 64-bit
``key``, computed with plain ``uint64`` array arithmetic, so NumPy and CuPy compute the same
keys and sort them the same way: the same seed gives the same shuffle on the CPU and on the
GPU, and a GPU run never draws or uploads its order on the host (one ``(m,)`` array per epoch,
made by a handful of elementwise kernels and one sort on the device).

The low 32 bits of each key are replaced by the example's index, which makes the keys unique
(so any sort, stable or not, gives the same order) and lets the index be read back from the
sorted keys without an argsort.
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: names the algorithm in saved training states: a run saved inside an epoch continues that
#: epoch's order only if it was drawn the same way
SHUFFLE_ALGORITHM = "splitmix64-sorted-keys"

MAX_EXAMPLES = 2**32  # the index must fit the low 32 bits of a key

_GOLDEN = 0x9E3779B97F4A7C15
_MIX1 = 0xBF58476D1CE4E5B9
_MIX2 = 0x94D049BB133111EB
_HIGH = 0xFFFFFFFF00000000
_LOW = 0xFFFFFFFF


def draw_key(rng: np.random.Generator) -> int:
    """The next epoch's 64-bit key from the run's seeded generator."""
    return int(rng.integers(0, 2**64, dtype=np.uint64))


def epoch_permutation(xp: Any, key: int, m: int) -> Any:
    """A permutation of ``range(m)``, shape (m,), int64, on ``xp``'s device (NumPy or CuPy):
    the same for the same ``key`` on either."""
    if not 0 <= m <= MAX_EXAMPLES:
        raise ValueError(f"cannot shuffle {m} examples (at most {MAX_EXAMPLES})")
    u = xp.uint64
    z = xp.arange(m, dtype=u)
    z *= u(_GOLDEN)  # wraps modulo 2**64, as intended
    z += u(key & 0xFFFFFFFFFFFFFFFF)
    z ^= z >> u(30)
    z *= u(_MIX1)
    z ^= z >> u(27)
    z *= u(_MIX2)
    z ^= z >> u(31)
    z &= u(_HIGH)
    z |= xp.arange(m, dtype=u)
    z.sort()
    z &= u(_LOW)
    return z.view(xp.int64)
