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


# ---------------------------------------------------------------------------- the advice
def train_example(example, epochs: int = 3):
    """Train ``example``'s settings on the bundled sample as the window would (its design,
    learning rate, batch, optimiser and seed), for ``epochs`` epochs."""
    from desktop_nn.backend import select_backend
    from desktop_nn.data.sources import load_training_data
    from desktop_nn.nn.network import Network, NetworkSpec
    from desktop_nn.train.trainer import TrainConfig, Trainer

    data = train_example.data = getattr(train_example, "data", None) or \
        load_training_data("sample").prepared
    d, t = example.designer, example.training
    spec = NetworkSpec(data.train.n_x, [n for n, _ in d["layers"]], [a for _, a in d["layers"]],
                       data.train.Y.shape[0], d["output"], d["cost"], d["init"])
    net = Network(spec, select_backend("cpu"), dtype="float64", seed=t["seed"])
    trainer = Trainer(net, data.train.X, data.train.Y,
                      TrainConfig(lr=t["lr"], epochs=epochs, batch_size=t["batch"],
                                  optimizer=t["optimizer"], l2=t["l2"], seed=t["seed"],
                                  report_every=1),
                      X_val=data.val.X, Y_val=data.val.Y)
    result = trainer.run(epochs)
    return result, trainer.history


def db_ratio(history, first: int = 1, last: int | None = None) -> float:
    """Median over the steps of ||db[first]|| / ||db[last]|| (last: the last hidden layer)."""
    steps = history.steps
    last = last or len(steps[0].layers) - 1
    return float(np.median([s.layers[first - 1].grad_norm_b / s.layers[last - 1].grad_norm_b
                            for s in steps]))


def test_the_vanishing_example_shows_what_it_says():
    from desktop_nn.examples import VANISHING

    result, history = train_example(VANISHING)
    assert result.stopped == "completed"
    assert db_ratio(history) < 0.05  # layer 1 far below layer 4
    assert max(e.val_accuracy for e in history.epochs) < 0.2  # still near chance (0.1)


def test_each_piece_of_advice_works_as_written():
    """Follow every piece of advice of every example: the run does not diverge, and it shows
    what the advice promises."""
    from desktop_nn.examples import FEWER_LAYERS_ADVICE, RELU_ADVICE

    every = [a for e in EXAMPLES.values() for a in e.advice]
    assert len(every) == 2 and RELU_ADVICE in every and FEWER_LAYERS_ADVICE in every  # below
    for example in EXAMPLES.values():
        for advice in example.advice:
            assert advice.text in example.explanation
            result, history = train_example(example.followed(advice))
            costs = [s.batch_cost for s in history.steps] + [e.train_cost
                                                             for e in history.epochs]
            assert result.stopped == "completed" and np.isfinite(costs).all(), advice.text
            assert history.epochs[-1].train_cost < history.epochs[0].train_cost
            accuracy = [e.val_accuracy for e in history.epochs]
            if advice is RELU_ADVICE:
                assert db_ratio(history) > 0.25  # not vanishing (the example: < 0.05)
                assert max(accuracy) > 0.5
            else:
                assert accuracy[0] > 0.5  # from the first epoch


def test_relu_at_the_examples_learning_rate_diverges_as_the_advice_warns():
    from desktop_nn.examples import RELU_ADVICE, VANISHING, Advice

    too_fast = VANISHING.followed(Advice(text="", designer=RELU_ADVICE.designer))
    assert too_fast.training["lr"] == 1.0
    result, history = train_example(too_fast, epochs=2)
    blown_up = max(s.batch_cost for s in history.steps[:20]) > 1e6
    stuck = all(e.val_accuracy < 0.2 for e in history.epochs)
    assert result.stopped == "nan" or (blown_up and stuck)
