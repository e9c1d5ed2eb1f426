"""Inside the trained network and keeping the work, in the real window (pytest-qt, offscreen):
the Weights, Evaluation, Predict, Math and Runs tabs, projects, recovery and model files."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from image_factory import make_folder
from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import QApplication, QComboBox, QLabel, QMessageBox

from desktop_nn.cli import main as cli_main
from desktop_nn.data.dataset import labels_of
from desktop_nn.data.sources import SAMPLE_NAME, sample_path
from desktop_nn.gui import create_main_window
from desktop_nn.gui.projects import DISCARD
from desktop_nn.io.project_file import load_project, state_file_path
from desktop_nn.io.recovery import RecoveryStore
from desktop_nn.workbench import Fresh

INSPECT_NAMES = ["weightsView", "confusionMatrix", "mistakesGallery", "predictView",
                 "mathView", "gradcheckButton", "runsList", "runsPlot", "evaluationView",
                 "exportRunCsvButton", "newProjectAction", "openProjectAction",
                 "saveProjectAction", "saveProjectAsAction", "recentProjectsMenu",
                 "exportModelAction", "importModelAction", "exportPlotAction"]


def find(window, name: str):
    w = window.findChild(QObject, name)
    assert w is not None, f"no object named {name!r}"
    return w


def train(qtbot, window, epochs: int = 1, **settings) -> None:
    """Set the training panel (epochs, lr, batch, seed, optimizer) and train to the end."""
    p = window.training_panel
    p.epochs_spin.setValue(epochs)
    for key, value in settings.items():
        {"lr": p.lr_spin.setValue, "batch": p.batch_spin.setValue,
         "seed": p.seed_spin.setValue, "optimizer": p.optimizer_combo.setCurrentText,
         "dtype": p.dtype_combo.setCurrentText}[key](value)
    with qtbot.waitSignal(window.training_finished, timeout=60_000) as blocker:
        assert window.start()
    assert blocker.args[0] is not None and blocker.args[0].stopped == "completed"


def show_tab(window, widget) -> None:
    window.tabs.setCurrentWidget(widget)


def parameters(window) -> list[np.ndarray]:
    W, b = window.workbench.trainer.network.get_parameters()
    return W + b


def error_dialog_text(window) -> str:
    boxes = [b for b in window.findChildren(QMessageBox) if b.objectName() == "errorDialog"
             and b.isVisible()]
    assert boxes, "no error dialog"
    return boxes[-1].text()


def new_window(qtbot, tmp_path, name: str):
    from PySide6.QtCore import QSettings

    settings = QSettings(str(tmp_path / f"{name}.ini"), QSettings.Format.IniFormat)
    w = create_main_window(settings=settings)
    qtbot.addWidget(w)
    return w


def as_crashed_session(window, tmp_path) -> None:
    """Make ``window`` autosave where another process's session would: the test runs every
    window in one process, but a crash leaves another process's folder behind."""
    window.projects.store = RecoveryStore(tmp_path / "recovery" / "session-crashed")


def close(window) -> None:
    window.projects.ask_unsaved = lambda name: DISCARD
    window.close()


# ---------------------------------------------------------------------------- names
def test_the_new_controls_have_their_object_names(window):
    for name in INSPECT_NAMES:
        find(window, name)


# ---------------------------------------------------------------------------- weights
def test_weight_tiles_one_per_hidden_unit_shaped_like_the_input(qtbot, window):
    window.designer.layer_table.cellWidget(0, 0).setValue(12)
    train(qtbot, window, epochs=1)
    show_tab(window, window.weights_view)
    assert window.weights_view.tile_count() == 12
    assert window.weights_view.tile_shape() == (28, 28, 1)
    # it follows training: new weights give a new picture
    before = window.weights_view.image().copy()
    train(qtbot, window, epochs=1, lr=3.0)
    show_tab(window, window.training_tab)
    show_tab(window, window.weights_view)
    assert not np.array_equal(before, window.weights_view.image())


# ---------------------------------------------------------------------------- evaluation
def test_confusion_matrix_matches_a_hand_computation(qtbot, window):
    train(qtbot, window, epochs=2)
    show_tab(window, window.evaluation_view)
    qtbot.waitUntil(lambda: window.inspection.evaluation_job is None
                    and window.evaluation_view.evaluation() is not None, timeout=20_000)
    view = window.evaluation_view
    assert view.current_set() == "validation"
    val = window.workbench.trained_on().val
    probabilities = window.workbench.trainer.network.predict_proba(val.X)
    predicted, labels = probabilities.argmax(axis=0), labels_of(val.Y)
    expected = np.zeros((10, 10), dtype=np.int64)
    for t, p in zip(labels, predicted, strict=True):
        expected[t, p] += 1
    ev = view.evaluation()
    np.testing.assert_array_equal(ev.confusion, expected)
    assert ev.confusion.sum() == val.m
    table = find(window, "confusionMatrix")
    shown = np.array([[int(table.item(r, c).text()) for c in range(10)] for r in range(10)])
    np.testing.assert_array_equal(shown, expected)
    assert view.gallery_count() == min(200, int((predicted != labels).sum()))


# ---------------------------------------------------------------------------- predict
def test_predict_tab_gives_the_same_probabilities_as_the_cli(qtbot, window, tmp_path, capsys):
    train(qtbot, window, epochs=2)
    model = tmp_path / "digits.npz"
    assert window.model_files.export_model(str(model))
    images = [sample_path() / "test" / "3" / "00018.png", sample_path() / "test" / "7"]
    images[1] = next(images[1].iterdir())
    assert cli_main(["predict", str(model), *map(str, images), "--json"]) == 0
    cli = json.loads(capsys.readouterr().out)["results"]
    show_tab(window, window.predict_view)
    with qtbot.waitSignal(window.predict_view.predicted, timeout=20_000) as blocker:
        assert window.predict_view.predict([str(p) for p in images])
    gui = blocker.args[0]
    names = window.workbench.trained_on().class_names
    for g, c in zip(gui, cli, strict=True):
        assert g.error is None
        assert names[g.predicted] == c["class"]
        np.testing.assert_allclose(g.probabilities, [c["probabilities"][n] for n in names],
                                   rtol=1e-6, atol=1e-9)
    assert find(window, "predictList").count() == 2


def test_predict_reports_an_unreadable_file_and_keeps_going(qtbot, window, tmp_path):
    train(qtbot, window, epochs=1)
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"not an image")
    good = next((sample_path() / "test" / "1").iterdir())
    with qtbot.waitSignal(window.predict_view.predicted, timeout=20_000) as blocker:
        window.predict_view.predict([str(junk), str(good)])
    bad, ok = blocker.args[0]
    assert "junk.png" in bad.error and ok.probabilities is not None


def test_predict_without_a_model_says_so(window):
    assert not window.predict_view.predict([str(next((sample_path() / "test" / "1").iterdir()))])
    assert "train a network" in window.predict_view.status.text().lower()


# ---------------------------------------------------------------------------- math
def test_math_tab_shapes_and_gradcheck_button_pass(qtbot, window):
    show_tab(window, window.math_view)
    units = window.designer.layer_table.cellWidget(0, 0).value()
    assert f"({units}, 784)" in window.math_view.text.toPlainText()
    with qtbot.waitSignal(window.math_view.gradcheck_finished, timeout=30_000) as blocker:
        qtbot.mouseClick(find(window, "gradcheckButton"), Qt.MouseButton.LeftButton)
    checks = blocker.args[0]
    assert len(checks) >= 2 and all(c.relative_error <= 1e-7 for c in checks)
    assert "pass" in find(window, "gradcheckStatusLabel").text()


# ---------------------------------------------------------------------------- runs
def test_two_runs_overlay_two_curves_and_export_csv(qtbot, window, tmp_path):
    train(qtbot, window, epochs=1, lr=0.5)
    train(qtbot, window, epochs=1, lr=2.0, seed=1)  # new weights: a new run
    assert len(window.workbench.runs) == 2
    show_tab(window, window.runs_view)
    view = window.runs_view
    assert find(window, "runsList").count() == 2
    for metric in ("train cost", "||dW[l]||", "batch cost"):
        view.metric_combo.setCurrentText(metric)
        assert view.curve_count() == 2, metric
    view.set_checked([1])
    assert view.curve_count() == 1
    path = view.export(window.workbench.runs.get(2), tmp_path / "run2.csv", "epochs")
    lines = path.read_text().splitlines()
    assert lines[0].startswith("epoch,step,train_cost") and len(lines) == 2
    steps = view.export(window.workbench.runs.get(1), tmp_path / "run1-steps.csv", "steps")
    assert "grad_norm_W_1" in steps.read_text().splitlines()[0]


# ---------------------------------------------------------------------------- projects
def test_save_reopen_and_continue_equals_training_straight_through(qtbot, window, tmp_path):
    settings = {"lr": 0.5, "batch": 32, "seed": 5, "optimizer": "momentum"}
    train(qtbot, window, epochs=2, **settings)
    project = tmp_path / "work" / "digits.dnnproj"
    project.parent.mkdir()
    assert window.projects.save_to(project)
    assert not window.projects.dirty and "digits" in window.windowTitle()
    assert state_file_path(project).exists()
    assert load_project(project).model == "digits.model.npz"

    reopened = new_window(qtbot, tmp_path, "reopened")
    with qtbot.waitSignal(reopened.data_loaded, timeout=30_000):
        assert reopened.projects.open(project)
    train(qtbot, reopened, epochs=2)
    assert reopened.workbench.trainer.epoch == 4

    straight = new_window(qtbot, tmp_path, "straight")
    train(qtbot, straight, epochs=4, **settings)
    for a, b in zip(parameters(straight), parameters(reopened), strict=True):
        np.testing.assert_array_equal(a, b)
    close(reopened)
    close(straight)


def test_recovery_file_is_offered_after_a_crash(qtbot, window, tmp_path):
    as_crashed_session(window, tmp_path)
    window.designer.layer_table.cellWidget(0, 0).setValue(17)
    train(qtbot, window, epochs=1)
    assert window.projects.dirty
    assert window.projects.autosave()
    trained = parameters(window)
    # the process "crashes": the window never closes cleanly, and a new start finds the file
    again = new_window(qtbot, tmp_path, "again")
    offered = []
    again.projects.ask_recover = lambda info: offered.append(info) or True
    assert again.projects.offer_recovery()
    assert offered and offered[0].has_model
    assert again.designer.layers()[0][0] == 17
    recovered = again.workbench.in_hand().network
    np.testing.assert_array_equal(recovered.get_parameters()[0][0], trained[0])
    assert again.projects.dirty  # recovered work is unsaved until saved
    # the recovered work now lives in this session's own autosave; the crashed one is gone
    assert again.projects.store.pending() is not None
    assert not (tmp_path / "recovery" / "session-crashed").exists()
    close(again)
    # a clean close removes this session's recovery files: nothing is offered next time
    assert not again.projects.store.directory.exists()
    fresh = new_window(qtbot, tmp_path, "fresh")
    assert not fresh.projects.offer_recovery()
    close(fresh)


def test_declined_recovery_is_removed(qtbot, window, tmp_path):
    as_crashed_session(window, tmp_path)
    window.designer.layer_table.cellWidget(0, 0).setValue(9)
    assert window.projects.autosave()
    other = new_window(qtbot, tmp_path, "other")
    other.projects.ask_recover = lambda info: False
    assert not other.projects.offer_recovery()
    assert not (tmp_path / "recovery" / "session-crashed").exists()
    close(other)


def test_a_new_start_does_not_autosave_over_a_crashed_session(qtbot, window, tmp_path):
    as_crashed_session(window, tmp_path)
    window.designer.layer_table.cellWidget(0, 0).setValue(77)
    assert window.projects.autosave()
    settings_before_crash = window.designer.state()
    window.save_settings()
    # the next start restores the last settings: nothing to autosave, and no timer runs
    # until the crashed session's work has been offered
    from PySide6.QtCore import QSettings

    again = create_main_window(settings=QSettings(window.settings.fileName(),
                                                  QSettings.Format.IniFormat))
    qtbot.addWidget(again)
    assert not again.projects.dirty and not again.projects.autosave()
    assert not again.projects.autosave_timer.isActive()
    again.projects.ask_recover = lambda info: True
    assert again.projects.offer_recovery()
    assert again.designer.state() == settings_before_crash
    assert again.projects.autosave_timer.isActive()
    close(again)


def test_closing_one_session_keeps_another_sessions_autosave(qtbot, window, tmp_path):
    as_crashed_session(window, tmp_path)  # "another process", still open
    window.designer.layer_table.cellWidget(0, 0).setValue(21)
    assert window.projects.autosave()
    other = new_window(qtbot, tmp_path, "other")
    other.designer.layer_table.cellWidget(0, 0).setValue(22)
    assert other.projects.autosave()
    close(other)
    assert (tmp_path / "recovery" / "session-crashed" / "recovery.dnnproj").exists()


def test_evaluation_follows_an_imported_model_and_refuses_mismatched_data(qtbot, window,
                                                                          tmp_path):
    train(qtbot, window, epochs=2)
    show_tab(window, window.evaluation_view)
    qtbot.waitUntil(lambda: window.inspection.evaluation_job is None
                    and window.evaluation_view.evaluation() is not None, timeout=20_000)
    trained_accuracy = window.evaluation_view.evaluation().accuracy
    fresh = tmp_path / "fresh.npz"
    window.reset_weights()
    train(qtbot, window, epochs=1, lr=0.001)  # barely trained: a different model
    assert window.model_files.export_model(str(fresh))
    window.reset_weights()
    assert window.evaluation_view.evaluation() is None  # old results never linger
    assert window.model_files.import_model(str(fresh))
    show_tab(window, window.training_tab)
    show_tab(window, window.evaluation_view)
    qtbot.waitUntil(lambda: window.inspection.evaluation_job is None
                    and window.evaluation_view.evaluation() is not None, timeout=20_000)
    assert window.evaluation_view.evaluation().accuracy != trained_accuracy
    # a model whose inputs were scaled otherwise is refused with the reason
    from desktop_nn.io.model_file import load_model, save_model

    other = load_model(fresh)
    other.normalisation = {"kind": "none"}
    save_model(tmp_path / "unscaled.npz", other)
    assert window.model_files.import_model(str(tmp_path / "unscaled.npz"))
    assert not window.inspection.refresh_evaluation()
    assert "scaled differently" in window.statusBar().currentMessage()


def test_closing_right_after_training_starts_no_new_work(qtbot, window):
    started = []
    real = window.inspection.refresh_evaluation
    window.inspection.refresh_evaluation = lambda: started.append(1) or real()
    show_tab(window, window.evaluation_view)
    started.clear()  # showing the tab asked (nothing to evaluate yet)
    window.training_panel.epochs_spin.setValue(50)
    assert window.start()
    window.close()
    QApplication.processEvents()
    assert started == [] and window.inspection.evaluation_job is None


def test_save_while_training_keeps_a_consistent_state(qtbot, window, tmp_path):
    window.training_panel.epochs_spin.setValue(200)
    with qtbot.waitSignal(window.training_started, timeout=10_000):
        assert window.start()  # the run is made in a worker, then started
    qtbot.waitUntil(lambda: window.workbench.trainer.step_count > 5, timeout=10_000)
    path = tmp_path / "live.dnnproj"
    assert window.projects.save_to(path)
    assert state_file_path(path).exists()
    assert window.workbench.trainer.is_running and not window.workbench.trainer.is_paused  # resumed
    window.stop()
    qtbot.waitUntil(lambda: not window.is_training(), timeout=10_000)


def test_unsaved_changes_prompt_on_close(qtbot, window, tmp_path):
    window.designer.layer_table.cellWidget(0, 0).setValue(11)
    assert window.projects.dirty and window.windowTitle().startswith("Untitled*")
    asked = []
    window.projects.ask_unsaved = lambda name: asked.append(name) or "cancel"
    window.close()
    assert asked == ["Untitled"] and window.isVisible()  # cancelled: still open
    target = tmp_path / "kept.dnnproj"
    window.projects.ask_path = lambda save: str(target)
    window.projects.ask_unsaved = lambda name: "save"
    window.close()
    assert not window.isVisible() and target.exists()
    assert load_project(target).designer["layers"][0][0] == 11


@pytest.mark.parametrize("content, problem", [
    (b"{not json", "not valid JSON"),
    (b'{"format": "something-else", "format_version": 1}', "not a desktop-nn project"),
])
def test_a_bad_project_file_is_refused_with_a_message(qtbot, window, tmp_path, content,
                                                      problem):
    bad = tmp_path / "bad.dnnproj"
    bad.write_bytes(content)
    before = window.designer.state()
    assert not window.projects.open(bad)
    text = error_dialog_text(window)
    assert "bad.dnnproj" in text and problem.lower() in text.lower()
    assert window.designer.state() == before and window.projects.path is None


def test_a_bad_model_file_is_refused_with_a_message(qtbot, window, tmp_path):
    bad = tmp_path / "broken.npz"
    bad.write_bytes(b"PK\x03\x04 broken")
    assert not window.model_files.import_model(str(bad))
    assert "broken.npz" in error_dialog_text(window)
    assert isinstance(window.workbench.state, Fresh)


def test_export_then_import_a_model_predicts_and_continues(qtbot, window, tmp_path):
    train(qtbot, window, epochs=1)
    path = tmp_path / "m.npz"
    assert window.model_files.export_model(str(path))
    weights = parameters(window)
    window.reset_weights()
    assert window.model_files.import_model(str(path))
    assert window.inspection.predictor() is not None
    show_tab(window, window.weights_view)
    assert window.weights_view.tile_count() == weights[0].shape[0]
    train(qtbot, window, epochs=1)  # starts from the imported weights, not a fresh network
    assert window.workbench.trainer.network.spec.hidden_sizes == [weights[0].shape[0]]


def test_export_plot_as_png(qtbot, window, tmp_path):
    train(qtbot, window, epochs=1)
    path = tmp_path / "plots.png"
    assert window.model_files.export_plot_png(str(path))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    QApplication.processEvents()


def test_a_fresh_start_has_nothing_to_save(qtbot, window, tmp_path):
    """Loading the start-up data (and fitting the output to its classes) is not a change:
    an untouched window closes, or opens an example, without asking."""
    asked = []
    window.projects.ask_unsaved = lambda name: asked.append(name) or "cancel"
    assert not window.projects.dirty and not window.windowTitle().startswith("Untitled*")
    assert window.open_example("vanishing-gradients")
    assert asked == []
    window.projects.ask_unsaved = lambda name: "discard"  # the example is a change: let go


def test_an_opened_project_is_clean_once_its_data_have_loaded(qtbot, window, tmp_path):
    window.designer.output_combo.setCurrentText("sigmoid")  # loading will want softmax
    path = tmp_path / "p.dnnproj"
    assert window.projects.save_to(path)
    other = new_window(qtbot, tmp_path, "other")
    with qtbot.waitSignal(other.data_loaded, timeout=30_000):
        assert other.projects.open(path)
    assert not other.projects.dirty
    close(other)


def test_a_standardised_cli_model_is_evaluated_once_the_data_are_standardised_too(
        qtbot, window, tmp_path, capsys):
    """The Data panel's Scaling choice: a model trained by the CLI with --normalise
    standardise is refused (with both scalings named) on data scaled to [0, 1], and evaluated
    once the same data are loaded standardised."""
    model = tmp_path / "standardised.npz"
    assert cli_main(["train", "sample", "--layers", "16", "--epochs", "2", "--device", "cpu",
                 "--normalise", "standardise", "--save", str(model), "--quiet"]) == 0
    capsys.readouterr()
    assert window.data_panel.normalisation() == "scale"
    assert window.model_files.import_model(str(model))
    assert not window.inspection.refresh_evaluation()
    assert "('standardise' for the model, 'scale' for the data)" in \
        window.statusBar().currentMessage()

    combo = window.findChild(QComboBox, "scalingCombo")
    combo.setCurrentIndex(combo.findData("standardise"))
    window.data_panel.load("sample", synchronous=True)
    prepared = window.data_panel.data.prepared
    assert prepared.normalisation.kind == "standardise"
    assert abs(float(prepared.train.X.mean(axis=1).mean())) < 1e-3  # zero-mean features
    assert "standardised" in window.findChild(QLabel, "nxLabel").text()
    assert window.data_panel.state()["normalisation"] == "standardise"
    assert window.model_files.import_model(str(model))
    show_tab(window, window.evaluation_view)
    qtbot.waitUntil(lambda: window.inspection.evaluation_job is None
                    and window.evaluation_view.evaluation() is not None, timeout=20_000)
    assert window.evaluation_view.evaluation().accuracy > 0.5  # chance is 0.1

    window.data_panel.set_state({"folder": "sample"})  # a project saved before the choice
    assert window.data_panel.normalisation() == "scale"


def test_loading_other_data_is_a_change_to_save(qtbot, window, tmp_path):
    """Even when nothing else changes (ten classes like the sample: the output stays)."""
    assert not window.projects.dirty
    folder = make_folder(tmp_path / "shapes", {str(k): 2 for k in range(10)})
    with qtbot.waitSignal(window.data_loaded, timeout=30_000):
        window.data_panel.load(str(folder))
    assert window.projects.dirty


def ten_class_project(qtbot, window, tmp_path, name: str = "shapes"):
    """Load a ten-class folder (like the sample: switching between them leaves the output
    layer as it is) and save the window as a project; returns (folder, project path)."""
    folder = make_folder(tmp_path / name, {str(k): 2 for k in range(10)})
    with qtbot.waitSignal(window.data_loaded, timeout=30_000):
        window.data_panel.load(str(folder))
    path = tmp_path / "p.dnnproj"
    assert window.projects.save_to(path)
    return folder, path


def test_a_project_whose_data_fail_to_load_leaves_the_next_load_a_change(qtbot, window,
                                                                         tmp_path):
    """Opening a project is not a change; the load it asks for (not the user's) holds for
    that load alone: when it fails, the user's next load is a change to save."""
    folder, path = ten_class_project(qtbot, window, tmp_path)
    shutil.rmtree(folder)
    other = new_window(qtbot, tmp_path, "other")
    with qtbot.waitSignal(other.data_panel.load_failed, timeout=30_000):
        assert other.projects.open(path)
    assert not other.projects.dirty
    with qtbot.waitSignal(other.data_loaded, timeout=30_000):
        other.data_panel.load(SAMPLE_NAME)
    assert other.projects.dirty
    close(other)


def test_a_user_load_that_supersedes_a_projects_load_is_a_change(qtbot, window, tmp_path):
    _, path = ten_class_project(qtbot, window, tmp_path)
    other = new_window(qtbot, tmp_path, "other")
    assert other.projects.open(path)  # its data load starts in the background...
    with qtbot.waitSignal(other.data_loaded, timeout=30_000):
        other.data_panel.load(SAMPLE_NAME)  # ...and the user's load replaces it
    assert other.projects.dirty
    qtbot.waitUntil(lambda: not other.data_panel._superseded, timeout=30_000)
    close(other)


def test_loading_an_opened_projects_own_data_again_is_no_change(qtbot, window, tmp_path):
    _, path = ten_class_project(qtbot, window, tmp_path)
    other = new_window(qtbot, tmp_path, "other")
    with qtbot.waitSignal(other.data_loaded, timeout=30_000):
        assert other.projects.open(path)
    with qtbot.waitSignal(other.data_loaded, timeout=30_000):
        other.data_panel.load()  # the same folder and options: nothing to save
    assert not other.projects.dirty
    close(other)


def test_showing_the_runs_tab_brings_it_up_to_date(qtbot, window):
    refreshed = []
    window.runs_view.refresh = lambda: refreshed.append(1)
    show_tab(window, window.runs_view)
    assert refreshed == [1]
