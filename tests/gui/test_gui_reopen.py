"""A reopened project (File > Open, or an autosave recovered after a crash) shows its runs in
the Runs tab and the current run's curves in the live plots, as they were when it was saved,
and Continue goes on with that run: the same run number, its curves and history going on."""

from __future__ import annotations

import numpy as np
from test_gui_inspect import as_crashed_session, close, new_window, parameters, train

from desktop_nn.io.project_file import load_project
from desktop_nn.train.history import History
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


# ---------------------------------------------------------------------------- continuing
SETTINGS = {"lr": 0.5, "batch": 32, "seed": 5, "optimizer": "momentum", "dtype": "float64"}


def plotted(window) -> dict[str, np.ndarray]:
    """What the live plots hold: steps (x of the cost and per-layer plots) and epochs."""
    s, e = window.plots.steps, window.plots.epochs
    return {"step": s.step.copy(), "cost": s.cost.copy(),
            "grad_norm_W": s.layer_values("grad_norm_W").copy(),
            "epoch_step": e.column("step").copy(), "train_cost": e.column("train_cost").copy()}


def same_records(a, b) -> None:
    """Two histories alike in every step and epoch record, but for the clock."""
    assert [(r.epoch, r.step, r.examples_seen, r.batch_cost) for r in a.steps] == \
        [(r.epoch, r.step, r.examples_seen, r.batch_cost) for r in b.steps]
    assert [(r.epoch, r.step, r.train_cost, r.val_cost) for r in a.epochs] == \
        [(r.epoch, r.step, r.train_cost, r.val_cost) for r in b.epochs]


def status(window) -> tuple[str, str]:
    p = window.progress
    return p.epoch_label.text(), p.step_label.text()


def test_continue_after_reopening_goes_on_with_the_same_run(qtbot, window, tmp_path):
    train(qtbot, window, epochs=1, seed=1)  # Run 1
    train(qtbot, window, epochs=2, **SETTINGS)  # Run 2, the current one
    saved_steps = window.workbench.trainer.step_count
    path = tmp_path / "digits.dnnproj"
    assert window.projects.save_to(path)
    _, old = saved_current_history(path)

    fresh = new_window(qtbot, tmp_path, "fresh")
    fresh.show()
    with qtbot.waitSignal(fresh.data_loaded, timeout=20_000):
        assert fresh.projects.open(path)
    assert status(fresh) == ("epoch 2", f"step {saved_steps}")
    assert fresh.training_panel.start_button.text() == "Continue"
    assert fresh.flow.hint.text().startswith("Continue: the same weights")
    before = plotted(fresh)
    train(qtbot, fresh, epochs=1)
    run = fresh.workbench.current_run
    assert fresh.runs_view.list.count() == 2 and len(fresh.workbench.runs) == 2
    assert run.number == 2 and fresh.workbench.trainer.history is run.history
    assert status(fresh) == ("epoch 3", f"step {fresh.workbench.trainer.step_count}")
    # the plots went on: the old points first, then new ones past the saved last step
    after = plotted(fresh)
    n = len(before["step"])
    for k in ("step", "cost", "epoch_step", "train_cost"):
        np.testing.assert_array_equal(after[k][:len(before[k])], before[k])
    assert after["step"][n] > before["step"][-1] and np.all(np.diff(after["step"]) > 0)
    same_records(History(steps=run.history.steps[:len(old.steps)],
                         epochs=run.history.epochs[:2]), old)

    # the same weights, history and plots as three epochs trained straight through
    straight = new_window(qtbot, tmp_path, "straight")
    train(qtbot, straight, epochs=3, **SETTINGS)
    for a, b in zip(parameters(straight), parameters(fresh), strict=True):
        assert a.dtype == np.float64
        np.testing.assert_array_equal(a, b)
    same_records(run.history, straight.workbench.current_run.history)
    for k, v in plotted(straight).items():
        np.testing.assert_array_equal(after[k], v, err_msg=k)

    # saved again: one Run 2 with the whole history
    again = tmp_path / "again.dnnproj"
    assert fresh.projects.save_to(again)
    assert [r["number"] for r in load_project(again).runs] == [1, 2]
    saved, history = saved_current_history(again)
    assert saved["number"] == 2
    same_records(history, straight.workbench.current_run.history)
    close(fresh)
    close(straight)


def test_after_reopening_other_settings_or_other_data_make_a_new_run(qtbot, window,
                                                                      tmp_path):
    train(qtbot, window, epochs=1, **SETTINGS)
    path = tmp_path / "digits.dnnproj"
    assert window.projects.save_to(path)
    fresh = new_window(qtbot, tmp_path, "fresh")
    with qtbot.waitSignal(fresh.data_loaded, timeout=20_000):
        assert fresh.projects.open(path)
    assert fresh.training_panel.start_button.text() == "Continue"
    fresh.training_panel.seed_spin.setValue(6)  # other weights: not the saved run
    assert fresh.training_panel.start_button.text() == "Start"
    fresh.training_panel.seed_spin.setValue(5)
    assert fresh.training_panel.start_button.text() == "Continue"
    # the same data loaded again by the user are other data as far as a run goes
    with qtbot.waitSignal(fresh.data_loaded, timeout=20_000):
        fresh.data_panel.load(fresh.data_panel.folder_edit.text().strip(), by_user=True)
    assert fresh.training_panel.start_button.text() == "Start"
    saved = len(fresh.workbench.current_run.history.steps)
    train(qtbot, fresh, epochs=1)
    assert len(fresh.workbench.runs) == 2 and fresh.workbench.current_run.number == 2
    assert len(fresh.workbench.runs.get(1).history.steps) == saved  # left as it was
    # the plots show the new run alone
    np.testing.assert_array_equal(fresh.plots.steps.step,
                                  [r.step for r in fresh.workbench.current_run.history.steps])
    close(fresh)


def test_continue_after_recovering_an_autosave_goes_on_with_the_same_run(qtbot, window,
                                                                         tmp_path):
    as_crashed_session(window, tmp_path)
    train(qtbot, window, epochs=2, **SETTINGS)
    assert window.projects.autosave()
    steps = window.workbench.trainer.step_count
    old = window.workbench.current_run.history
    n_old = len(old.steps)
    again = new_window(qtbot, tmp_path, "again")
    again.projects.ask_recover = lambda info: True
    with qtbot.waitSignal(again.data_loaded, timeout=20_000):
        assert again.projects.offer_recovery()
    assert status(again) == ("epoch 2", f"step {steps}")
    assert again.training_panel.start_button.text() == "Continue"
    train(qtbot, again, epochs=1)
    run = again.workbench.current_run
    assert len(again.workbench.runs) == 1 and run.number == 1
    assert again.workbench.trainer.step_count == steps * 3 // 2
    same_records(History(steps=run.history.steps[:n_old], epochs=run.history.epochs[:2]),
                 old)
    assert run.history.steps[n_old].step > old.steps[-1].step
    assert run.history.epochs[-1].epoch == 3
    close(again)
