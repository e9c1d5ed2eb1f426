"""A GPU run's deferred NaN guard (Trainer.defer_guard): the host reads the device only when a
report, an epoch's end, a pause or the run's end is due, and a run that meets a non-finite
step between two checks ends exactly as a run checking every step does.

The GPU is the test stand-in (NumPy arrays behind a backend that says it is a GPU), so every
number can be compared bit for bit with the CPU run that checks every step."""

from __future__ import annotations

import math
import threading

import numpy as np
import pytest
from fake_gpu import FailingForward, FakeGPU, fake_gpu

from desktop_nn.backend import cpu_backend
from desktop_nn.nn.network import Network, NetworkSpec
from desktop_nn.train.trainer import Go, TrainConfig, Trainer


def data(n_x=6, m=44, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_x, m))
    Y = (X[:1] + 0.3 * X[1:2] > 0).astype(float)
    return X, Y


def make(backend, config, spec=None, X=None, Y=None, **kwargs):
    if X is None:
        X, Y = data()
    spec = spec or NetworkSpec(X.shape[0], [5, 4], ["tanh"], 1)
    net = Network(spec, backend, seed=3)
    return Trainer(net, X, Y, config, X_val=X[:, :10], Y_val=Y[:, :10], **kwargs)


def same_run(a: Trainer, b: Trainer, ra, rb) -> None:
    assert (ra.stopped, ra.steps, ra.epochs, ra.nan_step, ra.nan_layer) == \
        (rb.stopped, rb.steps, rb.epochs, rb.nan_step, rb.nan_layer)
    assert ra.message == rb.message
    assert (math.isnan(ra.final_cost) and math.isnan(rb.final_cost)) or \
        ra.final_cost == rb.final_cost
    for x, y in zip(a.network.get_parameters()[0] + a.network.get_parameters()[1],
                    b.network.get_parameters()[0] + b.network.get_parameters()[1], strict=True):
        np.testing.assert_array_equal(x, y)
    assert [(s.step, s.batch_cost, s.examples_seen) for s in a.history.steps] == \
        [(s.step, s.batch_cost, s.examples_seen) for s in b.history.steps]
    assert [(e.epoch, e.step, e.train_cost, e.val_cost) for e in a.history.epochs] == \
        [(e.epoch, e.step, e.train_cost, e.val_cost) for e in b.history.epochs]
    assert a.checkpoint()[0] == b.checkpoint()[0]


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam"])
def test_a_gpu_run_defers_the_guard_and_trains_exactly_as_a_checked_run(optimizer):
    config = dict(lr=0.05, epochs=3, batch_size=8, optimizer=optimizer, report_every=4)
    checked = make(cpu_backend(), TrainConfig(**config))
    deferred = make(fake_gpu(), TrainConfig(**config))
    assert not checked.defer_guard and deferred.defer_guard
    same_run(checked, deferred, checked.run(), deferred.run())
    assert deferred._guard.unchecked == 0


class CountingGPU(FakeGPU):
    """Records the step count at every read of a device array by the host."""

    def to_host(self, a):
        self.reads.append(self.trainer.step_count if self.trainer else None)
        return np.asarray(a)


def test_the_host_reads_the_device_only_when_a_report_or_an_epoch_end_is_due():
    backend = CountingGPU(xp=np, name="cupy", device_name="Fake GPU", memory_bytes=10**12,
                          reason="a test stand-in")
    object.__setattr__(backend, "reads", [])
    object.__setattr__(backend, "trainer", None)
    config = TrainConfig(lr=0.05, epochs=2, batch_size=4, report_every=5)
    trainer = make(backend, config)
    object.__setattr__(backend, "trainer", trainer)
    backend.reads.clear()
    trainer.run()
    steps_per_epoch = trainer.steps_per_epoch  # 11
    due = {s for s in range(1, trainer.step_count + 1)
           if s % 5 == 0 or s % steps_per_epoch == 0}
    assert trainer.step_count == 22 and set(backend.reads) <= due
    # without deferral the same run reads the device at every step
    backend.reads.clear()
    trainer = make(backend, config)
    trainer.defer_guard = False
    object.__setattr__(backend, "trainer", trainer)
    trainer.run()
    assert set(range(1, 23)) <= {r + 1 for r in backend.reads if r is not None}


def diverging(backend, report_every):
    """A run whose weights blow up (huge learning rate, unbounded activations)."""
    X, Y = data(m=40)
    spec = NetworkSpec(6, [8], ["relu"], 1, "linear", "quadratic", "normal")
    return make(backend, TrainConfig(lr=4.0, epochs=200, batch_size=8,
                                     report_every=report_every), spec, X, Y)


@pytest.mark.parametrize("report_every", [7, 50])
def test_a_non_finite_step_between_checks_ends_the_run_as_a_checked_run_does(report_every):
    checked, deferred = diverging(cpu_backend(), report_every), diverging(fake_gpu(),
                                                                         report_every)
    ra, rb = checked.run(), deferred.run()
    assert ra.stopped == "nan" and ra.nan_step % report_every != 0  # found between checks
    same_run(checked, deferred, ra, rb)
    assert all(np.isfinite(w).all() for w in deferred.network.W)


def test_a_failed_check_whose_steps_turn_out_finite_when_taken_again_goes_on():
    """A device need not repeat a computation bit for bit: when the steps taken again after
    a failed check are all finite, the run goes on from where it was."""
    config = dict(lr=0.05, epochs=3, batch_size=8, optimizer="adam", report_every=4)
    checked = make(cpu_backend(), TrainConfig(**config))
    deferred = make(fake_gpu(), TrainConfig(**config))
    spoiled = _spoil_first_checks(deferred, (6, 8))
    same_run(checked, deferred, checked.run(), deferred.run())
    assert spoiled == [6, 8]  # an epoch's end (6 steps an epoch) and a report


def _spoil_first_checks(trainer: Trainer, steps: tuple[int, ...]) -> list[int]:
    """Make the first check at each of ``steps`` fail, as if a step since the last check
    had been non-finite; the returned list fills with the steps spoiled."""
    real_check = trainer._check
    spoiled: list[int] = []

    def check_once_spoiled():
        if trainer.step_count in steps and trainer._guard.unchecked and \
                trainer.step_count not in spoiled:
            spoiled.append(trainer.step_count)
            trainer._guard.pending[...] = np.nan
        return real_check()

    trainer._check = check_once_spoiled
    return spoiled


def _count_double_buffers(monkeypatch) -> list:
    import desktop_nn.train.batch_feed as batch_feed

    made = []

    class CountedDoubleBuffer(batch_feed.DoubleBuffer):
        def __init__(self, *args, **kwargs):
            made.append(self)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(batch_feed, "DoubleBuffer", CountedDoubleBuffer)
    return made


def test_a_streamed_run_keeps_one_double_buffer_and_a_replay_has_its_own(monkeypatch):
    """Streamed from host memory, every epoch of a run goes through one double buffer
    (page-locked memory is slow to allocate); a failed check's replay takes its batches
    through a pair of its own, and the run still ends exactly as the checked CPU run."""
    made = _count_double_buffers(monkeypatch)
    config = dict(lr=0.05, epochs=3, batch_size=8, optimizer="momentum", report_every=4)
    checked = make(cpu_backend(), TrainConfig(**config))
    deferred = make(fake_gpu(), TrainConfig(**config), stream_data=True)
    assert deferred.streaming
    spoiled = _spoil_first_checks(deferred, (6, 8))
    same_run(checked, deferred, checked.run(), deferred.run())
    assert spoiled == [6, 8]
    assert len(made) == 1 + 2 and deferred._feed.upload is None  # the run's, two replays'
    deferred.run(1)
    assert len(made) == 4


@pytest.mark.parametrize("n", [1, 2, 3])
def test_a_streamed_run_paused_with_a_batch_copied_replays_without_touching_it(n):
    """A pause is checked after the next batch was copied but before it is trained on: the
    replay of a failed check must leave that batch (and its buffer's events) alone, so the
    run ends as the checked CPU run for any number n of replayed steps."""
    config = dict(lr=0.05, epochs=3, batch_size=8, optimizer="momentum", report_every=50)
    checked = make(cpu_backend(), TrainConfig(**config))
    deferred = make(fake_gpu(), TrainConfig(**config), stream_data=True)
    real_wait, real_check = deferred._wait_for_go, deferred._check
    state = {"paused": False, "spoil": False}

    def wait(unchecked=False):
        if unchecked and not state["paused"] and deferred.step_count == n:
            state["paused"] = state["spoil"] = True
            return Go.CHECK_FIRST  # "about to pause": the trainer checks first
        return real_wait(False)

    def check():
        if state["spoil"] and deferred._guard.unchecked:
            state["spoil"] = False
            deferred._guard.pending[...] = np.nan
        return real_check()

    deferred._wait_for_go, deferred._check = wait, check
    same_run(checked, deferred, checked.run(), deferred.run())
    assert state["paused"] and not state["spoil"]


def test_a_run_paused_between_reports_is_checked_before_it_waits():
    config = TrainConfig(lr=0.05, epochs=4, batch_size=8, report_every=50)
    trainer = make(fake_gpu(), config)
    steps = []
    real_step = trainer._train_step

    def step_then_pause(*args, **kwargs):
        out = real_step(*args, **kwargs)
        steps.append(trainer.step_count)
        if trainer.step_count == 3:
            trainer.pause()
        return out

    trainer._train_step = step_then_pause
    result = {}
    thread = threading.Thread(target=lambda: result.setdefault("r", trainer.run()))
    thread.start()
    for _ in range(500):
        if trainer.is_waiting:
            break
        threading.Event().wait(0.01)
    assert trainer.is_waiting and trainer.step_count == 3
    assert trainer._guard.unchecked == 0  # the paused weights have been checked
    trainer.stop()
    thread.join(5)
    assert result["r"].stopped == "stopped" and result["r"].steps == 3
    assert math.isfinite(result["r"].final_cost)


def checked_run_of(steps, config):
    """The CPU run that checks every step, stopped after ``steps`` steps."""
    trainer = make(cpu_backend(), config)
    real_step = trainer._train_step

    def step_then_stop(*args, **kwargs):
        out = real_step(*args, **kwargs)
        if trainer.step_count == steps:
            trainer.stop()
        return out

    trainer._train_step = step_then_stop
    return trainer, trainer.run()


def test_a_stop_between_reports_checks_the_steps_taken_first():
    config = dict(lr=0.05, epochs=4, batch_size=8, optimizer="momentum", report_every=4)
    checked, ra = checked_run_of(7, TrainConfig(**config))
    deferred = make(fake_gpu(), TrainConfig(**config))
    real_step, real_check, spoiled = deferred._train_step, deferred._check, []

    def step_then_stop(*args, **kwargs):
        out = real_step(*args, **kwargs)
        if deferred.step_count == 7:
            deferred.stop()
        return out

    def check():
        if deferred.step_count == 7 and deferred._guard.unchecked:  # steps 5 to 7
            spoiled.append(7)
            deferred._guard.pending[...] = np.inf
        return real_check()

    deferred._train_step, deferred._check = step_then_stop, check
    rb = deferred.run()
    assert spoiled == [7] and rb.stopped == "stopped" and rb.steps == 7
    same_run(checked, deferred, ra, rb)


def test_out_of_memory_with_a_non_finite_unchecked_step_keeps_the_checked_copy():
    config = dict(lr=0.05, epochs=4, batch_size=8, report_every=4, evaluate=False)
    checked, _ = checked_run_of(4, TrainConfig(**config))
    deferred = make(fake_gpu(), TrainConfig(**config))
    FailingForward(deferred.network, fail_at=7)  # steps 5 and 6 are not checked yet
    real_step = deferred._train_step

    def spoil_step_6(*args, **kwargs):
        out = real_step(*args, **kwargs)
        if deferred.step_count == 6:
            deferred._guard.pending[...] = np.nan
        return out

    deferred._train_step = spoil_step_6
    result = deferred.run()
    assert result.stopped == "out_of_memory" and result.steps == 4
    assert "stopped at step 4" in result.message
    for x, y in zip(deferred.network.W, checked.network.W, strict=True):
        np.testing.assert_array_equal(x, y)
    assert deferred.checkpoint()[0] == checked.checkpoint()[0]


@pytest.mark.gpu
def test_on_the_gpu_deferred_and_checked_runs_end_alike():
    from desktop_nn.backend import select_backend

    gpu = select_backend("gpu")
    for report_every in (7, 50):
        runs = []
        for defer in (False, True):
            trainer = diverging(gpu, report_every)
            trainer.defer_guard = defer
            runs.append((trainer, trainer.run()))
        (a, ra), (b, rb) = runs
        assert ra.stopped == rb.stopped == "nan"
        assert (ra.nan_step, ra.nan_layer, ra.message) == (rb.nan_step, rb.nan_layer, rb.message)
        for x, y in zip(a.network.get_parameters()[0], b.network.get_parameters()[0],
                        strict=True):
            np.testing.assert_allclose(x, y, rtol=1e-12, atol=0)
    config = dict(lr=0.05, epochs=3, batch_size=8, optimizer="adam", report_every=4)
    a, b = make(gpu, TrainConfig(**config)), make(gpu, TrainConfig(**config))
    a.defer_guard = False
    ra, rb = a.run(), b.run()
    assert (ra.stopped, ra.steps) == (rb.stopped, rb.steps) == ("completed", 18)
    assert ra.final_cost == pytest.approx(rb.final_cost, rel=1e-9)
    for x, y in zip(a.network.get_parameters()[0], b.network.get_parameters()[0], strict=True):
        np.testing.assert_allclose(x, y, rtol=1e-9, atol=1e-12)
