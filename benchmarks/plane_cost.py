"""What one picture of the Plane tab (decision boundary) costs: inspect/plane.py's
plane_picture (the output over a 100 x 100 grid and every hidden unit over a 32 x 32 one) for
2-input networks of a few layers, in float32 (the app's default precision) and float64.

    python benchmarks/plane_cost.py [--repeats 50]

Prints the median and 90th percentile of the wall time per picture.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from desktop_nn.inspect.plane import plane_picture
from desktop_nn.nn.network import Network, NetworkSpec

NETWORKS = [([8, 8], "tanh"), ([16, 16], "tanh"), ([64, 64], "tanh"), ([64, 64, 64], "relu"),
            ([64, 64], "sigmoid")]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=50)
    args = parser.parse_args(argv)
    ranges = ((-1.2, 1.2), (-1.2, 1.2))
    for dtype in ("float32", "float64"):
        for hidden, act in NETWORKS:
            for out, n_out in (("sigmoid", 1), ("softmax", 3)):
                net = Network(NetworkSpec(2, hidden, [act], n_out, out), dtype=dtype)
                W, b = net.get_parameters()
                times = []
                for _ in range(args.repeats + 1):
                    t0 = time.perf_counter()
                    plane_picture(W, b, net.spec.activations, ranges, dtype=dtype)
                    times.append(time.perf_counter() - t0)
                ms = np.array(times[1:]) * 1000  # the first warms the caches
                print(f"{dtype} {net.spec.sizes} {act}/{out}: median {np.median(ms):.2f} ms, "
                      f"p90 {np.percentile(ms, 90):.2f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
