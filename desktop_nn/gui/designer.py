"""The network designer: hidden layers (units, activation), output and cost, initialisation,
a live diagram and the shapes of W, b, Z and A for the current data and batch size."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop_nn.gui.saved_values import Replaced, whole_in
from desktop_nn.io.project_settings import MAX_LAYERS, MAX_UNITS
from desktop_nn.nn.activations import HIDDEN_ACTIVATIONS, OUTPUT_ACTIVATIONS
from desktop_nn.nn.costs import VALID_PAIRS
from desktop_nn.nn.init import INITS
from desktop_nn.nn.network import NetworkSpec

# the table, the plots and the equations stay quick up to MAX_LAYERS; a saved project is
# checked against the same limits (io/project_settings.py)
MAX_HIDDEN_LAYERS = MAX_LAYERS
DEFAULT_LAYERS = [(30, "sigmoid")]


def design_too_big(spec: NetworkSpec) -> str | None:
    """Why the designer cannot show ``spec`` (a model's), or None when it can."""
    if len(spec.hidden_sizes) > MAX_HIDDEN_LAYERS:
        return (f"{len(spec.hidden_sizes):,} hidden layers; the window designs at most "
                f"{MAX_HIDDEN_LAYERS}")
    widest = max(spec.hidden_sizes, default=0)
    if widest > MAX_UNITS:
        return f"a hidden layer of {widest:,} units; the window designs at most {MAX_UNITS:,}"
    return None


class NetworkDesigner(QWidget):
    """Emits ``changed`` whenever the design changes. ``spec(n_x, n_out)`` builds the
    :class:`NetworkSpec`; ``problem()`` says what is wrong with the design, if anything."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("networkDesigner")
        self._n_x: int | None = None
        self._n_out: int | None = None
        self._batch = 1

        self.layer_table = QTableWidget(0, 2)
        self.layer_table.setObjectName("layerTable")
        self.layer_table.setHorizontalHeaderLabels(["Units", "Activation"])
        self.layer_table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.layer_table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.layer_table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.layer_table.verticalHeader().setDefaultSectionSize(28)

        self.add_button = self._button("Add", "addLayerButton", "Add a hidden layer below the "
                                       "selected one", self.add_layer)
        self.remove_button = self._button("Remove", "removeLayerButton",
                                          "Remove the selected hidden layer", self.remove_layer)
        self.up_button = self._button("Up", "moveLayerUpButton", "Move the selected layer up",
                                      lambda: self.move_layer(-1))
        self.down_button = self._button("Down", "moveLayerDownButton",
                                        "Move the selected layer down",
                                        lambda: self.move_layer(1))

        self.output_combo = QComboBox()
        self.output_combo.setObjectName("outputActivationCombo")
        self.output_combo.addItems(OUTPUT_ACTIVATIONS)
        self.output_combo.setToolTip("Activation of the output layer (softmax needs 3 or more "
                                     "classes to differ from sigmoid)")
        self.cost_combo = QComboBox()
        self.cost_combo.setObjectName("costCombo")
        self.init_combo = QComboBox()
        self.init_combo.setObjectName("initCombo")
        self.init_combo.addItems(INITS)
        self.init_combo.setToolTip("he: N(0,1)*sqrt(2/n_in); xavier: N(0,1)*sqrt(2/(n_in+n_out));"
                                   " small: N(0,1)*0.01; normal: N(0,1); "
                                   "scaled: N(0,1)/sqrt(n_in)")

        self.problem_label = QLabel()
        self.problem_label.setObjectName("designProblemLabel")
        self.problem_label.setStyleSheet("color: #c0392b;")
        self.problem_label.setWordWrap(True)
        self.problem_label.hide()

        self.shapes_table = QTableWidget(0, 6)
        self.shapes_table.setObjectName("shapesTable")
        self.shapes_table.setHorizontalHeaderLabels(["Layer", "W", "b", "Z, A", "g", "Params"])
        self.shapes_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.shapes_table.verticalHeader().hide()
        self.shapes_table.horizontalHeader().setSectionResizeMode(
            QHeaderView.ResizeMode.ResizeToContents)
        self.params_label = QLabel()
        self.params_label.setObjectName("parameterCountLabel")

        buttons = QHBoxLayout()
        for b in (self.add_button, self.remove_button, self.up_button, self.down_button):
            buttons.addWidget(b)
        form = QFormLayout()
        form.addRow("Output activation", self.output_combo)
        form.addRow("Cost", self.cost_combo)
        form.addRow("Initialisation", self.init_combo)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Hidden layers"))
        layout.addWidget(self.layer_table, 2)
        layout.addLayout(buttons)
        layout.addLayout(form)
        layout.addWidget(self.problem_label)
        layout.addWidget(self.shapes_table, 2)
        layout.addWidget(self.params_label)

        self.output_combo.currentTextChanged.connect(self._output_changed)
        self.cost_combo.currentTextChanged.connect(self._emit_changed)
        self.init_combo.currentTextChanged.connect(self._emit_changed)
        self.layer_table.itemSelectionChanged.connect(self._update_buttons)
        self._fill_costs()
        self.set_layers(DEFAULT_LAYERS)

    # ------------------------------------------------------------------ building
    def _button(self, text: str, name: str, tip: str, slot) -> QPushButton:
        b = QPushButton(text)
        b.setObjectName(name)
        b.setToolTip(tip)
        b.clicked.connect(slot)
        return b

    def _insert_row(self, row: int, units: int, activation: str, rename: bool = True) -> None:
        t = self.layer_table
        t.insertRow(row)
        spin = QSpinBox()
        spin.setRange(0, MAX_UNITS)  # 0 is refused with a message, not silently clamped
        spin.setValue(units)
        spin.setObjectName(f"unitsSpin{row}")
        spin.setFrame(False)
        spin.valueChanged.connect(self._emit_changed)
        combo = QComboBox()
        combo.addItems(HIDDEN_ACTIVATIONS)
        combo.setCurrentText(activation)
        combo.setFrame(False)
        combo.currentTextChanged.connect(self._emit_changed)
        t.setCellWidget(row, 0, spin)
        t.setCellWidget(row, 1, combo)
        if rename:
            self._rename_rows()

    def _rename_rows(self) -> None:
        t = self.layer_table
        for r in range(t.rowCount()):
            t.setVerticalHeaderItem(r, QTableWidgetItem(f"{r + 1}"))
            t.cellWidget(r, 0).setObjectName(f"unitsSpin{r}")
            t.cellWidget(r, 1).setObjectName(f"activationCombo{r}")

    # ------------------------------------------------------------------ editing
    def layers(self) -> list[tuple[int, str]]:
        """[(units, activation)] of the hidden layers, top to bottom."""
        t = self.layer_table
        return [(t.cellWidget(r, 0).value(), t.cellWidget(r, 1).currentText())
                for r in range(t.rowCount())]

    def set_layers(self, layers: list[tuple[int, str]]) -> None:
        self.layer_table.setRowCount(0)
        for units, act in layers:
            self._insert_row(self.layer_table.rowCount(), int(units), act, rename=False)
        self._rename_rows()
        self._emit_changed()

    def add_layer(self) -> None:
        if self.layer_table.rowCount() >= MAX_HIDDEN_LAYERS:
            return
        row = self.layer_table.currentRow()
        row = self.layer_table.rowCount() if row < 0 else row + 1
        units, act = self.layers()[row - 1] if row > 0 else (30, "sigmoid")
        self._insert_row(row, units, act)
        self.layer_table.selectRow(row)
        self._emit_changed()

    def remove_layer(self) -> None:
        row = self.layer_table.currentRow()
        if row < 0:
            row = self.layer_table.rowCount() - 1
        if row < 0:
            return
        self.layer_table.removeRow(row)
        self._rename_rows()
        self._emit_changed()

    def move_layer(self, delta: int) -> None:
        row = self.layer_table.currentRow()
        target = row + delta
        if row < 0 or not 0 <= target < self.layer_table.rowCount():
            return
        layers = self.layers()
        layers[row], layers[target] = layers[target], layers[row]
        self.set_layers(layers)
        self.layer_table.selectRow(target)

    def _update_buttons(self) -> None:
        row, n = self.layer_table.currentRow(), self.layer_table.rowCount()
        self.add_button.setEnabled(n < MAX_HIDDEN_LAYERS)
        self.remove_button.setEnabled(n > 0)
        self.up_button.setEnabled(row > 0)
        self.down_button.setEnabled(0 <= row < n - 1)

    def _fill_costs(self) -> None:
        current = self.cost_combo.currentText()
        allowed = VALID_PAIRS[self.output_combo.currentText()]
        self.cost_combo.blockSignals(True)
        self.cost_combo.clear()
        self.cost_combo.addItems(allowed)
        if current in allowed:
            self.cost_combo.setCurrentText(current)
        self.cost_combo.blockSignals(False)

    def _output_changed(self) -> None:
        self._fill_costs()
        self._emit_changed()

    # ------------------------------------------------------------------ state
    def set_context(self, n_x: int | None, n_out: int | None, batch: int) -> None:
        """The data's input size and number of outputs, and the batch size (for shapes)."""
        self._n_x, self._n_out, self._batch = n_x, n_out, max(1, batch)
        self._refresh()

    def problem(self) -> str | None:
        for r, (units, _) in enumerate(self.layers(), start=1):
            if units < 1:
                return f"Hidden layer {r}: a layer needs at least 1 unit."
        if self._n_x is None or self._n_out is None:
            return "No data loaded: load an image folder first."
        if self.output_combo.currentText() == "softmax" and self._n_out < 2:
            return ("Softmax output needs 3 or more classes (two classes use one sigmoid "
                    "output).")
        return None

    def spec(self, n_x: int | None = None, n_out: int | None = None) -> NetworkSpec:
        """The designed network for inputs of size ``n_x`` and ``n_out`` outputs."""
        n_x = self._n_x if n_x is None else n_x
        n_out = self._n_out if n_out is None else n_out
        problem = self.problem()
        if problem:
            raise ValueError(problem)
        layers = self.layers()
        return NetworkSpec(n_x, [u for u, _ in layers], [a for _, a in layers], n_out,
                           self.output_combo.currentText(), self.cost_combo.currentText(),
                           self.init_combo.currentText())

    def state(self) -> dict:
        return {"layers": [list(x) for x in self.layers()],
                "output": self.output_combo.currentText(),
                "cost": self.cost_combo.currentText(), "init": self.init_combo.currentText()}

    def set_state(self, state: dict) -> list[str]:
        """Show a saved design (a project's, a model's, the last session's). A value that
        cannot be used is replaced and listed: the lines returned, empty when all were used.
        A key left out (an older file) keeps the current value (the layers: the default)."""
        replaced = Replaced()
        if not isinstance(state, dict):
            replaced.add("network design", state, "is not a set of values", "the default")
            state = {}
        layers = self._saved_layers(state.get("layers", DEFAULT_LAYERS), replaced)
        output = replaced.choice("output activation", state, "output", OUTPUT_ACTIVATIONS,
                                 self.output_combo.currentText())
        if output is not None:
            self.output_combo.setCurrentText(output)
        allowed = VALID_PAIRS[self.output_combo.currentText()]
        if "cost" in state and state["cost"] not in allowed:
            replaced.add("cost", state["cost"], f"does not go with the "
                         f"{self.output_combo.currentText()} output (only "
                         f"{', '.join(allowed)})", self.cost_combo.currentText())
        elif "cost" in state:
            self.cost_combo.setCurrentText(state["cost"])
        init = replaced.choice("initialisation", state, "init", INITS,
                               self.init_combo.currentText())
        if init is not None:
            self.init_combo.setCurrentText(init)
        self.set_layers(layers)
        return replaced.lines

    def _saved_layers(self, saved, replaced: Replaced) -> list[tuple[int, str]]:
        units_, act_ = DEFAULT_LAYERS[0]
        if not isinstance(saved, list | tuple):
            replaced.add("hidden layers", saved, "is not a list of [units, activation]",
                         [list(x) for x in DEFAULT_LAYERS])
            return list(DEFAULT_LAYERS)
        if len(saved) > MAX_HIDDEN_LAYERS:
            replaced.lines.append(f"hidden layers: {len(saved):,} layers, more than the "
                                  f"{MAX_HIDDEN_LAYERS} the window designs; the first "
                                  f"{MAX_HIDDEN_LAYERS} are used")
            saved = saved[:MAX_HIDDEN_LAYERS]
        layers = []
        for i, entry in enumerate(saved, start=1):
            if not (isinstance(entry, list | tuple) and len(entry) == 2):
                replaced.add(f"hidden layer {i}", entry, "is not [units, activation]",
                             [units_, act_])
                layers.append((units_, act_))
                continue
            units, act = whole_in(entry[0], 0, MAX_UNITS), entry[1]
            if units is None:
                replaced.add(f"hidden layer {i} units", entry[0],
                             f"is not a whole number from 1 to {MAX_UNITS:,}", units_)
                units = units_
            if not (isinstance(act, str) and act in HIDDEN_ACTIVATIONS):
                replaced.add(f"hidden layer {i} activation", act,
                             f"is not one of {', '.join(HIDDEN_ACTIVATIONS)}", act_)
                act = act_
            layers.append((units, act))
        return layers

    def _emit_changed(self) -> None:
        self._refresh()
        self.changed.emit()

    def _refresh(self) -> None:
        self._update_buttons()
        problem = self.problem()
        bad_units = problem is not None and problem.startswith("Hidden layer")
        for r, (units, _) in enumerate(self.layers()):
            self.layer_table.cellWidget(r, 0).setStyleSheet(
                "background: #f5b7b1;" if units < 1 else "")
        self.problem_label.setText(problem or "")
        self.problem_label.setVisible(problem is not None)
        t = self.shapes_table
        t.setRowCount(0)
        if self._n_x is None or self._n_out is None or bad_units:
            self.params_label.setText("")
            return
        layers = self.layers()
        sizes = [self._n_x, *[u for u, _ in layers], self._n_out]
        acts = [a for _, a in layers] + [self.output_combo.currentText()]
        total = 0
        for l in range(1, len(sizes)):
            n, n_prev = sizes[l], sizes[l - 1]
            params = n * n_prev + n
            total += params
            row = [f"{l}", f"({n}, {n_prev})", f"({n}, 1)", f"({n}, {self._batch})",
                   acts[l - 1], f"{params:,}"]
            t.insertRow(t.rowCount())
            for c, text in enumerate(row):
                item = QTableWidgetItem(text)
                item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                t.setItem(t.rowCount() - 1, c, item)
        self.params_label.setText(f"X: ({self._n_x}, {self._batch}) per batch; "
                                  f"{total:,} parameters")

    def sizes_and_activations(self) -> tuple[list[int], list[str]]:
        """For the diagram: [n_x or 0, n_1, ..., n_L], [g_1, ..., g_L]."""
        layers = self.layers()
        sizes = [self._n_x or 0, *[u for u, _ in layers], self._n_out or 1]
        return sizes, [a for _, a in layers] + [self.output_combo.currentText()]
