"""File > Examples without Qt: the learning slowdown's curves and the examples' texts (the
window's side: tests/gui/test_gui_examples.py)."""

from __future__ import annotations

import numpy as np

from desktop_nn.examples import EXAMPLES, learning_slowdown


def test_learning_slowdown_quadratic_is_slow_cross_entropy_is_fast():
    c = learning_slowdown(epochs=300)
    quad, xent = c.cost["quadratic"], c.cost["cross-entropy"]
    assert len(quad) == len(xent) == 301 and c.epochs[-1] == 300
    # a saturated start: the quadratic cost hardly moves for the first 50 epochs ...
    assert quad[50] > 0.95 * quad[0]
    # ... while cross-entropy has already done most of its learning
    assert xent[50] < 0.05 * xent[0]
    assert c.output["quadratic"][0] == c.output["cross-entropy"][0] > 0.98  # sigma(4)
    assert c.output["cross-entropy"][-1] < c.output["quadratic"][-1] < 0.5


def test_learning_slowdown_matches_the_update_rule_by_hand():
    """One epoch of plain gradient descent on one example, computed by hand."""
    c = learning_slowdown(epochs=1, eta=0.15, w=2.0, b=2.0)
    a = 1 / (1 + np.exp(-4.0))
    delta = {"quadratic": (a - 0) * a * (1 - a), "cross-entropy": a - 0}
    for cost, d in delta.items():
        w, b = 2.0 - 0.15 * d, 2.0 - 0.15 * d  # x = 1: dW = db = delta
        a1 = 1 / (1 + np.exp(-(w + b)))
        assert abs(c.output[cost][1] - a1) < 1e-12


def test_every_example_has_an_explanation():
    for e in EXAMPLES.values():
        assert e.title and len(e.explanation) > 200
