"""Evaluation in chunks (train/evaluation.py) without a Trainer."""

from __future__ import annotations

import numpy as np
import pytest
from fake_gpu import fake_gpu

import desktop_nn.train.evaluation as evaluation
from desktop_nn.nn.network import Network, NetworkSpec
from desktop_nn.train.data_placement import place
from desktop_nn.train.evaluation import Evaluator


def data(m=50, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(4, m))
    return X, (X[:1] > 0).astype(float)


def test_chunks_give_the_cost_and_accuracy_of_the_whole_set_with_the_l2_term():
    net = Network(NetworkSpec(4, [3], ["tanh"], 1), seed=1, dtype="float64")
    X, Y = data()
    placed = place(net, X, Y, "evaluation")
    evaluator = Evaluator(net, streaming=False)
    whole = evaluator.evaluate(placed, l2=0.0, m_train=50)
    A = net.forward(X)[0]
    assert whole.accuracy == np.mean((A > 0.5) == (Y > 0.5))
    assert evaluator.evaluate(placed, 0.0, 50, chunk=7).cost == pytest.approx(whole.cost,
                                                                               rel=1e-12)
    with_l2 = evaluator.evaluate(placed, l2=0.3, m_train=60)
    squares = sum(float((w ** 2).sum()) for w in net.W)
    assert with_l2.cost == pytest.approx(whole.cost + 0.3 / 120 * squares, rel=1e-12)


def test_a_streamed_set_is_copied_chunk_by_chunk_and_evaluates_the_same():
    net = Network(NetworkSpec(4, [3], ["tanh"], 1), fake_gpu(), seed=1, dtype="float64")
    X, Y = data()
    on_device = Evaluator(net, False).evaluate(place(net, X, Y, "e"), 0.1, 50, chunk=8)
    streamed = Evaluator(net, True).evaluate(place(net, X, Y, "e", on_host=True), 0.1, 50,
                                             chunk=8)
    assert streamed == on_device


def test_out_of_memory_halves_the_chunks_down_to_the_smallest(monkeypatch):
    monkeypatch.setattr(evaluation, "MIN_EVAL_CHUNK", 4)
    net = Network(NetworkSpec(4, [3], ["tanh"], 1), seed=1)
    X, Y = data(m=40)
    placed = place(net, X, Y, "evaluation")
    evaluator = Evaluator(net, streaming=False)
    expected = evaluator.evaluate(placed, 0.0, 40)
    real = net.forward
    net.forward = lambda x: real(x) if x.shape[1] <= 10 else (_ for _ in ()).throw(
        MemoryError("Out of memory (fake)"))
    assert evaluator.evaluate(placed, 0.0, 40).accuracy == expected.accuracy
    assert evaluator.chunk == 8  # 8192 halved until min(chunk, 40) <= 10
