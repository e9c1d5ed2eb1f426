"""How well a trained network does on a set: confusion matrix, per-class precision and recall,
and its mistakes, most confident first. NumPy only, on host arrays; no Qt.

The probabilities are the network's outputs (``Network.predict_proba``), one column per
example: (C, m) for a softmax (or several-unit) output, (1, m) for one sigmoid unit, which
means two classes with p(class 1) = a.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from desktop_nn.data.dataset import Normalisation


@dataclass
class Evaluation:
    """The outcome of :func:`evaluate` on m examples of C classes.

    confusion (C, C) int64: confusion[t, p] counts examples of true class t predicted as p
    (rows = true class, columns = predicted). predicted, labels (m,) int64 class indices;
    confidence (m,) the probability the network gave its predicted class; true_probability (m,)
    the probability it gave the true class.
    """

    confusion: np.ndarray
    predicted: np.ndarray
    confidence: np.ndarray
    true_probability: np.ndarray
    labels: np.ndarray
    class_names: list[str] = field(default_factory=list)

    @property
    def m(self) -> int:
        return int(self.labels.size)

    @property
    def n_classes(self) -> int:
        return int(self.confusion.shape[0])

    @property
    def correct(self) -> int:
        return int(np.trace(self.confusion))

    @property
    def n_mistakes(self) -> int:
        return self.m - self.correct

    @property
    def accuracy(self) -> float:
        """Share of examples predicted right; NaN for an empty set."""
        return self.correct / self.m if self.m else float("nan")

    def support(self) -> np.ndarray:
        """(C,) int64: how many examples of each true class (the row sums)."""
        return self.confusion.sum(axis=1)

    def row_normalised(self) -> np.ndarray:
        """(C, C) float64: each row divided by its sum, so row t holds where the examples of
        class t went and sums to 1. A class with no examples keeps a row of zeros (not NaN)."""
        rows = self.confusion.sum(axis=1, keepdims=True)
        return np.divide(self.confusion, rows, out=np.zeros(self.confusion.shape),
                         where=rows > 0)

    def precision(self) -> np.ndarray:
        """(C,) float64: of the examples predicted as class c, the share that are c
        (diagonal / column sum). NaN where undefined: no example was predicted as c."""
        predicted_as = self.confusion.sum(axis=0)
        return np.divide(np.diag(self.confusion), predicted_as,
                         out=np.full(self.n_classes, np.nan), where=predicted_as > 0)

    def recall(self) -> np.ndarray:
        """(C,) float64: of the examples of class c, the share predicted as c
        (diagonal / row sum). NaN where undefined: the set holds no example of c."""
        support = self.support()
        return np.divide(np.diag(self.confusion), support,
                         out=np.full(self.n_classes, np.nan), where=support > 0)

    def mistakes(self, true_class: int | None = None,
                 predicted_class: int | None = None) -> np.ndarray:
        """Indices of the misclassified examples, most confident first (confidence descending,
        ties in index order, NaN confidences last); optionally only those of one true class
        and/or one predicted class, i.e. one off-diagonal cell of the confusion matrix."""
        wrong = self.predicted != self.labels
        if true_class is not None:
            wrong &= self.labels == true_class
        if predicted_class is not None:
            wrong &= self.predicted == predicted_class
        idx = np.flatnonzero(wrong)
        order = np.argsort(-self.confidence[idx], kind="stable")
        return idx[order]


def evaluate(probabilities: np.ndarray, labels: np.ndarray,
             class_names: list[str] | None = None) -> Evaluation:
    """Evaluate the network's outputs against the true labels.

    probabilities (C_out, m) host array: softmax columns (predicted class = argmax), or one
    sigmoid row (1, m) for two classes (predicted 1 when a > 0.5, confidence a or 1 - a).
    labels (m,) integer class indices (``labels_of(Y)``). class_names: C names, or empty /
    None for "0", "1", ...
    """
    P = np.asarray(probabilities, dtype=np.float64)
    if P.ndim != 2 or P.shape[0] < 1:
        raise ValueError(f"probabilities must be (C_out, m), got shape {P.shape}")
    labels = np.asarray(labels).ravel()
    m = P.shape[1]
    if labels.size != m:
        raise ValueError(f"{labels.size} labels for {m} columns of probabilities")
    n_classes = 2 if P.shape[0] == 1 else P.shape[0]
    names = [str(c) for c in class_names] if class_names else [str(c) for c in range(n_classes)]
    if len(names) != n_classes:
        raise ValueError(f"{len(names)} class names for a network with {n_classes} classes")
    if labels.size and (np.any(labels != np.round(labels)) or labels.min() < 0
                        or labels.max() >= n_classes):
        raise ValueError(f"labels must be whole numbers in 0..{n_classes - 1}")
    labels = labels.astype(np.int64)
    cols = np.arange(m)

    if P.shape[0] == 1:
        a = P[0]
        predicted = (a > 0.5).astype(np.int64)
        confidence = np.where(predicted == 1, a, 1.0 - a)
        true_probability = np.where(labels == 1, a, 1.0 - a)
    else:
        predicted = P.argmax(axis=0).astype(np.int64)
        confidence = P[predicted, cols]
        true_probability = P[labels, cols]

    confusion = np.bincount(labels * n_classes + predicted, minlength=n_classes * n_classes)
    confusion = confusion.reshape(n_classes, n_classes).astype(np.int64)
    return Evaluation(confusion, predicted, confidence, true_probability, labels, names)


def images_from_columns(X: np.ndarray, input_shape: tuple[int, int, int],
                        normalisation: Normalisation) -> np.ndarray:
    """Network inputs back to pictures: X (n_x, k) columns, normalised and flattened in channel
    planes -> (k, H, W, C) uint8 (see :meth:`Normalisation.invert`)."""
    h, w, c = input_shape
    if X.shape[0] != h * w * c:
        raise ValueError(f"X has {X.shape[0]} features, input shape {input_shape} needs "
                         f"{h * w * c}")
    rows = normalisation.invert(X)  # (k, n_x)
    return np.ascontiguousarray(rows.reshape(-1, c, h, w).transpose(0, 2, 3, 1))
