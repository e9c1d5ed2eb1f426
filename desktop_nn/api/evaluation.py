"""Scores of a model on a set: accuracy, cost and confusion matrix (:func:`evaluate`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from desktop_nn.api.data import Data
from desktop_nn.api.model import Model
from desktop_nn.api.run import Run
from desktop_nn.inspect.evaluation import Evaluation
from desktop_nn.inspect.evaluation import evaluate as evaluate_outputs
from desktop_nn.train.data_placement import place
from desktop_nn.train.evaluation import Evaluator


@dataclass(frozen=True)
class Scores:
    """How a model does on one set of m examples of C classes.

    accuracy: share predicted right; cost: the data cost J (mean over the examples, no L2
    term: the epoch reports' cost when l2 = 0); confusion (C, C) int64: confusion[t, p]
    counts examples of true class t predicted as p; evaluation: the full
    :class:`~desktop_nn.inspect.evaluation.Evaluation` (precision, recall, mistakes, ...)."""

    split: str
    accuracy: float
    cost: float
    confusion: np.ndarray
    evaluation: Evaluation


def evaluate(model: Model | Run, data: Data, split: str = "val") -> Scores:
    """Accuracy, cost and confusion matrix of ``model`` (a :class:`Model`, or a
    :class:`Run`'s model now) on ``data``'s ``split`` ("train", "val" or "test")."""
    if isinstance(model, Run):
        model = model.model()
    if not isinstance(model, Model):
        raise ValueError(f"model must be a Model or a Run, got {type(model).__name__}")
    if not isinstance(data, Data):
        raise ValueError(f"data must be what load_data gives, got {type(data).__name__}")
    ds = data.split(split)
    net = model.network
    if ds.Y.shape[0] != net.spec.output_size:
        raise ValueError(f"data: Y has {ds.Y.shape[0]} rows, the model gives "
                         f"{net.spec.output_size} outputs")
    ev = evaluate_outputs(model.outputs(ds.X), ds.labels(), model.class_names)
    cost = Evaluator(net, streaming=False).evaluate(place(net, ds.X, ds.Y, split), 0.0,
                                                    ds.m).cost
    return Scores(split, ev.accuracy, cost, ev.confusion, ev)
