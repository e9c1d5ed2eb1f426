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
    with two or more examples and never a class's last one; seeded, so the same seed gives the
    same split."""
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
        k = min(k, idx.size - 1)  # every class keeps at least one training example
        held.append(idx[:k])
        train.append(idx[k:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(held))


NORMALISATIONS = ("scale", "standardise", "none")


# a feature whose spread is below this is taken as constant (std 1): dividing by a tiny std
# would blow its noise up (and overflow float32); a model's std is checked against it too
MIN_STD = 1e-6

# what a raw value is multiplied by before standardising: pixels (uint8) are scaled into [0, 1];
# a table's values are taken as they are (a factor of 1). Only these two exist.
PIXEL_FACTOR = 1.0 / 255.0
TABLE_FACTOR = 1.0


@dataclass
class Normalisation:
    """How raw values (uint8 pixels, or a table's numbers) become network inputs, fitted on
    the training set only. ``factor`` is 1/255 for pixels (p below) and 1 for a table's values
    (v): a table's standardisation is x = (v - mean) / std.

    scale:        x = p / 255                                  (inputs in [0, 1])
    standardise:  x = (p / 255 - mean) / std, per feature; mean, std (n_x, 1) from the
                  training set (a feature constant in training gets std 1).
    none:         inputs used as given (arrays from an .npz that are already floats)
    """

    kind: str = "scale"
    mean: np.ndarray | None = None  # (n_x, 1) float32
    std: np.ndarray | None = None  # (n_x, 1) float32
    factor: float = PIXEL_FACTOR

    def __post_init__(self) -> None:
        if self.kind not in NORMALISATIONS:
            raise ValueError(f"normalisation must be one of {NORMALISATIONS}, got {self.kind!r}")
        if self.factor not in (PIXEL_FACTOR, TABLE_FACTOR):
            raise ValueError(f"the normalisation factor is 1/255 (pixels) or 1 (a table's "
                             f"values), got {self.factor!r}")
        if self.kind == "standardise" and (self.mean is None or self.std is None):
            raise ValueError("standardisation needs the training set's mean and std")

    @property
    def pixels(self) -> bool:
        """Whether raw values are pixels, scaled by 1/255 (else a table's values, as given)."""
        return self.factor != TABLE_FACTOR

    @classmethod
    def fit(cls, kind: str, pixels: np.ndarray, chunk: int = 8192,
            factor: float = PIXEL_FACTOR) -> Normalisation:
        """Fit on training rows (m, n_x), one example per row: uint8 pixels (``factor``
        1/255), or a table's values (``factor`` 1, any float or integer dtype)."""
        if kind != "standardise":
            return cls(kind, factor=factor)
        n_x = pixels.shape[1]
        total = np.zeros(n_x)
        total_sq = np.zeros(n_x)
        for i in range(0, pixels.shape[0], chunk):  # float64 sums, a chunk at a time
            block = pixels[i:i + chunk].astype(np.float64)
            if factor != TABLE_FACTOR:
                block /= 255.0
            total += block.sum(axis=0)
            total_sq += (block * block).sum(axis=0)
        m = max(pixels.shape[0], 1)
        mean = total / m
        std = np.sqrt(np.maximum(total_sq / m - mean * mean, 0.0))
        std[std < MIN_STD] = 1.0
        return cls(kind, mean.reshape(-1, 1).astype(np.float32),
                   std.reshape(-1, 1).astype(np.float32), factor)

    def apply(self, pixels: np.ndarray, dtype: str = "float32") -> np.ndarray:
        """(m, n_x) uint8 rows (a table: any numbers) -> X (n_x, m) float32 columns (stored
        so X.T is contiguous). A table's values are made float32 first, then standardised.

        ``dtype="float64"`` (scale only): X = p / 255 computed in float64, exactly the
        correctly rounded quotient (float32 X cast up differs from it by up to 7.4e-8)."""
        if dtype == "float64":
            if self.kind != "scale":
                raise ValueError("float64 inputs are made for the scale normalisation only")
            return pixels.T.astype(np.float64) / 255.0
        X = pixels.T.astype(np.float32)
        if self.kind == "none":
            return X
        if self.pixels:
            X *= np.float32(1.0 / 255.0)
        if self.kind == "standardise":
            X -= self.mean
            X /= self.std
        return X

    def invert(self, X: np.ndarray) -> np.ndarray:
        """Undo :meth:`apply` for display: X (n_x, k) columns -> (k, n_x) uint8 rows.

        scale: p = 255 x; standardise: p = 255 (x std + mean); rounded and clipped to 0..255.
        none: there is nothing to undo, so values all within [0, 1] are read as p / 255 (arrays
        saved pre-scaled) and anything else as pixel values. A table's values (factor 1) are
        not pixels: they are given back unscaled, rounded and clipped the same way."""
        P = np.asarray(X, dtype=np.float32).T.astype(np.float32)
        if self.kind == "standardise":
            P = P * self.std.reshape(1, -1) + self.mean.reshape(1, -1)
        if self.kind == "none" and self.pixels:
            finite = P[np.isfinite(P)]
            if finite.size and finite.min() >= 0.0 and finite.max() <= 1.0:
                P = P * np.float32(255.0)
        elif self.pixels:
            P = P * np.float32(255.0)
        P = np.nan_to_num(P, nan=0.0, posinf=255.0, neginf=0.0)
        return np.clip(np.rint(P), 0, 255).astype(np.uint8)

    def to_model(self) -> dict:
        """The JSON part for a model file (mean / std travel as arrays beside it)."""
        if self.kind == "none":
            return {"kind": "none"}
        return {"kind": self.kind, "factor": self.factor}

    @classmethod
    def from_model(cls, info: dict | None, mean: np.ndarray | None,
                   std: np.ndarray | None) -> Normalisation:
        """From a model file's ``normalisation`` (checked: io/model_checks.py). A factor of
        exactly 1 is a table's; any other (1/255, maybe written with fewer digits) or none
        given (older files) is the pixels' 1/255, so older files read as they always did."""
        info = info or {}
        kind = info.get("kind", "scale")
        if kind == "standardize":
            kind = "standardise"
        factor = TABLE_FACTOR if info.get("factor") == TABLE_FACTOR else PIXEL_FACTOR
        return cls(kind, mean, std, factor)


@dataclass
class PreparedData:
    """Train / validation / test sets ready for the Trainer, and how they were made."""

    train: Dataset
    val: Dataset | None
    test: Dataset | None
    normalisation: Normalisation
    class_names: list[str]
    input_shape: tuple[int, int, int] | None
    preprocessing: dict | None = None


def prepare_image_data(data, val_split: float = 0.1, seed: int = 0,
                       normalisation: str = "scale", dtype: str = "float32") -> PreparedData:
    """Split an :class:`~desktop_nn.data.image_folder.ImageFolderData` (its own val/ and test/
    folders, else a stratified seeded ``val_split`` of train) and normalise with statistics of
    the training part only; X in ``dtype`` (see :meth:`Normalisation.apply`)."""
    n_classes = len(data.class_names)
    train_idx = data.indices("train")
    val_idx = data.indices("val")
    if val_idx.size == 0 and val_split > 0:
        keep, held = stratified_split(data.labels[train_idx], val_split, seed)
        train_idx, val_idx = train_idx[keep], train_idx[held]
    norm = Normalisation.fit(normalisation, data.pixels[train_idx])

    def make(idx: np.ndarray) -> Dataset | None:
        if idx.size == 0:
            return None
        return Dataset(norm.apply(data.pixels[idx], dtype),
                       targets_from_labels(data.labels[idx], n_classes), list(data.class_names))

    return PreparedData(train=make(train_idx), val=make(val_idx),
                        test=make(data.indices("test")), normalisation=norm,
                        class_names=list(data.class_names), input_shape=data.input_shape,
                        preprocessing=data.preprocessing())
