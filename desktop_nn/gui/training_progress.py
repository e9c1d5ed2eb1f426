"""The live view of a training run: a timer drains the report buffer at most ~30 times a
second into the plots (one plot redrawn per tick) and the status bar's epoch, step, speed and
time-left labels. The training thread only ever appends to the buffer."""

from __future__ import annotations

import math
import time

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QLabel, QStatusBar

from desktop_nn.gui.plots import LivePlots
from desktop_nn.gui.worker import ReportBuffer
from desktop_nn.workbench import TrainingSpan

REFRESH_MS = 33  # at most ~30 redraws a second, whatever the step rate


class TrainingProgress(QObject):
    """Feeds ``plots`` from ``buffer`` and shows the run's progress in labels added to
    ``status_bar`` (epochLabel, stepLabel, speedLabel, etaLabel)."""

    def __init__(self, buffer: ReportBuffer, plots: LivePlots, status_bar: QStatusBar,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.buffer, self.plots = buffer, plots
        self.epoch_label, self.step_label, self.speed_label, self.eta_label = labels = [
            QLabel(text) for text in ("epoch -", "step -", "", "")]
        for label, name in zip(labels, ("epochLabel", "stepLabel", "speedLabel", "etaLabel"),
                               strict=True):
            label.setObjectName(name)
            status_bar.addPermanentWidget(label)
        self.timer = QTimer(self)
        self.timer.setObjectName("refreshTimer")
        self.timer.setInterval(REFRESH_MS)
        self.timer.timeout.connect(self.refresh)
        self._span = TrainingSpan(0, 0, 0)
        self._started = 0.0
        self._next_plot = -1
        # more views fed from the same reports (the Activations tab): ``add(steps)`` at each
        # drain, ``redraw()`` on their own turn (they throttle themselves and draw only when
        # visible, returning whether they drew)
        self.views: list = []

    def start(self, span: TrainingSpan) -> None:
        """A stretch of training begins: reports from before it are dropped."""
        self.buffer.drain()
        self._span = span
        self._started = time.perf_counter()
        self.timer.start()

    def stop(self) -> None:
        """The stretch ended: show what is left in the buffer, every plot redrawn."""
        self.timer.stop()
        self.refresh()
        self.plots.refresh()
        for view in self.views:
            view.redraw(force=True)

    def clear(self) -> None:
        self.epoch_label.setText("epoch -")
        self.step_label.setText("step -")
        self.speed_label.setText("")
        self.eta_label.setText("")

    def refresh(self) -> None:
        steps, epochs = self.buffer.drain()
        if not steps and not epochs:
            return
        self.plots.add(steps, epochs)
        for view in self.views:
            view.add(steps)
        # One plot per tick, in turn: a redraw of all four at once would hold the GUI thread
        # four times as long. Paint it now, so the cost of the redraw is measured.
        t0 = time.perf_counter()
        k = self._next_plot = (self._next_plot + 1) % (4 + len(self.views))
        if k < 4:
            self.plots.refresh(only=k)
            self.plots.plots()[k].repaint()
        else:
            self.views[k - 4].redraw()
        spent_ms = (time.perf_counter() - t0) * 1000
        # Never spend more than a third of the GUI thread's time drawing: slow rendering
        # lowers the redraw rate, never the responsiveness.
        self.timer.setInterval(int(max(REFRESH_MS, 3 * spent_ms)))
        if steps:
            r = steps[-1]
            self.epoch_label.setText(f"epoch {r.epoch}")
            self.step_label.setText(f"step {r.step}")
            self.speed_label.setText(f"{r.examples_per_s:,.0f} examples/s")
            done = r.step - self._span.first_step
            left = self._span.last_step - r.step
            elapsed = time.perf_counter() - self._started
            if done > 0 and left >= 0:
                self.eta_label.setText(f"ETA {duration(elapsed / done * left)}")


def duration(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "-"
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds // 60 % 60:02d} min"
