"""The teaching flow in the window (issue 22, item 4): the speed control, a Start button that
says whether it continues or restarts, the learning rate, L2 and batch size changed during a
run and marked on the curves, Step showing each step, and a pause the status bar shows."""

from __future__ import annotations

import numpy as np
from test_gui import click, find  # noqa: F401 (find: for the tests importing it from here)

from desktop_nn.gui.plot_style import MAX_MARKED_POINTS, show_markers
from desktop_nn.gui.run_flow import SPEEDS
from desktop_nn.train.live_settings import SettingChange


def train_epochs(qtbot, window, epochs: int) -> None:
    find(window, "epochsSpin").setValue(epochs)
    with qtbot.waitSignal(window.training_finished, timeout=60_000) as finished:
        click(qtbot, window, "startButton")
    assert finished.args[0].stopped == "completed"


def test_slow_motion_draws_every_step_and_full_speed_applies_at_once(qtbot, window):
    """At 1 step a second each step is reported and drawn (the window asks for a report
    every 10th step of the sample at full speed only past 500 steps an epoch: here the
    trainer's report_every is forced up to show the pacing reports anyway)."""
    slider, label = find(window, "speedSlider"), find(window, "speedSettingLabel")
    assert label.text() == "full speed" and window.workbench._pace is None
    slider.setValue(SPEEDS.index(1))
    assert label.text() == "1 step/s" and window.progress.every_step_drawn
    find(window, "epochsSpin").setValue(1)
    with qtbot.waitSignal(window.training_started, timeout=10_000):
        click(qtbot, window, "startButton")
    trainer = window.workbench.trainer
    trainer.config.report_every = 1000  # only slow motion reports now
    assert trainer.pace == 1
    qtbot.waitUntil(lambda: trainer.step_count >= 2, timeout=10_000)
    # every step reaches the plots, each plot redrawn with it
    qtbot.waitUntil(lambda: window.plots.steps.n == trainer.step_count, timeout=10_000)
    n = window.plots.steps.n
    for curve in [window.plots.step_cost, *window.plots.gradient_curves]:
        qtbot.waitUntil(lambda curve=curve: len(curve.getData()[0]) >= n, timeout=10_000)
    assert trainer.step_count < trainer.steps_per_epoch  # 90 steps at 1 a second: slow
    with qtbot.waitSignal(window.training_finished, timeout=60_000) as finished:
        slider.setValue(len(SPEEDS) - 1)  # full speed, at once
    assert finished.args[0].stopped == "completed" and trainer.pace is None


def test_start_says_continue_or_restart_before_the_click(qtbot, window):
    button, hint = find(window, "startButton"), find(window, "startHint")
    assert button.text() == "Start"
    train_epochs(qtbot, window, 1)
    trainer = window.workbench.trainer
    assert button.text() == "Continue" and "same weights" in hint.text()
    find(window, "epochsSpin").setValue(2)
    find(window, "learningRateSpin").setValue(0.1)
    assert button.text() == "Continue"
    assert "lr 0.5 -> 0.1 from the next step" in hint.text()
    find(window, "seedSpin").setValue(5)
    assert button.text() == "Restart"
    assert hint.text().startswith("Restart (new weights): seed changed") and hint.isVisible()
    find(window, "seedSpin").setValue(0)
    assert button.text() == "Continue"
    with qtbot.waitSignal(window.training_finished, timeout=60_000):
        click(qtbot, window, "startButton")
    # continued: same weights, two more epochs, the change marked where it applied
    assert window.workbench.trainer is trainer and trainer.epoch == 3
    (change,) = trainer.history.changes
    assert (change.step, change.old, change.new) == (90, 0.5, 0.1)
    labels = [getattr(mark, "label", None) for _, mark in window.plots.change_marks]
    texts = [label.toPlainText() for label in labels if label is not None]
    assert texts == ["lr 0.5 -> 0.1", "lr 0.5 -> 0.1"]  # cost and accuracy plots
    assert len(window.workbench.runs) == 1
    assert window.workbench.current_run.to_summary_dict()["changes"] == [change.to_dict()]
    find(window, "outputActivationCombo").setCurrentText("sigmoid")
    assert button.text() == "Restart" and "output layer changed" in hint.text()


def test_learning_rate_l2_and_batch_change_while_paused(qtbot, window):
    """Paused after three single steps, the learning rate and L2 change: the next step takes
    them, with the same weights and optimiser state; the batch size waits for the epoch's
    end. The marks are drawn on the curves and kept in the run."""
    find(window, "epochsSpin").setValue(2)
    with qtbot.waitSignal(window.training_started, timeout=10_000):
        click(qtbot, window, "stepButton")
    trainer = window.workbench.trainer
    qtbot.waitUntil(lambda: trainer.step_count == 1 and trainer.is_waiting, timeout=10_000)
    for _ in range(2):
        n = trainer.step_count
        click(qtbot, window, "stepButton")
        qtbot.waitUntil(lambda n=n: trainer.step_count == n + 1 and trainer.is_waiting,
                        timeout=10_000)
    lr, l2, batch = (find(window, n) for n in ("learningRateSpin", "l2Spin", "batchSizeSpin"))
    assert lr.isEnabled() and l2.isEnabled() and batch.isEnabled()
    assert not find(window, "seedSpin").isEnabled()
    lr.setValue(0.05)
    l2.setValue(0.5)
    batch.setValue(20)
    window.flow.apply_changes()  # what the timer does once the values rest
    assert trainer.pending_changes == {"lr": 0.05, "l2": 0.5, "batch_size": 20}
    assert "Waiting: lr 0.5 -> 0.05" in find(window, "startHint").text()
    click(qtbot, window, "stepButton")
    qtbot.waitUntil(lambda: trainer.step_count == 4 and trainer.is_waiting, timeout=10_000)
    assert [(c.step, c.name, c.new) for c in trainer.history.changes] == [
        (3, "lr", 0.05), (3, "l2", 0.5)]
    assert trainer.optimizer.lr == 0.05 and trainer.optimizer.t == 4
    qtbot.waitUntil(lambda: len(window.plots.change_marks) == 8, timeout=5000)
    with qtbot.waitSignal(window.training_finished, timeout=60_000):
        click(qtbot, window, "pauseButton")  # resume: to the end
    changes = trainer.history.changes
    assert changes[-1] == SettingChange(90, 1.0, "batch_size", 10, 20)
    assert trainer.step_count == 90 + 45  # the second epoch in batches of 20
    assert len(window.plots.change_marks) == 12


def test_step_draws_the_first_step_and_a_pause_shows_in_the_status_bar(qtbot, window):
    paused = find(window, "pausedLabel")
    with qtbot.waitSignal(window.training_started, timeout=10_000):
        click(qtbot, window, "stepButton")
    trainer = window.workbench.trainer
    qtbot.waitUntil(lambda: trainer.step_count == 1 and trainer.is_waiting, timeout=10_000)
    assert paused.isVisible() and paused.text().endswith("Paused</b>")
    # one point, drawn as a dot on every step plot (a line through one point is invisible);
    # the saturation lines have no value yet (their window has not closed): nothing to mark
    plots = window.plots
    for curve in [plots.step_cost, *plots.gradient_curves, *plots.saturation_curves]:
        qtbot.waitUntil(lambda curve=curve: curve.getData()[0] is not None
                        and len(curve.getData()[0]) == 1, timeout=5000)
        has_value = np.isfinite(curve.getData()[1]).any()
        assert curve.opts["symbol"] == ("o" if has_value else None)
    assert all(np.isfinite(c.getData()[1]).all()
               for c in [plots.step_cost, *plots.gradient_curves])
    np.testing.assert_allclose(plots.step_cost.getData()[1],
                               [trainer.history.steps[0].batch_cost])
    click(qtbot, window, "pauseButton")  # resume
    assert not paused.isVisible()
    click(qtbot, window, "pauseButton")  # pause again
    assert paused.isVisible()
    qtbot.waitUntil(lambda: trainer.is_waiting, timeout=10_000)
    with qtbot.waitSignal(window.training_finished, timeout=10_000):
        click(qtbot, window, "stopButton")
    assert not paused.isVisible()
    curve = plots.cost_plot.plot([1.0], [1.0])
    for n, symbol in ((1, "o"), (MAX_MARKED_POINTS, "o"), (MAX_MARKED_POINTS + 1, None)):
        show_markers(curve, n)  # many points: a line, no dots
        assert curve.opts["symbol"] == symbol


def test_a_reopened_project_shows_the_changes_marked_on_its_curves(qtbot, window, tmp_path):
    from test_gui_inspect import close, new_window

    train_epochs(qtbot, window, 1)
    find(window, "learningRateSpin").setValue(0.1)
    train_epochs(qtbot, window, 1)  # continued, the change marked at step 90
    path = tmp_path / "changed.dnnproj"
    assert window.projects.save_to(path)
    reopened = new_window(qtbot, tmp_path, "reopened")
    with qtbot.waitSignal(reopened.data_loaded, timeout=30_000):
        assert reopened.projects.open(path)
    (run,) = reopened.workbench.runs.runs
    assert [(c.step, c.label) for c in run.history.changes] == [(90, "lr 0.5 -> 0.1")]
    marks = reopened.plots.change_marks
    assert [mark.value() for _, mark in marks] == [90, 1.0, 90, 90]
    close(reopened)
