"""Early stopping (train/early_stopping.py) without a Trainer."""

from __future__ import annotations

import math

import numpy as np
import pytest

from desktop_nn.nn.network import Network, NetworkSpec
from desktop_nn.train.config import TrainConfig
from desktop_nn.train.early_stopping import EarlyStopping


def test_it_stops_after_patience_epochs_without_improvement_and_keeps_the_best():
    net = Network(NetworkSpec(2, [3], ["tanh"], 1), seed=0, dtype="float64")
    stopping = EarlyStopping(patience=2)
    assert not stopping.should_stop(1.0, net, 1)
    best = net.get_parameters()
    net.W[0][...] += 1  # later epochs change the weights
    assert not stopping.should_stop(1.5, net, 2)
    assert stopping.should_stop(1.0, net, 3)  # not better than the best: stop
    assert stopping.keep_best(net) == ("no improvement for 2 epochs; kept the weights of "
                                       "epoch 1")
    np.testing.assert_array_equal(net.W[0], best[0][0])


def test_an_improvement_starts_the_count_again_and_no_patience_never_stops():
    net = Network(NetworkSpec(2, [3], ["tanh"], 1), seed=0)
    stopping = EarlyStopping(patience=2)
    assert [stopping.should_stop(c, net, e) for e, c in enumerate([3, 4, 2, 5, 6], 1)] == \
        [False, False, False, False, True]
    assert stopping.best_epoch == 3
    never = EarlyStopping(patience=0)
    assert not any(never.should_stop(c, net, e) for e, c in enumerate([1, 2, 3, 4], 1))


def test_without_a_finite_cost_there_is_no_best_and_the_weights_stay():
    """A monitored cost that is NaN at every epoch is never an improvement: once the
    patience runs out the run stops with its last weights (it used to raise TypeError)."""
    net = Network(NetworkSpec(2, [3], ["tanh"], 1), seed=0)
    before = net.get_parameters()[0]
    stopping = EarlyStopping(patience=2)
    assert not stopping.should_stop(math.nan, net, 1)
    assert stopping.should_stop(math.nan, net, 2)
    assert "no epoch had a finite monitored cost" in stopping.keep_best(net)
    for a, b in zip(net.get_parameters()[0], before, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("bad, message", [
    (dict(patience=2, evaluate=False), "needs the evaluation"),
    (dict(l2=math.nan), "L2 strength must be a number"),
    (dict(l2=math.inf), "L2 strength must be a number"),
])
def test_a_configuration_that_cannot_train_as_asked_is_refused(bad, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**bad).validate()
