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
``preprocessing`` (object or null: image size, colour, resize mode, flatten order),
``created`` (ISO 8601 UTC timestamp) and ``app_version``.

Loading uses ``np.load(path, allow_pickle=False)`` and checks everything; any problem is a
:class:`ModelFileError` whose message names the file and says what is wrong.
"""

from __future__ import annotations

import json
import os
import zipfile
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

import desktop_nn
from desktop_nn.backend import Backend
from desktop_nn.io.atomic import atomic_open
from desktop_nn.nn.network import DTYPES, Network, NetworkSpec

FORMAT = "desktop-nn-model"
FORMAT_VERSION = 1
DEFAULT_FLATTEN_ORDER = "channel-planes"

PathLike = str | os.PathLike[str]


class ModelFileError(ValueError):
    """A model file cannot be loaded; the message names the file and the problem."""


class _Invalid(ValueError):
    """Internal: a problem with the model's contents (no file name yet)."""


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
            "flatten_order": "channel-planes"}`` (see desktop_nn.data.image_folder).
        created: ISO timestamp read from the file; ignored by :func:`save_model`, which stamps
            the current time.
        app_version: desktop-nn version that wrote the file; ignored by :func:`save_model`.
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


# ---------------------------------------------------------------------------------- checks
def n_classes(spec: NetworkSpec) -> int:
    """How many classes the output layer distinguishes: 2 for one unit, else n_L."""
    return 2 if spec.output_size == 1 else spec.output_size


def _check_class_names(spec: NetworkSpec, class_names: Any) -> list[str] | None:
    if class_names is None:
        return None
    if not isinstance(class_names, list | tuple) or not all(
            isinstance(c, str) for c in class_names):
        raise _Invalid("class_names must be a list of strings")
    want = n_classes(spec)
    if len(class_names) != want:
        units = " (one sigmoid output unit)" if spec.output_size == 1 else ""
        raise _Invalid(f"{len(class_names)} class names are given but the network "
                       f"has {want} classes{units}")
    return list(class_names)


def _check_input_shape(spec: NetworkSpec, input_shape: Any) -> tuple[int, int, int] | None:
    if input_shape is None:
        return None
    if (not isinstance(input_shape, list | tuple) or len(input_shape) != 3
            or not all(isinstance(n, int | np.integer) and not isinstance(n, bool)
                       for n in input_shape)
            or any(n < 1 for n in input_shape)):
        raise _Invalid(f"input_shape must be [H, W, C] of positive integers, got {input_shape!r}")
    h, w, c = (int(n) for n in input_shape)
    if h * w * c != spec.input_size:
        raise _Invalid(f"input_shape {[h, w, c]} has {h * w * c} values but the network "
                       f"has {spec.input_size} inputs")
    return h, w, c


def _check_column(spec: NetworkSpec, name: str, a: Any) -> np.ndarray | None:
    """A finite float (n_x, 1) array (a 1-d (n_x,) array is accepted and reshaped)."""
    if a is None:
        return None
    a = np.asarray(a)
    if a.dtype.kind != "f":
        raise _Invalid(f"{name} has dtype {a.dtype}, expected a float array")
    n_x = spec.input_size
    if a.shape == (n_x,):
        a = a.reshape(n_x, 1)
    if a.shape != (n_x, 1):
        raise _Invalid(f"{name} has shape {a.shape} but the spec says {(n_x, 1)}")
    if not np.isfinite(a).all():
        raise _Invalid(f"{name} contains NaN or inf")
    return a


def _check_parameter(spec: NetworkSpec, name: str, a: np.ndarray) -> None:
    """W<l> must be (n_l, n_{l-1}) and b<l> (n_l, 1), float, finite."""
    sizes = spec.sizes
    layer = int(name[1:])
    want = (sizes[layer], sizes[layer - 1]) if name[0] == "W" else (sizes[layer], 1)
    if a.dtype.kind != "f" or a.dtype.name not in DTYPES:
        raise _Invalid(f"{name} has dtype {a.dtype}, expected float32 or float64")
    if a.shape != want:
        raise _Invalid(f"{name} has shape {a.shape} but the spec says {want}")
    if not np.isfinite(a).all():
        raise _Invalid(f"{name} contains NaN or inf")


def _check_dict(field_name: str, d: Any) -> dict | None:
    if d is None:
        return None
    if not isinstance(d, dict):
        raise _Invalid(f"{field_name} must be an object (dict) or null, got {type(d).__name__}")
    return d


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
def _arrays_for(model: ModelFile) -> dict[str, np.ndarray]:
    """Every array the file will hold, keyed by its name in the .npz; validates ``model``."""
    net = model.network
    spec = net.spec
    class_names = _check_class_names(spec, model.class_names)
    input_shape = _check_input_shape(spec, model.input_shape)
    if not isinstance(model.flatten_order, str):
        raise _Invalid("flatten_order must be a string")
    normalisation = _check_dict("normalisation", model.normalisation)
    training = _check_dict("training", model.training)
    preprocessing = _check_dict("preprocessing", model.preprocessing)
    norm_mean = _check_column(spec, "norm_mean", model.norm_mean)
    norm_std = _check_column(spec, "norm_std", model.norm_std)

    W, b = net.get_parameters()
    arrays: dict[str, np.ndarray] = {}
    for layer, (w, bb) in enumerate(zip(W, b, strict=True), start=1):
        arrays[f"W{layer}"] = np.ascontiguousarray(w)
        arrays[f"b{layer}"] = np.ascontiguousarray(bb)
    for name, a in arrays.items():
        try:
            _check_parameter(spec, name, a)
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
    try:
        text = json.dumps(header, ensure_ascii=False, default=_json_default)
    except (TypeError, ValueError) as exc:
        raise _Invalid(f"the header cannot be written as JSON: {exc}") from None
    arrays["header"] = np.frombuffer(text.encode("utf-8"), dtype=np.uint8).copy()
    return arrays


def save_model(path: PathLike, model: ModelFile) -> Path:
    """Write ``model`` to ``path`` (kept as given; no suffix is added) and return the Path.

    The write is atomic: the .npz goes to a temporary file in the same directory, is flushed
    and fsync'ed, then ``os.replace``'d onto ``path``; on any error the temporary file is
    removed and an existing file at ``path`` is left untouched. Raises ValueError when the
    model is inconsistent (class names, input shape, NaN weights, ...) and OSError when the
    file cannot be written.
    """
    target = Path(path)
    try:
        arrays = _arrays_for(model)
    except _Invalid as exc:
        raise ValueError(f"cannot save model to {target}: {exc}") from None

    with atomic_open(target) as f:
        np.savez(f, **arrays)
    return target


# ---------------------------------------------------------------------------------- load
# zipfile raises NotImplementedError for an unknown compression method and RuntimeError for an
# encrypted member; damaged bytes can produce any of these.
_READ_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, KeyError,
                NotImplementedError, RuntimeError)


def _read_array(npz: Any, name: str) -> np.ndarray:
    """One member of the .npz; object arrays (which would need pickle) are refused."""
    try:
        return npz[name]
    except ValueError as exc:
        if "pickle" in str(exc).lower() or "object" in str(exc).lower():
            raise _Invalid(f"{name} is an object array that would need pickle to load; "
                           "refusing it") from None
        raise _Invalid(f"{name} cannot be read ({exc}); the file is truncated or damaged") \
            from None
    except _READ_ERRORS as exc:
        raise _Invalid(f"{name} cannot be read ({exc.__class__.__name__}: {exc}); "
                       "the file is truncated or damaged") from None


def _parse_header(npz: Any) -> dict:
    if "header" not in npz.files:
        raise ModelFileError("is not a desktop-nn model (no header)")
    raw = _read_array(npz, "header")
    if raw.dtype != np.uint8 or raw.ndim != 1:
        raise _Invalid(f"header has dtype {raw.dtype} and shape {raw.shape}; "
                       "expected 1-d uint8 bytes of JSON")
    try:
        header = json.loads(raw.tobytes().decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise _Invalid(f"header is not valid UTF-8 ({exc})") from None
    except json.JSONDecodeError as exc:
        raise _Invalid(f"header is not valid JSON ({exc})") from None
    if not isinstance(header, dict):
        raise _Invalid("header is not a JSON object")
    fmt = header.get("format")
    if fmt != FORMAT:
        raise ModelFileError(f"is not a desktop-nn model (header format is {fmt!r}, "
                             f"expected {FORMAT!r})")
    version = header.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise _Invalid(f"header has an invalid format_version {version!r}")
    if version > FORMAT_VERSION:
        raise ModelFileError(f"was written by a newer desktop-nn (format version {version} > "
                             f"{FORMAT_VERSION}); update desktop-nn to open it")
    return header


def _model_from(npz: Any, backend: Backend | None) -> ModelFile:
    header = _parse_header(npz)

    spec_dict = header.get("spec")
    if not isinstance(spec_dict, dict):
        raise _Invalid("header has no network spec")
    try:
        spec = NetworkSpec.from_dict(spec_dict)
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise _Invalid(f"the network spec is invalid: {exc}") from None
    dtype = header.get("dtype")
    if dtype not in DTYPES:
        raise _Invalid(f"header dtype is {dtype!r}; expected float32 or float64")

    W: list[np.ndarray] = []
    b: list[np.ndarray] = []
    for layer in range(1, spec.n_layers + 1):
        for name, dest in ((f"W{layer}", W), (f"b{layer}", b)):
            if name not in npz.files:
                raise _Invalid(f"{name} is missing")
            a = _read_array(npz, name)
            _check_parameter(spec, name, a)
            dest.append(a)

    norm: dict[str, np.ndarray | None] = {}
    for name in ("norm_mean", "norm_std"):
        norm[name] = (_check_column(spec, name, _read_array(npz, name))
                      if name in npz.files else None)

    flatten_order = header.get("flatten_order", DEFAULT_FLATTEN_ORDER)
    if not isinstance(flatten_order, str):
        raise _Invalid("header flatten_order is not a string")
    created = header.get("created")
    app_version = header.get("app_version")

    network = Network(spec, backend, dtype=dtype, seed=None)
    network.set_parameters(W, b)
    return ModelFile(
        network=network,
        class_names=_check_class_names(spec, header.get("class_names")),
        input_shape=_check_input_shape(spec, header.get("input_shape")),
        flatten_order=flatten_order,
        normalisation=_check_dict("normalisation", header.get("normalisation")),
        norm_mean=norm["norm_mean"],
        norm_std=norm["norm_std"],
        training=_check_dict("training", header.get("training")),
        preprocessing=_check_dict("preprocessing", header.get("preprocessing")),
        created=created if isinstance(created, str) else None,
        app_version=app_version if isinstance(app_version, str) else None,
    )


def load_model(path: PathLike, backend: Backend | None = None) -> ModelFile:
    """Read a model written by :func:`save_model`; the network lives on ``backend`` (CPU).

    Never unpickles anything. Raises :class:`ModelFileError` (a ValueError) naming the file
    and the problem: missing, truncated or not an .npz, no desktop-nn header, a header that is
    not JSON or is from a newer format version, missing or mis-shaped arrays, non-finite
    weights, object arrays, or an invalid spec / class names / input shape.
    """
    p = Path(path)
    if not p.exists():
        raise ModelFileError(f"{p} does not exist")
    if not p.is_file():
        raise ModelFileError(f"{p} is not a file")
    try:
        loaded = np.load(p, allow_pickle=False)
    except ValueError:
        # numpy found neither a zip nor an .npy and refused to unpickle; its message suggests
        # allow_pickle=True, which is not advice to pass on for an untrusted file.
        raise ModelFileError(f"{p} is truncated or not an .npz file") from None
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError) as exc:
        raise ModelFileError(f"{p} is truncated or not an .npz file ({exc})") from None
    except OSError as exc:
        raise ModelFileError(f"{p} cannot be read: {exc}") from None
    if not isinstance(loaded, np.lib.npyio.NpzFile):
        raise ModelFileError(f"{p} is a single .npy array, not a desktop-nn model .npz")
    with loaded as npz:
        try:
            return _model_from(npz, backend)
        except ModelFileError as exc:
            raise ModelFileError(f"{p} {exc}") from None
        except _Invalid as exc:
            raise ModelFileError(f"{p}: {exc}") from None
