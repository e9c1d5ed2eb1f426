"""Time the elementwise parts of a CPU `wide` step that desktop-nn does differently from the
plain NumPy expression, each against that expression, interleaved in one run (read the
ratios: this VM's speed drifts).

    python benchmarks/elementwise_parts.py [--repeats 9]

Shapes are those of `wide` ([4096, 4096, 4096, 10], batch 512, float32):
    relu backward   dZ = dA * g'(Z) on (4096, 512): where(Z > 0, dA, 0) against dA * (Z > 0)
                    (ReLU.backward; same numbers, -0.0 for +0.0 where dA < 0 and Z <= 0)
    ||W||^2         (W * W).sum() against NumpyOps.sum_of_squares (4 per report in `wide`)
    L2 term         dW += lam * W against numpy_ops.add_scaled (every step with L2 > 0)
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from desktop_nn.nn.activations import get_activation
from desktop_nn.nn.ops import NumpyOps, numpy_ops


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeats", type=int, default=9, help="interleaved rounds (median kept)")
    args = p.parse_args()
    rng = np.random.default_rng(0)
    z = rng.standard_normal((4096, 512), dtype=np.float32)
    da = rng.standard_normal((4096, 512), dtype=np.float32)
    W = rng.standard_normal((4096, 4096), dtype=np.float32)
    dW = rng.standard_normal((4096, 4096), dtype=np.float32)
    relu = get_activation("relu")
    ops = NumpyOps()
    pairs = {
        "relu backward (4096, 512)": (lambda: np.where(z > 0, da, 0),
                                      lambda: relu.backward(da, z, None)),
        "||W||^2 (4096, 4096)": (lambda: (W * W).sum(), lambda: ops.sum_of_squares(W)),
        "dW += lam W (4096, 4096)": (lambda: dW.__iadd__(1e-9 * W),
                                     lambda: numpy_ops.add_scaled(dW, W, 1e-9)),
    }
    times = {name: ([], []) for name in pairs}
    for plain, ours in pairs.values():
        plain(), ours()
    for _ in range(args.repeats):
        for name, fns in pairs.items():
            for f, out in zip(fns, times[name], strict=True):
                t0 = time.perf_counter()
                f()
                out.append(time.perf_counter() - t0)
    print(f"median of {args.repeats} interleaved rounds, float32")
    print(f"{'part':<28} {'plain NumPy':>12} {'desktop-nn':>11} {'speed-up':>9}")
    for name, (plain, ours) in times.items():
        a, b = float(np.median(plain)), float(np.median(ours))
        print(f"{name:<28} {a * 1e3:>9.1f} ms {b * 1e3:>8.1f} ms {a / b:>8.2f}x")


if __name__ == "__main__":
    main()
