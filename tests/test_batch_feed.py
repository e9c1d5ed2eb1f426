"""The batch feed (train/batch_feed.py) without a Trainer: each epoch's batches in the
shuffled order, the same from a data set on the device and from one streamed from host
memory, and an interrupted epoch taken up where it stopped."""

from __future__ import annotations

import numpy as np
import pytest
from fake_gpu import fake_gpu

import desktop_nn.train.batch_feed as batch_feed
from desktop_nn.backend import cpu_backend
from desktop_nn.nn.network import Network, NetworkSpec
from desktop_nn.train.batch_feed import BatchFeed
from desktop_nn.train.data_placement import place
from desktop_nn.train.progress import Progress
from desktop_nn.train.shuffle import draw_key, epoch_permutation

M, BS = 23, 5


def setup(backend, streaming):
    net = Network(NetworkSpec(3, [2], ["tanh"], 1), backend, seed=0, dtype="float64")
    X = np.arange(3 * M, dtype=np.float64).reshape(3, M)  # column j holds j, M + j, 2M + j
    Y = np.arange(M, dtype=np.float64).reshape(1, M)
    return BatchFeed(net, streaming), place(net, X, Y, "training", on_host=streaming)


def take(batches, n=None):
    """Copies of the (XT, YT) batches (the feed reuses its buffers)."""
    out = []
    for xb, yb in batches:
        out.append((np.array(xb), np.array(yb)))
        if n is not None and len(out) == n:
            break
    batches.close()
    return out


@pytest.mark.parametrize("backend, streaming", [(cpu_backend, False), (fake_gpu, False),
                                                (fake_gpu, True)])
@pytest.mark.parametrize("shuffle", [True, False])
def test_an_epoch_gives_every_example_once_in_the_epochs_order(backend, streaming, shuffle):
    feed, data = setup(backend(), streaming)
    progress = Progress(np.random.default_rng(4))
    key_rng = np.random.default_rng(4)
    batches = take(feed.epoch(data, progress, BS, shuffle))
    order = epoch_permutation(np, draw_key(key_rng), M) if shuffle else np.arange(M)
    assert [len(yb) for _, yb in batches] == [5, 5, 5, 5, 3]
    np.testing.assert_array_equal(np.concatenate([yb[:, 0] for _, yb in batches]), order)
    for xb, yb in batches:
        np.testing.assert_array_equal(xb, yb + [0, M, 2 * M])


@pytest.mark.parametrize("streaming", [False, True])
def test_an_interrupted_epoch_goes_on_with_the_batches_it_had_not_taken(streaming):
    feed, data = setup(fake_gpu(), streaming)
    whole = take(feed.epoch(data, Progress(np.random.default_rng(1)), BS, True))
    progress = Progress(np.random.default_rng(1))
    first = take(feed.epoch(data, progress, BS, True), n=2)
    progress.step_taken(BS)
    progress.step_taken(BS)
    progress.interrupt_epoch()
    rest = take(feed.epoch(data, progress, BS, True))
    for (xa, ya), (xb, yb) in zip(whole, first + rest, strict=True):
        np.testing.assert_array_equal(xa, xb)
        np.testing.assert_array_equal(ya, yb)


def test_a_streamed_run_keeps_one_double_buffer_and_a_replay_makes_its_own(monkeypatch):
    made = []

    class Counted(batch_feed.DoubleBuffer):
        def __init__(self, *args, **kwargs):
            made.append(self)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(batch_feed, "DoubleBuffer", Counted)
    feed, data = setup(fake_gpu(), True)
    progress = Progress(np.random.default_rng(0))
    for _ in range(2):
        take(feed.epoch(data, progress, BS, True))
    assert len(made) == 1 and feed.upload is made[0]
    take(feed.epoch(data, progress, BS, True, own_buffers=True))
    assert len(made) == 2 and feed.upload is made[0]
    feed.release()
    assert feed.upload is None
