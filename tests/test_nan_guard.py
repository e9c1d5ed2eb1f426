"""The NaN guard (train/nan_guard.py) without a Trainer: read at once, or deferred with a
checked copy to go back to and the steps since taken again."""

from __future__ import annotations

import math

import numpy as np
import pytest
from fake_gpu import fake_gpu

from desktop_nn.backend import cpu_backend
from desktop_nn.nn.network import Network, NetworkSpec
from desktop_nn.train.config import TrainConfig, optimizer_for
from desktop_nn.train.nan_guard import NanGuard, NonFiniteStep
from desktop_nn.train.progress import Progress
from desktop_nn.train.result import TrainResult

SPEC = NetworkSpec(3, [4], ["tanh"], 1)


def one_pass(net: Network, X: np.ndarray, Y: np.ndarray):
    """(cost, caches, grads) of a forward and backward pass on X (3, m), Y (1, m)."""
    _, caches = net.forward(X)
    cost = net.cost_value(caches, Y)
    return cost, caches, net.backward(caches, Y)


def batch(m=5, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(3, m)), (rng.random((1, m)) > 0.5).astype(float)


def test_a_step_read_at_once_gives_its_cost_or_says_where_it_went_wrong():
    net = Network(SPEC, cpu_backend(), seed=0, dtype="float64")
    guard, progress = NanGuard(net), Progress(np.random.default_rng(0))
    progress.epoch, progress.step_count = 2, 30
    X, Y = batch()
    cost, caches, grads = one_pass(net, X, Y)
    assert guard.check_step(cost, caches, grads, progress) == float(cost)
    X[1, 2] = np.nan
    with pytest.raises(NonFiniteStep) as raised:
        guard.check_step(*one_pass(net, X, Y), progress)
    result = raised.value.result
    assert (result.stopped, result.nan_step, result.nan_layer, result.steps, result.epochs) == \
        ("nan", 31, 1, 30, 2)
    assert "the forward pass of layer 1 (Z or A) at step 31 (epoch 3)" in result.message


def test_a_gradient_that_is_not_finite_is_named_by_its_layer():
    net = Network(SPEC, cpu_backend(), seed=0, dtype="float64")
    cost, caches, grads = one_pass(net, *batch())
    grads.db[1][0, 0] = np.inf
    with pytest.raises(NonFiniteStep, match="in the gradients of layer 2 at step 1"):
        NanGuard(net).check_step(cost, caches, grads, Progress(np.random.default_rng(0)))


def deferred_guard():
    net = Network(SPEC, fake_gpu(), seed=0, dtype="float64")
    optimizer = optimizer_for(TrainConfig(optimizer="momentum"))
    optimizer.allocate(net)
    progress = Progress(np.random.default_rng(0))
    guard = NanGuard(net)
    guard.begin(True, optimizer, progress)
    return net, optimizer, progress, guard


def take_steps(net, optimizer, progress, guard, n, spoil_at=None):
    """``n`` steps that change the weights, their guard deferred (the step ``spoil_at``, if
    any, with a NaN cost); returns their costs."""
    costs = []
    for i in range(n):
        cost, caches, grads = one_pass(net, *batch(seed=i))
        if i == spoil_at:
            cost = np.float64(np.nan)
        assert math.isnan(guard.check_step(cost, caches, grads, progress))
        optimizer.step(net, grads)
        progress.step_taken(5)
        costs.append(float(cost))
    return costs


def test_a_deferred_check_that_passes_reads_the_cost_and_takes_a_new_copy():
    net, optimizer, progress, guard = deferred_guard()
    costs = take_steps(net, optimizer, progress, guard, 3)
    assert guard.unchecked == 3
    never = [].append  # a check that passes takes no step again
    guard.check_pending(optimizer, progress, never, never)
    assert guard.unchecked == 0 and float(guard.pending) == 0
    assert guard.checked_cost == costs[-1]
    assert guard.copy.position.step_count == 3


def test_a_failed_deferred_check_goes_back_and_takes_the_steps_again():
    net, optimizer, progress, guard = deferred_guard()
    W_checked = [w.copy() for w in net.W]
    take_steps(net, optimizer, progress, guard, 3, spoil_at=1)
    taken, closed = [], []

    def batches(own_buffers=False):
        assert own_buffers  # a replay never touches the run's buffers
        try:
            for i in range(10):
                yield np.full((5, 3), i), np.zeros((5, 1))
        finally:
            closed.append(True)

    def take_step(xb, yb, replay=False):
        assert replay and not guard.deferring  # each step taken again is read at once
        taken.append((int(xb[0, 0]), progress.step_count))
        for w, w0 in zip(net.W, W_checked, strict=True):
            np.testing.assert_array_equal(w, w0)  # back at the checked copy
        if len(taken) == 2:
            raise NonFiniteStep(TrainResult("nan", "step 2 was not finite", 0, 1, 0.0,
                                            math.nan, nan_step=2))
        return 0.25

    with pytest.raises(NonFiniteStep, match="step 2 was not finite"):
        guard.check_pending(optimizer, progress, batches, take_step)
    assert taken == [(0, 0), (1, 0)] and closed == [True]
    assert guard.deferring and guard.unchecked == 0 and optimizer.t == 0
    assert (progress.step_count, progress.examples_seen) == (0, 0)


def test_a_failed_check_whose_steps_turn_out_finite_goes_on_from_there():
    net, optimizer, progress, guard = deferred_guard()
    take_steps(net, optimizer, progress, guard, 2, spoil_at=0)

    def batches(own_buffers=False):
        while True:
            yield np.zeros((5, 3)), np.zeros((5, 1))

    def take_step(xb, yb, replay=False):
        progress.step_taken(5)
        return 0.5

    guard.check_pending(optimizer, progress, batches, take_step)
    assert progress.step_count == 2 and guard.checked_cost == 0.5
    assert guard.deferring and guard.copy.position.step_count == 2
