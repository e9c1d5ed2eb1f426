"""The gradient check of the Math tab, without Qt: a snapshot of the model in hand copied to
the host (so the check never touches the network being trained), rebuilt as a float64 NumPy
network on which :func:`desktop_nn.nn.gradcheck.gradcheck` runs, away from ReLU kinks, with
progress and cancellation."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from desktop_nn.backend import cpu_backend
from desktop_nn.data.image_folder import Cancelled
from desktop_nn.nn.gradcheck import TOLERANCE as GRADCHECK_TOLERANCE
from desktop_nn.nn.gradcheck import LayerCheck, gradcheck
from desktop_nn.nn.network import Network, NetworkSpec

MAX_EXAMPLES = 16  # columns of X checked
CANDIDATES = 4 * MAX_EXAMPLES  # columns copied, of which those away from ReLU kinks are used
MAX_ENTRIES = 64  # entries of each W[l] and of each b[l] checked (a fixed random subset)
ORDER, EPS = 4, 1e-4  # the CLI's defaults: five-point stencil, little rounding on tiny gradients
KINK_MARGIN = 10 * EPS  # |Z| below this in a (leaky) ReLU layer: the example sits at a kink
KINKED = ("relu", "leaky_relu")


@dataclass
class CheckProblem:
    """What to check: a network (any backend or dtype), a batch X (n_x, m), Y (n_L, m), and the
    L2 strength with the training-set size n that scales it (None: the batch's m)."""

    network: Network
    X: Any
    Y: Any
    l2: float = 0.0
    n: int | None = None


@dataclass
class Snapshot:
    """Host float64 copies of a CheckProblem (the first CANDIDATES columns of X and Y), safe
    to hand to another thread."""

    spec: NetworkSpec
    W: list[np.ndarray]
    b: list[np.ndarray]
    X: np.ndarray
    Y: np.ndarray
    l2: float
    n: int | None


@dataclass
class CheckRun:
    """What a check found: gradcheck's per-layer results, the examples used, and how many
    candidate examples were left out because a ReLU pre-activation sat at its kink."""

    checks: list[LayerCheck]
    examples: int
    skipped: int


def _host(a: Any) -> np.ndarray:
    if not isinstance(a, np.ndarray) and hasattr(a, "get"):  # a CuPy array
        a = a.get()
    return np.array(a, dtype=np.float64)  # always a copy


def snapshot(problem: CheckProblem | tuple, candidates: int = CANDIDATES) -> Snapshot:
    """Copy the parameters and the first ``candidates`` columns of X and Y to the host."""
    if isinstance(problem, tuple):
        problem = CheckProblem(*problem)
    W, b = problem.network.get_parameters()
    X = _host(problem.X[:, :candidates])
    Y = _host(problem.Y[:, :candidates])
    spec = problem.network.spec
    if X.ndim != 2 or X.shape[0] != spec.input_size or X.shape[1] == 0:
        raise ValueError(f"X must have shape ({spec.input_size}, m) with m >= 1, got {X.shape}")
    if Y.shape != (spec.output_size, X.shape[1]):
        raise ValueError(f"Y must have shape ({spec.output_size}, {X.shape[1]}), got {Y.shape}")
    return Snapshot(spec, [w.astype(np.float64) for w in W], [x.astype(np.float64) for x in b],
                    X, Y, float(problem.l2), problem.n)


class _CheckedNetwork(Network):
    """A Network whose forward pass reports progress and raises Cancelled once
    ``cancel_event`` is set, so that a long check ends between two finite differences."""

    cancel_event: threading.Event | None = None
    progress: Callable[[int, int], None] | None = None
    total = 0
    calls = 0

    def forward(self, X):
        if self.cancel_event is not None and self.cancel_event.is_set():
            raise Cancelled("gradient check cancelled")
        self.calls += 1
        if self.progress is not None and self.total and self.calls % 64 == 0:
            self.progress(min(self.calls, self.total), self.total)
        return super().forward(X)


def away_from_kinks(net: Network, X: np.ndarray, margin: float = KINK_MARGIN) -> np.ndarray:
    """Indices of the columns of X whose pre-activations in every (leaky) ReLU layer are
    farther than ``margin`` from 0, where finite differences straddle the kink."""
    keep = np.ones(X.shape[1], dtype=bool)
    _, caches = net.forward(X)
    for cache, act in zip(caches, net.activations, strict=True):
        if act.name in KINKED:
            keep &= (np.abs(cache.z) > margin).all(axis=0)
    return np.flatnonzero(keep)


def check_gradients(snap: Snapshot, cancel: threading.Event | None = None,
                    progress: Callable[[int, int], None] | None = None,
                    max_examples: int = MAX_EXAMPLES) -> CheckRun:
    """Run the project's gradcheck on a float64 NumPy network rebuilt from ``snap``, on up to
    ``max_examples`` columns, preferring those away from ReLU kinks."""
    net = _CheckedNetwork(snap.spec, cpu_backend("gradient check"), "float64", seed=None)
    net.set_parameters(snap.W, snap.b)
    cols = away_from_kinks(net, snap.X)
    skipped = snap.X.shape[1] - len(cols)
    if len(cols) == 0:  # every example is at a kink: check some anyway, the table shows kinks
        cols, skipped = np.arange(snap.X.shape[1]), 0
    cols = cols[:max_examples]
    X, Y = snap.X[:, cols], snap.Y[:, cols]
    per_entry = 2 if ORDER == 2 else 4
    net.total = 1 + per_entry * sum(min(w.size, MAX_ENTRIES) + min(x.size, MAX_ENTRIES)
                                    for w, x in zip(snap.W, snap.b, strict=True))
    net.cancel_event, net.progress = cancel, progress
    checks = gradcheck(net, X, Y, l2=snap.l2, n=snap.n, eps=EPS, order=ORDER,
                       max_params_per_layer=MAX_ENTRIES)
    return CheckRun(checks, X.shape[1], skipped)


def passes(check: LayerCheck) -> bool:
    return check.relative_error <= GRADCHECK_TOLERANCE


def verdict(checks: list[LayerCheck]) -> str:
    """One line for the status label: all layers pass, or which fail and by how much."""
    if not checks:
        return "nothing was checked"
    worst = max(c.relative_error for c in checks)
    failed = [c for c in checks if not passes(c)]
    if not failed:
        return (f"all layers pass (worst relative error {worst:.1e}, "
                f"tolerance {GRADCHECK_TOLERANCE:g})")
    names = ", ".join(str(c.layer) for c in failed)
    text = (f"layer {names} fails" if len(failed) == 1 else f"layers {names} fail") + \
        f" (relative error {worst:.1e} > {GRADCHECK_TOLERANCE:g})"
    kinks = sum(c.kinks for c in checks if c.layer >= failed[0].layer)
    if kinks:
        text += (f"; {kinks} ReLU pre-activations sit within eps of the kink at 0, where "
                 "finite differences are not the derivative")
    return text
