"""Views for File > Examples: the explanation panel shown above the training plots, and the
"Learning slowdown" tab (one neuron, quadratic against cross-entropy cost)."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QTextBrowser,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from desktop_nn.examples import SLOWDOWN, Example, SlowdownCurves, learning_slowdown
from desktop_nn.gui.plot_style import new_plot
from desktop_nn.gui.worker import Job

COST_PENS = {"quadratic": "#d62728", "cross-entropy": "#1f77b4"}
TEXT_HEIGHT = 96  # pixels of explanation before it scrolls: the plots keep the rest


class ExplanationPanel(QWidget):
    """The paragraph of the current example, above the plots: a title row (with a button
    that folds the text away, so the plots get the room, and Close) and the text."""

    def __init__(self, parent: QWidget | None = None, closable: bool = True,
                 name: str = "example") -> None:
        super().__init__(parent)
        self.setObjectName(f"{name}Panel")  # children: {name}Explanation, {name}Title, ...
        self.toggle_button = QToolButton()
        self.toggle_button.setObjectName(f"{name}ToggleButton")
        self.toggle_button.setCheckable(True)
        self.toggle_button.setChecked(True)
        self.toggle_button.setAutoRaise(True)
        self.toggle_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.toggle_button.toggled.connect(self.set_expanded)
        self.title = QLabel()
        self.title.setObjectName(f"{name}Title")
        self.text = QTextBrowser()
        self.text.setObjectName(f"{name}Explanation")
        self.text.setOpenExternalLinks(True)
        self.text.setMaximumHeight(TEXT_HEIGHT)
        self.close_button = QPushButton("Close")
        self.close_button.setObjectName(f"close{name[:1].upper()}{name[1:]}Button")
        self.close_button.clicked.connect(self.hide)
        self.close_button.setVisible(closable)
        self.header = QHBoxLayout()
        self.header.setContentsMargins(0, 0, 0, 0)
        self.header.addWidget(self.toggle_button)
        self.header.addWidget(self.title, 1)
        self.header.addWidget(self.close_button)
        v = QVBoxLayout(self)
        v.setContentsMargins(0, 0, 0, 4)
        v.setSpacing(2)
        v.addLayout(self.header)
        v.addWidget(self.text)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        self.set_expanded(True)
        self.hide()

    def show_example(self, example: Example) -> None:
        self.title.setText(f"<b>{example.title}</b>")
        self.text.setHtml(f"<p>{example.explanation}</p>")
        self.toggle_button.setChecked(True)
        self.show()

    def is_expanded(self) -> bool:
        return self.toggle_button.isChecked()

    def set_expanded(self, expanded: bool) -> None:
        """Show the text, or fold it away leaving the title row."""
        self.toggle_button.setChecked(expanded)
        self.toggle_button.setArrowType(Qt.ArrowType.DownArrow if expanded
                                        else Qt.ArrowType.RightArrow)
        self.toggle_button.setText("Hide text" if expanded else "Show text")
        self.text.setVisible(expanded)


def with_explanation(plots: QWidget, panel: ExplanationPanel) -> QWidget:
    """``plots`` under ``panel``: the text takes the whole width and only a few lines of
    height, so the plots keep their width at 1280 x 800."""
    box = QWidget()
    v = QVBoxLayout(box)
    v.setContentsMargins(0, 0, 0, 0)
    v.setSpacing(0)
    v.addWidget(panel)
    v.addWidget(plots, 1)
    return box


class SlowdownView(QWidget):
    """Nielsen's one-neuron demo: cost and output per epoch for both costs, computed in the
    background; the explanation above the plots."""

    computed = Signal(object)  # SlowdownCurves

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("learningSlowdownView")
        self.job: Job | None = None
        self.curves: SlowdownCurves | None = None
        self.cost_plot = new_plot("slowdownCostPlot", "Cost of one saturated neuron "
                                  "(w = b = 2, x = 1, y = 0, η = 0.15)", "epoch", "cost")
        self.output_plot = new_plot("slowdownOutputPlot", "Its output a", "epoch", "a")
        self.output_plot.setYRange(0, 1)
        self.lines = {}
        for name, color in COST_PENS.items():
            pen = pg.mkPen(color, width=2)
            self.lines[name] = (self.cost_plot.plot([], [], pen=pen, name=name),
                                self.output_plot.plot([], [], pen=pen, name=name))
        self.run_button = QPushButton("Train both again")
        self.run_button.setObjectName("slowdownRunButton")
        self.run_button.clicked.connect(self.run)
        self.explanation = ExplanationPanel(closable=False, name="slowdown")
        self.explanation.header.insertWidget(2, self.run_button)
        self.explanation.show_example(SLOWDOWN)

        v = QVBoxLayout(self)
        v.addWidget(self.explanation)
        v.addWidget(self.cost_plot, 3)
        v.addWidget(self.output_plot, 2)

    def run(self) -> bool:
        if self.job is not None:
            return False
        self.run_button.setEnabled(False)
        job = Job(lambda job: learning_slowdown(), "slowdownJob")
        job.succeeded.connect(self._succeeded)  # bound methods: GUI thread
        job.done.connect(self._done)
        self.job = job
        job.start()
        return True

    def _succeeded(self, curves: SlowdownCurves) -> None:
        self.curves = curves
        for name, (cost_line, output_line) in self.lines.items():
            cost_line.setData(curves.epochs, curves.cost[name])
            output_line.setData(curves.epochs, curves.output[name])
        self.computed.emit(curves)

    def _done(self) -> None:
        job = self.sender()
        if isinstance(job, Job):
            job.wait(5000)
        self.job = None
        self.run_button.setEnabled(True)

    def shutdown(self) -> None:
        if self.job is not None:
            self.job.wait(30_000)
