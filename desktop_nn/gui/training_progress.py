"""The live view of a training run: a timer drains the report buffer at most ~30 times a
second into the plots (one plot redrawn per tick; each plot that new reports reach is redrawn
within four ticks, all at once in slow motion) and the status bar's epoch, step, speed,
time-left and "Paused" labels. The time left counts training time only: the reports' own
clock stops while the run is paused. The training thread only ever appends to the buffer;
the settings changed during the run (its history's ``changes``) are marked on the curves."""

from __future__ import annotations

import math
import time
from collections import deque

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QLabel, QStatusBar

from desktop_nn.gui.plots import LivePlots
from desktop_nn.gui.worker import ReportBuffer
from desktop_nn.train.history import History
from desktop_nn.workbench import TrainingSpan

REFRESH_MS = 33  # at most ~30 redraws a second, whatever the step rate
RATE_WINDOW_S = 3.0  # the time left is read from the speed of the last seconds of training


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
        self.paused_label = QLabel("<b>Paused</b>")
        self.paused_label.setObjectName("pausedLabel")
        self.paused_label.hide()
        status_bar.addPermanentWidget(self.paused_label)
        self.timer = QTimer(self)
        self.timer.setObjectName("refreshTimer")
        self.timer.setInterval(REFRESH_MS)
        self.timer.timeout.connect(self.refresh)
        self._span = TrainingSpan(0, 0, 0)
        self._next_plot = -1
        # more views fed from the same reports (the Activations tab): ``add(steps)`` at each
        # drain, ``redraw()`` on their own turn (they throttle themselves and draw only when
        # visible, returning whether they drew)
        self.views: list = []
        # the four plots, then the views: those that reports reached since their last turn
        self._dirty: list[bool] = []
        self.every_step_drawn = False  # slow motion: every plot redrawn at each tick
        self._recent: deque[tuple[float, int]] = deque()  # (training seconds, step)
        self._history: History | None = None  # the run whose changes are marked
        self._marked = 0  # its changes marked so far

    def start(self, span: TrainingSpan) -> None:
        """A stretch of training begins: reports from before it are dropped."""
        self.buffer.drain()
        self._span = span
        self._recent.clear()
        self.timer.start()

    def follow_changes(self, history: History, marked: int = 0) -> None:
        """Mark ``history``'s setting changes on the curves as they come (``marked``: how
        many of them are already: none of a new run's, all of a reopened run's)."""
        if history is not self._history:
            self._history, self._marked = history, marked

    def show_position(self, epoch: int, step: int) -> None:
        """Where a run stands before it trains (a reopened project's)."""
        self.epoch_label.setText(f"epoch {epoch}")
        self.step_label.setText(f"step {step}")

    def set_paused(self, paused: bool) -> None:
        """The run is paused: the status bar says so (and no training time passes)."""
        self.paused_label.setVisible(paused)

    def stop(self) -> None:
        """The stretch ended: show what is left in the buffer, every plot redrawn."""
        self.timer.stop()
        self.refresh()
        self.plots.refresh()
        for view in self.views:
            view.redraw(force=True)
        self._dirty = [False] * len(self._dirty)

    def clear(self) -> None:
        self.epoch_label.setText("epoch -")
        self.step_label.setText("step -")
        self.speed_label.setText("")
        self.eta_label.setText("")
        self.paused_label.hide()

    def _mark_changes(self) -> None:
        history = self._history
        if history is None:
            return
        changes = history.changes[self._marked:]  # appended by the training thread
        for c in changes:
            self.plots.mark_change(c.step, c.epoch, c.label)
        self._marked += len(changes)

    def refresh(self) -> None:
        steps, epochs = self.buffer.drain()
        slots = 4 + len(self.views)
        if steps or epochs:
            self.plots.add(steps, epochs)
            for view in self.views:
                view.add(steps)
            self._mark_changes()
            self._dirty = [True] * slots
        if not any(self._dirty):
            return
        # One plot per tick, in turn: a redraw of all four at once would hold the GUI thread
        # four times as long (in slow motion, with few points, all four: every step drawn).
        # Paint it now, so the cost of the redraw is measured.
        t0 = time.perf_counter()
        for _ in range(slots if self.every_step_drawn else 1):
            k = self._next_plot = (self._next_plot + 1) % slots
            if self._dirty[k]:
                self._dirty[k] = False
                if k < 4:
                    self.plots.refresh(only=k)
                    self.plots.plots()[k].repaint()
                else:
                    self.views[k - 4].redraw()
            if not any(self._dirty):
                break
        spent_ms = (time.perf_counter() - t0) * 1000
        # Never spend more than a third of the GUI thread's time drawing: slow rendering
        # lowers the redraw rate, never the responsiveness.
        self.timer.setInterval(int(max(REFRESH_MS, 3 * spent_ms)))
        if steps:
            r = steps[-1]
            self.epoch_label.setText(f"epoch {r.epoch}")
            self.step_label.setText(f"step {r.step}")
            self.speed_label.setText(f"{r.examples_per_s:,.0f} examples/s")
            self._show_time_left(r.elapsed_s, r.step, r.total_steps)

    def _show_time_left(self, elapsed: float, step: int, last_step: int) -> None:
        """The time left at the speed of the last RATE_WINDOW_S seconds of training
        (``elapsed``: the run's training seconds, pauses left out), so that a new speed or
        batch size shows at once."""
        recent = self._recent
        recent.append((elapsed, step))
        while len(recent) > 2 and elapsed - recent[1][0] >= RATE_WINDOW_S:
            recent.popleft()
        t0, s0 = recent[0] if len(recent) > 1 else (0.0, self._span.first_step)
        left = last_step - step
        if step > s0 and left >= 0:
            self.eta_label.setText(f"ETA {duration((elapsed - t0) / (step - s0) * left)}")


def duration(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "-"
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds // 60 % 60:02d} min"
