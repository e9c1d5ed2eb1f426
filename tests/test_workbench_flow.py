"""The teaching flow in the workbench (no Qt): which settings a Start continues the run with
and which make a new network (workbench/continuing.py), live changes of the learning rate,
L2 and batch size, and slow motion for the run training now and the runs to come."""

from __future__ import annotations

import numpy as np
from test_workbench import QueuedExecutor, prepared, request, same_weights, straight_through

from desktop_nn.nn.network import Network
from desktop_nn.train.trainer import Trainer
from desktop_nn.workbench import Training, Workbench
from desktop_nn.workbench.continuing import LIVE_SETTINGS, restart_reasons, run_key

DESIGNER = {"layers": [[30, "sigmoid"]], "output": "softmax", "cost": "cross-entropy",
            "init": "xavier"}
TRAINING = {"lr": 0.5, "epochs": 10, "batch": 10, "optimizer": "sgd", "l2": 0.0, "seed": 0,
            "device": "auto", "dtype": "float32"}


def test_the_run_key_leaves_out_exactly_the_settings_a_run_can_change():
    key = run_key(DESIGNER, TRAINING, 1)
    for name, value in (("lr", 0.1), ("epochs", 30), ("batch", 0), ("l2", 0.01)):
        assert name in LIVE_SETTINGS
        assert run_key(DESIGNER, {**TRAINING, name: value}, 1) == key
    for name, value, said in (("optimizer", "adam", "optimiser"), ("seed", 1, "seed"),
                              ("device", "cpu", "device"), ("dtype", "float64", "precision")):
        other = run_key(DESIGNER, {**TRAINING, name: value}, 1)
        assert restart_reasons(key, other) == [said]
    for name, value, said in (("layers", [[30, "relu"]], "hidden layers"),
                              ("output", "sigmoid", "output layer"),
                              ("cost", "quadratic", "cost"), ("init", "he", "initialisation")):
        other = run_key({**DESIGNER, name: value}, TRAINING, 1)
        assert restart_reasons(key, other) == [said]
    assert restart_reasons(key, run_key(DESIGNER, TRAINING, 2)) == ["data"]
    assert restart_reasons(key, run_key(DESIGNER, {**TRAINING, "seed": 2, "dtype": "x"}, 1)) \
        == ["seed", "precision"]
    assert restart_reasons(key, key) == []
    assert restart_reasons("", key) == ["settings"]


def test_start_says_whether_it_continues_and_a_continued_run_takes_the_new_values():
    data = prepared()
    wb = Workbench()
    assert wb.start_mode("k").action == "start"
    wb.start(request(data, epochs=1))
    trainer = wb.trainer
    assert wb.start_mode("k").action == "continue"
    mode = wb.start_mode("other")
    assert (mode.action, mode.reasons) == ("restart", ["settings"])
    wb.start(request(data, epochs=1, lr=0.02, l2=0.1))  # same key, other values
    assert wb.trainer is trainer and trainer.epoch == 2
    assert [(c.name, c.step, c.old, c.new) for c in trainer.history.changes] == [
        ("lr", 5, 0.1, 0.02), ("l2", 5, 0.0, 0.1)]
    # the same weights as two epochs trained straight through with the change in between
    net = Network(request(data).spec, seed=0)
    first = Trainer(net, data.train.X, data.train.Y, request(data, epochs=1).config,
                    X_val=data.val.X, Y_val=data.val.Y)
    first.run()
    again = Trainer(net, data.train.X, data.train.Y,
                    request(data, epochs=1, lr=0.02, l2=0.1).config, X_val=data.val.X,
                    Y_val=data.val.Y)
    again.restore(*first.checkpoint())
    again.run()
    assert same_weights(trainer.network, net)
    # a new key makes a new run from fresh weights
    wb.start(request(data, epochs=3))  # as many more epochs as asked now
    assert wb.trainer is trainer and trainer.epoch == 5
    wb.start(request(data, key="other", epochs=1))
    assert wb.trainer is not trainer
    assert same_weights(wb.trainer.network, straight_through(data, 1).network)


def test_changes_and_speed_asked_while_a_run_is_made_apply_to_it():
    data = prepared()
    executor = QueuedExecutor()
    wb = Workbench(executor)
    wb.set_pace(1000)
    wb.start(request(data, epochs=1))
    wb.change_settings(lr=0.3)
    assert executor.run_next() == "buildJob"
    trainer = wb.trainer
    assert isinstance(wb.state, Training) and trainer.pace is not None
    executor.run_all()
    assert [(c.name, c.step, c.new) for c in trainer.history.changes] == [("lr", 0, 0.3)]
    # slow motion reports every step (report_every 10 would report none of these 5)
    assert [r.step for r in trainer.history.steps] == [1, 2, 3, 4, 5]
    wb.set_pace(None)
    assert trainer.pace is None
    wb.change_settings(batch_size=20)  # between two Starts: applied at the next one
    assert trainer.pending_changes == {"batch_size": 20}
    wb.start(request(data, epochs=1, batch_size=20, lr=0.3))
    executor.run_all()
    assert trainer.step_count == 5 + 2
    assert [(c.name, c.step, c.new) for c in trainer.history.changes] == [
        ("lr", 0, 0.3), ("batch_size", 5, 20)]
    assert np.isfinite(trainer.history.epochs[-1].train_cost)
