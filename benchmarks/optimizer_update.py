"""Time the CPU optimiser update of `wide`'s weights block by block against the whole-array
update, interleaved in one run (the ratio is what to read; the VM's speed drifts).

    python benchmarks/optimizer_update.py [--optimizer sgd|momentum|adam] [--repeats 7]

Both are desktop-nn's own update (`desktop_nn.nn.optimizers` through the CPU's device ops,
`desktop_nn.nn.ops.numpy_ops.NumpyOps`), once with blocks of `numpy_ops.BLOCK` elements and
once with blocking switched off (BLOCK above every parameter's size); they give the same bits.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

import desktop_nn.nn.optimizers as optimizers
from desktop_nn.nn.network import Gradients, Network, NetworkSpec
from desktop_nn.nn.ops import numpy_ops


def time_update(net: Network, grads: Gradients, name: str, block: int, steps: int) -> float:
    """Seconds per optimiser step with BLOCK = ``block`` (best of ``steps`` steps)."""
    saved = numpy_ops.BLOCK
    numpy_ops.BLOCK = block
    try:
        opt = optimizers.make_optimizer(name, 1e-6)
        opt.allocate(net)
        opt.step(net, grads)  # first touch of the state arrays
        best = float("inf")
        for _ in range(steps):
            t0 = time.perf_counter()
            opt.step(net, grads)
            best = min(best, time.perf_counter() - t0)
        return best
    finally:
        numpy_ops.BLOCK = saved


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--optimizer", choices=optimizers.OPTIMIZERS, default="sgd")
    p.add_argument("--repeats", type=int, default=7, help="interleaved rounds of each")
    args = p.parse_args()
    spec = NetworkSpec(4096, [4096, 4096], ["relu"], 10, "softmax", "cross-entropy")
    net = Network(spec, dtype="float32", seed=0)
    rng = np.random.default_rng(0)
    grads = Gradients(dW=[rng.standard_normal(w.shape, dtype=np.float32) for w in net.W],
                      db=[rng.standard_normal(b.shape, dtype=np.float32) for b in net.b])
    blocked, whole = [], []
    for _ in range(args.repeats):
        blocked.append(time_update(net, grads, args.optimizer, numpy_ops.BLOCK, 3))
        whole.append(time_update(net, grads, args.optimizer, 10**12, 3))
    b, w = min(blocked), min(whole)
    print(f"{args.optimizer} update of wide's W and b ({spec.sizes}, float32): "
          f"blocks of {numpy_ops.BLOCK} {1e3 * b:.1f} ms, whole arrays {1e3 * w:.1f} ms, "
          f"{w / b:.2f}x (best of {args.repeats} interleaved rounds)")


if __name__ == "__main__":
    main()
