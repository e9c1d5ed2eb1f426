"""The teaching flow of the Training panel: a speed control from slow motion to full speed,
a Start button that says before the click whether it continues the run in hand or restarts
from new weights, and the learning rate, L2 and batch size applied to a run as they change.

Nothing here trains or waits: the speed and the changes go to the workbench, which hands them
to the trainer in its thread (train/trainer.py paces the steps and applies the changes at a
step boundary; workbench/continuing.py says which settings keep the weights).

Why a label and not a question: a Playground user presses Start (or Space) again and again;
a dialog at each press gets in the way, while the button's own words ("Continue",
"Restart") and the line under it ("Restart (new weights): seed changed ...") say what will
happen before the click.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSlider, QWidget

from desktop_nn.train.live_settings import LIVE, SettingChange
from desktop_nn.workbench.continuing import run_key

if TYPE_CHECKING:
    from desktop_nn.gui.main_window import MainWindow

# the speed control's stops, steps a second; None: full speed (reports as the run asks)
SPEEDS: list[float | None] = [1, 2, 5, 10, 20, 50, None]
EVERY_STEP_DRAWN = 10  # at this many steps a second or fewer, every plot is redrawn per step
CHANGE_DELAY_MS = 400  # a spin box held down asks one change, not one per value it passes
# the button's words; the line under it says the rest ("Restart (new weights): ..."), since
# "Restart (new weights)" on the button would widen the Training dock by half
START_TEXT = {"start": "Start", "continue": "Continue", "restart": "Restart"}


class SpeedControl(QWidget):
    """A slider from slow motion (1 step a second, every step drawn) to full speed;
    ``changed(steps_per_s | None)``."""

    changed = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("speedControl")
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setObjectName("speedSlider")
        self.slider.setRange(0, len(SPEEDS) - 1)
        self.slider.setPageStep(1)
        self.slider.setTickPosition(QSlider.TickPosition.TicksBelow)
        self.slider.setValue(len(SPEEDS) - 1)
        self.label = QLabel()
        self.label.setObjectName("speedSettingLabel")
        self.label.setMinimumWidth(self.label.fontMetrics().horizontalAdvance("50 steps/s "))
        self.setToolTip("Slow motion: a few steps a second, every step drawn on the plots. "
                        "Full speed: as fast as the computer goes. Applies at once, also "
                        "during a run.")
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(QLabel("Speed"))
        row.addWidget(self.slider, 1)
        row.addWidget(self.label)
        self.slider.valueChanged.connect(self._moved)
        self._moved()

    def pace(self) -> float | None:
        """Steps a second, None at full speed."""
        return SPEEDS[self.slider.value()]

    def set_pace(self, steps_per_s: float | None) -> None:
        """Move to the stop nearest ``steps_per_s`` (None: full speed)."""
        if steps_per_s is None:
            self.slider.setValue(len(SPEEDS) - 1)
            return
        stops = [s for s in SPEEDS if s is not None]
        self.slider.setValue(SPEEDS.index(min(stops, key=lambda s: abs(s - steps_per_s))))

    def _moved(self) -> None:
        pace = self.pace()
        self.label.setText("full speed" if pace is None else
                           f"{pace:g} step/s" if pace == 1 else f"{pace:g} steps/s")
        self.changed.emit(pace)


class RunFlow(QObject):
    """Adds the speed control and the Start line (``startHint``) to the window's Training
    panel, and keeps the Start button's words and the run's live settings in step with the
    panels."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        panel = window.training_panel
        self.speed = SpeedControl()
        self.hint = QLabel()
        self.hint.setObjectName("startHint")
        self.hint.setWordWrap(True)
        layout = panel.layout()
        layout.insertWidget(1, self.speed)  # below the settings, above the buttons
        layout.insertWidget(3, self.hint)  # below the buttons
        self._change_timer = QTimer(self)
        self._change_timer.setSingleShot(True)
        self._change_timer.setInterval(CHANGE_DELAY_MS)
        self._change_timer.timeout.connect(self.apply_changes)
        self.speed.changed.connect(self._speed_changed)
        for spin in (panel.lr_spin, panel.l2_spin, panel.batch_spin):
            spin.valueChanged.connect(self._setting_changed)
        panel.changed.connect(self.update_start)
        window.designer.changed.connect(self.update_start)
        window.workbench.events.training_started.connect(self._training_started)
        window.workbench.events.model_changed.connect(self.update_start)

    def key(self) -> str | None:
        """The run key of the panels' settings on the loaded data (None without data)."""
        w = self.window
        data = w.data_panel.data
        if data is None:
            return None
        return run_key(w.designer.state(), w.training_panel.state(), id(data))

    # ------------------------------------------------------------------ speed
    def _speed_changed(self, pace: float | None) -> None:
        self.window.workbench.set_pace(pace)
        self.window.progress.every_step_drawn = pace is not None and pace <= EVERY_STEP_DRAWN

    # ------------------------------------------------------------------ live changes
    def _setting_changed(self) -> None:
        if self.window.is_training():
            self._change_timer.start()  # the run takes it once the value rests
        self.update_start()

    def apply_changes(self) -> None:
        """The panel's learning rate, L2 and batch size go to the run training now (each one
        that differs is applied at its next step, or next epoch for the batch size, and
        marked on the curves)."""
        self._change_timer.stop()
        if not self.window.is_training():
            return
        p = self.window.training_panel
        try:
            self.window.workbench.change_settings(lr=p.lr_spin.value(), l2=p.l2_spin.value(),
                                                  batch_size=p.batch_spin.value())
        except ValueError as exc:
            self.window.say(str(exc), 8000)
            return
        self.update_start()

    def _training_started(self, _span) -> None:
        trainer = self.window.workbench.trainer
        if trainer is not None:
            self.window.progress.follow_changes(trainer.history)
        self.update_start()

    # ------------------------------------------------------------------ Start's words
    def controls_changed(self, running: bool, paused: bool) -> None:
        """The window's controls were updated (a run started, paused, ended; data loaded)."""
        self.window.progress.set_paused(running and paused)
        self.update_start()

    def update_start(self) -> None:
        """Say on the Start button and the line below it what a Start does now."""
        w = self.window
        button = w.training_panel.start_button
        mode = w.workbench.start_mode(self.key())
        button.setText(START_TEXT[mode.action])
        trainer = w.workbench.trainer
        changes = self._pending(trainer) if mode.action == "continue" else []
        if w.is_training():
            text = ("Learning rate, L2 and batch size apply to this run as you change them "
                    "(marked on the curves).")
            if changes:
                text += " Waiting: " + "; ".join(changes) + "."
        elif mode.action == "continue":
            text = "Continue: the same weights and optimiser state"
            text += (", with " + "; ".join(changes) + "." if changes else ".")
        elif mode.action == "restart":
            text = (f"Restart (new weights): {', '.join(mode.reasons)} changed, so a new "
                    "network starts from new weights. Put them back to continue the run.")
        else:
            text = ""
        self.hint.setText(text)
        self.hint.setVisible(bool(text))
        button.setToolTip((text or "Start training") + " (Space)")

    def _pending(self, trainer) -> list[str]:
        """The panel's values that differ from the run's, as the marks will say them."""
        if trainer is None:
            return []
        p, c = self.window.training_panel, trainer.config
        pending = trainer.pending_changes
        asked = {"lr": p.lr_spin.value(), "l2": p.l2_spin.value(),
                 "batch_size": p.batch_spin.value()}
        out = []
        for name in LIVE:
            now, new = getattr(c, name), asked[name]
            if new != now or name in pending:
                when = "from the next epoch" if name == "batch_size" else "from the next step"
                label = SettingChange(0, 0.0, name, now, new).label
                out.append(f"{label} {when}")
        return out
