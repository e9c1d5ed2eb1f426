"""The Data panel's chooser of a built-in 2-D data set (data/toy2d.py): the set, its number
of points, noise and seed. Choosing a set, or Load, makes the data spec
(``toy:spiral,n=400,noise=0,seed=0``) and hands it to the panel's ``load``, like a folder
name; so the spec shows in the panel's data field and a project saves it as its data. When
the panel loads a spec (a project reopening, the spec typed in the field), the chooser shows
its settings."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QGridLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QWidget,
)

from desktop_nn.data.toy2d import (
    DEFAULT_N,
    DEFAULT_NOISE,
    DEFAULT_SEED,
    N_RANGE,
    NOISE_RANGE,
    TOY_SETS,
    ToySpec,
    is_toy_spec,
    parse_spec,
)

SEED_MAX = 2**31 - 1  # a spin box holds an int32; a bigger seed still loads typed as a spec


DEFAULT_NAME = "spiral"  # what Load loads before a set is chosen


class ToySource(QWidget):
    """Emits ``requested(str)``, a ``toy:`` spec, when the user picks a set or presses Load.
    Built with the data panel (``panel``), it loads through it: ``requested`` goes to
    ``panel.load``, it shows each toy spec the panel loads, and it is enabled when the
    panel's Load button is (not while data load or a network trains)."""

    requested = Signal(str)

    def __init__(self, panel: QWidget) -> None:
        super().__init__(panel)
        self.setObjectName("toySource")
        self.setToolTip("Points in the plane, as TensorFlow Playground makes them: two "
                        "inputs (x1, x2), two classes (docs/toy-data.md)")
        self.name_combo = QComboBox()
        self.name_combo.setObjectName("toyNameCombo")
        for name, toy in TOY_SETS.items():
            self.name_combo.addItem(name, name)
            self.name_combo.setItemData(self.name_combo.count() - 1, toy.about,
                                        Qt.ItemDataRole.ToolTipRole)
        # no set shows as chosen while other data are loaded (a table, images): "choose a set"
        self.name_combo.setPlaceholderText("choose a set")
        self.name_combo.setCurrentIndex(-1)
        self.name_combo.setToolTip("Choosing a set loads it")
        self.name_combo.activated.connect(self._request)
        self.points_spin = QSpinBox()
        self.points_spin.setObjectName("toyPointsSpin")
        self.points_spin.setRange(*N_RANGE)
        self.points_spin.setValue(DEFAULT_N)
        self.points_spin.setToolTip("Number of points, both classes together")
        self.noise_spin = QDoubleSpinBox()
        self.noise_spin.setObjectName("toyNoiseSpin")
        self.noise_spin.setRange(*NOISE_RANGE)
        self.noise_spin.setDecimals(2)
        self.noise_spin.setSingleStep(0.05)
        self.noise_spin.setValue(DEFAULT_NOISE)
        self.noise_spin.setToolTip("Playground's noise, 0 to 0.5: jitter for the spiral and "
                                   "the blobs' spread; flipped labels near the boundary for "
                                   "circle and xor")
        self.seed_spin = QSpinBox()
        self.seed_spin.setObjectName("toySeedSpin")
        self.seed_spin.setRange(0, SEED_MAX)
        self.seed_spin.setValue(DEFAULT_SEED)
        self.seed_spin.setToolTip("Seeds the points (the network has its own seed)")
        self.load_button = QPushButton("Load")
        self.load_button.setObjectName("toyLoadButton")
        self.load_button.clicked.connect(self._request)

        # two compact rows, no frame: the Data dock is short at 1280x800
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        title = QLabel("Built-in 2-D data")
        title.setToolTip(self.toolTip())
        grid.addWidget(title, 0, 0, 1, 2)
        grid.addWidget(self.name_combo, 0, 2, 1, 2)
        grid.addWidget(self.load_button, 0, 4, 1, 2)
        for col, (text, spin) in enumerate((("Points", self.points_spin),
                                            ("Noise", self.noise_spin),
                                            ("Seed", self.seed_spin))):
            grid.addWidget(QLabel(text), 1, 2 * col)
            grid.addWidget(spin, 1, 2 * col + 1)
            grid.setColumnStretch(2 * col + 1, 1)

        # the last spec shown and how the widgets show it: a noise of more than two decimals
        # or a seed past the spin box is shown rounded, but Load with nothing changed must
        # load that spec again, not the rounded one (other points, silently)
        self._shown: tuple[ToySpec, ToySpec] | None = None
        self.requested.connect(panel.load)
        panel.loaded.connect(self._panel_loaded)
        self._mirror = _EnabledMirror(self, panel.load_button)

    def spec(self) -> ToySpec:
        """The set and settings shown: the spec last shown itself while no widget changed
        (its noise may have more decimals, its seed be past the spin box, than they show)."""
        name = self.name_combo.currentData() or DEFAULT_NAME  # none chosen yet: Load it
        widgets = ToySpec(str(name), self.points_spin.value(),
                          round(self.noise_spin.value(), 2), self.seed_spin.value())
        if self._shown is not None and widgets == self._shown[1]:
            return self._shown[0]
        return widgets

    def show_spec(self, spec: ToySpec) -> None:
        """Show ``spec``'s settings (a seed beyond the spin box shows as its largest, a noise
        rounded to two decimals); :meth:`spec` gives ``spec`` back until one is changed."""
        self._shown = None
        self.name_combo.setCurrentIndex(max(0, self.name_combo.findData(spec.name)))
        self.points_spin.setValue(spec.n)
        self.noise_spin.setValue(spec.noise)
        self.seed_spin.setValue(min(spec.seed, SEED_MAX))
        self._shown = (spec, self.spec())

    def _request(self, *_) -> None:  # activated(int) / clicked(bool): the values unused
        self.requested.emit(self.spec().text())

    def _panel_loaded(self, loaded) -> None:
        if is_toy_spec(loaded.source):  # the loader's own spec text: it parses
            self.show_spec(parse_spec(loaded.source))
        else:  # images, arrays, a table: no set is loaded, so none shows as chosen
            self._shown = None
            self.name_combo.setCurrentIndex(-1)


class _EnabledMirror(QObject):
    """Keeps ``target`` enabled exactly when ``source`` is (the panel's Load button, which
    the window turns off while data load or a network trains)."""

    def __init__(self, target: QWidget, source: QWidget) -> None:
        super().__init__(target)
        self.target = target
        target.setEnabled(source.isEnabled())
        source.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt's name)
        if event.type() == QEvent.Type.EnabledChange:
            self.target.setEnabled(watched.isEnabled())
        return False
