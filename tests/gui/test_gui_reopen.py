"""A reopened project (File > Open, or an autosave recovered after a crash) shows its runs in
the Runs tab and the current run's curves in the live plots, as they were when it was saved."""

from __future__ import annotations

import numpy as np
from test_gui_inspect import as_crashed_session, close, new_window, train

from desktop_nn.io.project_file import load_project
from desktop_nn.train.saved_runs import history_from_dict


def saved_current_history(path):
    [current] = [r for r in load_project(path).runs if r["current"]]
    return current, history_from_dict(current["history"])


def assert_plots_show(window, history) -> None:
    """The live plots hold exactly the saved history: every step's batch cost and per-layer
    values, every epoch's cost and accuracy."""
    plots = window.plots
    steps, epochs = history.steps, history.epochs
    assert len(steps) > 10 and len(epochs) >= 2
    np.testing.assert_array_equal(plots.steps.step, [r.step for r in steps])
    np.testing.assert_array_equal(plots.steps.cost, [r.batch_cost for r in steps])
    for field in ("grad_norm_W", "grad_norm_b", "update_ratio"):
        expected = np.array([[getattr(s, field) for s in r.layers] for r in steps]).T
        np.testing.assert_array_equal(plots.steps.layer_values(field), expected)
    np.testing.assert_array_equal(plots.epochs.column("train_cost"),
                                  [r.train_cost for r in epochs])
    x, y = plots.train_acc.getData()  # what the accuracy plot draws
    np.testing.assert_array_equal(x, [r.epoch for r in epochs])
    np.testing.assert_array_equal(y, [r.train_accuracy for r in epochs])


def test_a_reopened_project_shows_its_runs_and_the_current_runs_curves(qtbot, window,
                                                                        tmp_path):
    window.designer.layer_table.cellWidget(0, 0).setValue(12)
    assert window.designer.output_combo.currentText() == "softmax"
    window.designer.output_combo.setCurrentText("sigmoid")  # not the default for 10 classes
    train(qtbot, window, epochs=1, lr=0.5)
    train(qtbot, window, epochs=2, lr=1.0, seed=3)  # a second run, the current one
    before = window.plots.steps.step.copy()
    path = tmp_path / "digits.dnnproj"
    assert window.projects.save_to(path)
    saved, history = saved_current_history(path)
    assert saved["number"] == 2
    # the plots at save time hold the same steps as the file (no thinning for a short run)
    np.testing.assert_array_equal(before, [r.step for r in history.steps])

    fresh = new_window(qtbot, tmp_path, "fresh")  # a first session: no settings of its own
    fresh.show()
    with qtbot.waitSignal(fresh.data_loaded, timeout=20_000):
        assert fresh.projects.open(path)
    # the project's design, its model's, stays as saved when its data come in
    assert fresh.designer.state() == window.designer.state()
    runs = fresh.runs_view
    assert runs.list.count() == 2
    assert [runs.list.item(i).text() for i in range(2)] == [
        window.runs_view.list.item(i).text() for i in range(2)]
    assert fresh.workbench.current_run.number == 2
    assert_plots_show(fresh, history)
    fresh.tabs.setCurrentWidget(runs)
    assert runs.curve_count() == 2
    # saved again as it is, the same run is still the current one, with the same curves
    again = tmp_path / "again.dnnproj"
    assert fresh.projects.save_to(again)
    saved_again, history_again = saved_current_history(again)
    assert saved_again["number"] == 2
    assert [r.step for r in history_again.steps] == [r.step for r in history.steps]
    close(fresh)


def test_a_recovered_autosave_shows_its_runs_and_curves(qtbot, window, tmp_path):
    as_crashed_session(window, tmp_path)
    train(qtbot, window, epochs=2)
    assert window.projects.autosave()
    history = window.workbench.current_run.history
    again = new_window(qtbot, tmp_path, "again")
    again.projects.ask_recover = lambda info: True
    assert again.projects.offer_recovery()
    assert again.runs_view.list.count() == 1
    assert_plots_show(again, history)
    close(again)


def test_a_project_whose_model_was_left_out_lists_its_runs_without_curves(qtbot, window,
                                                                          tmp_path):
    train(qtbot, window, epochs=1)
    path = tmp_path / "digits.dnnproj"
    assert window.projects.save_to(path)
    (tmp_path / "digits.model.npz").unlink()
    path.write_text(path.read_text().replace('"model": "digits.model.npz"', '"model": null'))
    fresh = new_window(qtbot, tmp_path, "fresh")
    assert fresh.projects.open(path)
    assert fresh.runs_view.list.count() == 1 and fresh.workbench.current_run is None
    assert fresh.plots.steps.n == 0  # curves of weights that are not here are not shown
    close(fresh)
