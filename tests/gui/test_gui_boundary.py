"""The Plane tab (decision boundary): the pictures it holds are the core's values for the model in
hand (inspect/plane.py, checked there against their definitions), they follow a training run
while the tab is shown, a network whose input is not 2-D gets a plain message instead, and the
other tabs work on 2-D data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from plane_data import write_spiral_npz
from PySide6.QtCore import QObject

from desktop_nn.inspect.plane import plane_picture, plane_ranges, unit_levels


def find(window, name: str):
    w = window.findChild(QObject, name)
    assert w is not None, f"no widget named {name!r}"
    return w


def load(qtbot, window, path: Path) -> None:
    with qtbot.waitSignal(window.data_loaded, timeout=20_000):
        window.data_panel.load(str(path))


def train(qtbot, window, epochs: int) -> None:
    window.training_panel.epochs_spin.setValue(epochs)
    with qtbot.waitSignal(window.training_finished, timeout=60_000):
        assert window.start()


@pytest.fixture
def spiral(tmp_path) -> Path:
    return write_spiral_npz(tmp_path / "spiral.npz", n_per_class=60)


def settle(qtbot, view) -> None:
    """Wait until the pictures asked for are computed (in a worker) and drawn."""
    qtbot.waitUntil(view.settled, timeout=20_000)


def expected_picture(window):
    """The core's pictures of the model in hand over the data's points."""
    net = window.workbench.in_hand().network
    data = window.inspection.data()
    points = np.hstack([data.train.X, data.val.X])
    W, b = net.get_parameters()
    return plane_picture(W, b, net.spec.activations, plane_ranges(points), dtype=net.dtype)


def test_the_tab_shows_the_core_pictures_of_the_model_in_hand(qtbot, window, spiral):
    load(qtbot, window, spiral)
    window.designer.set_layers([(6, "tanh"), (5, "relu")])
    view = window.boundary_view
    index = window.tabs.indexOf(view)
    assert window.tabs.tabText(index) == "Plane"
    assert window.tabs.tabToolTip(index).startswith("Decision boundary")
    window.tabs.setCurrentWidget(view)
    train(qtbot, window, epochs=3)
    settle(qtbot, view)
    want = expected_picture(window)
    np.testing.assert_array_equal(view.shown_image(), want.value)  # P(orange arm)
    np.testing.assert_array_equal(view.picture.output, want.output)
    assert view.image.levels.tolist() == [0.0, 1.0]
    rect = view.image.mapRectToParent(view.image.boundingRect())
    left, bottom, width, height = want.grid.rect()
    assert rect.left() == pytest.approx(left) and rect.top() == pytest.approx(bottom)
    assert rect.width() == pytest.approx(width) and rect.height() == pytest.approx(height)
    units = view.units
    assert len(units.values) == 2
    for layer, (shown, act) in enumerate(zip(units.values, ["tanh", "relu"], strict=True)):
        np.testing.assert_array_equal(shown, want.units[layer])
        assert units.levels[layer] == unit_levels(act, want.units[layer])
    assert "P(orange arm)" in view.colorbar.getAxis("left").labelText
    assert "decision boundary" in find(window, "boundaryNote").text()
    # the points: training and validation, by true class, in the legend under the plot
    names = [s.name() for s in view.scatters]
    assert names == ["train: blue arm", "validation: blue arm", "train: orange arm",
                     "validation: orange arm"]
    data = window.inspection.data()
    assert sum(len(s.data) for s in view.scatters[::2]) == data.train.m
    assert sum(len(s.data) for s in view.scatters[1::2]) == data.val.m
    x, y = view.scatters[2].getData()
    orange = data.train.X[:, data.train.labels() == 1]
    np.testing.assert_array_equal(np.sort(x), np.sort(orange[0]))
    # pointing at a grid point reads the value drawn there
    from PySide6.QtCore import QPointF

    vb = view.plot.getPlotItem().getViewBox()
    i, j = 37, 62
    view._hover(vb.mapViewToScene(QPointF(want.grid.x1[j], want.grid.x2[i])))
    assert find(window, "boundaryHoverLabel").text() == (
        f"At x₁ = {want.grid.x1[j]:.3g}, x₂ = {want.grid.x2[i]:.3g}: "
        f"P(orange arm) = {want.value[i, j]:.3f}")


def test_the_picture_follows_training_while_shown(qtbot, window, spiral):
    load(qtbot, window, spiral)
    window.designer.set_layers([(8, "tanh")])
    view = window.boundary_view
    window.tabs.setCurrentWidget(view)
    window.training_panel.epochs_spin.setValue(100_000)
    window.training_panel.batch_spin.setValue(4)
    assert window.start()
    from PySide6.QtCore import QThread

    drawn_in = []  # the thread each picture is drawn in: the GUI thread, never the worker
    view.units.set_layers = lambda *a, f=view.units.set_layers: (
        drawn_in.append(QThread.currentThread()), f(*a))[1]
    qtbot.waitUntil(lambda: window.is_training() and view.redraws >= 2, timeout=30_000)
    first = view.shown_image().copy()
    drawn = view.redraws
    try:
        qtbot.waitUntil(lambda: view.redraws >= drawn + 2, timeout=60_000)
    except Exception:  # say where it stood
        raise AssertionError(
            f"{view.redraws - drawn} pictures in 60 s; training {window.is_training()}, "
            f"job {view.job}, pending {view._pending}, note {view.note.text()!r}, "
            f"status {window.statusBar().currentMessage()!r}") from None
    assert not np.array_equal(view.shown_image(), first)  # the weights moved in between
    assert drawn_in and all(t is view.thread() for t in drawn_in)
    with qtbot.waitSignal(window.training_finished, timeout=30_000):
        window.stop()
    settle(qtbot, view)
    np.testing.assert_array_equal(view.shown_image(), expected_picture(window).value)


def test_it_draws_nothing_while_hidden_and_the_model_in_hand_when_opened(qtbot, window,
                                                                          spiral, tmp_path):
    load(qtbot, window, spiral)
    view = window.boundary_view
    window.tabs.setCurrentWidget(view)  # no model yet: the points, no colours, no scale
    assert view.picture is None and view.shown_image() is None
    assert len(view.scatters) == 4 and not view.colorbar.isVisible()
    assert "Train a network" in find(window, "boundaryNote").text()
    window.tabs.setCurrentWidget(window.training_tab)
    window.designer.set_layers([(5, "sigmoid")])
    train(qtbot, window, epochs=2)
    assert view.redraws == 0 and view.picture is None
    window.tabs.setCurrentWidget(view)
    qtbot.waitUntil(lambda: view.redraws == 1, timeout=20_000)
    np.testing.assert_array_equal(view.shown_image(), expected_picture(window).value)
    # an imported model is shown with its own class names
    model = window.workbench.current_model()
    from desktop_nn.io.model_file import save_model

    path = tmp_path / "spiral.model.npz"
    save_model(path, model)
    window.reset_weights()
    assert window.model_files.import_model(str(path))
    settle(qtbot, view)
    W, b = model.network.get_parameters()
    data = window.inspection.data()
    want = plane_picture(W, b, model.network.spec.activations,
                         plane_ranges(np.hstack([data.train.X, data.val.X])),
                         dtype=model.network.dtype)
    np.testing.assert_array_equal(view.shown_image(), want.value)


def test_three_classes_are_coloured_by_the_winning_class(qtbot, window, tmp_path):
    load(qtbot, window, write_spiral_npz(tmp_path / "s3.npz", n_per_class=40, classes=3))
    window.designer.set_layers([(6, "leaky_relu")])
    view = window.boundary_view
    window.tabs.setCurrentWidget(view)
    train(qtbot, window, epochs=2)
    settle(qtbot, view)
    from desktop_nn.gui.boundary_view import class_image
    from desktop_nn.inspect.plane import winner_strength

    want = expected_picture(window)
    np.testing.assert_array_equal(view.shown_image(),
                                  class_image(want.winner, winner_strength(want, "softmax")))
    assert not view.colorbar.isVisible()
    assert len(view.scatters) == 6
    from PySide6.QtCore import QPointF

    i, j = 80, 15
    vb = view.plot.getPlotItem().getViewBox()
    view._hover(vb.mapViewToScene(QPointF(want.grid.x1[j], want.grid.x2[i])))
    name = ["blue arm", "orange arm", "green arm"][want.winner[i, j]]
    assert find(window, "boundaryHoverLabel").text().endswith(
        f"predicted {name}, P({name}) = {want.value[i, j]:.3f}")


def test_the_plot_has_its_help_page(qtbot, window):
    from PySide6.QtWidgets import QToolButton

    from desktop_nn.gui.help_texts import page_for_plot

    page = page_for_plot("boundaryPlot")
    assert page is not None and page.key == "boundary"
    assert "100 × 100" in page.html and "10%" in page.html and "32 × 32" in page.html
    window.tabs.setCurrentWidget(window.boundary_view)
    button = window.boundary_view.plot.findChild(QToolButton, "boundaryPlotHelpButton")
    assert button is not None
    button.click()
    assert window.help_menu.help_window.current_key() == "boundary"


def test_a_network_without_two_inputs_gets_a_message_not_a_picture(qtbot, window):
    view = window.boundary_view  # the bundled sample: images of 784 inputs
    window.tabs.setCurrentWidget(view)
    note = find(window, "boundaryNote")
    assert "exactly 2 inputs" in note.text() and "784" in note.text()
    assert not view.splitter.isVisible()
    window.designer.set_layers([(10, "sigmoid")])
    train(qtbot, window, epochs=1)
    assert "exactly 2 inputs" in note.text() and "The network has 784 inputs" in note.text()
    assert view.picture is None and view.redraws == 0


def test_the_other_tabs_work_on_two_dimensional_data(qtbot, window, spiral):
    """Gradients, diagnostics and activations reach their plots; the image-only views
    (weight tiles, mistakes, Predict) say what they cannot show instead of failing."""
    load(qtbot, window, spiral)
    window.designer.set_layers([(8, "sigmoid"), (6, "relu")])
    window.tabs.setCurrentWidget(window.activation_view)
    train(qtbot, window, epochs=3)
    plots = window.plots
    assert np.isfinite(plots.steps.cost).all() and len(plots.steps.cost) > 0
    for key in ("grad_norm_W", "grad_norm_b", "update_ratio"):
        values = plots.steps.layer_values(key)
        assert values.shape[0] == 3 and np.isfinite(values).all(), key  # (L, reports)
    assert window.activation_view.series.n > 0
    assert window.activation_view.shown_image() is not None
    for tab in (window.weights_view, window.evaluation_view, window.predict_view,
                window.math_view, window.diagram, window.training_tab):
        window.tabs.setCurrentWidget(tab)  # an error in a slot fails the test (pytest-qt)
    window.tabs.setCurrentWidget(window.weights_view)
    assert "not images" in find(window, "weightsInfoLabel").text()
    assert "the Plane tab shows what each unit computes" in find(window, "weightsInfoLabel").text()
    window.tabs.setCurrentWidget(window.evaluation_view)
    qtbot.waitUntil(lambda: window.inspection.evaluation_job is None, timeout=20_000)
    from PySide6.QtWidgets import QListWidget

    gallery = find(window, "mistakesGallery")  # no pictures of points: a line per mistake
    assert gallery.viewMode() == QListWidget.ViewMode.ListMode
    assert all(gallery.item(i).icon().isNull() for i in range(gallery.count()))


def test_class_colours_follow_their_definition():
    """docs/diagnostics.md: the winning class's colour over white with the share 0.55 x s."""
    from desktop_nn.gui.boundary_view import BACKGROUND, CLASS_COLORS, class_image

    rgb = class_image(np.array([[0, 2, 1]]), np.array([[1.0, 0.0, 0.5]]))
    blue = [int(CLASS_COLORS[0][i:i + 2], 16) for i in (1, 3, 5)]
    orange = [int(CLASS_COLORS[1][i:i + 2], 16) for i in (1, 3, 5)]
    np.testing.assert_array_equal(rgb[0, 0], np.round(BACKGROUND * np.array(blue)
                                                      + (1 - BACKGROUND) * 255))
    np.testing.assert_array_equal(rgb[0, 1], [255, 255, 255])  # s = 0: white
    share = BACKGROUND * 0.5
    np.testing.assert_array_equal(rgb[0, 2], np.round(share * np.array(orange)
                                                      + (1 - share) * 255))


def test_the_documented_definition_names_the_constants_in_use():
    """docs/diagnostics.md's "Decision boundary" section states the values the code uses."""
    from pathlib import Path

    from desktop_nn.gui import boundary_view, unit_pictures
    from desktop_nn.inspect import plane

    text = (Path(__file__).resolve().parents[2] / "docs" / "diagnostics.md").read_text()
    section = text.split("## Decision boundary")[1].split("\n## ")[0]
    assert f"`MARGIN` = {plane.MARGIN:g}" in section
    assert f"`BOUNDARY_RESOLUTION` = {plane.BOUNDARY_RESOLUTION}" in section
    assert f"`UNIT_RESOLUTION` = {plane.UNIT_RESOLUTION} x {plane.UNIT_RESOLUTION}" in section
    assert f"share {boundary_view.BACKGROUND:g} x s" in section
    assert f"at most {boundary_view.MAX_POINTS} per set" in section
    assert f"At most {unit_pictures.MAX_UNITS} units per" in section
    assert f"[{plane.DEFAULT_RANGE[0]:g}, {plane.DEFAULT_RANGE[1]:g}]".replace("-", "−") in section
