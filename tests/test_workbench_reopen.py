"""A reopened project's run goes on as the same run (no Qt): Start under the key the viewer
gives for it continues from the saved weights, optimiser state and counters, appends to the
run's history, and adds no run; saved again, the project holds one run with the whole
history. The weights, counters and curves equal those of a run trained straight through."""

from __future__ import annotations

import numpy as np
from test_workbench import QueuedExecutor, prepared, request, watched

from desktop_nn.io.project_file import Project, save_project
from desktop_nn.io.project_open import open_project
from desktop_nn.nn.network import Network
from desktop_nn.train.history import History
from desktop_nn.train.saved_runs import runs_from_dicts, runs_to_dicts
from desktop_nn.train.trainer import Trainer
from desktop_nn.workbench import Imported, Training, Workbench

KEY = "the run's settings on the project's data"


def request64(data, epochs: int, key: str | None = KEY, **config):
    """A float64 run (the equality below is exact), batches of 8 (5 a 40-example epoch),
    momentum: the optimiser state matters."""
    req = request(data, epochs=epochs, key=key,
                  **{"optimizer": "momentum", "report_every": 1, **config})
    req.dtype = "float64"
    req.settings = {"designer": {"layers": [[5, "tanh"]]},
                    "training": {"lr": req.config.lr, "l2": req.config.l2,
                                 "batch": req.config.batch_size}}
    return req


def straight_through64(data, epochs: int) -> Trainer:
    req = request64(data, epochs)
    trainer = Trainer(Network(req.spec, dtype="float64", seed=req.config.seed), data.train.X,
                      data.train.Y, req.config, X_val=data.val.X, Y_val=data.val.Y)
    trainer.run()
    return trainer


def saved_and_reopened(tmp_path, data, epochs: int, **config):
    """Train ``epochs`` epochs (two runs: the second is the current one), save the project,
    and open it in a new workbench as the window does; (saving workbench, reopened one)."""
    wb = Workbench()
    wb.start(request64(data, 1, key="first", seed=3))
    wb.start(request64(data, epochs, **config))
    model, state = wb.saved_state()
    path = tmp_path / "p.dnnproj"
    save_project(path, Project(runs=runs_to_dicts(wb.runs.runs, wb.current_run)), model,
                 state)
    opened = open_project(path)
    runs, current, notes = runs_from_dicts(opened.project.runs)
    assert notes == [] and current.number == 2
    assert all(r.histograms is None for r in current.history.steps)  # none saved
    again = Workbench()
    again.runs.restore(runs)
    assert again.import_model(opened.model, opened.state, current)
    again.current_run = current
    return wb, again


def same_history(a: History, b: History) -> None:
    """Every step and epoch record alike but for the clock."""
    assert [(r.epoch, r.step, r.examples_seen, r.batch_cost) for r in a.steps] == \
        [(r.epoch, r.step, r.examples_seen, r.batch_cost) for r in b.steps]
    for x, y in zip(a.steps, b.steps, strict=True):
        np.testing.assert_array_equal([s.grad_norm_W for s in x.layers],
                                      [s.grad_norm_W for s in y.layers])
    assert [(r.epoch, r.step, r.train_cost, r.val_accuracy) for r in a.epochs] == \
        [(r.epoch, r.step, r.train_cost, r.val_accuracy) for r in b.epochs]


def test_continue_after_reopening_is_the_same_run_and_equals_training_straight_through(
        tmp_path):
    data = prepared()
    _, wb = saved_and_reopened(tmp_path, data, 2)
    run = wb.current_run
    old = list(run.history.steps), list(run.history.epochs)
    assert len(old[0]) == 10 and len(old[1]) == 2
    assert wb.start_mode(KEY).action == "start"  # the viewer has not given the key yet
    wb.resume_with(KEY)
    assert wb.start_mode(KEY).action == "continue"
    assert wb.start_mode("other").action == "start"
    seen = watched(wb)
    wb.start(request64(data, 1))
    trainer = wb.trainer
    assert seen.of("run_made") == [(trainer, False)]  # the same run: the plots go on
    assert len(wb.runs) == 2 and wb.current_run is run and run.number == 2
    assert trainer.history is run.history and (trainer.epoch, trainer.step_count) == (3, 15)
    # the old records first, then the new ones, which continue their steps and epochs
    assert run.history.steps[:10] == old[0] and run.history.epochs[:2] == old[1]
    assert [r.step for r in run.history.steps] == list(range(1, 16))
    assert [r.epoch for r in run.history.epochs] == [1, 2, 3]
    straight = straight_through64(data, 3)
    for a, b in zip(trainer.network.get_parameters()[0] + trainer.network.get_parameters()[1],
                    straight.network.get_parameters()[0] + straight.network.get_parameters()[1],
                    strict=True):
        assert a.dtype == np.float64
        np.testing.assert_array_equal(a, b)
    same_history(run.history, straight.history)
    # saved again: still one run 2, whose history is the whole history
    model, state = wb.saved_state()
    path = tmp_path / "again.dnnproj"
    save_project(path, Project(runs=runs_to_dicts(wb.runs.runs, wb.current_run)), model,
                 state)
    runs, current, _ = runs_from_dicts(open_project(path).project.runs)
    assert [r.number for r in runs] == [1, 2] and current.number == 2
    same_history(current.history, straight.history)
    # and the next Start continues the run in hand, as always
    wb.start(request64(data, 1))
    assert wb.trainer is trainer and trainer.epoch == 4 and len(wb.runs) == 2


def test_settings_changed_before_continuing_are_marked_on_the_reopened_run(tmp_path):
    data = prepared()
    _, wb = saved_and_reopened(tmp_path, data, 1, lr=0.2)
    wb.resume_with(KEY)
    wb.start(request64(data, 1, lr=0.05))  # the learning rate is no part of the key
    run = wb.current_run
    assert run.number == 2 and len(wb.runs) == 2
    [change] = run.history.changes
    assert (change.name, change.old, change.new, change.step) == ("lr", 0.2, 0.05, 5)
    assert wb.trainer.config.lr == 0.05 and wb.trainer.optimizer.lr == 0.05
    # the same as going on in the first place with lr 0.05 from step 6
    first = Workbench()
    first.start(request64(data, 1, lr=0.2))
    first.start(request64(data, 1, lr=0.05))
    for a, b in zip(first.trainer.network.get_parameters()[0],
                    wb.trainer.network.get_parameters()[0], strict=True):
        np.testing.assert_array_equal(a, b)


def test_other_settings_a_removed_run_or_no_state_make_a_new_run(tmp_path):
    data = prepared()
    _, wb = saved_and_reopened(tmp_path, data, 1)
    wb.resume_with(KEY)
    wb.start(request64(data, 1, key="other settings"))  # e.g. another seed: a new run
    assert len(wb.runs) == 3 and wb.current_run.number == 3
    assert len(wb.runs.get(2).history.steps) == 5  # the reopened run is left as it was
    assert wb.start_mode(KEY).action == "restart"  # its start point is now a run's past

    _, wb = saved_and_reopened(tmp_path, data, 1)
    wb.resume_with(KEY)
    removed = wb.runs.get(2)
    wb.runs.remove(2)  # removed from the Runs tab: nothing to go on with
    assert wb.start_mode(KEY).action == "start"
    wb.start(request64(data, 1))
    assert len(wb.runs) == 2 and wb.current_run is not removed
    assert wb.trainer.history is not removed.history and len(removed.history.steps) == 5

    _, wb = saved_and_reopened(tmp_path, data, 1)
    model = wb.state.model
    assert wb.import_model(model, None, wb.runs.get(2))  # weights only (autosaved mid-run)
    wb.resume_with(KEY)
    assert wb.start_mode(KEY).action == "start"
    wb.start(request64(data, 1))
    assert len(wb.runs) == 3 and wb.trainer.step_count == 5  # counters start again

    _, wb = saved_and_reopened(tmp_path, data, 1)
    wb.resume_with(KEY)
    assert wb.reset()  # Reset weights: fresh weights, so a new run
    assert wb.start_mode(KEY).action == "start"

    _, wb = saved_and_reopened(tmp_path, data, 1)
    model, state = wb.saved_state()
    assert wb.import_model(model, state)  # a model file imported: no run to go on with
    wb.resume_with(KEY)
    assert wb.start_mode(KEY).action == "start"
    wb.start(request64(data, 1))
    assert len(wb.runs) == 3 and wb.trainer.step_count == 10  # from its weights and state


def test_a_reopened_run_is_not_continued_through_a_queued_build_that_fails(tmp_path):
    """The decision is the build's: a state that cannot be restored makes a new run."""
    data = prepared()
    _, wb = saved_and_reopened(tmp_path, data, 1)
    state, arrays = wb.saved_state()[1]
    model = wb.state.model
    assert isinstance(wb.state, Imported)
    bad = ({**state, "optimizer": {**state["optimizer"], "name": "adam"}}, arrays)
    assert wb.import_model(model, bad, wb.runs.get(2))
    wb.resume_with(KEY)
    wb.executor = QueuedExecutor()
    seen = watched(wb)
    wb.start(request64(data, 1))
    wb.executor.run_all()
    assert isinstance(wb.state, Training) and len(wb.runs) == 3
    assert any("fresh optimiser state" in n[0] for n in seen.of("notice"))
    assert len(wb.runs.get(2).history.steps) == 5 and wb.current_run.number == 3
