"""The checks a model file's contents must pass, so that a model the app accepts never makes
Predict, the inspection tabs or a continued run fail later: the network spec's field types,
class names, input shape, per-input columns (mean, std), the preprocessing that turns an image
file into a column, the input scaling, and the training summary the window reads.

Each check raises :class:`Invalid` (no file name: :mod:`desktop_nn.io.model_file` adds it).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from desktop_nn.data.class_names import class_names_problem, printable, unprintable
from desktop_nn.data.dataset import MIN_STD, NORMALISATIONS, PIXEL_FACTOR, TABLE_FACTOR
from desktop_nn.data.image_folder import COLORS, FLATTEN_ORDER, RESIZE_MODES
from desktop_nn.data.table import TABLE_KIND, is_table
from desktop_nn.data.toy2d import ToySpecError, spec_from_record
from desktop_nn.nn.network import DTYPES, NetworkSpec

_SPEC_TYPES = {"input_size": "int", "hidden_sizes": "ints", "hidden_activations": "strs",
               "output_size": "int", "output_activation": "str", "cost": "str", "init": "str",
               "bias_init": "str"}


class Invalid(ValueError):
    """A problem with a model's contents (no file name yet)."""


def is_whole(v: Any) -> bool:
    """An int (not a bool)."""
    return isinstance(v, int | np.integer) and not isinstance(v, bool | np.bool_)


def n_classes(spec: NetworkSpec) -> int:
    """How many classes the output layer distinguishes: 2 for one unit, else n_L."""
    return 2 if spec.output_size == 1 else spec.output_size


def check_spec(spec_dict: Any) -> NetworkSpec:
    """A NetworkSpec from a header's ``spec`` object, its field types checked first."""
    if not isinstance(spec_dict, dict):
        raise Invalid("header has no network spec")
    for key, kind in _SPEC_TYPES.items():
        if key not in spec_dict:
            continue
        v = spec_dict[key]
        ok = {"int": lambda v: is_whole(v),
              "str": lambda v: isinstance(v, str),
              "ints": lambda v: isinstance(v, list) and all(is_whole(n) for n in v),
              "strs": lambda v: isinstance(v, list) and all(isinstance(a, str) for a in v),
              }[kind](v)
        if not ok:
            want = {"int": "a whole number", "str": "a string", "ints": "a list of whole numbers",
                    "strs": "a list of strings"}[kind]
            raise Invalid(f"the network spec is invalid: {key} must be {want}, got {v!r:.80}")
    try:
        return NetworkSpec.from_dict(spec_dict)
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise Invalid(f"the network spec is invalid: {exc}") from None


def check_dtype(dtype: Any) -> str:
    if dtype not in DTYPES:
        raise Invalid(f"header dtype is {dtype!r:.80}; expected float32 or float64")
    return dtype


def parameter_shape(spec: NetworkSpec, name: str) -> tuple[int, int]:
    """W<l> is (n_l, n_{l-1}) and b<l> is (n_l, 1)."""
    sizes = spec.sizes
    layer = int(name[1:])
    return (sizes[layer], sizes[layer - 1]) if name[0] == "W" else (sizes[layer], 1)


def check_parameter_header(spec: NetworkSpec, name: str, shape: tuple, dtype: np.dtype) -> None:
    """From the member's header, before its data are read."""
    if dtype.kind != "f" or dtype.name not in DTYPES:
        raise Invalid(f"{name} has dtype {dtype}, expected float32 or float64")
    want = parameter_shape(spec, name)
    if tuple(shape) != want:
        raise Invalid(f"{name} has shape {tuple(shape)} but the spec says {want}")


def check_parameter(spec: NetworkSpec, name: str, a: np.ndarray) -> None:
    """W<l> must be (n_l, n_{l-1}) and b<l> (n_l, 1), float, finite."""
    check_parameter_header(spec, name, a.shape, a.dtype)
    if not np.isfinite(a).all():
        raise Invalid(f"{name} contains NaN or inf")


def check_column_header(spec: NetworkSpec, name: str, shape: tuple, dtype: np.dtype) -> None:
    if dtype.kind != "f":
        raise Invalid(f"{name} has dtype {dtype}, expected a float array")
    n_x = spec.input_size
    if tuple(shape) not in ((n_x,), (n_x, 1)):
        raise Invalid(f"{name} has shape {tuple(shape)} but the spec says {(n_x, 1)}")


def check_column(spec: NetworkSpec, name: str, a: Any) -> np.ndarray | None:
    """A finite float (n_x, 1) array (a 1-d (n_x,) array is accepted and reshaped)."""
    if a is None:
        return None
    a = np.asarray(a)
    check_column_header(spec, name, a.shape, a.dtype)
    a = a.reshape(spec.input_size, 1)
    if not np.isfinite(a).all():
        raise Invalid(f"{name} contains NaN or inf")
    return a


def check_class_names(spec: NetworkSpec, class_names: Any) -> list[str] | None:
    """One name per class, none holding a control character (a model file must not be able
    to write escape sequences to a terminal: refused, see :func:`printable` for saving)."""
    if class_names is None:
        return None
    if not isinstance(class_names, list | tuple) or not all(
            isinstance(c, str) for c in class_names):
        raise Invalid("class_names must be a list of strings")
    for i, c in enumerate(class_names):
        bad = unprintable(c)
        if bad is not None:
            raise Invalid(f"class name {i + 1} ('{printable(c)[:80]}') holds the control "
                          f"character {bad}; class names must be printable text")
    problem = class_names_problem(class_names)
    if problem is not None:
        raise Invalid(printable(problem[:300]))
    want = n_classes(spec)
    if len(class_names) != want:
        units = " (one sigmoid output unit)" if spec.output_size == 1 else ""
        raise Invalid(f"{len(class_names)} class names are given but the network "
                      f"has {want} classes{units}")
    return list(class_names)


def check_input_shape(spec: NetworkSpec, input_shape: Any) -> tuple[int, int, int] | None:
    if input_shape is None:
        return None
    if (not isinstance(input_shape, list | tuple) or len(input_shape) != 3
            or not all(is_whole(n) for n in input_shape) or any(n < 1 for n in input_shape)):
        raise Invalid(f"input_shape must be [H, W, C] of positive integers, "
                      f"got {input_shape!r:.80}")
    h, w, c = (int(n) for n in input_shape)
    if h * w * c != spec.input_size:
        raise Invalid(f"input_shape {[h, w, c]} has {h * w * c} values but the network "
                      f"has {spec.input_size} inputs")
    return h, w, c


def check_dict(field_name: str, d: Any) -> dict | None:
    if d is None:
        return None
    if not isinstance(d, dict):
        raise Invalid(f"{field_name} must be an object (dict) or null, got {type(d).__name__}")
    return d


def check_preprocessing(spec: NetworkSpec, pre: Any,
                        input_shape: tuple[int, int, int] | None) -> dict | None:
    """How an image file becomes a column: ``{"image_size": [H, W], "color": "gray" | "rgb",
    "resize": "stretch" | "fit", "flatten_order": "channel-planes"}`` (resize and flatten
    order may be absent), and it must make columns of the network's input size."""
    pre = check_dict("preprocessing", pre)
    if pre is None:
        return None
    if is_table(pre):
        return check_table_preprocessing(spec, pre, input_shape)
    if "toy" in pre:  # a built-in 2-D data set (data/toy2d.py): two inputs, x1 and x2
        return _check_toy(spec, pre)
    size = pre.get("image_size")
    if (not isinstance(size, list | tuple) or len(size) != 2
            or not all(is_whole(n) and n >= 1 for n in size)):
        raise Invalid(f"preprocessing.image_size must be [height, width] of positive whole "
                      f"numbers, got {size!r:.80}")
    color = pre.get("color")
    if color not in COLORS:
        raise Invalid(f"preprocessing.color must be one of {', '.join(COLORS)}, "
                      f"got {color!r:.80}")
    resize = pre.get("resize", "stretch")
    if resize not in RESIZE_MODES:
        raise Invalid(f"preprocessing.resize must be one of {', '.join(RESIZE_MODES)}, "
                      f"got {resize!r:.80}")
    order = pre.get("flatten_order", FLATTEN_ORDER)
    if order != FLATTEN_ORDER:
        raise Invalid(f"preprocessing.flatten_order {order!r:.80} is unknown "
                      f"(this desktop-nn reads {FLATTEN_ORDER!r})")
    h, w = (int(n) for n in size)
    c = 1 if color == "gray" else 3
    if h * w * c != spec.input_size:
        raise Invalid(f"preprocessing makes {h}x{w} {color} images of {h * w * c} values but "
                      f"the network has {spec.input_size} inputs")
    if input_shape is not None and tuple(input_shape) != (h, w, c):
        raise Invalid(f"preprocessing makes images of shape {(h, w, c)} but input_shape "
                      f"says {tuple(input_shape)}")
    return pre


def _check_toy(spec: NetworkSpec, pre: dict) -> dict:
    """``{"toy": {"name", "n", "noise", "seed"}}``: the built-in data set trained on."""
    try:
        spec_from_record(pre)
    except ToySpecError as exc:
        raise Invalid(str(exc)) from None
    if set(pre) != {"toy"}:
        raise Invalid(f"preprocessing of a 2-D data set holds only toy, got keys "
                      f"{sorted(pre)!r:.80}")
    if spec.input_size != 2:
        raise Invalid(f"preprocessing records a 2-D data set but the network has "
                      f"{spec.input_size} inputs")
    return pre



def check_table_preprocessing(spec: NetworkSpec, pre: dict,
                              input_shape: tuple[int, int, int] | None) -> dict:
    """How a table's row becomes a column: ``{"kind": "table", "feature_columns": [names of
    the n_x columns, in the network's input order], "target_column": name, "class_names":
    [...]}`` (data/table.py). Names are printable, distinct and not empty."""
    columns = pre.get("feature_columns")
    if (not isinstance(columns, list) or not all(isinstance(c, str) for c in columns)
            or len(columns) != spec.input_size):
        raise Invalid(f"preprocessing.feature_columns must list the {spec.input_size} column "
                      f"names the network reads, got {columns!r:.80}")
    target = pre.get("target_column")
    for name in [*columns, target]:
        if not isinstance(name, str) or not name or unprintable(name) is not None:
            raise Invalid(f"preprocessing of a {TABLE_KIND}: the column name {name!r:.80} "
                          f"is not printable text")
    if len(set(columns)) != len(columns) or target in columns:
        raise Invalid("preprocessing.feature_columns names a column twice, or the target")
    names = pre.get("class_names")
    if names is not None and (not isinstance(names, list)
                              or not all(isinstance(c, str) for c in names)):
        raise Invalid("preprocessing.class_names must be a list of strings")
    if input_shape is not None:
        raise Invalid("a model trained on a table has no image input_shape")
    return pre


def check_normalisation(norm: Any, mean: np.ndarray | None,
                        std: np.ndarray | None, table: bool = False) -> dict | None:
    """How raw inputs were scaled: kind scale, standardise (with norm_mean and a positive
    norm_std) or none; null means scale. A ``factor``, when given, must be the one the app
    applies: 1/255 to pixels (to a relative 1e-3: written with fewer digits), or, for a
    ``table`` model (its preprocessing says so), exactly 1: a table's values are standardised
    as they are (data/dataset.py: Normalisation); kind none has none. A table model's is
    standardise, with its factor 1 written (without it, 1/255 would be taken), or none."""
    norm = check_dict("normalisation", norm)
    if norm is None and not table:
        return None
    kind = (norm or {}).get("kind", "scale")
    if kind == "standardize":
        kind = "standardise"
    if kind not in NORMALISATIONS:
        raise Invalid(f"normalisation kind {kind!r:.80} is unknown; expected one of "
                      f"{', '.join(NORMALISATIONS)}")
    if table and not (kind == "none" or (kind == "standardise" and "factor" in norm)):
        raise Invalid(f"normalisation of a model trained on a table must be standardise with "
                      f"factor 1, or none; got {norm!r:.80}")
    if "factor" in norm:
        factor = norm["factor"]
        if kind == "none":
            raise Invalid(f"normalisation 'none' has a factor ({factor!r:.80}); inputs used "
                          "as given have none")
        number = isinstance(factor, int | float) and not isinstance(factor, bool)
        if table and not (number and factor == TABLE_FACTOR):
            raise Invalid(f"normalisation factor must be 1 for a model trained on a table "
                          f"(its values are standardised as they are), got {factor!r:.80}")
        if not table and not (number and math.isclose(factor, PIXEL_FACTOR, rel_tol=1e-3)):
            raise Invalid(f"normalisation factor must be 1/255 (0.0039215...), the scale "
                          f"desktop-nn applies to pixels, got {factor!r:.80}")
    if kind == "standardise":
        if mean is None or std is None:
            raise Invalid("normalisation is 'standardise' but norm_mean or norm_std is missing")
        if not (std >= np.float32(MIN_STD)).all():  # as the float32 copy the model keeps
            raise Invalid(f"norm_std must be positive, at least {MIN_STD:g} (it divides the "
                          f"inputs; desktop-nn takes a smaller spread as constant, std 1)")
    return norm


def check_training(training: Any) -> dict | None:
    """The training summary; the window reads its epochs and steps as whole numbers."""
    training = check_dict("training", training)
    if training is None:
        return None
    for key in ("epochs", "steps"):
        v = training.get(key)
        if v is None:
            continue
        whole = is_whole(v) or (isinstance(v, float) and math.isfinite(v) and v.is_integer())
        if not whole or v < 0:
            raise Invalid(f"training.{key} must be a whole number of at least 0, "
                          f"got {v!r:.80}")
    return training


def check_generation(generation: Any) -> str | None:
    if generation is not None and not isinstance(generation, str):
        raise Invalid(f"header generation must be a string, got {type(generation).__name__}")
    return generation
