"""Export a model as ONNX: one graph from a raw input to the class probabilities that
``desktop-nn predict`` gives, built with the ``onnx`` package's helper API (optional: ``pip
install 'desktop-nn[onnx]'``; this module imports it only when a graph is built).

The graph, for a batch of N examples (all float32):

    input   image model (the file has ``preprocessing``): ``pixels`` (N, H, W, C), the image
            already converted to gray (C = 1) or RGB (C = 3) and resized to H x W as the
            model's preprocessing says, pixel values 0..255 (uint8 values given as floats);
            array model (no preprocessing): ``features`` (N, n_x), the raw feature vector;
            table model (preprocessing kind "table"): ``features`` (N, n_x), the raw values
            of its feature columns in the model's order (metadata ``feature_columns``).
    flatten image models only: Transpose to (N, C, H, W) and Reshape to (N, n_x), so feature
            c*H*W + y*W + x holds pixel (y, x) of channel c: the "channel-planes" order.
    scale   as the model's normalisation: ``scale`` x = p * (1/255); ``standardise``
            x = (p * (1/255) - mean) / std with the file's norm_mean, norm_std; ``none`` x = p;
            a table's values are not multiplied (factor 1): x = (v - mean) / std.
    layers  Z[l] = A[l-1] W[l]^T + b[l]^T (Gemm, rows are examples), A[l] = g[l](Z[l]) with
            g one of Sigmoid, Tanh, Relu, LeakyRelu (alpha = the app's slope), Identity
            (linear), Softmax over the units.
    output  ``probabilities`` (N, K), K the number of classes: A[L] as it is, except one
            output unit a (a sigmoid, or a 1-unit linear / tanh) which gives the two columns
            [1 - a, a], as ``predict`` shows P(class 0) and P(class 1); ``class`` (N,) int64,
            the index of the largest probability (ArgMax; the first on a tie, as NumPy).

Linear and tanh outputs are not probabilities: the columns are the raw outputs, exactly the
numbers ``predict`` prints. A float64 model is exported in float32 (its weights rounded).

The model's ``metadata_props``: ``class_names`` (JSON list, in the order of the columns),
``app_version`` (the exporting desktop-nn), ``model_app_version`` (the one that saved the
model, when known), ``input`` (name), ``input_layout`` ("NHWC" or "NF"), ``input_shape``
(JSON [H, W, C] or [n_x]), ``input_description`` (one sentence), ``preprocessing`` (the
model file's, JSON), ``normalisation`` (kind), ``flatten_order`` and ``network`` (the spec);
for a table model also ``feature_columns`` (JSON list) and ``target_column``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

import desktop_nn
from desktop_nn.data.dataset import Normalisation
from desktop_nn.data.table import is_table
from desktop_nn.io.atomic import atomic_open
from desktop_nn.io.model_file import DEFAULT_FLATTEN_ORDER, ModelFile
from desktop_nn.nn.activations import LEAKY_SLOPE

OPSET = 17  # every operator used here is in opset 13; 17 is read by any runtime since 2022
IR_VERSION = 8  # the IR of opset 17 (onnx 1.12): a newer one would shut out older runtimes
INSTALL_HINT = "pip install 'desktop-nn[onnx]' (or: pip install onnx)"
# a protobuf message cannot pass 2 GiB; leave room for the graph around the weights
MAX_WEIGHT_BYTES = 2_000_000_000

# the ONNX operator for each of the app's activations (nn/activations.py)
OPERATORS = {"sigmoid": "Sigmoid", "tanh": "Tanh", "relu": "Relu",
             "leaky_relu": "LeakyRelu", "linear": "Identity", "softmax": "Softmax"}


class OnnxUnavailableError(ImportError):
    """The ``onnx`` package is not installed; the message says how to install it."""


class OnnxExportError(ValueError):
    """The model cannot be written as ONNX; the message says why."""


def _onnx() -> Any:
    try:
        import onnx
    except ImportError:
        raise OnnxUnavailableError(
            f"exporting as ONNX needs the onnx package, which is not installed: "
            f"{INSTALL_HINT}") from None
    return onnx


def missing_onnx() -> str | None:
    """Why ONNX export cannot work here (the onnx package is not installed), or None; to say
    so before anyone picks a file name."""
    try:
        _onnx()
    except OnnxUnavailableError as exc:
        return str(exc)
    return None


def class_names(model: ModelFile) -> list[str]:
    """One name per column of ``probabilities``, as ``predict`` names them."""
    n_out = model.network.spec.output_size
    return list(model.class_names or [str(i) for i in range(max(n_out, 2))])


def _is_image(model: ModelFile) -> bool:
    """Whether the model reads image files (its preprocessing gives an image size)."""
    return isinstance(model.preprocessing, dict) and "image_size" in model.preprocessing


def input_signature(model: ModelFile) -> tuple[str, str, list[int]]:
    """(input name, layout, shape without the batch): ("pixels", "NHWC", [H, W, C]) for an
    image model, ("features", "NF", [n_x]) for a model trained on arrays or on a table (its
    feature columns in the model's order)."""
    pre = model.preprocessing
    if _is_image(model):
        h, w = (int(n) for n in pre["image_size"])
        return "pixels", "NHWC", [h, w, 1 if pre["color"] == "gray" else 3]
    return "features", "NF", [model.network.spec.input_size]


def input_description(model: ModelFile) -> str:
    """One sentence saying what to feed the graph."""
    name, _, shape = input_signature(model)
    pre = model.preprocessing
    if _is_image(model):
        h, w, c = shape
        color = "gray" if c == 1 else "RGB"
        return (f"{name}: float32 (batch, {h}, {w}, {c}) = (batch, height, width, channels), "
                f"the image converted to {color} and resized to {w}x{h} "
                f"({pre.get('resize', 'stretch')}), pixel values 0..255")
    if is_table(pre):
        columns = ", ".join(f"'{c}'" for c in pre["feature_columns"])
        return (f"{name}: float32 (batch, {shape[0]}), the raw values of the table's columns "
                f"{columns}, in this order, one row per example")
    return f"{name}: float32 (batch, {shape[0]}), the raw feature values, one row per example"


def _normalisation(model: ModelFile) -> Normalisation:
    try:
        return Normalisation.from_model(model.normalisation, model.norm_mean, model.norm_std)
    except ValueError as exc:
        raise OnnxExportError(f"the model's normalisation cannot be exported: {exc}") from None


def _float32(name: str, a: np.ndarray) -> np.ndarray:
    """``a`` as float32, refused when rounding makes it infinite (a float64 model)."""
    with np.errstate(over="ignore"):  # an overflow is refused just below, in words
        out = np.ascontiguousarray(np.asarray(a, dtype=np.float64).astype(np.float32))
    if not np.isfinite(out).all():
        raise OnnxExportError(f"{name} has values too large for float32; it cannot be "
                              "exported")
    return out


def build_onnx_model(model: ModelFile) -> Any:
    """The ``onnx.ModelProto`` of ``model`` (see the module docstring); checked with
    ``onnx.checker``. Raises :class:`OnnxUnavailableError` without the onnx package and
    :class:`OnnxExportError` for a model that cannot be exported."""
    onnx = _onnx()
    from onnx import TensorProto, helper, numpy_helper

    net = model.network
    spec = net.spec
    if spec.parameter_count() * 4 > MAX_WEIGHT_BYTES:
        raise OnnxExportError(f"the network's {spec.parameter_count():,} weights make more "
                              "than 2 GB, the most one ONNX file can hold")
    norm = _normalisation(model)
    names = class_names(model)
    name, layout, shape = input_signature(model)
    n_x = spec.input_size
    nodes: list = []
    inits: list = []

    def const(key: str, value: np.ndarray) -> str:
        inits.append(numpy_helper.from_array(value, key))
        return key

    def node(op: str, inputs: list[str], output: str, **attrs) -> str:
        nodes.append(helper.make_node(op, inputs, [output], name=output, **attrs))
        return output

    x = name
    if layout == "NHWC":  # channel planes: (N, H, W, C) -> (N, C, H, W) -> (N, C*H*W)
        x = node("Transpose", [x], "planes", perm=[0, 3, 1, 2])
        x = node("Reshape", [x, const("flat_shape", np.array([-1, n_x], np.int64))], "flat")
    if norm.kind != "none" and norm.pixels:  # the same float32 steps as Normalisation.apply
        x = node("Mul", [x, const("pixel_factor", np.array(1.0 / 255.0, np.float32))],
                 "scaled")
    if norm.kind == "standardise":
        mean = const("norm_mean", _float32("norm_mean", norm.mean).reshape(1, n_x))
        std = const("norm_std", _float32("norm_std", norm.std).reshape(1, n_x))
        x = node("Div", [node("Sub", [x, mean], "centred"), std], "standardised")

    W, b = net.get_parameters()
    for layer, (w, bias, act) in enumerate(zip(W, b, spec.activations, strict=True), 1):
        z = node("Gemm", [x, const(f"W{layer}", _float32(f"W{layer}", w)),
                          const(f"b{layer}", _float32(f"b{layer}", bias).reshape(-1))],
                 f"Z{layer}", transB=1)
        attrs: dict[str, Any] = {}
        if act == "leaky_relu":
            attrs["alpha"] = float(LEAKY_SLOPE)
        elif act == "softmax":
            attrs["axis"] = 1  # over the units of each example (a row here)
        x = node(OPERATORS[act], [z], f"A{layer}", **attrs)

    if spec.output_size == 1:  # one unit a: the two classes' columns [1 - a, a]
        one = const("one", np.array(1.0, np.float32))
        x = node("Concat", [node("Sub", [one, x], "one_minus_A"), x], "probabilities",
                 axis=1)
    else:
        x = node("Identity", [x], "probabilities")
    node("ArgMax", [x], "class", axis=1, keepdims=0)

    graph = helper.make_graph(
        nodes, "desktop_nn_model",
        [helper.make_tensor_value_info(name, TensorProto.FLOAT, ["batch", *shape])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT,
                                       ["batch", len(names)]),
         helper.make_tensor_value_info("class", TensorProto.INT64, ["batch"])],
        initializer=inits,
        doc_string=f"desktop-nn model: {input_description(model)} -> probabilities "
                   f"(batch, {len(names)}) over the classes {', '.join(names)}; class "
                   f"(batch,) the index of the largest")
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="desktop-nn",
                              producer_version=desktop_nn.__version__)
    proto.ir_version = IR_VERSION
    helper.set_model_props(proto, metadata(model))
    onnx.checker.check_model(proto, full_check=True)
    return proto


def metadata(model: ModelFile) -> dict[str, str]:
    """The ``metadata_props`` written into the ONNX file (module docstring)."""
    name, layout, shape = input_signature(model)
    props = {
        "class_names": json.dumps(class_names(model), ensure_ascii=False),
        "app_version": desktop_nn.__version__,
        "input": name,
        "input_layout": layout,
        "input_shape": json.dumps(shape),
        "input_description": input_description(model),
        "preprocessing": json.dumps(model.preprocessing, ensure_ascii=False),
        "normalisation": _normalisation(model).kind,
        "flatten_order": (model.preprocessing.get("flatten_order", DEFAULT_FLATTEN_ORDER)
                          if _is_image(model) else "none"),
        "network": json.dumps(model.network.spec.to_dict()),
    }
    if is_table(model.preprocessing):  # the columns a row's values come from, in order
        props["feature_columns"] = json.dumps(model.preprocessing["feature_columns"],
                                              ensure_ascii=False)
        props["target_column"] = str(model.preprocessing.get("target_column"))
    if model.app_version:
        props["model_app_version"] = model.app_version
    return props


def export_onnx(model: ModelFile, path: str | os.PathLike) -> Path:
    """Write ``model`` as an ONNX file at ``path`` atomically (a temporary file moved into
    place: a failure leaves an existing file as it was) and return the Path. Raises
    :class:`OnnxUnavailableError`, :class:`OnnxExportError` or OSError."""
    data = build_onnx_model(model).SerializeToString()
    target = Path(path)
    with atomic_open(target) as f:
        f.write(data)
    return target
