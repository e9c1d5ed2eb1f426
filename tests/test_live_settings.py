"""Changing the learning rate, L2 or batch size during a run (train/live_settings.py), and the
speed (slow motion): the run goes on with the same weights and optimiser state, the change is
in the history, and the maths is that of stopping the run and continuing it with the new
setting through its checkpoint (the existing continue path)."""

from __future__ import annotations

import json
import threading
import time

import numpy as np
import pytest

from desktop_nn.nn.network import Network, NetworkSpec
from desktop_nn.train.history import History
from desktop_nn.train.live_settings import SettingChange
from desktop_nn.train.runs import RunLog
from desktop_nn.train.saved_runs import runs_from_dicts, runs_to_dicts
from desktop_nn.train.trainer import TrainConfig, Trainer

SPEC = NetworkSpec(2, [5, 4], ["tanh", "relu"], 1, "sigmoid", "cross-entropy", "he")
EPOCHS = 3
BATCH = 16  # 200 examples: 13 steps an epoch, the last one of 8


def config(optimizer: str, **changes) -> TrainConfig:
    base = {"lr": 0.01 if optimizer == "adam" else 0.1, "epochs": EPOCHS, "batch_size": BATCH,
            "optimizer": optimizer, "seed": 3, "l2": 0.01, "report_every": 1}
    return TrainConfig(**{**base, **changes})


def parameters(net: Network) -> list[np.ndarray]:
    W, b = net.get_parameters()
    return W + b


def changed_at(X, Y, optimizer: str, k: int, **change) -> tuple[Network, Trainer]:
    """A run asked to change ``change`` when its step ``k`` is reported."""
    net = Network(SPEC, seed=7, dtype="float64")
    trainer = Trainer(net, X, Y, config(optimizer))
    trainer.on_step = lambda r: trainer.change(**change) if r.step == k else None
    trainer.run()
    return net, trainer


def stopped_and_continued(X, Y, optimizer: str, k: int, **change) -> Network:
    """The existing continue path: train k steps, stop, then a new trainer with the changed
    setting goes on from the run's checkpoint (what Save and reopen with another setting
    does)."""
    net = Network(SPEC, seed=7, dtype="float64")
    first = Trainer(net, X, Y, config(optimizer))
    first.on_step = lambda r: first.stop() if r.step == k else None
    first.run()
    assert first.step_count == k
    again = Trainer(net, X, Y, config(optimizer, **change))
    again.restore(*first.checkpoint())
    again.run(EPOCHS - again.epoch)
    return net


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam"])
@pytest.mark.parametrize("change", [{"lr": 0.03}, {"l2": 0.5}, {"lr": 0.2, "l2": 0.0}])
def test_a_change_mid_run_equals_stopping_and_continuing_with_it(blobs, optimizer, change):
    X, Y = blobs
    k = 17  # inside the second epoch
    live, trainer = changed_at(X, Y, optimizer, k, **change)
    continued = stopped_and_continued(X, Y, optimizer, k, **change)
    for a, b in zip(parameters(live), parameters(continued), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)
    # the change happened: without it the weights differ
    unchanged = Network(SPEC, seed=7, dtype="float64")
    Trainer(unchanged, X, Y, config(optimizer)).run()
    assert not np.allclose(parameters(live)[0], parameters(unchanged)[0])
    # recorded where it applied, with both values
    names = {name: value for name, value in change.items()}
    recorded = trainer.history.changes
    assert [c.name for c in recorded] == list(names)
    base = config(optimizer)
    for c in recorded:
        assert (c.step, c.old, c.new) == (k, getattr(base, c.name), names[c.name])
        assert c.epoch == pytest.approx(trainer.history.steps[k - 1].examples_seen / 200)
    assert trainer.optimizer.lr == trainer.config.lr == names.get("lr", base.lr)
    assert trainer.optimizer.t == trainer.step_count  # the optimiser state went on


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_a_batch_size_change_applies_from_the_next_epoch(blobs, optimizer):
    """An epoch's shuffled order is cut into batches of one size: the change waits for the
    epoch's end, then equals continuing the run with the new batch size."""
    X, Y = blobs
    k = 5  # inside the first epoch (13 steps)
    live, trainer = changed_at(X, Y, optimizer, k, batch_size=50)
    net = Network(SPEC, seed=7, dtype="float64")
    first = Trainer(net, X, Y, config(optimizer, epochs=1))
    first.run()
    again = Trainer(net, X, Y, config(optimizer, batch_size=50))
    again.restore(*first.checkpoint())
    again.run(EPOCHS - 1)
    for a, b in zip(parameters(live), parameters(net), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)
    (change,) = trainer.history.changes
    assert (change.step, change.epoch, change.old, change.new) == (13, 1.0, BATCH, 50)
    assert trainer.step_count == 13 + 2 * 4  # 200 examples in batches of 50: 4 steps
    assert trainer.history.steps[-1].total_steps == trainer.step_count


def test_a_change_back_to_the_value_in_force_drops_the_pending_one(blobs):
    X, Y = blobs
    trainer = Trainer(Network(SPEC, seed=7), X, Y, config("sgd"))
    trainer.change(lr=0.5, batch_size=20)
    assert trainer.pending_changes == {"lr": 0.5, "batch_size": 20}
    trainer.change(lr=0.1, batch_size=BATCH)
    assert trainer.pending_changes == {}
    trainer.change(l2=0.02)
    trainer.run(1)
    assert [(c.step, c.name, c.new) for c in trainer.history.changes] == [(0, "l2", 0.02)]
    with pytest.raises(ValueError, match="learning rate"):
        trainer.change(lr=0.0)
    with pytest.raises(ValueError, match="L2"):
        trainer.change(l2=float("nan"))


def test_changes_are_kept_in_the_history_and_the_saved_run():
    change = SettingChange(12, 0.96, "lr", 0.1, 0.01)
    assert change.label == "lr 0.1 -> 0.01"
    assert SettingChange(3, 0.5, "batch_size", 10, 0).label == "batch 10 -> full"
    assert SettingChange(3, 0.5, "l2", 0, 0.001).label == "L2 0 -> 0.001"
    history = History()
    history.add_change(change)
    assert json.loads(history.to_jsonl()) == {**change.to_dict(), "type": "change"}
    runs = RunLog()
    run = runs.add({"designer": {}, "training": {}}, history, 200)
    saved = json.loads(json.dumps(run.to_summary_dict()))
    assert [SettingChange.from_dict(d) for d in saved["changes"]] == [change]
    bad = [{"step": 1}, {**change.to_dict(), "name": "seed"}, {**change.to_dict(), "new": "nan"},
           {**change.to_dict(), "step": 1e309}, "lr", None, [1, 2]]
    for item in bad:
        with pytest.raises(ValueError):
            SettingChange.from_dict(item)
    # a project keeps them with the run's history; what cannot be read is left out, noted
    saved = json.loads(json.dumps(runs_to_dicts(runs.runs, run)))
    saved[0]["changes"] += bad
    (again,), current, notes = runs_from_dicts(saved)
    assert again.history.changes == [change] and current is again
    assert notes == ["7 of Run 1's setting changes could not be read; their marks were left "
                     "out."]
    history.clear()
    assert history.changes == []


# ---------------------------------------------------------------------------- slow motion
def test_slow_motion_reports_every_step_and_full_speed_every_report_every(blobs):
    X, Y = blobs
    fast = Trainer(Network(SPEC, seed=7), X, Y, config("sgd", report_every=5))
    fast.run(1)
    assert [r.step for r in fast.history.steps] == [5, 10]
    slow = Trainer(Network(SPEC, seed=7), X, Y, config("sgd", report_every=5))
    slow.set_pace(10_000)
    assert slow.pace == pytest.approx(10_000)
    slow.run(1)
    assert [r.step for r in slow.history.steps] == list(range(1, 14))
    # the same steps: slow motion changes when, never what
    for a, b in zip(parameters(fast.network), parameters(slow.network), strict=True):
        np.testing.assert_array_equal(a, b)


def wait_until(condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.001)


def test_a_new_speed_takes_effect_during_the_wait_for_the_next_step(blobs):
    """At one step every 1000 s the run would wait for ever: full speed wakes it at once, and
    so do a pause (then single steps) and a stop."""
    X, Y = blobs
    trainer = Trainer(Network(SPEC, seed=7), X, Y, config("sgd"))
    trainer.set_pace(0.001)
    thread = threading.Thread(target=trainer.run, args=(1,))
    thread.start()
    try:
        wait_until(lambda: trainer.step_count == 1)  # the first step goes at once
        trainer.pause()
        wait_until(lambda: trainer.is_waiting)
        trainer.step()
        wait_until(lambda: trainer.step_count == 2 and trainer.is_waiting)
        trainer.resume()  # still slow: waits for the next step's time
        trainer.set_pace(None)
        thread.join(30)
        assert not thread.is_alive() and trainer.epoch == 1
    finally:
        if thread.is_alive():
            trainer.stop()
            thread.join(30)
    trainer.set_pace(0.001)
    thread = threading.Thread(target=trainer.run, args=(1,))
    thread.start()
    wait_until(lambda: trainer.step_count == 14)
    trainer.stop()
    thread.join(30)
    assert not thread.is_alive() and trainer.last_result.stopped == "stopped"


# ---------------------------------------------------------------------------- a GPU run
class ChangeAt:
    """Asks ``trainer.change(**change)`` during forward pass number ``at`` (in the middle of
    a step, between two reports: applied before the next step)."""

    def __init__(self, trainer: Trainer, at: int, **change) -> None:
        self.trainer, self.at, self.change, self.calls = trainer, at, change, 0
        self.forward = trainer.network.forward
        trainer.network.forward = self

    def __call__(self, X):
        self.calls += 1
        if self.calls == self.at:
            self.trainer.change(**self.change)
        return self.forward(X)


@pytest.mark.parametrize("lr, stopped", [(0.02, "completed"), (1e300, "nan")])
def test_a_change_between_two_checks_of_a_deferred_guard_is_exact(lr, stopped):
    """On a GPU the NaN guard is read only at reports: a change is applied after reading it,
    so that a non-finite step after the change goes back to the change's own point, and the
    run equals a CPU run checking every step, bit for bit (diverging or not)."""
    from fake_gpu import fake_gpu
    from test_deferred_guard import make, same_run

    from desktop_nn.backend import cpu_backend

    config = dict(lr=0.05, epochs=3, batch_size=8, optimizer="momentum", report_every=4)
    checked = make(cpu_backend(), TrainConfig(**config))
    deferred = make(fake_gpu(), TrainConfig(**config))
    assert deferred.defer_guard
    for t in (checked, deferred):
        ChangeAt(t, 11, lr=lr)  # forward 11: step 9 (6 steps an epoch, 2 evaluations)
    a, b = checked.run(), deferred.run()
    assert a.stopped == stopped
    same_run(checked, deferred, a, b)
    assert checked.history.changes == deferred.history.changes
    assert [(c.step, c.new) for c in deferred.history.changes] == [(9, lr)]  # not a report
