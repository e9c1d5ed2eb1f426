"""``desktop-nn bench``: fixed training workloads timed for desktop-nn and for a reference
(PyTorch, eager, same network, optimiser, dtype, device and threads) in the same run.

Targets are ratios (desktop-nn examples/s over the reference's), never absolute times.
    small  [784, 100, 10] sigmoid, BCE, batch 64, one epoch of 60000 random examples
    cat    [12288, 20, 7, 5, 1] relu/sigmoid, full batch of 209, 200 iterations
    wide   [4096, 4096, 4096, 10] relu, softmax + CE, batch 512, 50 steps
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from dataclasses import dataclass

import numpy as np

from desktop_nn.arg_types import whole_number
from desktop_nn.backend import Backend, BackendError, select_backend
from desktop_nn.nn.network import Network, NetworkSpec
from desktop_nn.train.trainer import TrainConfig, Trainer


@dataclass(frozen=True)
class Workload:
    name: str
    sizes: tuple[int, ...]
    hidden_activation: str
    output: str
    examples: int
    batch_size: int
    steps: int  # optimiser steps timed
    lr: float = 0.1


WORKLOADS = {
    "small": Workload("small", (784, 100, 10), "sigmoid", "sigmoid", 60000, 64, 938),
    "cat": Workload("cat", (12288, 20, 7, 5, 1), "relu", "sigmoid", 209, 209, 200, 0.0075),
    "wide": Workload("wide", (4096, 4096, 4096, 10), "relu", "softmax", 512 * 50, 512, 50, 0.01),
}


def _data(w: Workload, dtype: str, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Random X (n_x, m) in [0, 1) and targets Y (n_y, m) with one class per example."""
    rng = np.random.default_rng(seed)
    X = rng.random((w.sizes[0], w.examples), dtype=np.float32).astype(dtype)
    n_y = w.sizes[-1]
    labels = rng.integers(0, max(n_y, 2), w.examples)
    if n_y == 1:
        Y = labels.reshape(1, -1).astype(dtype)
    else:
        Y = np.zeros((n_y, w.examples), dtype=dtype)
        Y[labels, np.arange(w.examples)] = 1
    return X, Y


def time_desktop_nn(w: Workload, backend: Backend, dtype: str, repeats: int) -> float:
    """Best examples/s over ``repeats`` runs of the Trainer (diagnostics every 10 steps)."""
    X, Y = _data(w, dtype)
    spec = NetworkSpec(w.sizes[0], list(w.sizes[1:-1]), [w.hidden_activation], w.sizes[-1],
                       w.output, "cross-entropy", "he")
    epochs = max(1, -(-w.steps * w.batch_size // w.examples))
    best = 0.0
    for _ in range(repeats):
        net = Network(spec, backend, dtype=dtype, seed=0)
        cfg = TrainConfig(lr=w.lr, epochs=epochs, batch_size=w.batch_size, report_every=10,
                          evaluate=False)
        trainer = Trainer(net, X, Y, cfg)
        backend.synchronize()
        t0 = time.perf_counter()
        result = trainer.run()
        backend.synchronize()
        seconds = time.perf_counter() - t0
        best = max(best, trainer.examples_seen / seconds)
        assert result.stopped == "completed", result.message
    return best


def time_torch(w: Workload, device: str, dtype: str, repeats: int, threads: int) -> float:
    """Best examples/s of the same training in PyTorch eager (rows as examples, its layout)."""
    import torch

    torch.set_num_threads(threads)
    tdtype = getattr(torch, dtype)
    X, Y = _data(w, dtype)
    Xt = torch.as_tensor(np.ascontiguousarray(X.T), device=device)
    Yt = torch.as_tensor(np.ascontiguousarray(Y.T), device=device)
    acts = {"sigmoid": torch.nn.Sigmoid, "relu": torch.nn.ReLU, "tanh": torch.nn.Tanh}
    best = 0.0
    for _ in range(repeats):
        torch.manual_seed(0)
        layers: list[torch.nn.Module] = []
        for i, (n_in, n_out) in enumerate(zip(w.sizes[:-1], w.sizes[1:], strict=True)):
            layers.append(torch.nn.Linear(n_in, n_out))
            if i < len(w.sizes) - 2:
                layers.append(acts[w.hidden_activation]())
        model = torch.nn.Sequential(*layers).to(device=device, dtype=tdtype)
        opt = torch.optim.SGD(model.parameters(), lr=w.lr)
        if w.output == "softmax":
            def loss_fn(z, y):
                return torch.nn.functional.cross_entropy(z, y.argmax(dim=1))
        else:
            def loss_fn(z, y):
                return torch.nn.functional.binary_cross_entropy_with_logits(
                    z, y, reduction="sum") / z.shape[0]
        m, bs = Xt.shape[0], w.batch_size
        g = torch.Generator(device="cpu").manual_seed(0)
        seen, t0 = 0, time.perf_counter()
        if device == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        steps = 0
        while steps < w.steps:
            perm = torch.randperm(m, generator=g).to(device) if bs < m else None
            for i in range(0, m, bs):
                if steps >= w.steps:
                    break
                if perm is None:
                    xb, yb = Xt, Yt
                else:
                    idx = perm[i:i + bs]
                    xb, yb = Xt[idx], Yt[idx]
                opt.zero_grad(set_to_none=True)
                loss = loss_fn(model(xb), yb)
                loss.backward()
                opt.step()
                seen += xb.shape[0]
                steps += 1
        if device == "cuda":
            torch.cuda.synchronize()
        best = max(best, seen / (time.perf_counter() - t0))
    return best


def matmul_flops(backend: Backend, n: int, dtype: str, repeats: int = 5) -> float:
    """The backend's plain matmul rate (FLOP/s) on (n, n) @ (n, 512)."""
    xp = backend.xp
    a = xp.asarray(np.random.default_rng(0).random((n, n), dtype=np.float32), dtype=dtype)
    b = xp.asarray(np.random.default_rng(1).random((n, 512), dtype=np.float32), dtype=dtype)
    a @ b
    backend.synchronize()
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        a @ b
        backend.synchronize()
        best = min(best, time.perf_counter() - t0)
    return 2.0 * n * n * 512 / best


def wide_flops_per_example(sizes: tuple[int, ...]) -> int:
    """The matrix-product FLOPs of one training example: forward one product per layer,
    backward two (dW and dA_prev) except the first layer's dA_prev."""
    per_pass = sum(2 * a * b for a, b in zip(sizes[:-1], sizes[1:], strict=True))
    return 3 * per_pass - 2 * sizes[0] * sizes[1]


def matmul_shares(ours: list[float], limits: list[float], flops_per_example: int
                  ) -> tuple[float, float]:
    """The share of the matmul limit reached: (best run over the highest limit measured,
    median over runs of each run against the limit measured right before it)."""
    best = max(ours) * flops_per_example / max(limits)
    paired = float(np.median([o * flops_per_example / f
                              for o, f in zip(ours, limits, strict=True)]))
    return best, paired


def paired_median(ours: list[float], refs: list[float]) -> float:
    """The median of the ratios of runs taken one right after the other: on a shared machine
    whose speed drifts during a bench, steadier than the ratio of the two bests."""
    return float(np.median([a / b for a, b in zip(ours, refs, strict=True)]))


MAX_REPEATS = 1000
# PyTorch threads: a few times the cores is already slower; far more makes it crash (100000
# threads segfaulted), so more than this is refused
MAX_THREADS = 4 * (os.cpu_count() or 1)


def add_bench_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("device", nargs="?", default=None, choices=["cpu", "gpu"],
                   help="device to time on (default cpu); the same as --device")
    p.add_argument("--device", dest="device_option", choices=["cpu", "gpu"], default=None,
                   help="device to time on (default cpu)")
    p.add_argument("--workload", default="small", choices=[*WORKLOADS, "all"])
    p.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    p.add_argument("--repeats", type=whole_number(1, MAX_REPEATS), default=5,
                   help="runs of each, desktop-nn and reference interleaved: the table gives "
                        "the ratio of the bests and the median of the paired ratios")
    p.add_argument("--threads", type=whole_number(1, MAX_THREADS), default=os.cpu_count() or 1,
                   help="PyTorch CPU threads (match the BLAS threads NumPy uses; at most "
                   f"{MAX_THREADS}, four per core)")
    p.add_argument("--no-reference", action="store_true", help="skip PyTorch")
    p.add_argument("--json", action="store_true", help="print one JSON object")


def run_bench(args: argparse.Namespace) -> int:
    if args.device and args.device_option and args.device != args.device_option:
        print(f"desktop-nn: error: bench: device given twice ({args.device} and --device "
              f"{args.device_option})", file=sys.stderr)
        return 2
    try:
        backend = select_backend(args.device or args.device_option or "cpu")
    except BackendError as exc:
        print(f"desktop-nn: error: bench: {exc}", file=sys.stderr)
        return 2
    names = list(WORKLOADS) if args.workload == "all" else [args.workload]
    torch_device = "cuda" if backend.is_gpu else "cpu"
    have_torch, skipped = False, "--no-reference" if args.no_reference else None
    if not args.no_reference:
        try:
            import torch  # noqa: F401

            have_torch = True
        except ImportError:
            skipped = "PyTorch not installed (pip install '.[bench]')"
            # on stderr: with --json, stdout holds the JSON object alone
            print(f"{skipped}: reference skipped", file=sys.stderr)
    rows = []
    for name in names:
        w = WORKLOADS[name]
        # Interleave the two so that a noisy neighbour or a clock change hits both alike.
        ours, refs, limits = [], [], []
        for _ in range(args.repeats):
            if name == "wide":  # the limit of the moment, for the paired share
                limits.append(matmul_flops(backend, 4096, args.dtype))
            ours.append(time_desktop_nn(w, backend, args.dtype, 1))
            if have_torch:
                refs.append(time_torch(w, torch_device, args.dtype, 1, args.threads))
        best, ref = max(ours), max(refs) if refs else None
        row = {"workload": name, "sizes": list(w.sizes), "batch_size": w.batch_size,
               "steps": w.steps, "desktop_nn_examples_per_s": round(best, 1),
               "torch_examples_per_s": None if ref is None else round(ref, 1),
               "ratio": None if ref is None else round(best / ref, 3),
               "paired_ratio_median": None if ref is None else round(paired_median(ours, refs),
                                                                       3)}
        if name == "wide":
            share, paired_share = matmul_shares(ours, limits, wide_flops_per_example(w.sizes))
            row["matmul_flops"] = round(max(limits))
            row["share_of_matmul_limit"] = round(share, 3)
            row["paired_share_median"] = round(paired_share, 3)
        rows.append(row)
    info = {"device": backend.label, "dtype": args.dtype, "threads": args.threads,
            "cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
            "numpy": np.__version__, "reference_skipped": skipped, "results": rows}
    if have_torch:
        import torch

        info["torch"] = torch.__version__
    if args.json:
        print(json.dumps(info))
        return 0
    print(f"device: {info['device']}, dtype {args.dtype}, {args.threads} threads, "
          f"{args.repeats} runs of each (ex/s: the best)")
    print(f"{'workload':<8} {'desktop-nn ex/s':>16} {'PyTorch ex/s':>14} {'ratio':>7} "
          f"{'paired':>7}")
    for r in rows:
        ref = "-" if r["torch_examples_per_s"] is None else f"{r['torch_examples_per_s']:,.0f}"
        ratio = "-" if r["ratio"] is None else f"{r['ratio']:.2f}x"
        paired = "-" if r["ratio"] is None else f"{r['paired_ratio_median']:.2f}x"
        print(f"{r['workload']:<8} {r['desktop_nn_examples_per_s']:>16,.0f} {ref:>14} {ratio:>7} "
              f"{paired:>7}")
        if "share_of_matmul_limit" in r:
            print(f"{'':<8} matmul limit {r['matmul_flops'] / 1e9:,.1f} GFLOP/s (the highest of "
                  f"the runs' measurements), desktop-nn's best at "
                  f"{r['share_of_matmul_limit']:.0%} of it; paired median "
                  f"{r['paired_share_median']:.0%} (each run against the limit measured "
                  f"right before it)")
    return 0
