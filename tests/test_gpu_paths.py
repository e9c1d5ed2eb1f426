"""The GPU paths that the stand-in GPU (fake_gpu.py) tests on every machine, run on a real CUDA
device with CuPy: a data set larger than a forced small device budget is streamed and trains
as a resident one, within that budget; a run set aside in host memory resumes exactly; and
when the GPU really runs out of memory (CuPy's memory pool limited), ``auto`` goes on on the
CPU. Marked ``gpu``: skipped only where no GPU is present (conftest.py).

The other GPU paths have their ``gpu`` tests beside their stand-in tests: the fused kernels
against the reference (test_backend.py, test_nn_gradcheck.py), the deferred NaN check against
a checked run (test_deferred_guard.py), a streamed run against a resident one
(test_device_memory.py) and the device shuffle against NumPy's (test_shuffle.py).
"""

from __future__ import annotations

import gc

import numpy as np
import pytest
from test_workbench import prepared, request, watched

from desktop_nn.backend import Backend, cpu_backend
from desktop_nn.nn.network import Network, NetworkSpec
from desktop_nn.train.trainer import TrainConfig, Trainer
from desktop_nn.workbench import Workbench

pytestmark = pytest.mark.gpu


@pytest.fixture
def gpu():
    """The GPU backend; CuPy's memory pool is unlimited and emptied again afterwards."""
    from desktop_nn.backend import select_backend

    backend = select_backend("gpu")
    pool = backend.xp.get_default_memory_pool()
    yield backend
    pool.set_limit(size=0)  # 0: no limit
    gc.collect()
    pool.free_all_blocks()


def limit_pool(backend: Backend, nbytes: int) -> None:
    """From now on CuPy's pool hands out at most ``nbytes`` in all: beyond, an allocation
    raises CuPy's OutOfMemoryError, as a full GPU does."""
    pool = backend.xp.get_default_memory_pool()
    gc.collect()
    pool.free_all_blocks()
    pool.set_limit(size=nbytes)


def classes(n_x: int, m: int, n_y: int = 10, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """X (n_x, m) float32 in [0, 1), Y (n_y, m) one class per example."""
    rng = np.random.default_rng(seed)
    X = rng.random((n_x, m), dtype=np.float32)
    return X, np.eye(n_y, dtype=np.float32)[:, rng.integers(0, n_y, m)]


def test_a_data_set_larger_than_the_device_budget_is_streamed_within_it(gpu, monkeypatch):
    X, Y = classes(256, 20_000)  # 21.3 MB with Y
    spec = NetworkSpec(256, [64], ["relu"], 10, "softmax", "cross-entropy")
    config = TrainConfig(lr=0.05, epochs=2, batch_size=256, optimizer="adam", report_every=10)
    resident = Trainer(Network(spec, gpu, dtype="float32", seed=1), X, Y, config)
    assert not resident.streaming
    resident.run()
    expected = resident.network.get_parameters()[0]
    costs = [e.train_cost for e in resident.history.epochs]
    del resident
    budget = 8 * 2**20  # the network, its optimiser state and two mini-batches fit; X does not
    monkeypatch.setattr(Backend, "free_memory_bytes",
                        lambda self: budget if self.is_gpu else None)
    limit_pool(gpu, budget)  # and the run really stays within it on the device
    streamed = Trainer(Network(spec, gpu, dtype="float32", seed=1), X, Y, config)
    assert streamed.streaming and isinstance(streamed.train.XT, np.ndarray)
    assert streamed.run().stopped == "completed"
    for a, b in zip(streamed.network.get_parameters()[0], expected, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    # (the epoch's cost may be summed in other chunks: float32 rounding apart)
    assert [e.train_cost for e in streamed.history.epochs] == pytest.approx(costs, rel=1e-5)


def test_a_gpu_run_set_aside_in_host_memory_resumes_exactly(gpu):
    X, Y = classes(20, 500, n_y=3)
    X, Y = X.astype(np.float64), Y.astype(np.float64)
    spec = NetworkSpec(20, [16, 8], ["tanh", "sigmoid"], 3, "sigmoid", "cross-entropy")
    config = TrainConfig(lr=0.05, epochs=4, batch_size=32, optimizer="adam", report_every=5)
    straight = Trainer(Network(spec, gpu, dtype="float64", seed=3), X, Y, config)
    straight.run()
    expected = straight.network.get_parameters()[0]
    first = Trainer(Network(spec, gpu, dtype="float64", seed=3), X, Y, config)
    first.run(2)
    weights = first.network.get_parameters()[0]
    aside = first.set_aside(cpu_backend("set aside"))
    del first
    assert not aside.network.backend.is_gpu
    for a, b in zip(aside.network.get_parameters()[0], weights, strict=True):
        np.testing.assert_array_equal(a, b)  # host memory holds the GPU's weights exactly
    # back on the GPU, from the data it was trained on: as if never set aside
    aside.network = aside.network.to(gpu)
    resumed = aside.resume(X, Y)
    assert resumed.network.backend.is_gpu and resumed.epoch == 2
    resumed.run(4 - resumed.epoch)
    for a, b in zip(resumed.network.get_parameters()[0], expected, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    assert [e.train_cost for e in resumed.history.epochs] == \
        pytest.approx([e.train_cost for e in straight.history.epochs], rel=1e-12)


def test_auto_makes_the_run_on_the_cpu_when_the_gpu_really_runs_out(gpu):
    # 4 KiB: the memory check passes (the driver has gigabytes free), but the first layer's
    # 20 KB of weights cannot be allocated
    limit_pool(gpu, 4096)
    wb = Workbench()
    seen = watched(wb)
    wb.start(request(prepared(n_x=1024, m=64, m_val=16), device="auto"))
    assert wb.last_result.stopped == "completed"
    assert not wb.trainer.network.backend.is_gpu
    assert seen.of("device_changed")[-1][0].startswith("CPU - NumPy (")
    assert "ran out of memory" in seen.of("device_changed")[-1][0]


def test_auto_goes_on_on_the_cpu_when_the_gpu_runs_out_while_training(gpu, monkeypatch):
    real_init, trainers = Trainer.__init__, []

    def init(self, network, *a, **kw):
        real_init(self, network, *a, **kw)
        trainers.append(self)
        if network.backend.is_gpu:  # made; from here on not one more byte on the GPU
            limit_pool(gpu, gpu.xp.get_default_memory_pool().used_bytes())

    monkeypatch.setattr(Trainer, "__init__", init)
    wb = Workbench()
    seen = watched(wb)
    wb.start(request(prepared(n_x=256, m=64, m_val=16), device="auto", epochs=2))
    gpu_run, cpu_run = trainers
    assert gpu_run.network.backend.is_gpu and not cpu_run.network.backend.is_gpu
    assert wb.trainer is cpu_run and wb.last_result.stopped == "completed"
    assert cpu_run.epoch == 2
    assert any("Continuing on the CPU" in n[0] for n in seen.of("notice"))
    assert seen.of("device_changed")[-1] == ("CPU - NumPy (the GPU ran out of memory)",)
