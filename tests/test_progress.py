"""Where a run stands (train/progress.py) and the state saved from it (train/checkpoint.py),
without a Trainer."""

from __future__ import annotations

import numpy as np
import pytest

from desktop_nn.nn.network import Network, NetworkSpec
from desktop_nn.train.checkpoint import checkpoint_state, restored
from desktop_nn.train.config import TrainConfig, optimizer_for
from desktop_nn.train.progress import Progress


def epoch_draw(progress: Progress) -> np.ndarray:
    """What a batch feed draws from the generator at an epoch's start."""
    return progress.rng.integers(0, 2**32, 4)


def test_an_interrupted_epoch_is_taken_up_with_the_same_draw_skipping_its_batches():
    p = Progress(np.random.default_rng(1))
    assert p.start_epoch() == 0
    first = epoch_draw(p)
    p.step_taken(8)
    p.step_taken(8)
    p.interrupt_epoch()
    assert (p.step_count, p.examples_seen, p.epoch, p.resume_batch) == (2, 16, 0, 2)
    assert p.epoch_start_state is None and p.batch_in_epoch == 0
    assert p.start_epoch() == 2 and p.batch_in_epoch == 2 and p.resume_batch == 0
    np.testing.assert_array_equal(epoch_draw(p), first)


def test_an_epoch_that_ends_is_counted_and_the_next_draws_anew():
    p = Progress(np.random.default_rng(1))
    p.start_epoch()
    first = epoch_draw(p)
    p.step_taken(3)
    p.end_epoch()
    assert (p.epoch, p.batch_in_epoch, p.epoch_start_state) == (1, 0, None)
    p.interrupt_epoch()  # between epochs: nothing to take up
    assert p.resume_batch == 0 and p.start_epoch() == 0
    assert not np.array_equal(epoch_draw(p), first)


def test_going_to_a_position_inside_an_epoch_takes_up_that_epoch_at_its_batch():
    p = Progress(np.random.default_rng(2))
    p.start_epoch()
    first = epoch_draw(p)
    p.step_taken(4)
    pos = p.position(optimizer_t=7)
    assert (pos.epoch, pos.step_count, pos.examples_seen, pos.optimizer_t,
            pos.batch_in_epoch) == (0, 1, 4, 7, 1)
    p.step_taken(4)
    p.step_taken(4)
    p.go_to(pos)
    assert (p.step_count, p.examples_seen, p.resume_batch, p.epoch_start_state) == \
        (1, 4, 1, None)
    assert p.start_epoch() == 1
    np.testing.assert_array_equal(epoch_draw(p), first)


def _network() -> Network:
    return Network(NetworkSpec(3, [4], ["tanh"], 1), seed=0, dtype="float64")


def test_a_checkpoint_gives_back_the_progress_and_the_optimiser_state():
    net, config = _network(), TrainConfig(optimizer="momentum")
    optimizer = optimizer_for(config)
    optimizer.allocate(net)
    optimizer.t = 5
    p = Progress(np.random.default_rng(3))
    p.epoch, p.step_count, p.examples_seen = 1, 5, 40
    p.start_epoch()
    p.step_taken(8)
    state, arrays = checkpoint_state(p, optimizer, m=32, batch_size=8, epoch_report_pending=True)
    assert state["batch_in_epoch"] == 1 and state["epoch_report_due"] is True
    back, opt, pending = restored(state, arrays, net, config, m=32, batch_size=8)
    assert pending and opt is not optimizer and opt.t == 5
    assert (back.epoch, back.step_count, back.examples_seen, back.resume_batch) == (1, 6, 48, 1)
    assert back.rng.bit_generator.state == p.epoch_start_state
    # another batch size: the interrupted epoch starts again from its start
    assert restored(state, arrays, net, config, m=32, batch_size=4)[0].resume_batch == 0


def test_a_checkpoint_that_does_not_fit_is_refused():
    net, config = _network(), TrainConfig(optimizer="adam")
    optimizer = optimizer_for(config)
    optimizer.allocate(net)
    state, arrays = checkpoint_state(Progress(np.random.default_rng(0)), optimizer, 32, 8,
                                     False)
    with pytest.raises(ValueError, match="is for 'adam', not 'sgd'"):
        restored(state, arrays, net, TrainConfig(optimizer="sgd"), 32, 8)
    with pytest.raises(ValueError, match="epoch must be a whole number from 0"):
        restored({**state, "epoch": -1}, arrays, net, config, 32, 8)
    with pytest.raises(ValueError, match="cannot be used"):
        restored({k: v for k, v in state.items() if k != "rng"}, arrays, net, config, 32, 8)
