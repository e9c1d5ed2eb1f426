"""The app's teaching examples (the Examples menu), free of Qt.

- "Vanishing gradients" (Nielsen, ch. 5): four hidden layers of 30 sigmoid units on MNIST
  digits; the gradient plot shows ||db[l]|| of the first layer about 100x below the last.
  Its advice (:class:`Advice`: what to change, and what that shows) is followed by
  tests/test_examples.py, so that what it promises is what happens.
- "Learning slowdown" (Nielsen, ch. 3): one sigmoid neuron, input 1, target 0, started
  saturated (w = b = 2); with the quadratic cost dC/dz = (a - y) a (1 - a) is tiny while the
  neuron is saturated, so it barely learns at first; with cross-entropy dC/dz = a - y and it
  learns at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from desktop_nn.backend import select_backend
from desktop_nn.nn.network import Network, NetworkSpec
from desktop_nn.train.trainer import TrainConfig, Trainer


@dataclass(frozen=True)
class Advice:
    """Something the explanation suggests trying: the settings it changes (keys of the
    designer's and the training panel's states) and what the student should then see."""

    text: str  # as the explanation words it
    designer: dict = field(default_factory=dict)
    training: dict = field(default_factory=dict)
    promise: str = ""  # what following it shows (tests check it)


@dataclass(frozen=True)
class Example:
    """A setup of the designer and training panels, and the paragraph shown beside the plot
    (ending with its advice)."""

    key: str
    title: str
    explanation: str
    designer: dict | None = None
    training: dict | None = None
    gradient_mode: str | None = None  # the gradient plot's mode to show
    advice: tuple[Advice, ...] = ()

    def followed(self, advice: Advice) -> Example:
        """This example with ``advice`` applied: its settings changed as the advice says."""
        return replace(self, designer={**(self.designer or {}), **advice.designer},
                       training={**(self.training or {}), **advice.training}, advice=())


# Measured on the bundled sample (900 training images, batch 10, seeds 0-2, 5 epochs): the
# example as set stays at 10 % validation accuracy with median ||db[1]|| / ||db[4]|| = 0.016;
# ReLU units at lr 1.0 blow up in the first steps (cost ~1e25, then stuck at 10 % or NaN:
# issue 22 saw NaN at step 7-11), at lr 0.1 they reach 62-74 %
# after 3 epochs with a ratio of 1.5-1.6; one hidden layer reaches 74-83 % after the first.
RELU_ADVICE = Advice(
    text="Try <b>ReLU units with the learning rate lowered to 0.1</b> (ReLU outputs are not "
         "bounded like σ's: at 1.0 the first steps blow the cost up and the run is lost): "
         "layer 1's ||db|| is then about as large as layer 4's, and the accuracy leaves "
         "chance level within the first epochs.",
    designer={"layers": [[30, "relu"]] * 4}, training={"lr": 0.1},
    promise="the first layer's gradient is no longer far below the last hidden layer's, and "
            "the accuracy climbs above chance in the first epochs")
FEWER_LAYERS_ADVICE = Advice(
    text="Or keep sigmoid units and lr 1.0 but use <b>one hidden layer</b> of 30: the "
         "error then passes one factor σ' ≤ 1/4 instead of four, and the accuracy climbs "
         "from the first epoch.",
    designer={"layers": [[30, "sigmoid"]]},
    promise="the accuracy is well above chance after the first epoch")


VANISHING = Example(
    key="vanishing-gradients",
    title="Vanishing gradients",
    explanation=(
        "<b>Vanishing gradients</b> (Nielsen, <i>Neural Networks and Deep Learning</i>, ch. 5). "
        "Four hidden layers of 30 sigmoid units learn the digits. Watch the gradient plot "
        "(showing ||db[l]||, the size of the error δ[l] of each layer): layer 1's line sits "
        "about a hundred times below layer 4's. Backpropagation multiplies δ by W[l]ᵀ and by "
        "σ'(Z) ≤ 1/4 at every layer it passes, so the early layers receive far smaller "
        "gradients and learn far more slowly: the accuracy stays near chance for several "
        "epochs before it climbs. Press Start (or Space). "
        f"{RELU_ADVICE.text} {FEWER_LAYERS_ADVICE.text} Compare the runs in the Runs tab."),
    designer={"layers": [[30, "sigmoid"]] * 4, "output": "sigmoid", "cost": "cross-entropy",
              "init": "scaled"},
    # Nielsen's eta is 0.1 on 50000 images; on the 900 of the bundled sample that would not
    # leave the 10 % plateau in 30 epochs, while 1.0 climbs well above it (the gradient ratios
    # between layers do not depend on the learning rate)
    training={"lr": 1.0, "epochs": 30, "batch": 10, "optimizer": "sgd", "l2": 0.0,
              "seed": 0},
    gradient_mode="||db||",
    advice=(RELU_ADVICE, FEWER_LAYERS_ADVICE),
)

SLOWDOWN = Example(
    key="learning-slowdown",
    title="Learning slowdown",
    explanation=(
        "<b>Learning slowdown</b> (Nielsen, ch. 3). One sigmoid neuron learns to output 0 for "
        "the input 1, starting from w = b = 2, where it outputs σ(4) ≈ 0.98 and is saturated. "
        "With the <b>quadratic</b> cost the error at the output is δ = (a − y) σ'(z), and "
        "σ'(z) is tiny when the neuron is saturated: the cost stays flat for many epochs "
        "before it falls. With <b>cross-entropy</b> the σ'(z) cancels, δ = a − y, so the "
        "worse the output, the faster the neuron learns. Same learning rate (0.15), same start."),
)

EXAMPLES = {e.key: e for e in (VANISHING, SLOWDOWN)}


@dataclass
class SlowdownCurves:
    """Per epoch (0 = the start) for each cost: the cost, the output a, and ||db||."""

    epochs: np.ndarray  # (E + 1,)
    cost: dict[str, np.ndarray]
    output: dict[str, np.ndarray]


def learning_slowdown(epochs: int = 300, eta: float = 0.15, w: float = 2.0, b: float = 2.0,
                      x: float = 1.0, y: float = 0.0) -> SlowdownCurves:
    """Train the one-neuron network of Nielsen's ch. 3 demo with each cost (plain gradient
    descent, one example) and record cost and output after every epoch."""
    X = np.array([[x]])
    Y = np.array([[y]])
    costs, outputs = {}, {}
    for cost in ("quadratic", "cross-entropy"):
        net = Network(NetworkSpec(1, [], [], 1, "sigmoid", cost), select_backend("cpu"),
                      dtype="float64", seed=None)
        net.set_parameters([np.array([[w]])], [np.array([[b]])])
        c, a = [], []

        def record(net=net, c=c, a=a, cost=cost) -> None:
            out, caches = net.forward(X)
            c.append(float(net.cost_value(caches, Y)))
            a.append(float(out[0, 0]))

        record()
        trainer = Trainer(net, X, Y, TrainConfig(lr=eta, epochs=1, batch_size=0, shuffle=False,
                                                 evaluate=False),
                          on_epoch=lambda _r, record=record: record())
        trainer.run(epochs)
        costs[cost], outputs[cost] = np.array(c), np.array(a)
    return SlowdownCurves(np.arange(epochs + 1), costs, outputs)
