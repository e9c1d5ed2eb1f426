"""The Data panel's table chooser (issue 25, item 2): open a CSV, choose its target column,
load, train; the target saved with the project and loaded again on reopening; the Predict
tab refuses a table model, saying how its rows are predicted."""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog

sys.path.insert(0, str(Path(__file__).parent.parent))  # the tests' table_factory
from table_factory import SPECIES, write_table  # noqa: E402
from test_gui_flow import click, find, train_epochs  # noqa: E402
from test_gui_inspect import close, new_window  # noqa: E402


def open_table(qtbot, window, monkeypatch, path: Path) -> None:
    """Open ``path`` with the Open table button (the file dialog answered), waiting for the
    data to load."""
    monkeypatch.setattr(QFileDialog, "getOpenFileName",
                        staticmethod(lambda *args, **kwargs: (str(path), "")))
    qtbot.waitUntil(find(window, "openTableButton").isEnabled, timeout=30_000)  # a load ended
    with qtbot.waitSignal(window.data_loaded, timeout=30_000):
        click(qtbot, window, "openTableButton")


def test_open_a_csv_choose_its_target_load_and_train(qtbot, window, monkeypatch, tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("a,b,kind,species\n" + "".join(
        f"{i},{i % 3 + 0.5 * (i % 2)},{'odd' if i % 2 else 'even'},{SPECIES[i % 3]}\n"
        for i in range(30)), encoding="utf-8")
    open_table(qtbot, window, monkeypatch, path)
    combo = find(window, "targetCombo")
    assert [combo.itemText(i) for i in range(combo.count())] == ["a", "b", "kind", "species"]
    assert combo.currentText() == "species"  # the last column, at first
    prepared = window.data_panel.data.prepared
    assert prepared.class_names == sorted(SPECIES) and prepared.train.n_x == 2
    assert prepared.preprocessing["target_column"] == "species"
    assert "t.csv: n_x = 2 (standardised)" in find(window, "nxLabel").text()
    assert window.data_panel.normalisation() == "standardise"  # as the Scaling combo shows
    assert not find(window, "thumbnailList").isVisible()
    assert "column 'kind' holds no numbers" in find(window, "dataMessageLabel").text()

    with qtbot.waitSignal(window.data_loaded, timeout=30_000):  # another target chosen
        combo.setCurrentIndex(2)
        combo.activated.emit(2)
    prepared = window.data_panel.data.prepared
    assert prepared.class_names == ["even", "odd"] and prepared.train.n_x == 2
    assert window.data_panel.state()["target"] == "kind"
    train_epochs(qtbot, window, 2)
    model = window.workbench.current_model()
    assert model.preprocessing["feature_columns"] == ["a", "b"]
    assert model.normalisation == {"kind": "standardise", "factor": 1.0}


def test_a_bad_value_is_shown_with_its_row_and_column(qtbot, window, monkeypatch, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("a,y\n1,p\n2,q\nx,p\n", encoding="utf-8")
    monkeypatch.setattr(QFileDialog, "getOpenFileName",
                        staticmethod(lambda *args, **kwargs: (str(path), "")))
    with qtbot.waitSignal(window.data_panel.load_failed, timeout=30_000) as failed:
        click(qtbot, window, "openTableButton")
    assert "row 4 (the header is row 1), column 'a'" in failed.args[0]
    assert "row 4" in find(window, "dataMessageLabel").text()


def test_the_target_is_saved_with_the_project_and_loaded_again(qtbot, window, monkeypatch,
                                                              tmp_path):
    path = tmp_path / "iris.tsv"  # the target is not the last column, taken at first
    path.write_text("species\ta\tb\tcode\n" + "".join(
        f"{SPECIES[i % 3]}\t{i % 3 + 0.1 * i}\t{i}\t{i % 2}\n" for i in range(30)),
        encoding="utf-8")
    open_table(qtbot, window, monkeypatch, path)
    combo = find(window, "targetCombo")
    assert combo.currentText() == "code"
    with qtbot.waitSignal(window.data_loaded, timeout=30_000):
        combo.setCurrentIndex(combo.findText("species"))
        combo.activated.emit(combo.currentIndex())
    train_epochs(qtbot, window, 1)
    project = tmp_path / "table.dnnproj"
    assert window.projects.save_to(project)

    reopened = new_window(qtbot, tmp_path, "reopened")
    with qtbot.waitSignal(reopened.data_loaded, timeout=30_000):
        assert reopened.projects.open(project)
    prepared = reopened.data_panel.data.prepared
    assert prepared.preprocessing["target_column"] == "species"
    assert prepared.preprocessing["feature_columns"] == ["a", "b", "code"]
    assert prepared.class_names == sorted(SPECIES)
    assert find(reopened, "targetCombo").currentText() == "species"
    assert reopened.data_panel.state()["target"] == "species"
    assert not reopened.projects.dirty
    assert reopened.workbench.current_model().preprocessing == prepared.preprocessing
    close(reopened)


def test_the_predict_tab_refuses_a_table_model_saying_how(qtbot, window, monkeypatch,
                                                          tmp_path):
    open_table(qtbot, window, monkeypatch, write_table(tmp_path / "iris.csv", m=30))
    train_epochs(qtbot, window, 1)
    view = window.predict_view
    assert not view.predict([str(tmp_path / "iris.csv")])
    text = view.status.text()
    assert "was trained on a table" in text and "desktop-nn predict MODEL.npz ROWS.csv" in text
    qtbot.mouseClick(find(window, "clearPredictionsButton"), Qt.MouseButton.LeftButton)


def load_typed(qtbot, window, text: str) -> None:
    """Type ``text`` in the data field and press Load, as a user would."""
    window.data_panel.folder_edit.setText(text)
    qtbot.waitUntil(find(window, "loadDataButton").isEnabled, timeout=30_000)
    with qtbot.waitSignal(window.data_loaded, timeout=30_000):
        click(qtbot, window, "loadDataButton")


def load_sample(qtbot, window) -> None:
    load_typed(qtbot, window, "sample")


def test_images_after_a_table_get_the_scaling_they_had(qtbot, window, monkeypatch, tmp_path):
    panel = window.data_panel
    assert panel.normalisation() == "scale"  # the sample, as the window opens
    open_table(qtbot, window, monkeypatch, write_table(tmp_path / "iris.csv", m=30))
    assert panel.normalisation() == "standardise"  # set for the table, not by the user
    load_sample(qtbot, window)
    assert panel.normalisation() == "scale"  # pixels / 255 again, as the user had it
    assert panel.data.prepared.normalisation.kind == "scale"  # and loaded so
    target = find(window, "targetCombo")  # the table's target: not the images'
    assert not target.isEnabled() and target.currentText() == "species"
    load_typed(qtbot, window, str(tmp_path / "iris.csv"))  # the table typed in again
    assert target.isEnabled() and panel.data.prepared.preprocessing["target_column"] == "species"

    open_table(qtbot, window, monkeypatch, tmp_path / "iris.csv")
    combo = find(window, "scalingCombo")  # the user chooses standardise: kept for images
    combo.setCurrentIndex(combo.findData("standardise"))
    combo.activated.emit(combo.currentIndex())
    load_sample(qtbot, window)
    assert panel.normalisation() == "standardise"
    assert panel.data.prepared.normalisation.kind == "standardise"


def test_a_reopened_table_project_gives_images_pixels_255(qtbot, window, monkeypatch,
                                                          tmp_path):
    open_table(qtbot, window, monkeypatch, write_table(tmp_path / "iris.csv", m=30))
    project = tmp_path / "table.dnnproj"
    assert window.projects.save_to(project)
    reopened = new_window(qtbot, tmp_path, "reopened")
    with qtbot.waitSignal(reopened.data_loaded, timeout=30_000):
        assert reopened.projects.open(project)
    assert reopened.data_panel.normalisation() == "standardise"  # the table's
    load_sample(qtbot, reopened)
    assert reopened.data_panel.data.prepared.normalisation.kind == "scale"
    close(reopened)
