"""Predict the class of new image files with a saved model, preprocessing each image exactly as
the model's training data were: same size, colour, resize mode, flatten order and scaling; and
of the rows of a table, for a model trained on a table (:class:`TablePredictor`)."""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from desktop_nn.data.dataset import Normalisation, PreparedData
from desktop_nn.data.image_folder import (
    COLORS,
    FLATTEN_ORDER,
    MAX_IMAGE_SIDE,
    RESIZE_MODES,
    decode_image,
)
from desktop_nn.data.table import TableError, is_table, is_table_path, read_table
from desktop_nn.data.toy2d import spec_from_record
from desktop_nn.data.user_files import shown
from desktop_nn.io.model_file import ModelFile


class PredictError(ValueError):
    """An image or a model that cannot be used for prediction; the message says why."""


class Predictor:
    """Reads image files as ``model``'s training images were read and gives its class
    probabilities. ``source`` (the model file's name) goes in the messages about the model.
    A model whose preprocessing cannot describe its own input (a size that is not positive,
    or whose pixels do not make its input size, an unknown colour or resize mode) raises
    :class:`PredictError` that says the model is at fault, never the image."""

    def __init__(self, model: ModelFile, source: str | os.PathLike | None = None) -> None:
        self.source = None if source is None else shown(str(source))
        pre = model.preprocessing
        if isinstance(pre, dict) and "toy" in pre:  # a built-in 2-D data set: data/toy2d.py
            raise PredictError(self._about_model(
                f"was trained on the built-in 2-D data set {spec_from_record(pre).text()}: it "
                f"reads points (x1, x2), not image files"))
        if not pre:
            raise PredictError(self._about_model(
                "was trained on arrays, not on an image folder, so it does not know how to "
                "read image files"))
        if not isinstance(pre, dict):
            raise PredictError(self._about_model(f"has unreadable preprocessing {pre!r}"))
        if is_table(pre):
            raise PredictError(self._about_model(
                f"was trained on a table (its columns {', '.join(pre['feature_columns'])}), "
                f"not on images: it predicts the rows of a CSV or TSV file with those columns "
                f"(desktop-nn predict MODEL.npz ROWS.csv)"))
        if pre.get("flatten_order", FLATTEN_ORDER) != FLATTEN_ORDER:
            raise PredictError(self._about_model(
                f"has an unknown flatten order {pre.get('flatten_order')!r}"))
        self.model = model
        self.net = model.network
        self.image_size = self._image_size(pre.get("image_size"))
        self.color = pre.get("color")
        self.resize = pre.get("resize", "stretch")
        if self.color not in COLORS:
            raise PredictError(self._about_model(
                f"is bad: its image colour {self.color!r} is not one of {', '.join(COLORS)}"))
        if self.resize not in RESIZE_MODES:
            raise PredictError(self._about_model(
                f"is bad: its resize mode {self.resize!r} is not one of "
                f"{', '.join(RESIZE_MODES)}"))
        h, w, c = self.input_shape
        n_x = self.net.spec.input_size
        if h * w * c != n_x:
            raise PredictError(self._about_model(
                f"is bad: its images of {w}x{h} {self.color} make {h * w * c} inputs, but "
                f"its network reads {n_x}"))
        self.normalisation = Normalisation.from_model(model.normalisation, model.norm_mean,
                                                      model.norm_std)
        n_out = self.net.spec.output_size
        self.class_names = model.class_names or [str(i) for i in range(max(n_out, 2))]

    def _about_model(self, problem: str) -> str:
        return f"{self.source}: this model {problem}" if self.source else \
            f"this model {problem}"

    def _image_size(self, value: object) -> tuple[int, int]:
        """The model's (height, width), checked: two whole numbers of at least 1."""
        ok = (isinstance(value, (list, tuple)) and len(value) == 2
              and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool)
                      for v in value))
        if not ok or min(value) < 1:
            raise PredictError(self._about_model(
                f"is bad: its image size {value!r} is not two whole numbers of at least 1 "
                f"(height, width)"))
        if max(value) > MAX_IMAGE_SIDE:  # Pillow could not resize an image to it
            raise PredictError(self._about_model(
                f"is bad: its image size {value[1]}x{value[0]} is too large: a width or "
                f"height of at most {MAX_IMAGE_SIDE:,} pixels can be made"))
        return int(value[0]), int(value[1])

    @property
    def input_shape(self) -> tuple[int, int, int]:
        h, w = self.image_size
        return h, w, 1 if self.color == "gray" else 3

    def decode(self, path: str | os.PathLike) -> np.ndarray:
        """One image file -> (n_x,) uint8 pixels in channel planes, as the model reads them."""
        try:
            return decode_image(path, self.image_size, self.color, self.resize)
        except ValueError as exc:
            if is_table_path(path):  # "not a readable image" would not say what is wrong
                suffix = os.path.splitext(path)[1]
                raise PredictError(f"{shown(str(path))}: a table ({suffix}), but "
                                   f"this model was trained on images: it predicts image "
                                   f"files (a model trained on a table predicts its rows)"
                                   ) from None
            raise PredictError(f"{shown(str(path))}: {exc}") from None
        except FileNotFoundError:
            raise PredictError(f"{shown(str(path))}: no such file") from None

    def probabilities(self, X: np.ndarray) -> np.ndarray:
        """(n_classes, k) class probabilities; one sigmoid output a gives [1 - a, a]."""
        with np.errstate(over="ignore", invalid="ignore"):  # huge weights: see predict_files
            A = self.net.backend.to_host(self.net.predict_proba(X)).astype(np.float64)
        if A.shape[0] == 1:
            A = np.vstack([1.0 - A, A])
        return A


@dataclass
class FilePrediction:
    """One file's outcome: class probabilities (in the order of the class names) and the
    image as the network sees it, (n_x,) uint8 in channel planes of ``input_shape`` (H, W, C),
    or the reason it could not be read."""

    path: str  # as :func:`~desktop_nn.data.user_files.shown` gives it: to show, not to open
    probabilities: list[float] | None = None
    pixels: np.ndarray | None = None
    input_shape: tuple[int, int, int] | None = None
    error: str | None = None

    @property
    def predicted(self) -> int | None:
        return None if self.probabilities is None else int(np.argmax(self.probabilities))


def predict_files(predictor: Predictor, paths: list[str | os.PathLike]) -> list[FilePrediction]:
    """Predict every file; a file that cannot be read, or whose outputs are not finite (NaN
    or infinite: a model with huge weights), gets its reason, the others still go."""
    out: list[FilePrediction] = []
    good: list[tuple[FilePrediction, np.ndarray]] = []
    for path in paths:
        try:
            row = predictor.decode(path)
        except PredictError as exc:
            out.append(FilePrediction(shown(str(path)), error=str(exc)))
            continue
        item = FilePrediction(shown(str(path)), pixels=row, input_shape=predictor.input_shape)
        out.append(item)
        good.append((item, row))
    if good:
        rows = np.stack([row for _, row in good])
        P = predictor.probabilities(predictor.normalisation.apply(rows))
        finite = np.isfinite(P).all(axis=0)
        for k, (item, _) in enumerate(good):
            if finite[k]:
                item.probabilities = P[:, k].tolist()
            else:  # weights so large that the forward pass overflows: no class to give
                item.error = (f"{item.path}: the model's outputs are not finite for this "
                              f"image (its weights are too large for "
                              f"{predictor.net.dtype}); no class can be given")
    return out


def preparation_mismatch(model: ModelFile, prepared: PreparedData) -> str | None:
    """Why ``model`` cannot be evaluated or trained further on ``prepared`` data as they are
    (other input size, classes, image preprocessing or scaling), or None when it can."""
    spec = model.network.spec
    if prepared.train.n_x != spec.input_size:
        return f"the model reads {spec.input_size} inputs, the data have {prepared.train.n_x}"
    if prepared.train.Y.shape[0] != spec.output_size:
        return (f"the model has {spec.output_size} outputs, the data need "
                f"{prepared.train.Y.shape[0]}")
    if model.class_names is not None and list(model.class_names) != list(prepared.class_names):
        return "the model was trained on other classes"
    images = [p for p in (model.preprocessing, prepared.preprocessing)
              if p and "toy" not in p]  # any 2-D points have the same two inputs
    if images and model.preprocessing != prepared.preprocessing:
        return _table_mismatch(model.preprocessing, prepared.preprocessing) or \
            "the model's images were prepared differently (size, colour or resize mode)"
    norm = prepared.normalisation
    theirs = Normalisation.from_model(model.normalisation, model.norm_mean, model.norm_std)
    if theirs.kind != norm.kind:
        return (f"the model's inputs were scaled differently ({theirs.kind!r} for the model, "
                f"{norm.kind!r} for the data)")
    if norm.kind == "standardise" and not (
            np.array_equal(theirs.mean, norm.mean) and np.array_equal(theirs.std, norm.std)):
        return ("the model's inputs were scaled differently (standardised with the statistics "
                "of another training set)")
    return None


def _table_mismatch(ours: object, theirs: object) -> str | None:
    """How a table model's columns differ from the data's (or None: neither is a table)."""
    if not (is_table(ours) or is_table(theirs)):
        return None
    if not (is_table(ours) and is_table(theirs)):
        return ("the model was trained on a table, the data are not one" if is_table(ours)
                else "the data are a table, the model was not trained on one")
    if ours["feature_columns"] != theirs["feature_columns"]:
        return (f"the model reads the columns {', '.join(ours['feature_columns'])}; the data's "
                f"are {', '.join(theirs['feature_columns'])}")
    return (f"the model's classes come from the column '{ours.get('target_column')}', the "
            f"data's from '{theirs.get('target_column')}'")


@dataclass
class TablePredictions:
    """The rows of one table file predicted. rows: (k,) their spreadsheet row numbers (the
    header is row 1); P: (n_classes, k) class probabilities (a row whose outputs are not
    finite: NaN, see ``errors``); targets: the target column's values when the file has it;
    accuracy: the share of rows whose prediction is their target, over the ``scored`` rows
    that have a prediction (the rows in ``errors`` have none), when every target value is one
    of the model's classes (else None, and ``note`` says why)."""

    path: str
    rows: np.ndarray
    P: np.ndarray
    errors: dict[int, str]
    targets: list[str] | None = None
    accuracy: float | None = None
    note: str | None = None
    scored: int = 0

    def predicted(self) -> np.ndarray:
        """(k,) class indices (the first largest probability)."""
        return np.argmax(np.nan_to_num(self.P, nan=-np.inf), axis=0)


class TablePredictor:
    """Reads the rows of a table as ``model``'s training table was read: its feature columns
    by name (any order in the file, other columns ignored), standardised with the training
    set's statistics kept in the model."""

    def __init__(self, model: ModelFile, source: str | os.PathLike | None = None) -> None:
        self.source = None if source is None else shown(str(source))
        pre = model.preprocessing
        if not is_table(pre):
            where = f"{self.source}: " if self.source else ""
            raise PredictError(f"{where}this model was not trained on a table: it does not "
                               f"know which columns to read")
        self.model = model
        self.net = model.network
        self.feature_columns = list(pre["feature_columns"])
        self.target_column = pre.get("target_column")
        self.normalisation = Normalisation.from_model(model.normalisation, model.norm_mean,
                                                      model.norm_std)
        n_out = self.net.spec.output_size
        self.class_names = model.class_names or [str(i) for i in range(max(n_out, 2))]

    def predict_file(self, path: str | os.PathLike) -> TablePredictions:
        """Every row of the table at ``path``; raises PredictError naming the file (and the
        row and column) when a column the model reads is missing or holds a value that is
        not a number."""
        try:
            table = read_table(path, self.target_column, features=self.feature_columns)
        except TableError as exc:
            raise PredictError(str(exc)) from None
        X = self.normalisation.apply(table.values)  # (n_x, k) float32, as in training
        with np.errstate(over="ignore", invalid="ignore"):  # huge weights: said per row
            A = self.net.backend.to_host(self.net.predict_proba(X)).astype(np.float64)
        if A.shape[0] == 1:
            A = np.vstack([1.0 - A, A])
        errors = {}
        for k in np.flatnonzero(~np.isfinite(A).all(axis=0)):
            errors[int(k)] = (f"{table.path}: row {table.rows[k]}: the model's outputs are not "
                              f"finite for this row (its weights are too large for "
                              f"{self.net.dtype}); no class can be given")
            A[:, k] = np.nan
        out = TablePredictions(table.path, table.rows, A, errors, table.target_values)
        if out.targets is not None:
            index = {name: i for i, name in enumerate(self.class_names)}
            unknown = [t for t in out.targets if t not in index]
            if unknown:
                out.note = (f"the target column '{self.target_column}' holds values that are "
                            f"not the model's classes (such as '{unknown[0][:40]}'): no "
                            f"accuracy")
            else:
                truth = np.array([index[t] for t in out.targets])
                scored = np.ones(truth.size, dtype=bool)
                scored[list(errors)] = False  # no class given: neither right nor wrong
                out.scored = int(scored.sum())
                if out.scored:
                    out.accuracy = float(np.mean(out.predicted()[scored] == truth[scored]))
                else:
                    out.note = "no row has a class to compare with its target: no accuracy"
        return out
