"""The desktop app driven as a user would (pytest-qt, offscreen): design, load, train, watch."""

from __future__ import annotations

import numpy as np
import pytest
from image_factory import make_folder, write_bytes
from PySide6.QtCore import QMimeData, QObject, QPoint, Qt, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QApplication, QMessageBox, QPushButton

from desktop_nn.gui import create_main_window
from desktop_nn.train.trainer import Trainer

OBJECT_NAMES = [
    "MainWindow", "layerTable", "addLayerButton", "removeLayerButton", "outputActivationCombo",
    "costCombo", "dataFolderEdit", "loadDataButton", "classTable", "learningRateSpin",
    "epochsSpin", "batchSizeSpin", "optimizerCombo", "seedSpin", "deviceCombo", "startButton",
    "pauseButton", "stepButton", "stopButton", "costPlot", "accuracyPlot", "gradientPlot",
    "saturationPlot", "deviceLabel",
]


def find(window, name: str):
    if window.objectName() == name:
        return window
    w = window.findChild(QObject, name)
    assert w is not None, f"no widget named {name!r}"
    return w


def click(qtbot, window, name: str) -> None:
    button = find(window, name)
    assert isinstance(button, QPushButton) and button.isEnabled(), name
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def steps_plotted(window) -> int:
    x, _ = window.plots.step_cost.getData()
    return 0 if x is None else len(x)


def start_long_run(qtbot, window) -> Trainer:
    find(window, "epochsSpin").setValue(1000)
    with qtbot.waitSignal(window.training_started, timeout=5000):
        click(qtbot, window, "startButton")
    qtbot.waitUntil(lambda: steps_plotted(window) > 0, timeout=10_000)
    return window.workbench.trainer


# ---------------------------------------------------------------------------- window
def test_every_named_control_exists(window):
    for name in OBJECT_NAMES:
        find(window, name)
    assert find(window, "deviceLabel").text().startswith(("CPU - NumPy", "NVIDIA"))


def test_window_opens_with_the_sample_loaded_and_ready(window):
    assert window.data_panel.data is not None
    assert find(window, "classTable").rowCount() == 10
    assert "n_x = 784" in find(window, "nxLabel").text()
    assert find(window, "startButton").isEnabled()
    assert window.designer.problem() is None


# ---------------------------------------------------------------------------- designer
def test_add_remove_and_edit_layers_with_clicks(qtbot, window):
    table = find(window, "layerTable")
    assert table.rowCount() == 1
    click(qtbot, window, "addLayerButton")
    click(qtbot, window, "addLayerButton")
    assert table.rowCount() == 3
    table.cellWidget(1, 0).setValue(7)
    table.cellWidget(1, 1).setCurrentText("relu")
    shapes = find(window, "shapesTable")
    assert shapes.rowCount() == 4  # three hidden layers and the output
    assert shapes.item(1, 1).text() == f"(7, {table.cellWidget(0, 0).value()})"
    assert shapes.item(2, 1).text() == f"({table.cellWidget(2, 0).value()}, 7)"
    assert shapes.item(1, 4).text() == "relu"
    table.selectRow(1)
    click(qtbot, window, "moveLayerUpButton")
    assert window.designer.layers()[0] == (7, "relu")
    table.selectRow(0)
    click(qtbot, window, "removeLayerButton")
    assert table.rowCount() == 2 and (7, "relu") not in window.designer.layers()
    assert window.diagram.sizes[0] == 784 and len(window.diagram.node_positions()) == 4


def test_zero_units_is_refused_at_the_field(qtbot, window):
    find(window, "layerTable").cellWidget(0, 0).setValue(0)
    label = find(window, "designProblemLabel")
    assert label.isVisible() and "at least 1 unit" in label.text()
    assert not find(window, "startButton").isEnabled()
    assert window.start() is False
    find(window, "layerTable").cellWidget(0, 0).setValue(5)
    assert not label.isVisible() and find(window, "startButton").isEnabled()


def test_cost_choices_follow_the_output_activation(window):
    out, cost = find(window, "outputActivationCombo"), find(window, "costCombo")
    out.setCurrentText("linear")
    assert [cost.itemText(i) for i in range(cost.count())] == ["quadratic"]
    out.setCurrentText("sigmoid")
    assert [cost.itemText(i) for i in range(cost.count())] == ["cross-entropy", "quadratic"]


def test_wide_layers_are_drawn_elided(window):
    window.designer.set_layers([(500, "relu")])
    columns = window.diagram.node_positions()
    assert [len(c) for c in columns] == [11, 11, 10]  # 784, 500 elided; 10 outputs whole
    window.diagram.grab()  # paints without error


# ---------------------------------------------------------------------------- data
def _folder(tmp_path):
    root = make_folder(tmp_path / "shapes", {"circle": 12, "square": 12}, size=(6, 5))
    write_bytes(root / "circle" / "broken.png", b"not a png")
    return root


def test_load_a_folder_in_the_background(qtbot, window, tmp_path):
    root = _folder(tmp_path)
    find(window, "dataFolderEdit").setText(str(root))
    with qtbot.waitSignal(window.data_loaded, timeout=10_000):
        click(qtbot, window, "loadDataButton")
    classes = find(window, "classTable")
    assert [classes.item(r, 0).text() for r in range(classes.rowCount())] == ["circle",
                                                                             "square"]
    assert "n_x = 30" in find(window, "nxLabel").text()
    skipped = find(window, "skippedTable")
    assert skipped.rowCount() == 1
    assert skipped.item(0, 1).text() == "not a readable image (Pillow cannot identify it)"
    assert find(window, "thumbnailList").count() == 8
    # two classes: one sigmoid output, shapes follow the new data
    assert window.designer.output_combo.currentText() == "sigmoid"
    assert find(window, "shapesTable").item(0, 1).text() == "(30, 30)"


def test_a_bad_folder_says_why(qtbot, window, tmp_path):
    find(window, "dataFolderEdit").setText(str(tmp_path / "missing"))
    with qtbot.waitSignal(window.data_panel.load_failed, timeout=10_000) as blocker:
        click(qtbot, window, "loadDataButton")
    assert "no such folder" in blocker.args[0]
    assert "no such folder" in find(window, "dataMessageLabel").text()
    assert window.data_panel.data is not None  # the sample is still there
    assert find(window, "startButton").isEnabled()


def test_bad_image_size_is_refused_at_the_field(qtbot, window):
    find(window, "imageSizeEdit").setText("big")
    with qtbot.waitSignal(window.data_panel.load_failed, timeout=2000) as blocker:
        click(qtbot, window, "loadDataButton")
    assert blocker.args[0].startswith("Image size:")


def test_cancel_loading(qtbot, window, monkeypatch):
    import desktop_nn.gui.data_panel as data_panel

    def slow_load(source, options, val_split, progress, cancel, normalisation="scale"):
        progress(1, 100)
        assert cancel.wait(10)
        from desktop_nn.data.image_folder import Cancelled

        raise Cancelled("loading cancelled")

    monkeypatch.setattr(data_panel, "load_training_data", slow_load)
    click(qtbot, window, "loadDataButton")
    qtbot.waitUntil(lambda: find(window, "cancelLoadButton").isVisible(), timeout=2000)
    assert not find(window, "startButton").isEnabled()
    click(qtbot, window, "cancelLoadButton")
    qtbot.waitUntil(lambda: not window.data_panel.is_loading(), timeout=5000)
    assert find(window, "dataMessageLabel").text() == "Loading cancelled."
    assert find(window, "startButton").isEnabled()


def test_drop_a_folder_loads_it(qtbot, window, tmp_path):
    root = _folder(tmp_path)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(root))])
    event = QDropEvent(QPoint(5, 5), Qt.DropAction.CopyAction, mime, Qt.MouseButton.NoButton,
                       Qt.KeyboardModifier.NoModifier)
    with qtbot.waitSignal(window.data_loaded, timeout=10_000):
        window.data_panel.dropEvent(event)
    assert find(window, "dataFolderEdit").text() == str(root)


# ---------------------------------------------------------------------------- training
def test_train_watch_pause_step_stop(qtbot, window):
    click(qtbot, window, "addLayerButton")  # two hidden layers, three weight layers
    trainer = start_long_run(qtbot, window)
    qtbot.waitUntil(lambda: all(c.getData()[0] is not None and len(c.getData()[0]) > 0
                                for c in window.plots.gradient_curves), timeout=10_000)
    assert len(window.plots.gradient_curves) == 3
    assert not find(window, "startButton").isEnabled()

    click(qtbot, window, "pauseButton")
    qtbot.waitUntil(lambda: trainer.is_waiting, timeout=5000)
    assert find(window, "pauseButton").text() == "Resume"
    n = trainer.step_count
    qtbot.wait(100)
    assert trainer.step_count == n  # paused means paused

    click(qtbot, window, "stepButton")
    qtbot.waitUntil(lambda: trainer.step_count == n + 1 and trainer.is_waiting, timeout=5000)
    qtbot.wait(100)
    assert trainer.step_count == n + 1  # exactly one more step
    qtbot.waitUntil(lambda: window.plots.steps.step[-1] == n + 1, timeout=2000)
    assert find(window, "stepLabel").text() == f"step {n + 1}"

    with qtbot.waitSignal(window.training_finished, timeout=10_000) as blocker:
        click(qtbot, window, "stopButton")
    assert blocker.args[0].stopped == "stopped"
    assert not window.is_training()
    assert find(window, "startButton").isEnabled()
    costs = window.plots.step_cost.getData()[1]
    assert np.all(np.isfinite(costs))


def test_a_short_run_learns_and_continues(qtbot, window):
    find(window, "epochsSpin").setValue(3)
    with qtbot.waitSignal(window.training_finished, timeout=60_000) as blocker:
        click(qtbot, window, "startButton")
    result = blocker.args[0]
    assert result.stopped == "completed" and result.epochs == 3
    acc = window.plots.train_acc.getData()[1]
    assert len(acc) == 3 and acc[-1] > 0.5  # 10 digit classes: far above chance
    cost = window.plots.epoch_train_cost.getData()[1]
    assert cost[-1] < cost[0]
    # Start again with nothing changed continues the same weights
    trainer = window.workbench.trainer
    with qtbot.waitSignal(window.training_finished, timeout=60_000):
        click(qtbot, window, "startButton")
    assert window.workbench.trainer is trainer and trainer.epoch == 6
    click(qtbot, window, "resetButton")
    assert window.workbench.trainer is None and steps_plotted(window) == 0


def test_step_from_idle_takes_one_step(qtbot, window):
    with qtbot.waitSignal(window.training_started, timeout=5000):
        click(qtbot, window, "stepButton")
    trainer = window.workbench.trainer
    qtbot.waitUntil(lambda: trainer.step_count == 1 and trainer.is_waiting, timeout=5000)
    with qtbot.waitSignal(window.training_finished, timeout=10_000):
        window.stop()


def test_keyboard_shortcuts(qtbot, window):
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=2000)
    window.plots.setFocus()
    find(window, "epochsSpin").setValue(1000)
    with qtbot.waitSignal(window.training_started, timeout=5000):
        qtbot.keyClick(window.plots, Qt.Key.Key_Space)
    trainer = window.workbench.trainer
    qtbot.keyClick(window.plots, Qt.Key.Key_Space)  # pause
    qtbot.waitUntil(lambda: trainer.is_waiting, timeout=5000)
    n = trainer.step_count
    qtbot.keyClick(window.plots, Qt.Key.Key_F10)  # one step
    qtbot.waitUntil(lambda: trainer.step_count == n + 1 and trainer.is_waiting, timeout=5000)
    with qtbot.waitSignal(window.training_finished, timeout=10_000):
        qtbot.keyClick(window.plots, Qt.Key.Key_Period, Qt.KeyboardModifier.ControlModifier)
    assert window.workbench.trainer.last_result.stopped == "stopped"


def test_close_during_training_stops_the_worker(qtbot, settings):
    w = create_main_window(settings=settings)
    qtbot.addWidget(w)
    w.show()
    trainer = start_long_run(qtbot, w)
    jobs = w.executor.jobs()
    w.close()
    assert jobs and not any(job.is_running() for job in jobs) and not trainer.is_running
    assert trainer.last_result.stopped == "stopped"


def test_an_error_in_the_worker_shows_a_dialog_and_the_app_stays_usable(qtbot, window,
                                                                         monkeypatch):
    def broken_run(self, epochs=None, start_paused=False):
        raise RuntimeError("the GPU caught fire")

    monkeypatch.setattr(Trainer, "run", broken_run)
    with qtbot.waitSignal(window.training_finished, timeout=10_000) as blocker:
        click(qtbot, window, "startButton")
    assert blocker.args[0] is None
    dialog = window.findChild(QMessageBox, "errorDialog")
    assert dialog is not None and dialog.isVisible()
    assert "the GPU caught fire" in dialog.text()
    dialog.accept()
    monkeypatch.undo()
    find(window, "epochsSpin").setValue(1)
    with qtbot.waitSignal(window.training_finished, timeout=60_000) as blocker:
        click(qtbot, window, "startButton")
    assert blocker.args[0].stopped == "completed"


def test_divergence_stops_cleanly_with_a_message(qtbot, window):
    window.designer.set_layers([(30, "linear")])
    find(window, "outputActivationCombo").setCurrentText("linear")
    find(window, "learningRateSpin").setValue(100.0)
    find(window, "epochsSpin").setValue(50)
    with qtbot.waitSignal(window.training_finished, timeout=60_000) as blocker:
        click(qtbot, window, "startButton")
    result = blocker.args[0]
    assert result.stopped == "nan"
    dialog = window.findChild(QMessageBox, "errorDialog")
    assert dialog is not None and "NaN" in dialog.text()
    assert all(np.all(np.isfinite(W)) for W in window.workbench.trainer.network.W)
    dialog.accept()


# ---------------------------------------------------------------------------- plots
def test_plot_modes_and_export(qtbot, window, tmp_path):
    find(window, "epochsSpin").setValue(1)
    with qtbot.waitSignal(window.training_finished, timeout=60_000):
        click(qtbot, window, "startButton")
    plots = window.plots
    before = plots.gradient_curves[0].getData()[1].copy()
    find(window, "gradientModeCombo").setCurrentText("||db||")
    after = plots.gradient_curves[0].getData()[1]
    assert not np.allclose(before, after)
    # the axis is logarithmic: the curves hold log10 of the values; smoothed by default, the
    # raw values faint behind (the smoothing itself: tests/gui/test_gui_plot_style.py)
    raw = plots.steps.layer_values("grad_norm_b")[0]
    np.testing.assert_allclose(10 ** plots.gradient_lines[0].raw.getData()[1], raw, rtol=1e-6)
    find(window, "smoothCheck").setChecked(False)
    np.testing.assert_allclose(10 ** plots.gradient_curves[0].getData()[1], raw, rtol=1e-6)
    find(window, "saturationModeCombo").setCurrentText("heat map")
    image = plots.saturation_image.image
    assert plots.saturation_image.isVisible() and image.shape == (plots.steps.n, 2)
    png = plots.save_png(plots.cost_plot, tmp_path / "cost.png")
    assert png.stat().st_size > 1000
    csv = plots.save_csv(plots.cost_plot, tmp_path / "cost.csv").read_text().splitlines()
    assert csv[0] == "curve,x,y" and len(csv) > plots.steps.n


def test_redraws_are_throttled(qtbot, window):
    find(window, "epochsSpin").setValue(2)
    window.plots.redraws = 0
    with qtbot.waitSignal(window.training_finished, timeout=60_000):
        click(qtbot, window, "startButton")
    steps = window.workbench.trainer.step_count
    assert steps == 180
    assert window.plots.redraws < steps  # many steps per redraw, not one redraw per step


# ---------------------------------------------------------------------------- settings
def test_choices_are_remembered(qtbot, settings, tmp_path):
    w = create_main_window(settings=settings)
    qtbot.addWidget(w)
    w.designer.set_layers([(12, "tanh"), (8, "relu")])
    find(w, "learningRateSpin").setValue(0.25)
    find(w, "optimizerCombo").setCurrentText("adam")
    w.close()
    again = create_main_window(settings=settings)
    qtbot.addWidget(again)
    assert again.designer.layers() == [(12, "tanh"), (8, "relu")]
    assert find(again, "learningRateSpin").value() == pytest.approx(0.25)
    assert find(again, "optimizerCombo").currentText() == "adam"
    again.close()


def test_damaged_settings_are_ignored(qtbot, settings):
    settings.setValue("designer", "{not json")
    settings.setValue("training", '{"lr": "fast", "optimizer": 3}')
    w = create_main_window(settings=settings)
    qtbot.addWidget(w)
    assert w.designer.layers() == [(30, "sigmoid")]
    w.close()


def test_screenshot_of_a_trained_run(qtbot, tmp_path):
    from PySide6.QtGui import QImage

    from desktop_nn.gui.screenshot import render_screenshot

    path = render_screenshot(tmp_path / "shot.png", epochs=1, width=1000, height=700)
    image = QImage(str(path))
    assert (image.width(), image.height()) == (1000, 700)
    colours = {image.pixel(x, y) for x in range(0, 1000, 37) for y in range(0, 700, 29)}
    assert len(colours) > 20  # a real window with plots, not a blank rectangle
