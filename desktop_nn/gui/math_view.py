"""The Math tab: the current network's forward and backward equations with their shapes, and a
button that checks the backprop gradients against finite differences.

The check never touches the network being trained: in the GUI thread the check source's
network and a few examples are copied to the host (a snapshot), and a :class:`Job` rebuilds
them as a float64 NumPy network and runs :func:`desktop_nn.nn.gradcheck.gradcheck` on it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from desktop_nn.backend import cpu_backend
from desktop_nn.data.image_folder import Cancelled
from desktop_nn.gui.worker import Job
from desktop_nn.inspect.equations import equations, to_html
from desktop_nn.nn.gradcheck import TOLERANCE as GRADCHECK_TOLERANCE
from desktop_nn.nn.gradcheck import LayerCheck, gradcheck
from desktop_nn.nn.network import Network, NetworkSpec

MAX_EXAMPLES = 16  # columns of X checked
CANDIDATES = 4 * MAX_EXAMPLES  # columns copied, of which those away from ReLU kinks are used
MAX_ENTRIES = 64  # entries of each W[l] and of each b[l] checked (a fixed random subset)
ORDER, EPS = 4, 1e-4  # the CLI's defaults: five-point stencil, little rounding on tiny gradients
KINK_MARGIN = 10 * EPS  # |Z| below this in a (leaky) ReLU layer: the example sits at a kink
KINKED = ("relu", "leaky_relu")
PASS, FAIL = "✓", "✗"
COLUMNS = ["Layer", "Relative error (W, b)", "Entries checked", "ReLU kinks", "Pass"]


# ---------------------------------------------------------------------------- no Qt here
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


# ---------------------------------------------------------------------------- the widget
class MathView(QWidget):
    """Equations of the current design, and a gradient check that runs in the background.

    The main window calls :meth:`set_spec` when the design, batch size or L2 changes, and
    :meth:`set_check_source` with a function, called in the GUI thread when the button is
    clicked, that returns a :class:`CheckProblem` (or a tuple (network, X, Y, l2[, n])), or
    None when there is nothing to check. Call :meth:`shutdown` before the window closes."""

    gradcheck_started = Signal()
    gradcheck_finished = Signal(object)  # list[LayerCheck]
    gradcheck_failed = Signal(str)  # the check could not run (not: a layer failed)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("mathView")
        self.job: Job | None = None
        self.results: list[LayerCheck] = []
        self._source: Callable[[], CheckProblem | tuple | None] | None = None
        self._spec_key: dict | None = None

        self.text = QTextBrowser()
        self.text.setObjectName("equationsText")
        self.text.setOpenLinks(False)

        self.button = QPushButton("Check gradients")
        self.button.setObjectName("gradcheckButton")
        self.button.setToolTip(
            f"Compare backprop with finite differences on up to {MAX_EXAMPLES} examples, "
            "on a float64 copy of the network on the CPU (training is not disturbed)")
        self.button.clicked.connect(self.run_gradcheck)
        self.status = QLabel("")
        self.status.setObjectName("gradcheckStatusLabel")
        self.status.setWordWrap(True)

        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("gradcheckTable")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.horizontalHeaderItem(1).setToolTip(
            "||g_num - g_backprop|| / (||g_num|| + ||g_backprop||) over W[l] and b[l]; "
            f"a layer passes at or below {GRADCHECK_TOLERANCE:g}")
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setMaximumHeight(160)

        row = QHBoxLayout()
        row.addWidget(self.button)
        row.addWidget(self.status, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.text, 1)
        layout.addLayout(row)
        layout.addWidget(self.table)
        self.set_spec(None)
        self._update_button()

    # ------------------------------------------------------------------ public API
    def set_spec(self, spec: NetworkSpec | None, batch_label: str | int = "m",
                 l2: float = 0.0) -> None:
        """Show the equations of ``spec`` (None: a hint to design a network). Results of an
        earlier check are cleared when the network's design changes."""
        if spec is None:
            self.text.setHtml("<p>Design a network and load data to see its equations.</p>")
        else:
            self.text.setHtml(to_html(equations(spec, batch_label, l2)))
        key = None if spec is None else spec.to_dict()
        if key != self._spec_key and not self.is_checking():
            self.table.setRowCount(0)
            self.results = []
            self.status.setText("")
        self._spec_key = key

    def set_check_source(self, fn: Callable[[], CheckProblem | tuple | None] | None) -> None:
        """Where the check gets its network and data; None disables the button."""
        self._source = fn
        self._update_button()

    def is_checking(self) -> bool:
        return self.job is not None

    def run_gradcheck(self) -> bool:
        """Snapshot the check source and start the check in a Job. False when refused."""
        if self.job is not None or self._source is None:
            return False
        try:
            problem = self._source()
            if problem is None:
                self.status.setText("nothing to check: design a network and load data first")
                return False
            snap = snapshot(problem)
        except (ValueError, TypeError, IndexError) as exc:
            self.status.setText(f"cannot check: {exc}")
            self.gradcheck_failed.emit(str(exc))
            return False

        def work(job: Job) -> CheckRun:
            return check_gradients(snap, job.cancel_event, job.report_progress)

        job = Job(work, "gradcheckJob")
        # bound methods of this GUI-thread widget: the slots run in the GUI thread
        job.progress.connect(self._check_progress)
        job.succeeded.connect(self._check_succeeded)
        job.failed.connect(self._check_failed)
        job.cancelled.connect(self._check_cancelled)
        job.done.connect(self._check_done)
        self.job = job
        self.table.setRowCount(0)
        self.results = []
        self.status.setText(self._running_text())
        self._update_button()
        job.start()
        self.gradcheck_started.emit()
        return True

    def shutdown(self, timeout_ms: int = 30_000) -> None:
        """Cancel a running check and wait for its thread (call before the window closes)."""
        if self.job is not None:
            self.job.cancel()
            self.job.wait(timeout_ms)

    def closeEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        self.shutdown()
        super().closeEvent(event)

    # ------------------------------------------------------------------ job slots
    def _check_progress(self, done: int, total: int) -> None:
        if self.sender() is self.job and total:
            self.status.setText(self._running_text(100 * done // total))

    def _check_succeeded(self, run: CheckRun) -> None:
        if self.sender() is not self.job:
            return
        self.results = list(run.checks)
        self._fill_table(self.results)
        text = f"{verdict(self.results)}; {run.examples} example{'s' if run.examples != 1 else ''}"
        if run.skipped:
            text += f" ({run.skipped} left out: at a ReLU kink)"
        self.status.setText(text)
        self.gradcheck_finished.emit(self.results)

    def _check_failed(self, message: str) -> None:
        if self.sender() is self.job:
            self.status.setText(f"check failed: {message}")
            self.gradcheck_failed.emit(message)

    def _check_cancelled(self) -> None:
        if self.sender() is self.job:
            self.status.setText("check cancelled")

    def _check_done(self) -> None:
        job = self.sender()
        if isinstance(job, Job):
            job.wait(2000)  # the thread is quitting: no real wait
        if job is self.job:
            self.job = None
        self._update_button()

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def _running_text(percent: int | None = None) -> str:
        done = "" if percent is None else f" {percent}%"
        return f"running…{done} (float64 copy on the CPU)"

    def _update_button(self) -> None:
        self.button.setEnabled(self._source is not None and self.job is None)

    def _fill_table(self, checks: list[LayerCheck]) -> None:
        self.table.setRowCount(len(checks))
        for r, c in enumerate(checks):
            ok = passes(c)
            cells = [str(c.layer), f"{c.relative_error:.2e}", str(c.n_params), str(c.kinks),
                     PASS if ok else FAIL]
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                self.table.setItem(r, col, item)
            mark = self.table.item(r, len(cells) - 1)
            mark.setForeground(QColor("#1a7f37") if ok else QColor("#cf222e"))
            mark.setToolTip(f"relative error {c.relative_error:.3e} "
                            f"{'<=' if ok else '>'} {GRADCHECK_TOLERANCE:g}")
