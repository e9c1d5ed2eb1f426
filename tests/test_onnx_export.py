"""ONNX export (issue 25, item 3): every exported graph passes onnx's checker, and
onnxruntime run on the raw input gives what ``desktop-nn predict`` gives (max difference
< 1e-5 in float32) for every hidden activation and every output, gray and RGB images, scaled
and standardised, and for models trained on arrays.

The graph's input is built here from the image files with Pillow alone (an (H, W) or
(H, W, 3) array as Pillow reads it), never through the app's flattening, so a wrong flatten
order or channel order in the graph shows as a difference.

onnx and onnxruntime are in the test extra (CI installs them): there a missing one fails;
elsewhere its tests are skipped, with the reason."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np
import pytest
from onnx_support import TOLERANCE
from PIL import Image

from desktop_nn.backend import select_backend
from desktop_nn.data.dataset import Normalisation
from desktop_nn.data.image_folder import decode_image
from desktop_nn.data.sources import sample_path
from desktop_nn.io.model_file import ModelFile
from desktop_nn.io.onnx_export import build_onnx_model
from desktop_nn.nn.activations import HIDDEN_ACTIVATIONS, OUTPUT_ACTIVATIONS
from desktop_nn.nn.network import Network, NetworkSpec
from desktop_nn.predict import Predictor, predict_files
from desktop_nn.train.config import TrainConfig
from desktop_nn.train.trainer import Trainer


def _sample_files(split: str, per_class: int) -> tuple[list[Path], np.ndarray]:
    """The first ``per_class`` files of each digit of the bundled sample, and their labels."""
    paths, labels = [], []
    for digit in range(10):
        files = sorted((sample_path() / split / str(digit)).glob("*.png"))[:per_class]
        paths += files
        labels += [digit] * len(files)
    return paths, np.array(labels)


TRAIN_FILES, TRAIN_LABELS = _sample_files("train", 20)  # 200 images to train on
TEST_FILES, _ = _sample_files("test", 3)  # 30 images to compare on


def _pillow_pixels(paths: list[Path], color: str) -> np.ndarray:
    """(N, H, W, C) float32 pixel values 0..255 read by Pillow (files already at the size)."""
    mode = "L" if color == "gray" else "RGB"
    images = [np.asarray(Image.open(p).convert(mode), dtype=np.float32) for p in paths]
    x = np.stack(images)
    return x[..., None] if color == "gray" else x


@functools.cache
def _decoded(files: tuple[Path, ...], size: tuple[int, int], color: str) -> np.ndarray:
    """(m, n_x) uint8 pixels as the app decodes them (once per files, size and colour)."""
    return np.stack([decode_image(p, size, color) for p in files])


def _targets(labels: np.ndarray, n_out: int) -> np.ndarray:
    """(n_out, m) targets: one-hot over label % n_out, or label < 5 for one unit."""
    if n_out == 1:
        return (labels < 5).astype(np.float32).reshape(1, -1)
    return np.eye(n_out, dtype=np.float32)[:, labels % n_out]


def _trained_model(hidden: str, output: str, n_out: int, *, color: str = "gray",
                   size: tuple[int, int] = (28, 28), normalise: str = "scale",
                   files: list[Path] = TRAIN_FILES, labels: np.ndarray = TRAIN_LABELS,
                   dtype: str = "float32") -> ModelFile:
    """A small network trained two epochs on ``files``, as a model file holds it."""
    h, w = size
    c = 1 if color == "gray" else 3
    pixels = _decoded(tuple(files), size, color)
    norm = Normalisation.fit(normalise, pixels)
    cost = "cross-entropy" if output in ("sigmoid", "softmax") else "quadratic"
    spec = NetworkSpec(h * w * c, [12, 8], [hidden, hidden], n_out, output, cost, "he")
    net = Network(spec, select_backend("cpu"), dtype=dtype, seed=1)
    Trainer(net, norm.apply(pixels), _targets(labels, n_out),
            TrainConfig(lr=0.01, epochs=2, batch_size=20, evaluate=False)).run()
    return ModelFile(
        net, class_names=[f"class {i}" for i in range(max(n_out, 2))], input_shape=(h, w, c),
        normalisation=norm.to_model(), norm_mean=norm.mean, norm_std=norm.std,
        preprocessing={"image_size": [h, w], "color": color, "resize": "stretch",
                       "flatten_order": "channel-planes"})


def _run(onnx, ort, model: ModelFile, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The exported graph, checked, run by onnxruntime on ``x``: (probabilities, class)."""
    data = build_onnx_model(model).SerializeToString()
    onnx.checker.check_model(onnx.load_from_string(data), full_check=True)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1  # tiny graphs: a thread pool costs more than it gives
    session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    return tuple(session.run(["probabilities", "class"], {name: x}))


def _predicted(model: ModelFile, paths: list[Path]) -> tuple[np.ndarray, np.ndarray]:
    """What desktop-nn predict gives: (N, classes) probabilities and (N,) classes."""
    items = predict_files(Predictor(model), paths)
    assert all(item.error is None for item in items)
    return (np.array([item.probabilities for item in items]),
            np.array([item.predicted for item in items]))


def _assert_equal_to_predict(onnx, ort, model: ModelFile, paths: list[Path], color: str):
    expected, classes = _predicted(model, paths)
    got, got_classes = _run(onnx, ort, model, _pillow_pixels(paths, color))
    assert got.dtype == np.float32 and got.shape == expected.shape
    assert np.ptp(expected, axis=0).max() > 1e-3  # the images give different outputs
    assert np.abs(expected).max() < 100  # and a network that trained without diverging
    assert np.abs(got - expected).max() < TOLERANCE
    assert np.array_equal(got_classes, classes)


OUTPUTS = [("sigmoid", 1), ("sigmoid", 3), ("softmax", 10), ("linear", 1), ("linear", 3),
           ("tanh", 1), ("tanh", 3)]


def test_the_cases_cover_every_activation_and_output():
    assert {out for out, _ in OUTPUTS} == set(OUTPUT_ACTIVATIONS)
    assert {n > 1 for out, n in OUTPUTS if out != "softmax"} == {True, False}


@pytest.mark.parametrize("output, n_out", OUTPUTS)
@pytest.mark.parametrize("hidden", HIDDEN_ACTIVATIONS)
def test_onnxruntime_equals_predict_for_every_activation_and_output(onnx, ort, hidden,
                                                                    output, n_out):
    model = _trained_model(hidden, output, n_out)
    _assert_equal_to_predict(onnx, ort, model, TEST_FILES, "gray")


@pytest.mark.parametrize("normalise", ["scale", "standardise"])
@pytest.mark.parametrize("color", ["gray", "rgb"])
def test_gray_and_rgb_scaled_and_standardised_equal_predict(onnx, ort, color, normalise):
    for output, n_out in [("softmax", 10), ("sigmoid", 1)]:
        model = _trained_model("relu", output, n_out, color=color, normalise=normalise)
        _assert_equal_to_predict(onnx, ort, model, TEST_FILES, color)


@pytest.fixture(scope="module")
def colour_images(tmp_path_factory) -> tuple[list[Path], np.ndarray]:
    """40 RGB images of 7x5 (width x height) whose channels differ: red-ish ones are class
    0, blue-ish ones class 1, with noise everywhere."""
    rng = np.random.default_rng(3)
    folder = tmp_path_factory.mktemp("colour")
    paths, labels = [], []
    for i in range(40):
        label = i % 2
        pixels = rng.integers(0, 256, (5, 7, 3))
        pixels[..., 2 * label] = np.minimum(pixels[..., 2 * label] + 120, 255)
        path = folder / f"img{i:02d}.png"
        Image.fromarray(pixels.astype(np.uint8), "RGB").save(path)
        paths.append(path)
        labels.append(label)
    return paths, np.array(labels)


@pytest.mark.parametrize("normalise", ["scale", "standardise"])
def test_channel_order_of_colour_images(onnx, ort, colour_images, normalise):
    """Images whose red, green and blue differ: a graph that mixed up channels or rows
    would differ from predict."""
    paths, labels = colour_images
    model = _trained_model("tanh", "softmax", 2, color="rgb", size=(5, 7),
                           normalise=normalise, files=paths[:30], labels=labels[:30])
    _assert_equal_to_predict(onnx, ort, model, paths[30:], "rgb")


def test_a_float64_model_is_exported_in_float32_within_the_tolerance(onnx, ort):
    model = _trained_model("sigmoid", "softmax", 10, dtype="float64")
    _assert_equal_to_predict(onnx, ort, model, TEST_FILES, "gray")


def test_metadata_says_the_classes_the_input_and_the_version(onnx):
    import desktop_nn

    model = _trained_model("leaky_relu", "sigmoid", 1, normalise="standardise")
    model.class_names = ["cat", "non-cat"]
    proto = build_onnx_model(model)
    meta = {p.key: p.value for p in proto.metadata_props}
    assert json.loads(meta["class_names"]) == ["cat", "non-cat"]
    assert meta["app_version"] == desktop_nn.__version__
    assert (meta["input"], meta["input_layout"]) == ("pixels", "NHWC")
    assert json.loads(meta["input_shape"]) == [28, 28, 1]
    assert meta["normalisation"] == "standardise"
    assert meta["flatten_order"] == "channel-planes"
    (inp,) = proto.graph.input
    dims = [d.dim_param or d.dim_value for d in inp.type.tensor_type.shape.dim]
    assert (inp.name, dims) == ("pixels", ["batch", 28, 28, 1])
    outs = {o.name: [d.dim_param or d.dim_value for d in o.type.tensor_type.shape.dim]
            for o in proto.graph.output}
    assert outs == {"probabilities": ["batch", 2], "class": ["batch"]}
    leaky = [n for n in proto.graph.node if n.op_type == "LeakyRelu"]
    assert [a.f for n in leaky for a in n.attribute] == pytest.approx([0.01, 0.01])
