"""Run Michael Nielsen's own ``network2.py`` on the shared MNIST files: the reference for
``desktop-nn reproduce nielsen-ch3`` (and any other network2 setting), over as many seeds as
you like, to see how far one published run sits from the spread of the book's own code.

network2.py is not in this repository. Fetch it from the book's repository
(https://github.com/mnielsen/neural-networks-and-deep-learning, ``src/network2.py``, MIT
licence). It is Python 2; this script turns its ``print`` statements and ``xrange`` into
Python 3 as it loads it and changes nothing else.

The data are built as the book's ``mnist_loader.load_data_wrapper()`` builds them from
``mnist.pkl.gz``: the first 50000 training images for training (targets one-hot (10, 1)),
the last 10000 as validation data (targets the digit), inputs (784, 1), pixels / 256 (the
scale of ``mnist.pkl.gz``).

    python benchmarks/nielsen_network2.py --network2 PATH/network2.py --seed 0 --json
    # the ch.3 run: [784,100,10], cross-entropy, large_weight_initializer, 30 epochs,
    # mini-batch 10, eta 0.5, lambda 5.0, validation accuracy after every epoch

``--seed N`` seeds Python's ``random`` (the shuffles) and NumPy's legacy global generator (the
initial weights), so each run is repeatable. One run of the ch.3 setting takes minutes: it is
the book's per-example Python loop.
"""
from __future__ import annotations

import argparse
import gzip
import json
import random
import re
import sys
import time
import types
from pathlib import Path

import numpy as np

from desktop_nn.reproduce import default_data_dir


def python3_source(source: str) -> str:
    """network2.py's Python 2 source as Python 3: ``print x`` -> ``print(x)`` (continuation
    lines included), ``xrange`` -> ``range``. Nothing else is touched."""
    lines = source.splitlines()
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        m = re.match(r"^(\s*)print(\s+(.*))?$", line)
        if m and not line.strip().startswith("print("):
            indent, expr = m.group(1), (m.group(3) or "")
            depth = sum(expr.count(c) for c in "([{") - sum(expr.count(c) for c in ")]}")
            while depth > 0:
                i += 1
                nxt = lines[i].strip()
                expr += " " + nxt
                depth += sum(nxt.count(c) for c in "([{") - sum(nxt.count(c) for c in ")]}")
            out.append(f"{indent}print({expr})")
        else:
            out.append(line)
        i += 1
    return re.sub(r"\bxrange\b", "range", "\n".join(out)) + "\n"


def load_network2(path: Path) -> types.ModuleType:
    module = types.ModuleType("network2")
    module.__file__ = str(path)
    sys.modules["network2"] = module  # network2.load() looks itself up there
    # runs the copy of the book's code that the user fetched and named on the command line
    exec(compile(python3_source(path.read_text()), str(path), "exec"), module.__dict__)
    return module


def _idx(path: Path) -> np.ndarray:
    with gzip.open(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * k:8 + 4 * k], "big") for k in range(ndim))
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim).reshape(shape)


def nielsen_data(mnist_dir: Path, n_train: int = 50_000):
    """(training, validation, test) in load_data_wrapper()'s form."""
    images = _idx(mnist_dir / "train-images-idx3-ubyte.gz").reshape(-1, 784)
    labels = _idx(mnist_dir / "train-labels-idx1-ubyte.gz")
    t_images = _idx(mnist_dir / "t10k-images-idx3-ubyte.gz").reshape(-1, 784)
    t_labels = _idx(mnist_dir / "t10k-labels-idx1-ubyte.gz")
    x = (images / np.float32(256)).astype(np.float32)
    xt = (t_images / np.float32(256)).astype(np.float32)

    def one_hot(j: int) -> np.ndarray:
        e = np.zeros((10, 1))
        e[j] = 1.0
        return e

    training = [(x[i].reshape(784, 1), one_hot(int(labels[i]))) for i in range(n_train)]
    validation = [(x[i].reshape(784, 1), int(labels[i])) for i in range(n_train, len(x))]
    test = [(xt[i].reshape(784, 1), int(t_labels[i])) for i in range(len(xt))]
    return training, validation, test


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--network2", type=Path, required=True, help="path to the book's network2.py")
    p.add_argument("--data-dir", type=Path, default=default_data_dir() / "mnist",
                   help="folder with the four MNIST idx .gz files (default: mnist in "
                   "$DESKTOP_NN_SHARED_DATA, else ../shared/data/mnist, as reproduce)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--hidden", type=int, nargs="+", default=[100])
    p.add_argument("--cost", choices=["cross-entropy", "quadratic"], default="cross-entropy")
    p.add_argument("--init", choices=["large", "default"], default="large",
                   help="large_weight_initializer (N(0,1), the ch.3 run) or the default "
                   "N(0,1)/sqrt(n_in)")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--batch", type=int, default=10)
    p.add_argument("--eta", type=float, default=0.5)
    p.add_argument("--lmbda", type=float, default=5.0)
    p.add_argument("--json", action="store_true", help="one JSON object on stdout")
    args = p.parse_args(argv)

    network2 = load_network2(args.network2)
    t0 = time.perf_counter()
    training, validation, _test = nielsen_data(args.data_dir)
    random.seed(args.seed)
    np.random.seed(args.seed)  # noqa: NPY002 - network2 draws from NumPy's global generator
    cost = network2.CrossEntropyCost if args.cost == "cross-entropy" else network2.QuadraticCost
    net = network2.Network([784, *args.hidden, 10], cost=cost)
    if args.init == "large":
        net.large_weight_initializer()
    stdout = sys.stdout
    if args.json:
        sys.stdout = sys.stderr  # network2 prints its progress; keep stdout for the JSON
    try:
        _, accuracy, _, _ = net.SGD(training, args.epochs, args.batch, args.eta,
                                    lmbda=args.lmbda, evaluation_data=validation,
                                    monitor_evaluation_accuracy=True)
    finally:
        sys.stdout = stdout
    acc = [a / len(validation) for a in accuracy]
    best = int(np.argmax(acc))
    result = {"network": [784, *args.hidden, 10], "cost": args.cost, "init": args.init,
              "eta": args.eta, "lmbda": args.lmbda, "epochs": args.epochs,
              "batch": args.batch, "seed": args.seed, "final_accuracy": acc[-1],
              "best_accuracy": acc[best], "best_epoch": best + 1,
              "validation_accuracy": acc, "seconds": round(time.perf_counter() - t0, 1),
              "numpy": np.__version__}
    if args.json:
        print(json.dumps(result))
    else:
        print(f"network2 {result['network']} seed {args.seed}: validation accuracy after "
              f"{args.epochs} epochs {acc[-1]:.2%} (peak {acc[best]:.2%} at epoch {best + 1}), "
              f"{result['seconds']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
