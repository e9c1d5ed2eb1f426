"""Continuing a saved run: weights + trainer state give the same weights as training straight
through, for every optimiser; bad state files are refused with a message naming the file."""

from __future__ import annotations

import numpy as np
import pytest

from desktop_nn.io.model_file import ModelFile, load_model, save_model
from desktop_nn.io.trainer_state import (
    TrainerStateError,
    load_trainer_state,
    save_trainer_state,
)
from desktop_nn.nn.network import Network, NetworkSpec
from desktop_nn.train.trainer import TrainConfig, Trainer

SPEC = NetworkSpec(2, [5, 4], ["tanh", "relu"], 1, "sigmoid", "cross-entropy", "he")


def config(optimizer: str, epochs: int) -> TrainConfig:
    lr = 0.01 if optimizer == "adam" else 0.1
    return TrainConfig(lr=lr, epochs=epochs, batch_size=16, optimizer=optimizer, seed=3,
                       l2=0.01)


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam"])
def test_save_reopen_and_continue_equals_training_straight_through(blobs, tmp_path, optimizer):
    X, Y = blobs
    straight = Network(SPEC, seed=7, dtype="float64")
    Trainer(straight, X, Y, config(optimizer, 4)).run()

    first = Network(SPEC, seed=7, dtype="float64")
    trainer = Trainer(first, X, Y, config(optimizer, 2))
    trainer.run()
    save_model(tmp_path / "m.npz", ModelFile(network=first))
    save_trainer_state(tmp_path / "m.state.npz", *trainer.checkpoint())
    del first, trainer

    reopened = load_model(tmp_path / "m.npz").network
    again = Trainer(reopened, X, Y, config(optimizer, 2))
    again.restore(*load_trainer_state(tmp_path / "m.state.npz"))
    assert again.epoch == 2
    again.run()
    for a, b in zip(straight.get_parameters()[0] + straight.get_parameters()[1],
                    reopened.get_parameters()[0] + reopened.get_parameters()[1], strict=True):
        np.testing.assert_array_equal(a, b)
    assert again.epoch == 4 and again.optimizer.t == 4 * again.steps_per_epoch


def test_without_the_state_continuing_differs(blobs):
    """The state matters: a fresh trainer on the same weights reshuffles and forgets Adam."""
    X, Y = blobs
    straight = Network(SPEC, seed=7, dtype="float64")
    Trainer(straight, X, Y, config("adam", 4)).run()
    net = Network(SPEC, seed=7, dtype="float64")
    Trainer(net, X, Y, config("adam", 2)).run()
    Trainer(net, X, Y, config("adam", 2)).run()
    assert not np.array_equal(straight.get_parameters()[0][0], net.get_parameters()[0][0])


def test_state_for_another_optimiser_or_shape_is_refused(blobs):
    X, Y = blobs
    net = Network(SPEC, seed=0)
    t = Trainer(net, X, Y, config("adam", 1))
    t.run()
    state, arrays = t.checkpoint()
    other = Trainer(Network(SPEC, seed=0), X, Y, config("momentum", 1))
    with pytest.raises(ValueError, match="adam"):
        other.restore(state, arrays)
    wider = NetworkSpec(2, [6, 4], ["tanh", "relu"], 1, "sigmoid", "cross-entropy", "he")
    fresh = Trainer(Network(wider, seed=0), X, Y, config("adam", 1))
    with pytest.raises(ValueError, match="shape"):
        fresh.restore(state, arrays)
    assert fresh.epoch == 0 and fresh.optimizer.t == 0  # unchanged after a refusal


def test_bad_state_files_are_refused_naming_the_file(tmp_path):
    missing = tmp_path / "none.state.npz"
    with pytest.raises(TrainerStateError, match="none.state.npz: no such file"):
        load_trainer_state(missing)
    junk = tmp_path / "junk.state.npz"
    junk.write_bytes(b"not a zip")
    with pytest.raises(TrainerStateError, match="junk.state.npz: damaged"):
        load_trainer_state(junk)
    other = tmp_path / "other.npz"
    np.savez(other, W1=np.zeros(3))
    with pytest.raises(TrainerStateError, match="other.npz: not a desktop-nn training state"):
        load_trainer_state(other)
    pickled = tmp_path / "pickled.npz"
    np.savez(pickled, state=np.array([{"a": 1}], dtype=object))
    with pytest.raises(TrainerStateError, match="pickled.npz"):
        load_trainer_state(pickled)


def _stop_after(trainer: Trainer, steps: int) -> None:
    """Ask ``trainer`` to stop once it has taken ``steps`` steps (inside an epoch)."""
    def on_step(report):
        if trainer.step_count >= steps:
            trainer.stop()
    trainer.on_step = on_step
    trainer.config.report_every = 1


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_a_run_stopped_and_saved_inside_an_epoch_continues_the_same_shuffle(blobs, tmp_path,
                                                                            optimizer):
    X, Y = blobs
    straight = Network(SPEC, seed=7, dtype="float64")
    Trainer(straight, X, Y, config(optimizer, 2)).run()

    first = Network(SPEC, seed=7, dtype="float64")
    trainer = Trainer(first, X, Y, config(optimizer, 2))
    _stop_after(trainer, 7)  # 13 steps per epoch: stopped inside the first epoch
    assert trainer.run().stopped == "stopped" and trainer.step_count == 7
    save_model(tmp_path / "m.npz", ModelFile(network=first))
    save_trainer_state(tmp_path / "m.state.npz", *trainer.checkpoint())

    reopened = load_model(tmp_path / "m.npz").network
    again = Trainer(reopened, X, Y, config(optimizer, 2))
    again.restore(*load_trainer_state(tmp_path / "m.state.npz"))
    again.run()
    assert again.step_count == 2 * again.steps_per_epoch == 26
    for a, b in zip(straight.get_parameters()[0], reopened.get_parameters()[0], strict=True):
        np.testing.assert_array_equal(a, b)


def test_stop_and_start_again_inside_an_epoch_equals_straight_through(blobs):
    X, Y = blobs
    straight = Network(SPEC, seed=7, dtype="float64")
    Trainer(straight, X, Y, config("momentum", 2)).run()
    net = Network(SPEC, seed=7, dtype="float64")
    trainer = Trainer(net, X, Y, config("momentum", 2))
    _stop_after(trainer, 5)
    trainer.run()
    trainer.on_step = None
    trainer.run()
    assert trainer.epoch == 2 and trainer.step_count == 26
    for a, b in zip(straight.get_parameters()[0], net.get_parameters()[0], strict=True):
        np.testing.assert_array_equal(a, b)


def test_a_position_saved_at_another_batch_size_restarts_the_interrupted_epoch(blobs):
    X, Y = blobs
    trainer = Trainer(Network(SPEC, seed=7, dtype="float64"), X, Y, config("sgd", 1))
    _stop_after(trainer, 3)
    trainer.run()
    state, arrays = trainer.checkpoint()
    assert state["batch_in_epoch"] == 3 and state["batch_size"] == 16
    wider = config("sgd", 1)
    wider.batch_size = 50
    again = Trainer(Network(SPEC, seed=7, dtype="float64"), X, Y, wider)
    again.restore(state, arrays)
    again.run()
    # the whole epoch, at the new batch size: no example skipped
    assert again.step_count == 3 + 4 and again.examples_seen == trainer.examples_seen + 200
    bogus = dict(state, batch_in_epoch=999)
    other = Trainer(Network(SPEC, seed=7, dtype="float64"), X, Y, config("sgd", 1))
    other.restore(bogus, arrays)
    other.run()
    assert other.step_count == 3 + 13  # a full epoch, not an empty one


def test_a_position_saved_before_device_shuffles_restarts_the_interrupted_epoch(blobs):
    """A state without the shuffle's name was saved when the order was drawn another way:
    its position inside an epoch would skip batches of a different order."""
    X, Y = blobs
    trainer = Trainer(Network(SPEC, seed=7, dtype="float64"), X, Y, config("sgd", 1))
    _stop_after(trainer, 3)
    trainer.run()
    state, arrays = trainer.checkpoint()
    legacy = {k: v for k, v in state.items() if k != "shuffle"}
    again = Trainer(Network(SPEC, seed=7, dtype="float64"), X, Y, config("sgd", 1))
    again.restore(legacy, arrays)
    again.run()
    assert again.step_count == 3 + 13 and again.examples_seen == trainer.examples_seen + 200
    same = Trainer(Network(SPEC, seed=7, dtype="float64"), X, Y, config("sgd", 1))
    same.restore(state, arrays)
    same.run()
    assert same.step_count == 13  # the rest of the interrupted epoch


def _changed(state: dict, path: str, value) -> dict:
    import copy

    state = copy.deepcopy(state)
    *outer, last = path.split(".")
    d = state
    for k in outer:
        d = d[k]
    if value is None:
        d.pop(last)
    else:
        d[last] = value
    return state


@pytest.mark.parametrize("path, value", [
    ("epoch", float("inf")), ("epoch", -1), ("step_count", "7"), ("examples_seen", None),
    ("batch_in_epoch", -2), ("optimizer.t", -1), ("optimizer.t", 2.5), ("optimizer", None),
    ("optimizer", "adam"), ("rng.state.state", -1), ("rng.state", None), ("rng", [1]),
    ("rng.uinteger", 2**40), ("rng.bit_generator", "Bogus"),
    ("arrays", "s/b/1 missing"), ("arrays", "v/W/0 negative s"), ("arrays", "s/W/0 NaN"),
    ("arrays", "s/W/0 1e300"), ("arrays", "x/W/0"), ("arrays", "v/W/0 3-d"),
])
def test_a_state_with_bad_values_is_a_valueerror_with_a_message(blobs, path, value):
    """Trainer.restore (the workbench's build, at Start) raises ValueError, with a message,
    for every state a run cannot go on from, and leaves the trainer as it was."""
    X, Y = blobs
    t = Trainer(Network(SPEC, seed=0, dtype="float64"), X, Y, config("adam", 1))
    t.run()
    state, arrays = t.checkpoint()
    arrays = dict(arrays)
    if path == "arrays":
        key, _, how = value.partition(" ")
        if how == "missing":
            del arrays[key]
        elif how == "negative s":
            arrays["s/W/0"] = -arrays["s/W/0"] - 1
        elif how == "NaN":
            arrays[key] = np.full_like(arrays[key], np.nan)
        elif how == "1e300":  # fits the saved float64, not the float32 run it goes to
            arrays[key] = np.full_like(arrays[key], 1e300)
        elif how == "3-d":
            arrays[key] = arrays[key][None]
        else:
            arrays[key] = arrays["v/W/0"]
    else:
        state = _changed(state, path, value)
    fresh = Trainer(Network(SPEC, seed=0, dtype="float32"), X, Y, config("adam", 1))
    with pytest.raises(ValueError) as got:
        fresh.restore(state, arrays)
    assert type(got.value) is ValueError and "training state cannot be used" in str(got.value)
    assert fresh.epoch == 0 and fresh.optimizer.t == 0  # unchanged
    fresh.run()  # and it still trains
