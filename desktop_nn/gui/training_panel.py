"""The training panel: hyperparameters, device and dtype, and the run controls."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGridLayout,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from desktop_nn.gui.saved_values import Replaced, number_in, whole_in
from desktop_nn.io.project_settings import (  # the ranges a saved project is checked against
    BATCH_RANGE,
    DEVICES,
    DTYPES,
    EPOCHS_RANGE,
    L2_RANGE,
    LR_RANGE,
    SEED_RANGE,
)
from desktop_nn.nn.optimizers import OPTIMIZERS
from desktop_nn.train.trainer import TrainConfig


class TrainingPanel(QWidget):
    """Hyperparameters in, ``config()`` out; buttons are wired by the main window."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("trainingPanel")
        self.lr_spin = QDoubleSpinBox()
        self.lr_spin.setObjectName("learningRateSpin")
        self.lr_spin.setDecimals(5)
        self.lr_spin.setRange(*LR_RANGE)
        self.lr_spin.setSingleStep(0.01)
        self.lr_spin.setValue(0.5)
        self.epochs_spin = QSpinBox()
        self.epochs_spin.setObjectName("epochsSpin")
        self.epochs_spin.setRange(*EPOCHS_RANGE)
        self.epochs_spin.setValue(10)
        self.batch_spin = QSpinBox()
        self.batch_spin.setObjectName("batchSizeSpin")
        self.batch_spin.setRange(*BATCH_RANGE)
        self.batch_spin.setSpecialValueText("full batch")
        self.batch_spin.setValue(10)
        self.batch_spin.setToolTip("Examples per mini-batch; 0 = the whole training set")
        self.optimizer_combo = QComboBox()
        self.optimizer_combo.setObjectName("optimizerCombo")
        self.optimizer_combo.addItems(OPTIMIZERS)
        self.l2_spin = QDoubleSpinBox()
        self.l2_spin.setObjectName("l2Spin")
        self.l2_spin.setDecimals(4)
        self.l2_spin.setRange(*L2_RANGE)
        self.l2_spin.setToolTip("lambda in lambda/(2n) sum ||W||^2, n = training-set size")
        self.seed_spin = QSpinBox()
        self.seed_spin.setObjectName("seedSpin")
        self.seed_spin.setRange(*SEED_RANGE)
        self.device_combo = QComboBox()
        self.device_combo.setObjectName("deviceCombo")
        self.device_combo.addItems(DEVICES)
        self.dtype_combo = QComboBox()
        self.dtype_combo.setObjectName("dtypeCombo")
        self.dtype_combo.addItems(DTYPES)

        self.start_button = self._button("Start", "startButton", "Start or continue (Space)")
        self.pause_button = self._button("Pause", "pauseButton", "Pause / resume (Space)")
        self.step_button = self._button("Step", "stepButton", "One mini-batch step (F10)")
        self.stop_button = self._button("Stop", "stopButton", "Stop the run (Ctrl+.)")
        self.reset_button = self._button("Reset weights", "resetButton",
                                         "New random weights and clear the plots")

        form = QFormLayout()
        form.addRow("Learning rate", self.lr_spin)
        form.addRow("Epochs", self.epochs_spin)
        form.addRow("Batch size", self.batch_spin)
        form.addRow("Optimiser", self.optimizer_combo)
        form.addRow("L2 (lambda)", self.l2_spin)
        form.addRow("Seed", self.seed_spin)
        form.addRow("Device", self.device_combo)
        form.addRow("Precision", self.dtype_combo)
        buttons = QGridLayout()
        buttons.addWidget(self.start_button, 0, 0)
        buttons.addWidget(self.pause_button, 0, 1)
        buttons.addWidget(self.step_button, 1, 0)
        buttons.addWidget(self.stop_button, 1, 1)
        buttons.addWidget(self.reset_button, 2, 0, 1, 2)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addStretch(1)
        for spin in (self.lr_spin, self.epochs_spin, self.batch_spin, self.l2_spin,
                     self.seed_spin):
            spin.valueChanged.connect(self.changed)
        for combo in (self.optimizer_combo, self.device_combo, self.dtype_combo):
            combo.currentTextChanged.connect(self.changed)

    def _button(self, text: str, name: str, tip: str) -> QPushButton:
        b = QPushButton(text)
        b.setObjectName(name)
        b.setToolTip(tip)
        return b

    def config(self) -> TrainConfig:
        c = TrainConfig(lr=self.lr_spin.value(), epochs=self.epochs_spin.value(),
                        batch_size=self.batch_spin.value(),
                        optimizer=self.optimizer_combo.currentText(), l2=self.l2_spin.value(),
                        seed=self.seed_spin.value(), report_every=1)
        c.validate()
        return c

    def device(self) -> str:
        return self.device_combo.currentText()

    def dtype(self) -> str:
        return self.dtype_combo.currentText()

    def set_running(self, running: bool, paused: bool) -> None:
        """Enable the controls that make sense now."""
        self.start_button.setEnabled(not running)
        self.pause_button.setEnabled(running)
        self.pause_button.setText("Resume" if paused else "Pause")
        self.stop_button.setEnabled(running)
        self.reset_button.setEnabled(not running)
        # the learning rate, L2 and batch size stay open: a run takes them as they change
        # (gui/run_flow.py); the others make another network
        for w in (self.epochs_spin, self.optimizer_combo, self.seed_spin, self.device_combo,
                  self.dtype_combo):
            w.setEnabled(not running)

    def state(self) -> dict:
        return {"lr": self.lr_spin.value(), "epochs": self.epochs_spin.value(),
                "batch": self.batch_spin.value(),
                "optimizer": self.optimizer_combo.currentText(), "l2": self.l2_spin.value(),
                "seed": self.seed_spin.value(), "device": self.device_combo.currentText(),
                "dtype": self.dtype_combo.currentText()}

    def set_state(self, s: dict) -> list[str]:
        """Show saved settings (a project's, the last session's). A value out of a control's
        range, not finite or unknown is not clamped but replaced by the current one, and
        listed: the lines returned. A key left out (an older file) keeps the current value."""
        replaced = Replaced()
        if not isinstance(s, dict):
            replaced.add("training settings", s, "is not a set of values", "the current ones")
            return replaced.lines
        spins = [(self.lr_spin, "lr", "learning rate"), (self.epochs_spin, "epochs", "epochs"),
                 (self.batch_spin, "batch", "batch size"), (self.l2_spin, "l2", "L2 (lambda)"),
                 (self.seed_spin, "seed", "seed")]
        for spin, key, what in spins:
            if key not in s:
                continue
            lo, hi = spin.minimum(), spin.maximum()
            if isinstance(spin, QDoubleSpinBox):
                value, kind = number_in(s[key], lo, hi), f"a number from {lo:g} to {hi:g}"
            else:
                value, kind = whole_in(s[key], lo, hi), f"a whole number from {lo} to {hi:,}"
            if value is None:
                replaced.add(what, s[key], f"is not {kind}", spin.value())
            else:
                spin.setValue(value)
        for combo, key, what in ((self.optimizer_combo, "optimizer", "optimiser"),
                                 (self.device_combo, "device", "device"),
                                 (self.dtype_combo, "dtype", "precision")):
            items = [combo.itemText(i) for i in range(combo.count())]
            value = replaced.choice(what, s, key, items, combo.currentText())
            if value is not None:
                combo.setCurrentText(value)
        return replaced.lines
