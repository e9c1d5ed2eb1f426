"""Placing a run's data (train/data_placement.py): example-major copies on the device, or in
host memory when a GPU cannot hold them."""

from __future__ import annotations

import numpy as np
import pytest
from fake_gpu import fake_gpu

from desktop_nn.backend import cpu_backend
from desktop_nn.nn.network import Network, NetworkSpec
from desktop_nn.train.config import TrainConfig
from desktop_nn.train.data_placement import place, place_run_data
from desktop_nn.train.device_memory import OutOfDeviceMemory, run_tensors, total_bytes

SPEC = NetworkSpec(6, [5], ["tanh"], 1)


def data(m=40):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(6, m))
    return X, (X[:1] > 0).astype(float)


def tensors(net, m, m_val=0):
    return run_tensors(SPEC.sizes, m, m_val, TrainConfig(batch_size=8), str(net.dtype),
                       net.backend.is_gpu)


def test_the_data_are_stored_example_major_in_the_networks_dtype():
    net = Network(SPEC, cpu_backend(), dtype="float32")
    X, Y = data()
    train, val, streaming = place_run_data(net, X, Y, X[:, :10], Y[:, :10], None,
                                           tensors(net, 40, 10))
    assert not streaming and val.m == 10 and train.m == 40
    assert train.XT.shape == (40, 6) and train.XT.dtype == np.float32
    assert train.XT.flags.c_contiguous and train.YT.shape == (40, 1)
    np.testing.assert_array_equal(train.XT, X.T.astype(np.float32))
    assert place_run_data(net, X, Y, None, None, True, tensors(net, 40))[1:] == (None, False)


def test_a_gpu_streams_only_what_it_cannot_hold():
    X, Y = data()
    roomy = Network(SPEC, fake_gpu())
    train, _, streaming = place_run_data(roomy, X, Y, None, None, None, tensors(roomy, 40))
    assert not streaming
    need = total_bytes(tensors(roomy, 40))
    tight = Network(SPEC, fake_gpu(free=need))
    train, _, streaming = place_run_data(tight, X, Y, None, None, None, tensors(tight, 40))
    assert streaming and isinstance(train.XT, np.ndarray)


def test_shapes_that_do_not_fit_the_network_are_refused():
    net = Network(SPEC)
    X, Y = data()
    with pytest.raises(ValueError, match="X must have shape"):
        place(net, X.T, Y, "training")
    with pytest.raises(ValueError, match="validation labels Y are missing"):
        place(net, X, None, "validation")
    with pytest.raises(ValueError, match="the training set is empty"):
        place(net, X[:, :0], Y[:, :0], "training")


def test_a_gpu_that_runs_out_while_taking_the_data_streams_them(monkeypatch):
    net = Network(SPEC, fake_gpu())
    X, Y = data()
    # the data set's upload (backend.transposed) does not fit
    monkeypatch.setattr(type(net.backend), "transposed", lambda self, a, dtype: (
        _ for _ in ()).throw(MemoryError("Out of memory (fake)")))
    train, _, streaming = place_run_data(net, X, Y, None, None, None, tensors(net, 40))
    assert streaming and isinstance(train.XT, np.ndarray)


def test_data_that_fit_nowhere_are_refused_with_the_reason(monkeypatch):
    net = Network(SPEC)  # the CPU: nowhere to stream from
    X, Y = data()
    monkeypatch.setattr(type(net.backend), "transposed", lambda self, a, dtype: (
        _ for _ in ()).throw(MemoryError("Unable to allocate (fake)")))
    with pytest.raises(OutOfDeviceMemory, match="Not enough memory on CPU"):
        place_run_data(net, X, Y, None, None, None, tensors(net, 40))
