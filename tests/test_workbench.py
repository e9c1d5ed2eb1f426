"""The workbench, with no Qt: the life of a run (plan, make, train, continue, set aside, move
to the CPU) and the model in hand. Each policy is tested here once; the window's and the
command line's tests only check that they show what the workbench says.

Work is run by a :class:`QueuedExecutor`, which holds it until the test says, so that what a
user asks while a run is being made can be tested without threads; the stand-in GPU of
fake_gpu.py stands for a device."""

from __future__ import annotations

import threading
import time
import weakref
from dataclasses import dataclass, field

import numpy as np
import pytest
from fake_gpu import FailingForward, fake_gpu, out_of_memory_in

import desktop_nn.train.device_memory as device_memory
import desktop_nn.workbench.building as building
from desktop_nn.data.dataset import Dataset, Normalisation, PreparedData
from desktop_nn.io.model_file import ModelFile
from desktop_nn.nn.network import Network, NetworkSpec
from desktop_nn.train.device_memory import OutOfDeviceMemory, held_bytes
from desktop_nn.train.trainer import SetAsideRun, TrainConfig, Trainer
from desktop_nn.workbench import (
    Fresh,
    Imported,
    InlineExecutor,
    RunRequest,
    SetAside,
    Training,
    Workbench,
)


class QueuedExecutor:
    """Holds submitted work until :meth:`run_next` (or :meth:`run_all`) runs it."""

    def __init__(self) -> None:
        self.queue: list[tuple] = []

    def submit(self, name, work, done, failed) -> None:
        self.queue.append((name, work, done, failed))

    def run_next(self) -> str:
        name, work, done, failed = self.queue.pop(0)
        InlineExecutor().submit(name, work, done, failed)
        return name

    def run_all(self) -> list[str]:
        names = []
        while self.queue:
            names.append(self.run_next())
        return names


@dataclass
class Seen:
    """Everything the workbench said, in order."""

    events: list[tuple] = field(default_factory=list)

    def of(self, kind: str) -> list[tuple]:
        return [e[1:] for e in self.events if e[0] == kind]


def watched(workbench: Workbench) -> Seen:
    seen = Seen()
    e = workbench.events
    for name in ("device_changed", "notice", "run_made", "training_started", "training_ended",
                 "not_made", "failed", "finished", "model_changed"):
        getattr(e, name).connect(lambda *args, name=name: seen.events.append((name, *args)))
    return seen


def prepared(n_x: int = 6, m: int = 40, m_val: int = 10, seed: int = 0) -> PreparedData:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_x, m + m_val)).astype(np.float32)
    Y = (X[:1] > 0).astype(np.float32)
    names = ["neg", "pos"]
    return PreparedData(Dataset(X[:, :m], Y[:, :m], names),
                        Dataset(X[:, m:], Y[:, m:], names) if m_val else None, None,
                        Normalisation("none"), names, None)


def request(data: PreparedData, device: str = "cpu", key: str | None = "k", epochs: int = 2,
            **config) -> RunRequest:
    spec = NetworkSpec(data.train.n_x, [5], ["tanh"], 1)
    config = TrainConfig(**{"lr": 0.1, "epochs": epochs, "batch_size": 8, **config})
    return RunRequest(spec, config, "float32", device, data, key=key,
                      settings={"designer": {"layers": [[5, "tanh"]]}, "training": {}})


def straight_through(data: PreparedData, epochs: int, **config) -> Trainer:
    req = request(data, epochs=epochs, **config)
    net = Network(req.spec, seed=req.config.seed)
    trainer = Trainer(net, data.train.X, data.train.Y, req.config, X_val=data.val.X,
                      Y_val=data.val.Y)
    trainer.run()
    return trainer


def same_weights(a: Network, b: Network) -> bool:
    return all(np.array_equal(x, y) for x, y in zip(a.get_parameters()[0],
                                                    b.get_parameters()[0], strict=True))


@pytest.fixture
def gpu(monkeypatch):
    """The stand-in GPU is what "auto" and "gpu" find; ``free["bytes"]`` is its free memory,
    read at each check."""
    free = {"bytes": 10**12}
    monkeypatch.setattr(device_memory, "select_backend", lambda choice: fake_gpu(
        free["bytes"]) if choice != "cpu" else device_memory.cpu_backend("chosen"))
    return free


# ---------------------------------------------------------------------------- a run's life
def test_a_run_is_made_then_trained_and_the_same_key_continues_it():
    data = prepared()
    wb = Workbench()
    seen = watched(wb)
    assert isinstance(wb.state, Fresh) and wb.in_hand() is None
    wb.start(request(data, epochs=1))
    first = wb.trainer
    assert isinstance(wb.state, Training) and first.epoch == 1
    assert [e[0] for e in seen.events if e[0] != "model_changed"] == [
        "device_changed", "run_made", "training_started", "training_ended", "finished"]
    assert seen.of("run_made") == [(first, True)]
    wb.start(request(data, epochs=1))  # same key: the same run, one more epoch
    assert wb.trainer is first and first.epoch == 2
    assert same_weights(first.network, straight_through(data, 2).network)
    assert len(wb.runs) == 1 and wb.current_run.history is first.history
    wb.start(request(data, epochs=1, key="other"))  # other settings: a new run
    assert wb.trainer is not first and wb.trainer.epoch == 1 and len(wb.runs) == 2


def test_the_model_in_hand_is_the_runs_with_its_data_and_settings():
    data = prepared()
    wb = Workbench()
    with pytest.raises(ValueError, match="No model yet"):
        wb.current_model()
    req = request(data)
    wb.start(req)
    held = wb.in_hand()
    assert held.network is wb.trainer.network and held.data is data
    assert (held.epoch, held.steps) == (2, wb.trainer.step_count)
    model = wb.current_model()
    assert not model.network.backend.is_gpu and model.network is not held.network
    assert same_weights(model.network, held.network)
    assert model.class_names == ["neg", "pos"] and model.normalisation == {"kind": "none"}
    assert model.training["settings"] == req.settings and model.training["epochs"] == 2
    assert model.training["train_accuracy"] == wb.trainer.history.epochs[-1].train_accuracy


def test_an_imported_model_is_the_start_point_until_reset():
    data = prepared()
    trained = Workbench()
    trained.start(request(data, epochs=1))
    model = trained.current_model()
    state = trained.trainer.checkpoint()
    wb = Workbench()
    wb.import_model(model, state)
    assert isinstance(wb.state, Imported) and wb.current_model() is model
    assert wb.saved_state() == (model, state)
    wb.start(request(data, epochs=1))  # goes on from the imported weights and state
    assert wb.trainer.epoch == 2 and wb.trainer.step_count == 2 * wb.trainer.steps_per_epoch
    assert same_weights(wb.trainer.network, straight_through(data, 2).network)
    wb.start(request(data, epochs=1, key="other"))  # a new run starts from them again
    assert wb.trainer.epoch == 2
    assert wb.reset()
    assert isinstance(wb.state, Imported)  # still what Predict and the tabs show
    wb.start(request(data, epochs=1, key="third"))  # but the next run starts afresh
    assert wb.trainer.epoch == 1
    assert wb.forget() and isinstance(wb.state, Fresh) and len(wb.runs) == 0


def test_a_model_for_other_inputs_is_no_start_point_and_says_why():
    data = prepared()
    other = Network(NetworkSpec(6, [5], ["tanh"], 1), seed=7)
    model = ModelFile(network=other, class_names=["neg", "pos"], input_shape=None,
                      normalisation={"kind": "scale", "factor": 1 / 255})
    wb = Workbench()
    seen = watched(wb)
    wb.import_model(model)
    wb.start(request(data, epochs=1))
    assert any("Starting from fresh weights" in n[0] and "scaled" in n[0]
               for n in seen.of("notice"))
    fresh = Network(request(data).spec, seed=0)
    trained = straight_through(data, 1)
    assert not same_weights(fresh, other) and same_weights(wb.trainer.network, trained.network)


def test_given_initial_parameters_are_what_the_run_starts_from():
    data = prepared()
    start = Network(request(data).spec, seed=9)
    req = request(data, epochs=0)
    req.initial_parameters = start.get_parameters()
    wb = Workbench()
    wb.make_run(req)
    assert wb.trainer.step_count == 0 and same_weights(wb.trainer.network, start)


def test_a_run_that_cannot_be_made_says_so_and_keeps_the_model_in_hand():
    data = prepared()
    wb = Workbench()
    wb.start(request(data, epochs=1))
    first = wb.trainer
    seen = watched(wb)
    bad = request(data, key="other")
    bad.data = prepared(n_x=6, m=40, m_val=0)
    bad.data.train.Y = np.zeros((2, 40), np.float32)  # two outputs' targets for one output
    wb.start(bad)
    assert wb.trainer is first and not wb.is_busy()
    (message, refused), = seen.of("not_made")
    assert refused and "training Y has shape (2, 40)" in message
    assert seen.of("finished") == [(None,)]


def test_an_error_in_training_is_reported_and_the_workbench_stays_usable(monkeypatch):
    data = prepared()
    wb = Workbench()
    seen = watched(wb)
    monkeypatch.setattr(Trainer, "run", lambda self, *a, **kw: 1 / 0)
    wb.start(request(data))
    assert seen.of("failed") == [("ZeroDivisionError: division by zero",)]
    assert seen.of("training_ended") == [(None, False)] and seen.of("finished") == [(None,)]
    assert not wb.is_busy() and wb.last_result is None
    monkeypatch.undo()
    wb.start(request(data))
    assert wb.last_result.stopped == "completed"


def test_a_bad_configuration_is_refused_before_anything_is_made():
    wb = Workbench()
    with pytest.raises(ValueError, match="learning rate"):
        wb.start(request(prepared(), lr=-1.0))
    assert not wb.is_busy() and isinstance(wb.state, Fresh)


# ---------------------------------------------------------------------------- the controls
def in_a_thread(executor: QueuedExecutor) -> threading.Thread:
    """Run the next piece of work in a thread of its own (a training run that waits while
    paused must not block the test)."""
    thread = threading.Thread(target=executor.run_next)
    thread.start()
    return thread


def wait_until(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.001)


def test_pause_steps_and_stop_asked_while_the_run_is_made_are_applied():
    data = prepared()
    executor = QueuedExecutor()
    wb = Workbench(executor)
    wb.start(request(data, epochs=50))
    assert wb.is_busy() and wb.trainer is None and not wb.is_paused()
    wb.step()
    wb.step()  # two steps asked: the run will be paused after them
    assert wb.is_paused()
    assert executor.run_next() == "buildJob"
    trainer = wb.trainer
    assert trainer.is_paused and executor.queue[0][0] == "trainingJob"
    thread = in_a_thread(executor)
    wait_until(lambda: trainer.is_waiting)
    assert trainer.step_count == 2 and wb.is_paused()
    wb.stop()
    thread.join()
    assert wb.last_result.stopped == "stopped" and not wb.is_busy()

    wb.start(request(data, key="other"))
    wb.stop()  # before the run is made: it stops before its first step
    executor.run_all()
    assert wb.trainer.step_count == 0 and wb.last_result.stopped == "stopped"

    wb.start(request(data, key="third", epochs=1))
    wb.step()
    wb.pause_or_resume()  # a step, then go on: runs on
    assert not wb.is_paused()
    executor.run_all()
    assert wb.last_result.stopped == "completed" and wb.trainer.epoch == 1


def test_closing_while_a_run_is_made_trains_nothing():
    executor = QueuedExecutor()
    wb = Workbench(executor)
    seen = watched(wb)
    wb.start(request(prepared()))
    wb.close()
    executor.run_all()
    assert executor.queue == [] and seen.of("training_started") == []
    with pytest.raises(RuntimeError):
        wb.start(request(prepared()))


def test_a_save_pauses_a_training_run_for_weights_and_state_that_agree():
    data = prepared()
    executor = QueuedExecutor()
    wb = Workbench(executor)
    wb.start(request(data, epochs=10_000))
    executor.run_next()
    trainer = wb.trainer
    thread = in_a_thread(executor)
    try:
        wait_until(lambda: trainer.step_count > 3)
        model, state = wb.saved_state()  # while it trains: the weights as they stand only
        assert model is not None and state is None
        with wb.paused_for_snapshot() as consistent:
            assert consistent and trainer.is_waiting
            model, state = wb.saved_state()
            assert state[0]["step_count"] == trainer.step_count == model.training["steps"]
            assert same_weights(model.network, trainer.network)
        assert not trainer.is_paused  # resumed
    finally:
        wb.stop()
        thread.join()


def test_a_save_waits_for_a_paused_run_to_finish_the_step_it_takes(monkeypatch):
    """Paused, then asked for a step: the run may be in the middle of it. A save waits for
    it to end (and refuses when it does not in time), and leaves the run paused."""
    import desktop_nn.workbench.workbench as workbench_module

    data = prepared()
    executor = QueuedExecutor()
    wb = Workbench(executor)
    wb.start(request(data, epochs=10), paused=True)
    executor.run_next()
    trainer = wb.trainer
    gate, inside = threading.Event(), threading.Event()
    forward = trainer.network.forward

    def slow_forward(X):
        inside.set()
        assert gate.wait(10)
        return forward(X)

    monkeypatch.setattr(trainer.network, "forward", slow_forward)
    thread = in_a_thread(executor)
    try:
        wb.step()
        assert inside.wait(10) and trainer.is_paused and not trainer.is_waiting
        monkeypatch.setattr(workbench_module, "SNAPSHOT_WAIT_S", 0.05)
        with wb.paused_for_snapshot() as consistent:
            assert not consistent  # mid-step: no snapshot
        gate.set()
        monkeypatch.setattr(workbench_module, "SNAPSHOT_WAIT_S", 5.0)
        with wb.paused_for_snapshot() as consistent:
            assert consistent and trainer.step_count == 1
            assert wb.saved_state()[1][0]["step_count"] == 1
        assert trainer.is_paused  # the user's pause stands
    finally:
        gate.set()
        wb.stop()
        thread.join()


# ---------------------------------------------------------------------------- devices
def test_the_memory_estimate_is_the_built_runs_own(gpu, monkeypatch):
    asked = []
    real = building.choose_training_backend
    monkeypatch.setattr(building, "choose_training_backend",
                        lambda choice, tensors, **kw: (asked.append(tensors),
                                                       real(choice, tensors, **kw))[1])
    wb = Workbench()
    wb.start(request(prepared(), device="gpu", report_every=3, optimizer="adam"))
    assert wb.trainer.network.backend.is_gpu and wb.trainer.defer_guard
    assert asked == [wb.trainer.memory_tensors()]
    assert any(t.name.startswith("the copy of W and b") for t in asked[0])


def test_auto_falls_back_to_the_cpu_and_gpu_refuses_when_the_gpu_is_too_small(gpu):
    gpu["bytes"] = 100
    wb = Workbench()
    wb.start(request(prepared(), device="auto"))
    assert wb.trainer.network.backend.label.startswith("CPU - NumPy (Fake GPU has 100 bytes")
    with pytest.raises(OutOfDeviceMemory, match="Not enough memory on Fake GPU.*largest"):
        wb.start(request(prepared(), device="gpu", key="other"))


@pytest.mark.parametrize("where", ["network", "trainer"])
def test_auto_makes_the_run_on_the_cpu_when_the_gpu_runs_out_making_it(gpu, monkeypatch,
                                                                       where):
    out_of_memory_in(monkeypatch, where)
    wb = Workbench()
    seen = watched(wb)
    wb.start(request(prepared(), device="auto"))
    assert wb.last_result.stopped == "completed"
    assert seen.of("device_changed")[-1] == ("CPU - NumPy (Fake GPU ran out of memory)",)
    wb2 = Workbench()
    seen2 = watched(wb2)
    wb2.start(request(prepared(), device="gpu"))  # chosen: refused, with the reason
    (message, refused), = seen2.of("not_made")
    assert refused and "Not enough memory on Fake GPU" in message


def test_auto_goes_on_on_the_cpu_when_the_gpu_runs_out_while_training(gpu, monkeypatch):
    data = prepared()
    real_init, trainers = Trainer.__init__, []

    def init(self, network, *a, **kw):
        real_init(self, network, *a, **kw)
        trainers.append(self)
        if len(trainers) == 1:  # the GPU run fails on its 5th step
            FailingForward(network, fail_at=5)

    monkeypatch.setattr(Trainer, "__init__", init)
    wb = Workbench()
    seen = watched(wb)
    wb.start(request(data, device="auto", epochs=3))
    gpu_run, cpu_run = trainers
    assert wb.trainer is cpu_run and not cpu_run.network.backend.is_gpu
    assert cpu_run.epoch == 3 and cpu_run.step_count == 3 * cpu_run.steps_per_epoch
    assert cpu_run.history is gpu_run.history and wb.last_result.stopped == "completed"
    assert seen.of("run_made") == [(gpu_run, True), (cpu_run, False)]
    (oom, continuing), (done, last) = seen.of("training_ended")
    assert oom.stopped == "out_of_memory" and continuing and not last
    assert any("Continuing on the CPU" in n[0] for n in seen.of("notice"))
    assert seen.of("device_changed")[-1] == ("CPU - NumPy (the GPU ran out of memory)",)
    assert len(seen.of("finished")) == 1
    assert same_weights(cpu_run.network, straight_through(data, 3).network)


def test_a_chosen_device_that_runs_out_while_training_stops_with_the_message(monkeypatch):
    real_init = Trainer.__init__

    def init(self, network, *a, **kw):
        real_init(self, network, *a, **kw)
        FailingForward(network, fail_at=3)

    monkeypatch.setattr(Trainer, "__init__", init)
    wb = Workbench()
    wb.start(request(prepared(), device="cpu"))
    result = wb.last_result
    assert result.stopped == "out_of_memory" and wb.trainer.step_count == 2
    assert "The largest tensor is" in result.message


def test_an_epoch_whose_evaluation_ran_out_on_the_gpu_is_reported_on_the_cpu(gpu,
                                                                             monkeypatch):
    real = Trainer.evaluate_data

    def gpu_fails_in_epoch_2(self, data, chunk=None):
        if self.network.backend.is_gpu and self.epoch == 2:
            raise MemoryError("Out of memory allocating 1,024 bytes (fake)")
        return real(self, data, chunk)

    monkeypatch.setattr(Trainer, "evaluate_data", gpu_fails_in_epoch_2)
    wb = Workbench()
    wb.start(request(prepared(), device="auto", epochs=2))
    trainer = wb.trainer
    assert wb.last_result.stopped == "completed" and not trainer.network.backend.is_gpu
    assert [e.epoch for e in trainer.history.epochs] == [1, 2] and not trainer.epoch_report_pending


def gpu_run(data: PreparedData) -> Workbench:
    wb = Workbench()
    wb.start(request(data, device="auto", epochs=1))
    assert wb.trainer.network.backend.is_gpu
    return wb


def test_a_new_gpu_run_sets_the_previous_one_aside_before_taking_gpu_memory(gpu,
                                                                             monkeypatch):
    data = prepared()
    wb = gpu_run(data)
    first = wb.trainer
    held = held_bytes(first.memory_tensors())
    gpu["bytes"] = int(held * 1.05)  # too little beside the first run, enough without it
    gone = weakref.ref(first)
    asked, made = [], []
    real_choose = building.choose_training_backend
    monkeypatch.setattr(building, "choose_training_backend", lambda choice, tensors, **kw: (
        asked.append(kw.get("reclaimable")), real_choose(choice, tensors, **kw))[1])
    real_network = Network.__init__

    def network_init(self, spec, backend=None, *a, **kw):
        made.append((backend.is_gpu, type(wb.state).__name__, gone() is None))
        real_network(self, spec, backend, *a, **kw)

    monkeypatch.setattr(Network, "__init__", network_init)
    del first
    wb.start(request(data, device="auto", key="other", epochs=1))
    # the memory check counted what the first run holds as free, and by the time the new
    # network was made nothing held the first run (its GPU arrays were freed)
    assert asked == [held]
    assert [m for m in made if m[0]] == [(True, "SetAside", True)]
    assert wb.trainer.network.backend.is_gpu and isinstance(wb.state, Training)


@pytest.mark.parametrize("where", ["network", "trainer"])
def test_the_set_aside_run_comes_back_on_the_cpu_when_the_new_one_cannot_be_made(
        gpu, monkeypatch, where):
    data = prepared()
    wb = gpu_run(data)
    first = wb.trainer
    weights, steps, history = first.network.get_parameters()[0], first.step_count, \
        first.history
    out_of_memory_in(monkeypatch, where)
    seen = watched(wb)
    del first
    wb.start(request(data, device="gpu", key="other"))
    (message, refused), = seen.of("not_made")
    assert refused and "Not enough memory on Fake GPU" in message
    kept = wb.trainer
    assert kept is not None and not kept.network.backend.is_gpu
    assert kept.step_count == steps and kept.history is history
    assert all(np.array_equal(a, b) for a, b in zip(kept.network.get_parameters()[0], weights,
                                                    strict=True))
    assert seen.of("device_changed")[-1][0].startswith("CPU - NumPy (moved off the GPU")


def test_set_aside_weights_that_cannot_come_back_stay_the_model_and_the_start_point(
        gpu, monkeypatch):
    data = prepared()
    wb = gpu_run(data)
    first = wb.trainer
    weights = [w.copy() for w in first.network.get_parameters()[0]]
    steps = first.step_count
    out_of_memory_in(monkeypatch, "trainer")
    monkeypatch.setattr(SetAsideRun, "resume", lambda self, *a: (_ for _ in ()).throw(
        MemoryError("no host memory either (fake)")))
    del first
    wb.start(request(data, device="gpu", key="other"))
    assert wb.trainer is None and isinstance(wb.state, SetAside)
    model, state = wb.saved_state()  # still saved, exported and inspected
    assert all(np.array_equal(a, b) for a, b in zip(model.network.get_parameters()[0],
                                                    weights, strict=True))
    assert state[0]["step_count"] == steps and model.training["steps"] == steps
    assert wb.in_hand().data is data
    monkeypatch.undo()
    wb.start(request(data, device="cpu", key="third", epochs=1))  # goes on from them
    assert wb.trainer.step_count == steps + wb.trainer.steps_per_epoch


def test_while_a_new_gpu_run_is_made_the_set_aside_run_is_what_a_save_writes(gpu):
    data = prepared()
    executor = QueuedExecutor()
    wb = Workbench(executor)
    wb.start(request(data, device="auto", epochs=1))
    executor.run_all()
    first = wb.trainer
    weights, steps = first.network.get_parameters()[0], first.step_count
    wb.start(request(data, device="auto", key="other"))
    assert isinstance(wb.state, SetAside) and wb.trainer is None
    model, state = wb.saved_state()
    assert all(np.array_equal(a, b) for a, b in zip(model.network.get_parameters()[0],
                                                    weights, strict=True))
    assert state[0]["step_count"] == steps
    executor.run_all()
    assert isinstance(wb.state, Training) and wb.trainer.network.backend.is_gpu


@pytest.mark.parametrize("how", ["imported", "initial parameters"])
def test_weights_beyond_float32_are_refused_at_start_and_the_model_kept(how):
    """A float64 model whose weights float32 cannot hold: a float32 run would train on inf
    weights (and nothing could be saved after): refused, saying what to choose."""
    data = prepared()
    big = Network(request(data).spec, dtype="float64", seed=3)
    W, b = big.get_parameters()
    W[0][0, 0] = 1e39  # beyond float32's 3.4e38
    big.set_parameters(W, b)
    model = ModelFile(network=big, class_names=["neg", "pos"], normalisation={"kind": "none"})
    wb = Workbench()
    seen = watched(wb)
    req = request(data, epochs=1)
    if how == "imported":
        wb.import_model(model)
    else:
        req.initial_parameters = (W, b)
    wb.start(req)
    (message, refused), = seen.of("not_made")
    assert refused and "do not fit float32" in message and "choose float64" in message
    assert wb.trainer is None and not wb.is_busy()
    if how == "imported":
        assert isinstance(wb.state, Imported) and wb.current_model() is model
        assert wb.current_model().network.get_parameters()[0][0][0, 0] == 1e39
    req.dtype = "float64"  # as the message says
    wb.start(req)
    assert wb.trainer is not None and np.isfinite(wb.trainer.network.get_parameters()[0][0]).all()
