"""The epoch's order (train/shuffle.py): a permutation, the same on every backend, that
matches an independent pure-Python SplitMix64 and looks uniform."""

from __future__ import annotations

import numpy as np
import pytest

from desktop_nn.nn.network import Network, NetworkSpec
from desktop_nn.train.shuffle import MAX_EXAMPLES, draw_key, epoch_permutation
from desktop_nn.train.trainer import TrainConfig, Trainer

MASK = 2**64 - 1


def splitmix64_order(key: int, m: int) -> list[int]:
    """The same order with Python integers: SplitMix64's finaliser of key + i * golden, the
    low 32 bits replaced by i, sorted."""
    def mix(i: int) -> int:
        z = (key + i * 0x9E3779B97F4A7C15) & MASK
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        return z ^ (z >> 31)
    return sorted(range(m), key=lambda i: ((mix(i) >> 32) << 32) | i)


@pytest.mark.parametrize("m", [0, 1, 2, 7, 1000])
def test_it_is_a_permutation_of_int64_indices(m):
    perm = epoch_permutation(np, 12345, m)
    assert perm.dtype == np.int64 and perm.shape == (m,)
    assert sorted(perm.tolist()) == list(range(m))


@pytest.mark.parametrize("key", [0, 1, 2**63, 2**64 - 1, 0x0123456789ABCDEF])
def test_it_matches_a_pure_python_splitmix64(key):
    # the uint64 arithmetic must wrap exactly as Python's masked integers do
    assert epoch_permutation(np, key, 300).tolist() == splitmix64_order(key, 300)


def test_the_key_decides_the_order():
    a, b = epoch_permutation(np, 1, 100), epoch_permutation(np, 2, 100)
    np.testing.assert_array_equal(a, epoch_permutation(np, 1, 100))
    assert not np.array_equal(a, b)


def test_every_example_lands_in_every_place_about_equally_often():
    m, draws = 8, 8000
    rng = np.random.default_rng(0)
    counts = np.zeros((m, m))
    for _ in range(draws):
        perm = epoch_permutation(np, draw_key(rng), m)
        counts[perm, np.arange(m)] += 1
    expected = draws / m
    chi2 = ((counts - expected) ** 2 / expected).sum()
    # 49 degrees of freedom (an m x m table with fixed margins): chi2 > 90 has p < 0.0003
    assert chi2 < 90, counts


def test_too_many_examples_are_refused():
    with pytest.raises(ValueError, match="cannot shuffle"):
        epoch_permutation(np, 0, MAX_EXAMPLES + 1)


def test_the_trainer_takes_its_batches_in_that_order():
    """With batch size 1 each step's batch is one example: record them."""
    m = 12
    X = np.arange(3 * m, dtype=np.float64).reshape(3, m)
    Y = np.zeros((1, m))
    Y[0, ::2] = 1
    net = Network(NetworkSpec(3, [2], ["tanh"]), seed=0, dtype="float64")
    trainer = Trainer(net, X, Y, TrainConfig(lr=0.1, epochs=2, batch_size=1, seed=5))
    seen = []
    forward = net.forward

    def recording(xb):
        if xb.shape[1] == 1:
            seen.append(int(xb[0, 0]))
        return forward(xb)
    net.forward = recording
    trainer.run()
    rng = np.random.default_rng(5)
    expected = [int(X[0, i]) for _ in range(2) for i in epoch_permutation(np, draw_key(rng), m)]
    assert seen == expected


@pytest.mark.gpu
def test_cupy_draws_the_same_order_as_numpy():
    import cupy

    for key, m in [(0, 1), (7, 1000), (2**64 - 1, 60000)]:
        on_gpu = epoch_permutation(cupy, key, m)
        assert on_gpu.dtype == cupy.int64
        np.testing.assert_array_equal(cupy.asnumpy(on_gpu), epoch_permutation(np, key, m))
