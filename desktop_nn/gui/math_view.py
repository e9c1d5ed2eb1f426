"""The Math tab: the current network's forward and backward equations with their shapes, and a
button that checks the backprop gradients against finite differences.

The check never touches the network being trained: in the GUI thread the check source's
network and a few examples are copied to the host (a snapshot, inspect/gradient_check.py), and
a :class:`Job` rebuilds them as a float64 NumPy network and runs the check on it.
"""

from __future__ import annotations

from collections.abc import Callable

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

from desktop_nn.gui.worker import Job
from desktop_nn.inspect.equations import equations, to_html
from desktop_nn.inspect.gradient_check import (
    CANDIDATES,
    MAX_EXAMPLES,
    CheckProblem,
    CheckRun,
    check_gradients,
    passes,
    snapshot,
    verdict,
)
from desktop_nn.nn.gradcheck import TOLERANCE as GRADCHECK_TOLERANCE
from desktop_nn.nn.gradcheck import LayerCheck
from desktop_nn.nn.network import NetworkSpec

PASS, FAIL = "✓", "✗"
COLUMNS = ["Layer", "Relative error (W, b)", "Entries checked", "ReLU kinks", "Pass"]
__all__ = ["CANDIDATES", "MAX_EXAMPLES", "CheckProblem", "MathView", "check_gradients",
           "passes", "snapshot", "verdict"]


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
