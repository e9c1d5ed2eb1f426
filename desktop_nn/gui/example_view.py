"""Views for File > Examples: the explanation panel shown beside the training plots, and the
"Learning slowdown" tab (one neuron, quadratic against cross-entropy cost)."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSplitter,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from desktop_nn.examples import SLOWDOWN, Example, SlowdownCurves, learning_slowdown
from desktop_nn.gui.worker import Job

COST_PENS = {"quadratic": "#d62728", "cross-entropy": "#1f77b4"}


class ExplanationPanel(QWidget):
    """The paragraph of the current example, beside the plots; closable."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("examplePanel")
        self.text = QTextBrowser()
        self.text.setObjectName("exampleExplanation")
        self.text.setOpenExternalLinks(True)
        self.close_button = QPushButton("Close")
        self.close_button.setObjectName("closeExampleButton")
        self.close_button.clicked.connect(self.hide)
        v = QVBoxLayout(self)
        v.setContentsMargins(4, 0, 0, 0)
        v.addWidget(self.text, 1)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.close_button)
        v.addLayout(row)
        self.setMinimumWidth(220)
        self.hide()

    def show_example(self, example: Example) -> None:
        self.text.setHtml(f"<p>{example.explanation}</p>")
        self.show()


def with_explanation(plots: QWidget, panel: ExplanationPanel) -> QSplitter:
    splitter = QSplitter(Qt.Orientation.Horizontal)
    splitter.addWidget(plots)
    splitter.addWidget(panel)
    splitter.setStretchFactor(0, 4)
    splitter.setStretchFactor(1, 1)
    return splitter


class SlowdownView(QWidget):
    """Nielsen's one-neuron demo: cost and output per epoch for both costs, computed in the
    background; the explanation beside the plots."""

    computed = Signal(object)  # SlowdownCurves

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("learningSlowdownView")
        self.job: Job | None = None
        self.curves: SlowdownCurves | None = None
        self.cost_plot = pg.PlotWidget(title="Cost of one saturated neuron (w = b = 2, x = 1, "
                                             "y = 0, η = 0.15)")
        self.cost_plot.setObjectName("slowdownCostPlot")
        self.output_plot = pg.PlotWidget(title="Its output a")
        self.output_plot.setObjectName("slowdownOutputPlot")
        for plot, label in ((self.cost_plot, "cost"), (self.output_plot, "a")):
            plot.setBackground("w")
            plot.setLabel("bottom", "epoch")
            plot.setLabel("left", label)
            plot.addLegend(offset=(-10, 10))
        self.output_plot.setYRange(0, 1)
        self.lines = {}
        for name, color in COST_PENS.items():
            pen = pg.mkPen(color, width=2)
            self.lines[name] = (self.cost_plot.plot([], [], pen=pen, name=name),
                                self.output_plot.plot([], [], pen=pen, name=name))
        self.explanation = QLabel(SLOWDOWN.explanation)
        self.explanation.setObjectName("slowdownExplanation")
        self.explanation.setWordWrap(True)
        self.explanation.setMinimumWidth(220)
        self.explanation.setAlignment(Qt.AlignmentFlag.AlignTop)
        self.run_button = QPushButton("Train both again")
        self.run_button.setObjectName("slowdownRunButton")
        self.run_button.clicked.connect(self.run)

        plots = QWidget()
        pv = QVBoxLayout(plots)
        pv.setContentsMargins(0, 0, 0, 0)
        pv.addWidget(self.cost_plot, 2)
        pv.addWidget(self.output_plot, 1)
        side = QWidget()
        sv = QVBoxLayout(side)
        sv.addWidget(self.explanation)
        sv.addWidget(self.run_button)
        sv.addStretch(1)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(plots)
        splitter.addWidget(side)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 1)
        QVBoxLayout(self).addWidget(splitter)

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
