"""A data set in the column layout, labels as the network's targets, and seeded splits.

X (n_x, m): one example per column. Y (1, m) with 0/1 for two classes, or one-hot (C, m).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Dataset:
    """X (n_x, m) float, Y (n_y, m) float targets, class names (C of them)."""

    X: np.ndarray
    Y: np.ndarray
    class_names: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.X.ndim != 2:
            raise ValueError(f"X must be 2-D (n_x, m), got shape {self.X.shape}")
        if self.Y.ndim != 2 or self.Y.shape[1] != self.X.shape[1]:
            raise ValueError(f"Y must be (n_y, {self.X.shape[1]}) to match X {self.X.shape}, "
                             f"got {self.Y.shape}")

    @property
    def m(self) -> int:
        return int(self.X.shape[1])

    @property
    def n_x(self) -> int:
        return int(self.X.shape[0])

    @property
    def n_classes(self) -> int:
        return 2 if self.Y.shape[0] == 1 else int(self.Y.shape[0])

    def labels(self) -> np.ndarray:
        """(m,) integer class indices."""
        return labels_of(self.Y)

    def subset(self, idx: np.ndarray) -> Dataset:
        return Dataset(self.X[:, idx], self.Y[:, idx], list(self.class_names))


def labels_of(Y: np.ndarray) -> np.ndarray:
    """(n_y, m) targets -> (m,) class indices (row 0 > 0.5 for one output, argmax otherwise)."""
    if Y.shape[0] == 1:
        return (Y[0] > 0.5).astype(np.int64)
    return Y.argmax(axis=0)


def targets_from_labels(labels: np.ndarray, n_classes: int) -> np.ndarray:
    """(m,) integer labels -> Y (1, m) for two classes, one-hot (C, m) for more."""
    labels = np.asarray(labels).astype(np.int64).ravel()
    if labels.size and (labels.min() < 0 or labels.max() >= n_classes):
        raise ValueError(f"labels must lie in 0..{n_classes - 1}, "
                         f"got {labels.min()}..{labels.max()}")
    if n_classes <= 2:
        return labels.reshape(1, -1).astype(np.float64)
    Y = np.zeros((n_classes, labels.size))
    Y[labels, np.arange(labels.size)] = 1.0
    return Y


def stratified_split(labels: np.ndarray, fraction: float, seed: int = 0
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, held_out): ``fraction`` of each class held out, at least one per class
    with two or more examples; seeded, so the same seed gives the same split."""
    if not 0 <= fraction < 1:
        raise ValueError(f"the validation fraction must be in [0, 1), got {fraction}")
    rng = np.random.default_rng(seed)
    train, held = [], []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        rng.shuffle(idx)
        k = int(round(fraction * idx.size))
        if fraction > 0 and k == 0 and idx.size >= 2:
            k = 1
        held.append(idx[:k])
        train.append(idx[k:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(held))
