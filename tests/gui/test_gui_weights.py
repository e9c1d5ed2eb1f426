"""The Weights tab widget (pytest-qt, offscreen): tiles, scale and colour combos, histograms."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtWidgets import QComboBox, QLabel

from desktop_nn.gui.weights_view import WeightsView


def parameters(sizes, seed=0, spread=False):
    """Random host W[l] (n_l, n_{l-1}) and b[l] (n_l, 1) for layer sizes [n_x, n_1, ...]."""
    rng = np.random.default_rng(seed)
    W = [rng.normal(size=(n, m)).astype(np.float32)
         for m, n in zip(sizes[:-1], sizes[1:], strict=True)]
    b = [rng.normal(size=(n, 1)).astype(np.float32) for n in sizes[1:]]
    if spread:  # units of very different sizes: the scale matters
        W[0] *= np.linspace(0.01, 1.0, sizes[1], dtype=np.float32)[:, None]
    return W, b


@pytest.fixture
def view(qtbot):
    v = WeightsView()
    qtbot.addWidget(v)
    v.show()
    qtbot.waitExposed(v)
    return v


def test_named_controls(view):
    assert view.objectName() == "weightsView"
    for name in ("weightsScaleCombo", "weightsColorCombo", "histogramLayerCombo"):
        assert isinstance(view.findChild(QComboBox, name), QComboBox), name
    assert view.findChild(type(view.histogram_plot), "weightHistogramPlot") is not None
    assert isinstance(view.findChild(QLabel, "weightsInfoLabel"), QLabel)


def test_one_tile_per_first_layer_unit(view):
    W, b = parameters([6 * 5, 12, 3])
    view.set_parameters(W, b, (6, 5, 1))
    assert view.tile_count() == 12
    assert view.tile_shape() == (6, 5, 1)
    assert view.image().dtype == np.uint8 and view.image().ndim == 3
    assert view.tiles_widget.isVisible()
    assert not view.findChild(QComboBox, "weightsColorCombo").isVisible()  # gray inputs
    assert "all 12 units" in view.info_label.text()


def test_switching_the_scale_changes_the_image(view, qtbot):
    W, b = parameters([4 * 4, 9, 2], spread=True)
    view.set_parameters(W, b, (4, 4, 1))
    shared = view.image().copy()
    combo = view.findChild(QComboBox, "weightsScaleCombo")
    combo.setCurrentIndex(combo.findData("per-tile"))
    assert view.scale() == "per-tile"
    per_tile = view.image()
    assert per_tile.shape == shared.shape
    assert not np.array_equal(per_tile, shared)


def test_rgb_inputs_offer_rgb_colours(view):
    W, b = parameters([3 * 3 * 3, 5, 2])
    view.set_parameters(W, b, (3, 3, 3))
    combo = view.findChild(QComboBox, "weightsColorCombo")
    assert combo.isVisible()
    diverging = view.image().copy()
    combo.setCurrentIndex(combo.findData("rgb"))
    assert view.coloring() == "rgb"
    assert view.tile_shape() == (3, 3, 3)
    assert not np.array_equal(view.image(), diverging)


def test_non_image_inputs_hide_the_tiles(view):
    W, b = parameters([2, 4, 1])
    view.set_parameters(W, b, None)
    assert view.tile_count() == 0 and view.tile_shape() is None
    assert not view.tiles_widget.isVisible()
    assert "not images" in view.info_label.text()
    x, y = view.w_curve.getData()
    assert np.nansum(y) == pytest.approx(1.0)  # the histograms still work


def test_mismatched_shape_is_reported_not_raised(view):
    W, b = parameters([10, 4, 1])
    view.set_parameters(W, b, (3, 3, 1))
    assert view.tile_count() == 0
    assert "n_x = 10" in view.info_label.text()


def test_histogram_plot_has_data_for_the_chosen_layer(view):
    W, b = parameters([8, 6, 5, 3])
    W[1][0, 0] = np.nan  # a diverged entry is ignored, not plotted
    view.set_parameters(W, b, (2, 2, 2))
    combo = view.findChild(QComboBox, "histogramLayerCombo")
    assert combo.count() == 3
    x, y = view.w_curve.getData()
    assert len(x) == len(y) + 1 and np.sum(y) == pytest.approx(1.0)
    assert view.b_curve.getData()[1].sum() == pytest.approx(1.0)
    combo.setCurrentIndex(1)
    x2, y2 = view.w_curve.getData()
    assert np.isfinite(x2).all() and np.sum(y2) == pytest.approx(1.0)
    assert "W[2] (5x6)" in view.summary_label.text() and "1 not finite" in view.summary_label.text()
    # a refresh with new numbers keeps the chosen layer
    view.set_parameters(*parameters([8, 6, 5, 3], seed=1), (2, 2, 2))
    assert combo.currentIndex() == 1


def test_many_units_are_capped_and_said(view):
    W, b = parameters([4, 450, 2])
    view.set_parameters(W, b, (2, 2, 1))
    assert view.tile_count() == 400
    assert "first 400 of 450" in view.info_label.text()


def test_hidden_view_defers_drawing_and_clear_resets(qtbot):
    v = WeightsView()
    qtbot.addWidget(v)
    W, b = parameters([4, 3, 2])
    v.set_parameters(W, b, (2, 2, 1))
    assert v.redraws == 0  # hidden: nothing drawn yet
    v.show()
    qtbot.waitExposed(v)
    assert v.redraws == 1
    assert v.tile_count() == 3 and v.redraws == 1
    v.clear()
    assert v.tile_count() == 0 and v.image() is None
    assert v.findChild(QComboBox, "histogramLayerCombo").count() == 0
    with pytest.raises(ValueError):
        v.set_parameters(W, b[:1], (2, 2, 1))


def test_hovering_a_tile_names_its_unit(view):
    from PySide6.QtCore import QPointF

    W, b = parameters([4, 10, 2])
    view.set_parameters(W, b, (2, 2, 1))  # 4 columns of 2x2 tiles with 1 pixel gaps
    for (row, col), text in (((1.5, 1.5), "unit 1 of 10"), ((1.5, 4.5), "unit 2 of 10"),
                             ((4.5, 1.5), "unit 5 of 10"), ((0.2, 0.2), "")):
        view._mouse_moved(view.tiles_box.mapViewToScene(QPointF(col, row)))
        assert view.hover_label.text() == text
