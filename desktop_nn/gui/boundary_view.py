"""The Decision boundary tab ("Plane"): for a network with exactly 2 inputs, the input
plane coloured by the network's output, the training and validation points on it, and each
hidden unit's activation over the plane as a small picture (as TensorFlow Playground shows per
neuron).

Every number comes from :mod:`desktop_nn.inspect.plane` (docs/diagnostics.md, "Decision
boundary"); this module only draws them. During training the training progress's timer calls
:meth:`BoundaryView.add` and :meth:`BoundaryView.redraw` (as for the Activations tab): the view
works only while it is shown, at most once per :data:`MIN_REDRAW_S`. The GUI thread copies the
weights and starts a worker thread that computes the pictures (a forward pass over two grids:
milliseconds for small networks, tens of them for 64-unit layers on a busy processor), then
only draws what it returns; one such job at a time, and what changed while it ran is computed
next, as soon as that rate allows. Otherwise the view shows the model in hand whenever the tab
is opened or the model or the data change.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QObject, QRectF, Qt, QTimer
from PySide6.QtWidgets import QLabel, QScrollArea, QSplitter, QVBoxLayout, QWidget

from desktop_nn.data.dataset import PreparedData, labels_of
from desktop_nn.gui.plot_style import new_plot, quiet_color_bar
from desktop_nn.gui.unit_pictures import UnitPictures, layer_pictures
from desktop_nn.gui.worker import Job
from desktop_nn.inspect.plane import (
    PlanePicture,
    output_levels,
    plane_picture,
    plane_ranges,
    winner_strength,
)
from desktop_nn.workbench import Workbench

MIN_REDRAW_S = 0.2  # at most 5 pictures a second while training
MAX_POINTS = 2000  # points drawn per set (an even sample of a larger set)
CLASS_COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
                "#7f7f7f", "#bcbd22", "#17becf"]  # class k: CLASS_COLORS[k % 10]
CLASS_RGB = np.array([[int(c[i:i + 2], 16) for i in (1, 3, 5)] for c in CLASS_COLORS],
                     dtype=np.float64)  # (10, 3), for the worker thread (no Qt there)
BACKGROUND = 0.55  # the plane's colour at full confidence: this share of the class's colour
HOVER_HINT = "Point at the plane to read the network's output there."
AXIS_X = "x₁: input 1 (row 1 of X, as the network receives it)"
AXIS_Y = "x₂: input 2 (row 2 of X)"
NEEDS_TWO = ("This view needs a network with exactly 2 inputs: it colours each point (x₁, x₂) "
             "of the input plane by the network's output there. {what} has {n} inputs, a "
             "space that cannot be drawn as a plane; load a data set with 2 features "
             "(an .npz whose X has 2 rows) and train a network on it.")


@dataclass
class PlaneSource:
    """What the view draws: the host parameters and activations of a 2-input network (None
    when there is no model), the data whose points go on the plane (None: none fit), their
    class names, and ``problem``: why nothing can be drawn (then the rest is unused)."""

    W: list[np.ndarray] | None
    b: list[np.ndarray] | None
    activations: list[str]
    data: PreparedData | None
    class_names: list[str]
    problem: str | None = None


def model_source(workbench: Workbench, data: Callable[[], PreparedData | None]
                 ) -> Callable[[], PlaneSource]:
    """The model in hand of ``workbench`` and ``data()`` (the data it was trained on, else
    the loaded data) as a :class:`PlaneSource`."""

    def source() -> PlaneSource:
        held = workbench.in_hand()
        d = data()
        two_d = d is not None and d.train.n_x == 2
        if held is None:
            if d is not None and not two_d:
                return PlaneSource(None, None, [], None, [],
                                   NEEDS_TWO.format(what="The loaded data set", n=d.train.n_x))
            names = list(d.class_names) if d is not None else []
            return PlaneSource(None, None, [], d, names)
        spec = held.network.spec
        if spec.input_size != 2:
            return PlaneSource(None, None, [], None, [],
                               NEEDS_TWO.format(what="The network", n=spec.input_size))
        W, b = held.network.get_parameters()  # host copies (the weights may be mid-step)
        n_classes = 2 if spec.output_size == 1 else spec.output_size
        fits = two_d and d is not None and d.train.n_classes == n_classes
        if held.data is None:  # an imported model: its own class names
            names = list(workbench.current_model().class_names)
        else:
            names = list(d.class_names) if fits and d is not None else []
        if len(names) != n_classes:
            names = [str(k) for k in range(n_classes)]
        return PlaneSource(W, b, spec.activations, d if fits else None, names)

    return source


def _mix(k: int, share: float) -> tuple[int, int, int]:
    """``share`` of class k's colour over white."""
    return tuple(int(round(share * v + (1 - share) * 255)) for v in CLASS_RGB[k])


def two_class_map() -> pg.ColorMap:
    """Class 0's colour (pale) at 0, white at 0.5, class 1's at 1."""
    return pg.ColorMap([0.0, 0.5, 1.0], [_mix(0, BACKGROUND), (255, 255, 255),
                                         _mix(1, BACKGROUND)])


def class_image(winner: np.ndarray, strength: np.ndarray) -> np.ndarray:
    """(ny, nx, 3) uint8: each point in its predicted class's colour mixed over white by
    BACKGROUND x ``strength`` (plain NumPy: made in the worker thread)."""
    share = (BACKGROUND * strength)[..., None]
    rgb = share * CLASS_RGB[winner % len(CLASS_RGB)] + (1 - share) * 255.0
    return np.round(rgb).astype(np.uint8)


class BoundaryView(QWidget):
    """The tab. ``source()`` says what to draw (:func:`model_source`)."""

    def __init__(self, source: Callable[[], PlaneSource], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("boundaryView")
        self.source = source
        self.picture: PlanePicture | None = None  # the last one drawn
        self.redraws = 0
        self._pending = True  # something changed since the last picture
        self._points_of: tuple = (None, ())  # the data and classes whose points are drawn
        self._last_draw = 0.0
        self.job: Job | None = None  # the pictures being computed
        self._again = False  # a forced redraw waits for that job
        self._generation = 0  # counts the changes of model or data
        self._closing = False
        self._drawn_source: PlaneSource | None = None  # what self.picture was made from

        self.note = QLabel("Train a network with 2 inputs to see its decision boundary here.")
        self.note.setObjectName("boundaryNote")
        self.note.setWordWrap(True)
        self.plot = new_plot("boundaryPlot", "Decision boundary", AXIS_X, AXIS_Y)
        self.plot.getPlotItem().getViewBox().setAspectLocked(True)  # the plane unstretched
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setZValue(-10)
        self.plot.addItem(self.image)
        self.colorbar = pg.ColorBarItem(values=(0, 1), colorMap=two_class_map(),
                                        interactive=False, label="P(class 1)")
        self.colorbar.setImageItem(self.image, insert_in=self.plot.getPlotItem())
        quiet_color_bar(self.colorbar)
        self.scatters: list[pg.ScatterPlotItem] = []
        self.units = UnitPictures()
        self.units_scroll = QScrollArea()
        self.units_scroll.setObjectName("unitPicturesScroll")
        self.units_scroll.setWidgetResizable(True)
        self.units_scroll.setWidget(self.units)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(self.plot)
        self.splitter.addWidget(self.units_scroll)
        self.splitter.setStretchFactor(0, 1)
        self.splitter.setStretchFactor(1, 0)
        # the pictures three abreast, the plane all the rest
        units_width = self.units.sizeHint().width() + self.units_scroll.verticalScrollBar() \
            .sizeHint().width() + 4
        self.splitter.setSizes([3 * units_width, units_width])
        self.hover_label = QLabel(HOVER_HINT)
        self.hover_label.setObjectName("boundaryHoverLabel")
        self.plot.scene().sigMouseMoved.connect(self._hover)
        layout = QVBoxLayout(self)
        layout.addWidget(self.note)
        layout.addWidget(self.splitter, 1)
        layout.addWidget(self.hover_label)
        layout.addStretch(0)  # keeps the note at the top while the plot is hidden

    # ------------------------------------------------------------------ what changed
    def add(self, steps: list) -> None:
        """Reports arrived (the training progress's timer): the weights moved."""
        if steps:
            self._pending = True

    def model_changed(self) -> None:
        """Another model in hand, or new data: drawn now when shown, else when opened."""
        self._pending = True
        self._generation += 1  # a picture being computed is of the one before
        self.redraw(force=True)

    # ------------------------------------------------------------------ drawing
    def showEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        super().showEvent(event)
        self.redraw(force=True)  # the tab was opened: show the model in hand now

    def redraw(self, force: bool = False) -> bool:
        """Start computing the model in hand's pictures when visible, changed and not done in
        the last MIN_REDRAW_S (``force``: whenever visible); they are drawn when the worker
        returns them (:attr:`redraws` counts those). Whether it started."""
        now = time.perf_counter()
        if self._closing or not self.isVisible() or not (force or self._pending):
            return False
        if self.job is not None:  # one at a time: done again once it ends
            self._pending = True
            self._again = self._again or force
            return False
        if not force and now - self._last_draw < MIN_REDRAW_S:
            return False
        self._pending, self._last_draw = False, now
        src = self.source()
        self.splitter.setVisible(src.problem is None)
        self.hover_label.setVisible(src.problem is None)
        if src.problem is not None:
            self.note.setText(src.problem)
            self.picture = None
            return False
        data = src.data
        points = None if data is None else np.hstack(
            [s.X for s in (data.train, data.val) if s is not None])
        ranges = plane_ranges(points)
        self._draw_points(data, src.class_names)
        if src.W is None or src.b is None:
            self.image.clear()
            self.colorbar.setVisible(False)  # no output to read off it
            self.picture = None
            self.units.clear()
            self.note.setText("Train a network (or import a model with 2 inputs) to see "
                              "its decision boundary here."
                              + ("" if data is not None else " No 2-D data are loaded."))
            return False
        W, b, acts = src.W, src.b, src.activations

        generation = self._generation

        def compute(job: Job) -> tuple:
            pic = plane_picture(W, b, acts, ranges, dtype=W[0].dtype)
            rgb = None if pic.output.shape[0] == 1 else class_image(
                pic.winner, winner_strength(pic, acts[-1]))
            return pic, rgb, layer_pictures(pic.units, acts[:-1]), src, generation

        job = Job(compute, "boundaryJob")
        # bound methods: they run in the GUI thread
        job.succeeded.connect(self._computed)
        job.failed.connect(self.note.setText)
        job.done.connect(self._job_done)
        self.job = job
        job.start()
        return True

    def _computed(self, result: tuple) -> None:
        pic, rgb, pictures, src, generation = result
        if generation != self._generation or not self.isVisible():
            return  # another model or data since: computed again (see _job_done)
        self.picture, self._drawn_source = pic, src
        self._draw_output(pic, src, rgb)
        self.units.set_layers(pic.units, src.activations[:-1], pictures)
        self.redraws += 1
        self.plot.repaint()

    def _job_done(self) -> None:
        job, self.job = self.job, None
        if job is not None:
            job.wait(1000)  # its thread is ending: nothing is left running
        if self._pending and not self._closing:
            # what changed meanwhile, as soon as the rate allows (not at the progress timer's
            # next turn for this view, which a slow redraw of the plots can put seconds away)
            again, self._again = self._again, False
            wait = 0.0 if again else MIN_REDRAW_S - (time.perf_counter() - self._last_draw)
            QTimer.singleShot(max(0, int(wait * 1000) + 1), self,  # dropped with the view
                              lambda: self.redraw(force=again))

    def shutdown(self) -> None:
        """The window closes: no new job, and the one running (milliseconds) has ended."""
        self._closing = True
        if self.job is not None:
            self.job.wait(10_000)

    def _draw_output(self, pic: PlanePicture, src: PlaneSource,
                     rgb: np.ndarray | None) -> None:
        out_act = src.activations[-1]
        names = src.class_names
        if pic.output.shape[0] == 1:
            lo, hi = output_levels(out_act, pic.value)
            self.image.setImage(pic.value, levels=(lo, hi), autoLevels=False)
            self.colorbar.setLevels((lo, hi))
            what = (f"P({names[1]})" if out_act == "sigmoid"
                    else f"output A[L] ({names[1]} above 0.5)")
            self.colorbar.getAxis("left").setLabel(what)  # pyqtgraph's label side
            self.colorbar.setVisible(True)
            self.note.setText(
                f"Colour: the network's output at each point, {what}; white (0.5) is the "
                f"decision boundary, where the predicted class changes from {names[0]} to "
                f"{names[1]}. Circles: training points, triangles: validation points, in the "
                f"colour of their true class.")
        else:
            self.image.setImage(rgb, levels=(0, 255), autoLevels=False)
            self.colorbar.setVisible(False)
            self.note.setText(
                "Colour: the class the network predicts at each point, deeper where its "
                + ("probability" if out_act == "softmax" else "output")
                + " is higher (white: all classes equally likely); boundaries lie where the "
                "colour changes. Circles: training points, triangles: validation points, in "
                "the colour of their true class.")
        left, bottom, width, height = pic.grid.rect()
        self.image.setRect(QRectF(left, bottom, width, height))

    def _draw_points(self, data: PreparedData | None, names: list[str]) -> None:
        """The training and validation points by true class (redone when the data change)."""
        if self._points_of[0] is data and self._points_of[1] == tuple(names):
            return
        self._points_of = (data, tuple(names))
        item = self.plot.getPlotItem()
        for s in self.scatters:
            item.removeItem(s)
        if item.legend is not None:
            item.legend.clear()
        self.scatters = []
        if data is None:
            return
        sets = []
        for set_name, ds, symbol, size, edge in (("train", data.train, "o", 7, "#333333"),
                                                 ("validation", data.val, "t", 9, "k")):
            if ds is not None and ds.m:
                keep = np.unique(np.linspace(0, ds.m - 1, min(ds.m, MAX_POINTS)).astype(int))
                sets.append((set_name, ds.X[:, keep], labels_of(ds.Y[:, keep]), symbol, size,
                             edge))
        # class by class (a legend row per class), validation points drawn over training ones
        for k, name in enumerate(names):
            color = CLASS_COLORS[k % len(CLASS_COLORS)]
            for z, (set_name, X, labels, symbol, size, edge) in enumerate(sets):
                mine = labels == k
                s = pg.ScatterPlotItem(X[0, mine], X[1, mine], symbol=symbol, size=size,
                                       brush=pg.mkBrush(color), pen=pg.mkPen(edge, width=0.8),
                                       name=f"{set_name}: {name}")
                s.setZValue(z)
                item.addItem(s)
                self.scatters.append(s)

    def _hover(self, scene_pos) -> None:
        """The grid point under the mouse and the network's output there."""
        pic, src = self.picture, self._drawn_source
        vb = self.plot.getPlotItem().getViewBox()
        if pic is None or src is None or not vb.sceneBoundingRect().contains(scene_pos):
            self.hover_label.setText(HOVER_HINT if pic is not None else "")
            return
        p = vb.mapSceneToView(scene_pos)
        x1, x2 = pic.grid.x1, pic.grid.x2
        left, bottom, width, height = pic.grid.rect()
        if not (left <= p.x() <= left + width and bottom <= p.y() <= bottom + height):
            self.hover_label.setText(HOVER_HINT)
            return
        j = int(np.clip(np.rint((p.x() - x1[0]) / (x1[1] - x1[0])), 0, x1.size - 1))
        i = int(np.clip(np.rint((p.y() - x2[0]) / (x2[1] - x2[0])), 0, x2.size - 1))
        names = src.class_names
        if pic.output.shape[0] == 1:
            what = "P" if src.activations[-1] == "sigmoid" else "A[L] for"
            out = f"{what}({names[1]}) = {pic.value[i, j]:.3f}"
        else:
            k = int(pic.winner[i, j])
            what = f"P({names[k]})" if src.activations[-1] == "softmax" else "its output"
            out = f"predicted {names[k]}, {what} = {pic.value[i, j]:.3f}"
        self.hover_label.setText(f"At x₁ = {x1[j]:.3g}, x₂ = {x2[i]:.3g}: {out}")

    def settled(self) -> bool:
        """No picture is being computed or waits to be (for tests and automation)."""
        return self.job is None and not (self._pending and self.isVisible())

    def shown_image(self) -> np.ndarray | None:
        """The image drawn (for tests): (ny, nx) values or (ny, nx, 3) colours."""
        return self.image.image


def install(window) -> BoundaryView:
    """Make the tab in ``window`` (the main window) after the Activations tab, fed by its
    training progress's timer, following the model in hand and the loaded data."""
    view = BoundaryView(model_source(window.workbench, window.inspection.data))
    # "Plane", not "Decision boundary" (nor "Boundary"): with a longer title the tabs no
    # longer fit the central area at 1280 x 800 and the last one hid behind scroll arrows
    index = window.tabs.insertTab(window.tabs.indexOf(window.activation_view) + 1, view,
                                  "Plane")
    window.tabs.setTabToolTip(index, "Decision boundary: the input plane of a network with 2 "
                                     "inputs, coloured by its output, and its hidden units")
    window.progress.views.append(view)
    window.workbench.events.model_changed.connect(view.model_changed)
    window.data_panel.loaded.connect(lambda _: view.model_changed())
    window.installEventFilter(_OnClose(view))
    return view


class _OnClose(QObject):
    """Shuts the view down when its window is asked to close (before it closes)."""

    def __init__(self, view: BoundaryView) -> None:
        super().__init__(view)
        self.view = view

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt's name)
        if event.type() == QEvent.Type.Close:
            self.view.shutdown()
        return False
