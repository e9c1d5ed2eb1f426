"""Out of device memory: the estimate of what a run keeps on the device, the fall back to the
CPU under "auto", the message naming the largest tensor, and a run that runs out of memory
half-way keeping its last good weights (tested with a stand-in GPU backend)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from fake_gpu import FailingForward, fake_gpu, out_of_memory_in

import desktop_nn.train.device_memory as device_memory
from desktop_nn.backend import cpu_backend
from desktop_nn.cli import main
from desktop_nn.nn.network import Network, NetworkSpec
from desktop_nn.train.device_memory import (
    OutOfDeviceMemory,
    choose_training_backend,
    held_bytes,
    out_of_memory_message,
    streamed,
    total_bytes,
    training_tensors,
)
from desktop_nn.train.trainer import TrainConfig, Trainer


def data(n_x=6, m=40, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_x, m))
    Y = (X[:1] > 0).astype(float)
    return X, Y


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("gpu", [False, True])
def test_the_estimate_counts_every_array_the_trainer_keeps(optimizer, dtype, gpu):
    X, Y = data()
    net = Network(NetworkSpec(6, [5, 3], ["tanh"], 1), fake_gpu() if gpu else cpu_backend(),
                  dtype=dtype)
    trainer = Trainer(net, X[:, :30], Y[:, :30], TrainConfig(epochs=1, batch_size=8,
                                                             optimizer=optimizer),
                      X_val=X[:, 30:], Y_val=Y[:, 30:])
    trainer.run()
    opt = trainer.optimizer
    arrays = [trainer.train.XT, trainer.train.YT, trainer.val.XT, trainer.val.YT,
              *net.W, *net.b, *trainer._grads.dW, *trainer._grads.db,
              *opt.scratch.values(), *getattr(opt, "v", {}).values(),
              *getattr(opt, "s", {}).values()]
    if gpu:  # the deferred NaN guard's copy of the weights and optimiser state
        assert trainer._guard.copy._copies
        arrays += trainer._guard.copy._copies
    kept = [t for t in trainer.memory_tensors() if t.kind in ("data", "parameters")
            and not t.name.startswith("the diagnostics")]
    shuffle_order = 30 * 8  # the epoch's permutation, int64, alive while an epoch runs
    assert total_bytes(kept) == sum(a.nbytes for a in arrays) + shuffle_order
    # between runs (a run's end frees the epoch's buffers and the step's temporaries)
    assert held_bytes(trainer.memory_tensors()) == sum(a.nbytes for a in arrays)


def test_the_temporaries_are_a_step_or_an_evaluation_whichever_is_bigger():
    sizes = [100, 50, 10]
    small_batch = training_tensors(sizes, 50_000, batch_size=10)
    assert {t.kind for t in small_batch} >= {"evaluation"}
    full_batch = training_tensors(sizes, 50_000, batch_size=0)
    assert "evaluation" not in {t.kind for t in full_batch}
    z1 = next(t for t in full_batch if t.name.startswith("Z[1]"))
    assert z1.shape == (50, 50_000) and z1.count == 2


def message_for(sizes, m, batch):
    tensors = training_tensors(sizes, m, batch_size=batch)
    return out_of_memory_message(tensors, "Fake GPU", free_bytes=1_000_000)


def test_the_message_names_the_largest_tensor_and_what_to_change():
    big_data = message_for([12288, 20, 1], 200_000, 64)
    assert "the training images XT, 200000 x 12288 float32 = 9.8 GB" in big_data
    assert "To fit, use smaller images or fewer of them, or train on the CPU" in big_data
    assert "1.0 MB free" in big_data
    assert big_data.startswith("Not enough memory on Fake GPU: this training needs about")
    big_batch = message_for([100, 100_000, 10], 1000, 0)
    assert "Z[1] and A[1] of one mini-batch, 100000 x 1000 float32" in big_batch
    assert "smaller mini-batch size" in big_batch
    wide = message_for([50_000, 50_000, 10], 100, 10)
    assert "W[1] with its gradient and sgd state" in wide and "fewer units" in wide


def test_auto_falls_back_to_the_cpu_and_gpu_refuses_with_the_reason(monkeypatch):
    tensors = training_tensors([784, 1000, 10], 60_000, batch_size=64)
    need, without_data = total_bytes(tensors), total_bytes(streamed(tensors))
    assert without_data < need / 2
    monkeypatch.setattr(device_memory, "select_backend",
                        lambda choice: fake_gpu(without_data // 2))
    auto = choose_training_backend("auto", tensors)
    assert not auto.is_gpu
    assert auto.reason.startswith("Fake GPU has") and "this training needs about" in auto.reason
    with pytest.raises(OutOfDeviceMemory,
                       match=r"largest tensor is Z\[1\] and A\[1\] of one evaluation"):
        choose_training_backend("gpu", tensors)
    # the data set does not fit but the rest does: the GPU, with the data streamed
    monkeypatch.setattr(device_memory, "select_backend", lambda choice: fake_gpu(need // 2))
    assert choose_training_backend("gpu", tensors).is_gpu
    assert choose_training_backend("auto", tensors).is_gpu
    monkeypatch.setattr(device_memory, "select_backend", lambda choice: fake_gpu(need * 2))
    assert choose_training_backend("gpu", tensors).is_gpu
    monkeypatch.setattr(device_memory, "select_backend", lambda choice: cpu_backend())
    assert not choose_training_backend("cpu", tensors).is_gpu


def trained(X, Y, config, steps=None, backend=None):
    net = Network(NetworkSpec(6, [5], ["tanh"], 1), backend or cpu_backend(), seed=2)
    trainer = Trainer(net, X, Y, config)
    if steps is None:
        trainer.run()
    else:
        for _ in range(steps):
            trainer.step()
        thread_run(trainer, steps)
    return trainer


def thread_run(trainer, steps):
    """Run exactly ``steps`` steps (single steps, then stop)."""
    import threading

    t = threading.Thread(target=trainer.run)
    t.start()
    while trainer.step_count < steps:
        t.join(0.01)
    trainer.stop()
    t.join()


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_running_out_of_memory_half_way_keeps_the_last_weights_and_can_go_on(optimizer):
    X, Y = data()
    config = dict(lr=0.1, epochs=3, batch_size=8, optimizer=optimizer, evaluate=False)
    straight = trained(X, Y, TrainConfig(**config))  # 3 epochs of 5 steps, no interruption
    after_7 = trained(X, Y, TrainConfig(**config), steps=7)

    net = Network(NetworkSpec(6, [5], ["tanh"], 1), seed=2)
    trainer = Trainer(net, X, Y, TrainConfig(**config))
    FailingForward(net, fail_at=8)  # the 8th step's forward pass runs out of memory
    result = trainer.run()
    assert result.stopped == "out_of_memory" and result.steps == 7
    assert result.message.startswith("training stopped at step 7 (its weights are kept): "
                                     "Not enough memory on CPU")
    assert "The largest tensor is" in result.message
    for a, b in zip(net.get_parameters()[0], after_7.network.get_parameters()[0], strict=True):
        np.testing.assert_array_equal(a, b)
    # going on finishes the same run as if nothing had happened
    trainer.run(3 - trainer.epoch)
    for a, b in zip(net.get_parameters()[0], straight.network.get_parameters()[0],
                    strict=True):
        np.testing.assert_array_equal(a, b)


def test_running_out_of_memory_in_a_report_after_the_step_does_not_repeat_it(monkeypatch):
    import desktop_nn.train.trainer as trainer_module

    X, Y = data()
    config = dict(lr=0.1, epochs=3, batch_size=8, evaluate=False, report_every=2)
    straight = trained(X, Y, TrainConfig(**config))
    real, calls = trainer_module.StepDiagnostics.after_step, []

    def failing_second_report(*args):
        calls.append(1)
        if len(calls) == 2:
            raise MemoryError("Out of memory (fake)")
        return real(*args)

    monkeypatch.setattr(trainer_module.StepDiagnostics, "after_step", failing_second_report)
    net = Network(NetworkSpec(6, [5], ["tanh"], 1), seed=2)
    trainer = Trainer(net, X, Y, TrainConfig(**config))
    result = trainer.run()
    assert result.stopped == "out_of_memory" and result.steps == 4  # step 4 was taken
    trainer.run(3 - trainer.epoch)
    assert trainer.step_count == straight.step_count == 15
    for a, b in zip(net.get_parameters()[0], straight.network.get_parameters()[0],
                    strict=True):
        np.testing.assert_array_equal(a, b)


def test_a_run_moved_to_another_device_goes_on_exactly():
    X, Y = data()
    config = dict(lr=0.1, epochs=4, batch_size=8, optimizer="momentum")
    straight = trained(X, Y, TrainConfig(**config))
    first = trained(X, Y, TrainConfig(**config), steps=7, backend=fake_gpu())
    moved = first.moved_to(cpu_backend())
    assert not moved.network.backend.is_gpu and moved.step_count == 7
    assert moved.history is first.history
    moved.run(4 - moved.epoch)
    for a, b in zip(moved.network.get_parameters()[0], straight.network.get_parameters()[0],
                    strict=True):
        np.testing.assert_array_equal(a, b)
    assert [e.train_cost for e in moved.history.epochs] == \
        [e.train_cost for e in straight.history.epochs]


@pytest.mark.parametrize("shuffle", [True, False])
def test_a_data_set_too_big_for_the_gpu_is_streamed_and_trains_the_same(shuffle):
    X, Y = data(m=45)
    config = dict(lr=0.1, epochs=3, batch_size=8, shuffle=shuffle, optimizer="momentum")
    resident = trained(X, Y, TrainConfig(**config))
    net = Network(NetworkSpec(6, [5], ["tanh"], 1), fake_gpu(free=2000), seed=2)
    streamed_run = Trainer(net, X, Y, TrainConfig(**config), X_val=X[:, :10], Y_val=Y[:, :10])
    assert streamed_run.streaming and isinstance(streamed_run.train.XT, np.ndarray)
    assert not any(t.kind == "data" for t in streamed_run.memory_tensors())
    streamed_run.run()
    for a, b in zip(net.get_parameters()[0], resident.network.get_parameters()[0],
                    strict=True):
        np.testing.assert_array_equal(a, b)
    assert [e.train_cost for e in streamed_run.history.epochs] == \
        [e.train_cost for e in resident.history.epochs]
    assert streamed_run.history.epochs[-1].val_accuracy == \
        streamed_run.evaluate(X[:, :10], Y[:, :10]).accuracy


def test_a_gpu_that_runs_out_while_taking_the_data_streams_it(monkeypatch):
    X, Y = data()
    net = Network(NetworkSpec(6, [5], ["tanh"], 1), fake_gpu())
    real, calls = type(net.backend).transposed, []

    def no_room_for_the_data_set(self, X, dtype):
        calls.append(X.shape)
        if len(calls) == 1:  # the upload of the whole (6, 40) training set
            raise MemoryError("Out of memory allocating 960 bytes (fake)")
        return real(self, X, dtype)

    monkeypatch.setattr(type(net.backend), "transposed", no_room_for_the_data_set)
    trainer = Trainer(net, X, Y, TrainConfig(epochs=1, batch_size=8))
    assert calls == [(6, 40)]
    assert trainer.streaming
    assert trainer.run().stopped == "completed"


def test_data_that_do_not_fit_in_memory_at_all_are_refused_with_the_reason(monkeypatch):
    X, Y = data(n_x=60, m=40)
    net = Network(NetworkSpec(60, [5], ["tanh"], 1))

    def no_room(self, X, dtype):
        raise MemoryError("Unable to allocate 9.6 KB (fake)")

    monkeypatch.setattr(type(net.backend), "transposed", no_room)
    with pytest.raises(OutOfDeviceMemory, match="Not enough memory on CPU: .*The largest "
                                                "tensor is the training images XT, 40 x 60"):
        Trainer(net, X, Y, TrainConfig(batch_size=8))


def test_other_errors_are_not_taken_for_out_of_memory():
    X, Y = data()
    net = Network(NetworkSpec(6, [5], ["tanh"], 1))
    trainer = Trainer(net, X, Y, TrainConfig(epochs=1, batch_size=8))

    def broken(X):
        raise RuntimeError("something else")

    net.forward = broken
    with pytest.raises(RuntimeError, match="something else"):
        trainer.run()


def npz(tmp_path, X, Y):
    path = tmp_path / "d.npz"
    np.savez(path, X_train=X, Y_train=Y)
    return path


def test_cli_says_when_the_run_goes_on_on_the_cpu(tmp_path, capsys, monkeypatch):
    """The policy is the workbench's (tests/test_workbench.py); the CLI says so and reports
    the device the run ended on."""
    X, Y = data(m=60)
    monkeypatch.setattr(device_memory, "select_backend", lambda choice: fake_gpu())
    real_init = Network.__init__
    nets = []

    def init(self, *a, **kw):
        real_init(self, *a, **kw)
        nets.append(self)
        if len(nets) == 1:  # the first (GPU) network fails on its 4th step
            FailingForward(self, fail_at=4)

    monkeypatch.setattr(Network, "__init__", init)
    rc = main(["train", str(npz(tmp_path, X, Y)), "--epochs", "3", "--batch-size", "10",
               "--val-split", "0", "--device", "auto", "--json"])
    assert rc == 0
    captured = capsys.readouterr()
    assert "Continuing on the CPU" in captured.err
    out = json.loads(captured.out)
    assert out["stopped"] == "completed" and out["epochs"] == 3
    assert out["device"].startswith("CPU - NumPy (the GPU ran out of memory)")


def test_cli_gpu_that_cannot_hold_the_data_says_so(tmp_path, capsys, monkeypatch):
    X, Y = data(m=60)
    monkeypatch.setattr(device_memory, "select_backend", lambda choice: fake_gpu(free=10))
    rc = main(["train", str(npz(tmp_path, X, Y)), "--epochs", "1", "--device", "gpu"])
    assert rc == 2
    err = capsys.readouterr().err
    assert "Not enough memory on Fake GPU" in err and "The largest tensor is" in err


def test_cli_gpu_that_cannot_allocate_the_network_says_so(tmp_path, capsys, monkeypatch):
    X, Y = data(m=60)
    monkeypatch.setattr(device_memory, "select_backend", lambda choice: fake_gpu())
    out_of_memory_in(monkeypatch, "network")
    rc = main(["train", str(npz(tmp_path, X, Y)), "--epochs", "1", "--device", "gpu"])
    assert rc == 2
    err = capsys.readouterr().err
    assert "Not enough memory on Fake GPU" in err and "The largest tensor is" in err


def test_an_evaluation_that_runs_out_of_memory_goes_on_in_smaller_chunks(monkeypatch):
    import desktop_nn.train.evaluation as evaluation

    monkeypatch.setattr(evaluation, "MIN_EVAL_CHUNK", 4)
    X, Y = data(m=40)
    net = Network(NetworkSpec(6, [5], ["tanh"], 1), seed=2)
    trainer = Trainer(net, X, Y, TrainConfig(epochs=1, batch_size=8))
    expected = trainer.evaluate(X, Y)
    real = net.forward

    def small_chunks_only(x):
        if x.shape[1] > 10:
            raise MemoryError("Out of memory allocating a big chunk (fake)")
        return real(x)

    net.forward = small_chunks_only
    got = trainer.evaluate(X, Y)
    assert trainer._evaluator.chunk == 8  # 8192 halved until a chunk (min(size, 40) columns) fits
    assert got.accuracy == expected.accuracy
    assert got.cost == pytest.approx(expected.cost, rel=1e-6)
    net.forward = lambda x: (_ for _ in ()).throw(MemoryError("Out of memory (fake)"))
    with pytest.raises(MemoryError):  # down to the smallest chunk: the error goes on
        trainer.evaluate(X, Y)


def evaluation_out_of_memory_in_epoch_2(monkeypatch, trainer) -> None:
    """``trainer``'s evaluation runs out of memory (at the smallest chunk) while its epoch
    counter is 2, i.e. evaluating the end of epoch 2."""
    real = trainer.evaluate_data

    def fails(data, chunk=None):
        if trainer.epoch == 2:
            raise MemoryError("Out of memory allocating 1,024 bytes (fake)")
        return real(data, chunk)

    monkeypatch.setattr(trainer, "evaluate_data", fails)


@pytest.mark.parametrize("moved", [False, True])
def test_an_epoch_whose_evaluation_ran_out_of_memory_is_reported_by_the_next_run(
        monkeypatch, moved):
    """Out of memory in the epoch's evaluation (at the smallest chunk) stops the run; the run
    that goes on from it (on the same trainer, or moved to the CPU as "auto" does) makes that
    epoch's report first, so that no epoch is missing from the history and the curves."""
    X, Y = data(m=40)
    config = dict(lr=0.1, epochs=3, batch_size=8, optimizer="momentum")
    straight = trained(X, Y, TrainConfig(**config))
    net = Network(NetworkSpec(6, [5], ["tanh"], 1), fake_gpu() if moved else cpu_backend(),
                  seed=2)
    trainer = Trainer(net, X, Y, TrainConfig(**config))
    evaluation_out_of_memory_in_epoch_2(monkeypatch, trainer)
    result = trainer.run()
    assert result.stopped == "out_of_memory" and trainer.epoch == 2
    assert [e.epoch for e in trainer.history.epochs] == [1]
    monkeypatch.undo()
    if moved:
        trainer = trainer.moved_to(cpu_backend("the GPU ran out of memory"))
    trainer.run(1)
    assert [e.epoch for e in trainer.history.epochs] == [1, 2, 3]
    assert [e.train_cost for e in trainer.history.epochs] == \
        [e.train_cost for e in straight.history.epochs]
    assert [e.step for e in trainer.history.epochs] == [5, 10, 15]
    state, _ = trainer.checkpoint()
    assert state["epoch_report_due"] is False


def test_a_due_report_that_still_does_not_fit_is_dropped_and_training_goes_on(monkeypatch):
    X, Y = data(m=40)
    net = Network(NetworkSpec(6, [5], ["tanh"], 1), seed=2)
    trainer = Trainer(net, X, Y, TrainConfig(lr=0.1, epochs=3, batch_size=8))
    evaluation_out_of_memory_in_epoch_2(monkeypatch, trainer)
    assert trainer.run().stopped == "out_of_memory" and trainer.epoch_report_pending
    result = trainer.run(1)  # the due report fails again: without it, the epoch is trained
    assert result.stopped == "completed" and trainer.epoch == 3 and not trainer.epoch_report_pending
    assert [e.epoch for e in trainer.history.epochs] == [1, 3]


def test_a_streamed_run_keeps_two_mini_batch_buffers_instead_of_the_data():
    tensors = training_tensors([784, 100, 10], 60_000, 10_000, batch_size=64)
    on_device = streamed(tensors)
    assert not [t for t in on_device if t.kind == "data"]
    assert not [t for t in on_device if t.name.startswith("the mini-batch")]  # resident gather
    buffers = {t.name: t for t in on_device if t.name.startswith("two mini-batch buffers")}
    assert [(t.shape, t.count) for t in buffers.values()] == [((64, 784), 2), ((64, 10), 2)]
    assert total_bytes(on_device) < total_bytes(tensors) / 10
    # a GPU run's deferred guard may replay steps through a double buffer of its own
    deferred = streamed(training_tensors([784, 100, 10], 60_000, 10_000, batch_size=64,
                                         checked_copy=True))
    assert [(t.shape, t.count) for t in deferred if "mini-batch buffers" in t.name] == \
        [((64, 784), 4), ((64, 10), 4)]


@pytest.mark.gpu
@pytest.mark.parametrize("shuffle", [True, False])
def test_on_the_gpu_a_streamed_data_set_trains_as_a_resident_one(shuffle):
    from desktop_nn.backend import select_backend

    gpu = select_backend("gpu")
    X, Y = data(m=1000)
    config = dict(lr=0.1, epochs=3, batch_size=64, shuffle=shuffle, optimizer="adam",
                  report_every=5)
    runs = []
    for stream in (False, True):
        net = Network(NetworkSpec(6, [50], ["tanh"], 1), gpu, dtype="float32", seed=2)
        trainer = Trainer(net, X, Y, TrainConfig(**config), stream_data=stream)
        assert trainer.streaming == stream
        trainer.run()
        runs.append(trainer)
    for a, b in zip(runs[0].network.get_parameters()[0], runs[1].network.get_parameters()[0],
                    strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    assert [e.train_cost for e in runs[0].history.epochs] == \
        pytest.approx([e.train_cost for e in runs[1].history.epochs], rel=1e-6)
