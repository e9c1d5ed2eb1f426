"""Early stopping (train/early_stopping.py) without a Trainer."""

from __future__ import annotations

import numpy as np

from desktop_nn.nn.network import Network, NetworkSpec
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
