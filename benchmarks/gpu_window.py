"""The window, offscreen, trains on the GPU for a few epochs (benchmarks/gpu_check.sh, step 4).

It is desktop-nn's self-test (desktop_nn/gui/selftest.py: the real window with private
settings, the bundled sample, training in the worker thread, the plots and the fall of the cost
checked) with more epochs, and one more check: the device it trained on is the GPU (the window's
device label reads "<GPU> - CuPy"; the device setting is "auto", which takes the GPU when CuPy
sees one). Exit 0 when it trained on the GPU (or, with --allow-cpu, on the CPU) and the cost
fell.

    QT_QPA_PLATFORM=offscreen python benchmarks/gpu_window.py --epochs 3
"""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--timeout", type=float, default=80.0, help="seconds for the training")
    p.add_argument("--allow-cpu", action="store_true",
                   help="pass when it trained on the CPU (to try this script without a GPU)")
    args = p.parse_args(argv)
    from desktop_nn.gui import selftest

    selftest.EPOCHS = args.epochs  # read by the self-test when it sets the window up
    result = selftest.run_self_test(timeout_s=args.timeout)
    print(result.message, flush=True)
    if not result.ok:
        return 1
    if "- CuPy" not in result.message:
        print("the window trained on the CPU, not on the GPU", file=sys.stderr)
        return 0 if args.allow_cpu else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
