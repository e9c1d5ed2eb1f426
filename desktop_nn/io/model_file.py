"""Save and load a trained network as an ``.npz`` file, with no pickle anywhere.

The file is a NumPy ``.npz`` (a zip of ``.npy`` arrays) holding, for layers l = 1..L:

    W1 .. WL     W[l] (n_l, n_{l-1})   float32 or float64, as the network has
    b1 .. bL     b[l] (n_l, 1)         same dtype
    header       (k,) uint8            UTF-8 bytes of a JSON object (see below)
    norm_mean    (n_x, 1) float        optional: per-input mean for standardisation
    norm_std     (n_x, 1) float        optional: per-input standard deviation

The JSON header has ``format`` ("desktop-nn-model"), ``format_version`` (1), ``spec``
(:meth:`NetworkSpec.to_dict`), ``dtype``, ``class_names`` (list of str or null),
``input_shape`` ([H, W, C] or null), ``flatten_order`` (free text saying how an image became a
column, e.g. "channel-planes"), ``normalisation`` (object or null, e.g.
``{"kind": "scale", "factor": 0.00392...}``), ``training`` (object or null),
``preprocessing`` (object or null: image size, colour, resize mode, flatten order; or, for a
model trained on a table, ``{"kind": "table", "feature_columns": [...], "target_column": ...,
"class_names": [...]}``, whose ``normalisation`` factor is 1: data/table.py),
``created`` (ISO 8601 UTC timestamp) and ``app_version``.

Optional header field: ``generation``, the save of a project (project, model and training
state) the file belongs to (see :mod:`desktop_nn.io.project_file`).

Loading never unpickles and is bounded (:mod:`desktop_nn.io.npz_reader`): only a regular file
is opened; every array's shape and dtype are checked against the spec from its ``.npy`` header
before any data is read; then everything else is checked (:mod:`desktop_nn.io.model_checks`),
so that a model that loads can be used to predict. Any problem is a :class:`ModelFileError`
whose message names the file and says what is wrong.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import numpy as np

import desktop_nn
from desktop_nn.backend import Backend
from desktop_nn.data.table import is_table
from desktop_nn.io import json_text
from desktop_nn.io.atomic import atomic_open
from desktop_nn.io.model_checks import (
    Invalid,
    check_class_names,
    check_column,
    check_column_header,
    check_dict,
    check_dtype,
    check_generation,
    check_input_shape,
    check_normalisation,
    check_parameter,
    check_parameter_header,
    check_preprocessing,
    check_spec,
    check_training,
    n_classes,
    printable,
)
from desktop_nn.io.npz_reader import NpzArchive, NpzError, os_problem
from desktop_nn.nn.network import Network

FORMAT = "desktop-nn-model"
FORMAT_VERSION = 1
DEFAULT_FLATTEN_ORDER = "channel-planes"

PathLike = str | os.PathLike[str]


class ModelFileError(ValueError):
    """A model file cannot be loaded; the message names the file and the problem."""


@dataclass
class ModelFile:
    """A trained network plus what is needed to use it on new data.

    Attributes:
        network: the network; its parameters W[l] (n_l, n_{l-1}) and b[l] (n_l, 1) are saved.
        class_names: one name per class, or None. With one sigmoid output there are 2 classes
            (index 0 for A <= 0.5, 1 for A > 0.5); otherwise one per output unit.
        input_shape: (H, W, C) of the images the network reads, with H * W * C == n_x, or None.
        flatten_order: free text saying how an (H, W, C) image became an (n_x, 1) column.
        normalisation: JSON-able dict saying how raw inputs were scaled, or None; e.g.
            ``{"kind": "scale", "factor": 1 / 255}`` or ``{"kind": "standardise", ...}``.
        norm_mean: (n_x, 1) per-input mean for standardisation, or None.
        norm_std: (n_x, 1) per-input standard deviation for standardisation, or None.
        training: JSON-able summary of the training run (epochs, accuracy, ...), or None.
        preprocessing: JSON-able dict saying how an image file becomes a column, or None:
            ``{"image_size": [H, W], "color": "gray" | "rgb", "resize": "stretch" | "fit",
            "flatten_order": "channel-planes"}`` (see desktop_nn.data.image_folder), or a
            table's columns (see desktop_nn.data.table: table_preprocessing).
        created: ISO timestamp read from the file; ignored by :func:`save_model`, which stamps
            the current time.
        app_version: desktop-nn version that wrote the file; ignored by :func:`save_model`.
        generation: the project save the file belongs to, as read (None: none said); ignored
            by :func:`save_model`, whose ``generation`` argument says what is written.
    """

    network: Network
    class_names: list[str] | None = None
    input_shape: tuple[int, int, int] | None = None
    flatten_order: str = DEFAULT_FLATTEN_ORDER
    normalisation: dict | None = None
    norm_mean: np.ndarray | None = None
    norm_std: np.ndarray | None = None
    training: dict | None = None
    preprocessing: dict | None = None
    created: str | None = None
    app_version: str | None = None
    generation: str | None = None


MAX_HEADER_BYTES = 16 << 20
_Invalid = Invalid


__all__ = ["FORMAT", "FORMAT_VERSION", "ModelFile", "ModelFileError", "load_model",
           "model_writer", "n_classes", "save_model"]


def _json_default(obj: Any) -> Any:
    """Let numpy scalars and small arrays in ``training`` / ``normalisation`` become JSON."""
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


# ---------------------------------------------------------------------------------- save
def _arrays_for(model: ModelFile, generation: str | None = None) -> dict[str, np.ndarray]:
    """Every array the file will hold, keyed by its name in the .npz; validates ``model``."""
    net = model.network
    spec = net.spec
    names = model.class_names
    if isinstance(names, list | tuple) and all(isinstance(c, str) for c in names):
        names = [printable(c) for c in names]  # a class folder named with an ESC: escaped
    class_names = check_class_names(spec, names)
    input_shape = check_input_shape(spec, model.input_shape)
    if not isinstance(model.flatten_order, str):
        raise _Invalid("flatten_order must be a string")
    training = check_training(model.training)
    preprocessing = check_preprocessing(spec, model.preprocessing, input_shape)
    norm_mean = check_column(spec, "norm_mean", model.norm_mean)
    norm_std = check_column(spec, "norm_std", model.norm_std)
    normalisation = check_normalisation(model.normalisation, norm_mean, norm_std,
                                        table=is_table(preprocessing))
    check_generation(generation)

    W, b = net.get_parameters()
    arrays: dict[str, np.ndarray] = {}
    for layer, (w, bb) in enumerate(zip(W, b, strict=True), start=1):
        arrays[f"W{layer}"] = np.ascontiguousarray(w)
        arrays[f"b{layer}"] = np.ascontiguousarray(bb)
    for name, a in arrays.items():
        try:
            check_parameter(spec, name, a)
        except _Invalid as exc:
            raise _Invalid(f"{exc}; refusing to save this network") from None
    if norm_mean is not None:
        arrays["norm_mean"] = norm_mean
    if norm_std is not None:
        arrays["norm_std"] = norm_std

    header = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "spec": spec.to_dict(),
        "dtype": net.dtype.name,
        "class_names": class_names,
        "input_shape": list(input_shape) if input_shape is not None else None,
        "flatten_order": model.flatten_order,
        "normalisation": normalisation,
        "training": training,
        "preprocessing": preprocessing,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "app_version": desktop_nn.__version__,
    }
    if generation is not None:
        header["generation"] = generation
    try:
        text = json.dumps(header, ensure_ascii=False, default=_json_default)
    except (TypeError, ValueError) as exc:
        raise _Invalid(f"the header cannot be written as JSON: {exc}") from None
    arrays["header"] = np.frombuffer(text.encode("utf-8"), dtype=np.uint8).copy()
    return arrays


def model_writer(path: PathLike, model: ModelFile, generation: str | None = None):
    """A function that writes ``model``'s file to an open binary file (for
    :func:`~desktop_nn.io.atomic.write_together`); the model is checked now. Raises
    ValueError naming ``path`` when the model is inconsistent."""
    try:
        arrays = _arrays_for(model, generation)
    except _Invalid as exc:
        raise ValueError(f"cannot save model to {path}: {exc}") from None

    def write(f: IO[bytes]) -> None:
        np.savez(f, **arrays)
    return write


def save_model(path: PathLike, model: ModelFile, generation: str | None = None) -> Path:
    """Write ``model`` to ``path`` (kept as given; no suffix is added) and return the Path.

    The write is atomic: the .npz goes to a temporary file in the same directory, is flushed
    and fsync'ed, then ``os.replace``'d onto ``path``; on any error the temporary file is
    removed and an existing file at ``path`` is left untouched. Raises ValueError when the
    model is inconsistent (class names, input shape, NaN weights, ...) and OSError when the
    file cannot be written. ``generation`` is written only when given (project saves).
    """
    target = Path(path)
    write = model_writer(target, model, generation)
    with atomic_open(target) as f:
        write(f)
    return target


# ---------------------------------------------------------------------------------- load
def _parse_header(npz: NpzArchive) -> dict:
    if "header" not in npz:
        raise ModelFileError("is not a desktop-nn model (no header)")
    h = npz.header("header")
    if h.dtype != np.uint8 or len(h.shape) != 1:
        raise _Invalid(f"header has dtype {h.dtype} and shape {h.shape}; "
                       "expected 1-d uint8 bytes of JSON")
    if h.nbytes > MAX_HEADER_BYTES:
        raise _Invalid(f"header is {h.nbytes} bytes, over {MAX_HEADER_BYTES}")
    raw = npz.read("header")
    try:
        header = json_text.loads(raw.tobytes().decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise _Invalid(f"header is not valid UTF-8 ({exc})") from None
    except json.JSONDecodeError as exc:
        raise _Invalid(f"header is not valid JSON ({exc})") from None
    except ValueError as exc:  # JsonValueError, or Python's own limit on digits
        raise _Invalid(f"header {exc}") from None
    except RecursionError:
        raise _Invalid("header is not valid JSON (nested too deeply)") from None
    if not isinstance(header, dict):
        raise _Invalid("header is not a JSON object")
    fmt = header.get("format")
    if fmt != FORMAT:
        raise ModelFileError(f"is not a desktop-nn model (header format is {fmt!r:.80}, "
                             f"expected {FORMAT!r})")
    version = header.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise _Invalid(f"header has an invalid format_version {version!r:.80}")
    if version > FORMAT_VERSION:
        raise ModelFileError(f"was written by a newer desktop-nn (format version {version} > "
                             f"{FORMAT_VERSION}); update desktop-nn to open it")
    return header


def _model_from(npz: NpzArchive, backend: Backend | None) -> ModelFile:
    header = _parse_header(npz)
    spec = check_spec(header.get("spec"))
    dtype = check_dtype(header.get("dtype"))
    generation = check_generation(header.get("generation"))
    flatten_order = header.get("flatten_order", DEFAULT_FLATTEN_ORDER)
    if not isinstance(flatten_order, str):
        raise _Invalid("header flatten_order is not a string")
    class_names = check_class_names(spec, header.get("class_names"))
    input_shape = check_input_shape(spec, header.get("input_shape"))
    preprocessing = check_preprocessing(spec, header.get("preprocessing"), input_shape)
    training = check_training(header.get("training"))
    check_dict("normalisation", header.get("normalisation"))

    # every array's shape and dtype from its header, before any data is read
    names = [f"{kind}{layer}" for layer in range(1, spec.n_layers + 1) for kind in "Wb"]
    for name in names:
        if name not in npz:
            raise _Invalid(f"{name} is missing")
        h = npz.header(name)
        check_parameter_header(spec, name, h.shape, h.dtype)
    columns = [name for name in ("norm_mean", "norm_std") if name in npz]
    for name in columns:
        h = npz.header(name)
        check_column_header(spec, name, h.shape, h.dtype)

    arrays = {}
    for name in names:
        arrays[name] = npz.read(name)
        check_parameter(spec, name, arrays[name])
    norm = {name: check_column(spec, name, npz.read(name)) for name in columns}
    normalisation = check_normalisation(header.get("normalisation"), norm.get("norm_mean"),
                                        norm.get("norm_std"), table=is_table(preprocessing))
    created = header.get("created")
    app_version = header.get("app_version")

    network = Network(spec, backend, dtype=dtype, seed=None)
    network.set_parameters([arrays[f"W{layer}"] for layer in range(1, spec.n_layers + 1)],
                           [arrays[f"b{layer}"] for layer in range(1, spec.n_layers + 1)])
    return ModelFile(
        network=network,
        class_names=class_names,
        input_shape=input_shape,
        flatten_order=flatten_order,
        normalisation=normalisation,
        norm_mean=norm.get("norm_mean"),
        norm_std=norm.get("norm_std"),
        training=training,
        preprocessing=preprocessing,
        created=created if isinstance(created, str) else None,
        app_version=app_version if isinstance(app_version, str) else None,
        generation=generation,
    )


def load_model(path: PathLike, backend: Backend | None = None) -> ModelFile:
    """Read a model written by :func:`save_model`; the network lives on ``backend`` (CPU).

    Never unpickles anything, opens only a regular file, and reads no array whose shape and
    dtype its header does not show to fit the spec. Raises :class:`ModelFileError` (a
    ValueError) naming the file and the problem: missing, not a regular file, truncated or
    not an .npz, members claiming more than the file can hold, no desktop-nn header, a header
    that is not JSON or is from a newer format version, missing or mis-shaped arrays,
    non-finite weights, object arrays, or an invalid spec / class names / input shape /
    preprocessing / normalisation / training summary.
    """
    p = Path(path)
    try:
        with NpzArchive(p) as npz:
            return _model_from(npz, backend)
    except FileNotFoundError:
        raise ModelFileError(f"{p} does not exist") from None
    except OSError as exc:
        raise ModelFileError(f"{p} {os_problem(exc)}") from None
    except ModelFileError as exc:
        raise ModelFileError(f"{p} {exc}") from None
    except NpzError as exc:
        text = str(exc).replace("not an .npz archive", "not a desktop-nn model .npz")
        if text.startswith(("is ", "holds ", "its ")):
            raise ModelFileError(f"{p} {text}") from None
        raise ModelFileError(f"{p}: {text}") from None
    except _Invalid as exc:
        raise ModelFileError(f"{p}: {exc}") from None
