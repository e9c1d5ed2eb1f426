"""The Evaluation tab (pytest-qt, offscreen): confusion matrix, per-class metrics, mistakes."""

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QLabel, QListWidget, QPushButton, QTableWidget

from desktop_nn.gui.evaluation_view import MAX_GALLERY, EvaluationView

NAMES = ["cat", "dog", "fox"]
# the hand-worked example of tests/test_inspect_evaluation.py
P = np.array([[0.7, 0.1, 0.2, 0.5, 0.05, 0.3, 0.1],
              [0.2, 0.8, 0.6, 0.3, 0.90, 0.3, 0.6],
              [0.1, 0.1, 0.2, 0.2, 0.05, 0.4, 0.3]])
LABELS = np.array([0, 0, 1, 1, 2, 2, 0])
CONFUSION = np.array([[1, 2, 0], [1, 1, 0], [0, 1, 1]])
IMAGES = np.random.default_rng(0).integers(0, 256, (7, 4, 4, 3), dtype=np.uint8)


@pytest.fixture
def view(qtbot):
    v = EvaluationView()
    qtbot.addWidget(v)
    v.resize(900, 600)
    v.show()
    qtbot.waitExposed(v)
    v.set_sets({"train": (P[:, :3], LABELS[:3], None), "validation": (P, LABELS, IMAGES)},
               NAMES)
    return v


def child(view, cls, name):
    w = view.findChild(cls, name)
    assert w is not None, name
    return w


def cells(table: QTableWidget) -> np.ndarray:
    return np.array([[float(table.item(r, c).text()) for c in range(table.columnCount())]
                     for r in range(table.rowCount())])


def test_matrix_equals_the_hand_computation(view):
    assert view.objectName() == "evaluationView"
    combo = child(view, QComboBox, "evaluationSetCombo")
    assert [combo.itemText(i) for i in range(combo.count())] == ["validation", "train"]
    table = child(view, QTableWidget, "confusionMatrix")
    np.testing.assert_array_equal(cells(table), CONFUSION)
    assert cells(table).sum() == 7
    assert [table.horizontalHeaderItem(c).text() for c in range(3)] == NAMES
    assert [table.verticalHeaderItem(r).text() for r in range(3)] == NAMES
    summary = child(view, QLabel, "evaluationSummaryLabel").text()
    assert "42.9%" in summary and "m = 7" in summary
    np.testing.assert_array_equal(view.evaluation().confusion, CONFUSION)


def test_metrics_table(view):
    t = child(view, QTableWidget, "classMetricsTable")
    got = cells(t)
    np.testing.assert_allclose(got[:, 0], [0.5, 0.25, 1.0], atol=1e-3)  # precision
    np.testing.assert_allclose(got[:, 1], [1 / 3, 0.5, 0.5], atol=1e-3)  # recall
    np.testing.assert_array_equal(got[:, 2], [3, 2, 2])  # support


def test_undefined_precision_shows_a_dash(view):
    view.set_sets({"test": (P[:, :2], LABELS[:2], None)}, NAMES)  # nothing predicted as fox
    t = child(view, QTableWidget, "classMetricsTable")
    assert t.item(2, 0).text() == "—" and t.item(2, 0).toolTip()


def test_row_normalised_mode_shows_fractions(view):
    child(view, QComboBox, "confusionModeCombo").setCurrentText("row-normalised")
    got = cells(child(view, QTableWidget, "confusionMatrix"))
    np.testing.assert_allclose(got, [[1 / 3, 2 / 3, 0], [0.5, 0.5, 0], [0, 0.5, 0.5]],
                               atol=0.005)
    np.testing.assert_allclose(got.sum(axis=1), 1.0, atol=0.011)


def test_gallery_filters_by_cell_and_shows_all_again(qtbot, view):
    gallery = child(view, QListWidget, "mistakesGallery")
    assert view.gallery_count() == gallery.count() == 4
    assert gallery.item(0).text() == "fox → dog (p=0.90)"  # the most confident mistake first
    assert not gallery.item(0).icon().isNull()
    table = child(view, QTableWidget, "confusionMatrix")
    rect = table.visualItemRect(table.item(0, 1))
    qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert view.cell_filter() == (0, 1) and view.gallery_count() == CONFUSION[0, 1]
    assert "2 mistakes" in child(view, QLabel, "mistakesCountLabel").text()
    table.cellClicked.emit(1, 0)
    assert view.gallery_count() == 1 and gallery.item(0).text() == "dog → cat (p=0.50)"
    table.cellClicked.emit(1, 1)  # the diagonal clears the filter
    assert view.cell_filter() is None and view.gallery_count() == 4
    table.cellClicked.emit(2, 1)
    assert view.gallery_count() == 1
    qtbot.mouseClick(child(view, QPushButton, "showAllMistakesButton"),
                     Qt.MouseButton.LeftButton)
    assert view.cell_filter() is None and view.gallery_count() == 4


def test_switching_sets_and_activating_a_mistake(qtbot, view):
    child(view, QTableWidget, "confusionMatrix").cellClicked.emit(0, 1)
    child(view, QComboBox, "evaluationSetCombo").setCurrentText("train")
    assert view.evaluation().m == 3 and view.cell_filter() is None
    assert view.gallery_count() == 1  # example 1: cat predicted dog, no image given
    item = child(view, QListWidget, "mistakesGallery").item(0)
    assert item.icon().isNull()
    with qtbot.waitSignal(view.mistake_activated) as blocker:
        view.gallery.itemActivated.emit(item)
    assert blocker.args == ["train", 1]


def test_gallery_is_capped_and_says_so(view):
    m = MAX_GALLERY + 50
    a = np.linspace(0.6, 0.99, m).reshape(1, -1)  # one sigmoid row: all predicted 1
    view.set_sets({"validation": (a, np.zeros(m, int), np.zeros((m, 2, 2, 1), np.uint8))},
                  ["no", "yes"])
    assert view.gallery_count() == MAX_GALLERY
    text = child(view, QLabel, "mistakesCountLabel").text()
    assert f"{MAX_GALLERY} most confident of {m}" in text
    assert view.gallery.item(0).text() == "no → yes (p=0.99)"


def test_clear_and_set_kept_across_updates(view):
    child(view, QComboBox, "evaluationSetCombo").setCurrentText("train")
    view.set_sets({"validation": (P, LABELS, None), "train": (P, LABELS, None)}, NAMES)
    assert view.current_set() == "train"
    view.clear()
    assert view.evaluation() is None and view.gallery_count() == 0
    assert child(view, QTableWidget, "confusionMatrix").rowCount() == 0
    assert "No evaluation" in child(view, QLabel, "evaluationSummaryLabel").text()
