"""Prediction with a model that is at fault (issue 21, item 14): weights so large that the
forward pass overflows give an error for the image, never NaN probabilities; a model whose
preprocessing is impossible (a negative image size) is blamed, not the image."""

from __future__ import annotations

import json

import numpy as np
import pytest
from image_factory import gray, make_folder

from desktop_nn.backend import select_backend
from desktop_nn.cli import main
from desktop_nn.io.model_file import ModelFile, load_model, save_model
from desktop_nn.nn.network import Network, NetworkSpec
from desktop_nn.predict import PredictError, Predictor, predict_files

GOOD = {"image_size": [3, 4], "color": "gray", "resize": "stretch",
        "flatten_order": "channel-planes"}


def _model(preprocessing, output="softmax", n_out=3, scale=1.0, dtype="float64"):
    spec = NetworkSpec(12, [5], ["relu"], n_out, output, "cross-entropy", "he", "zeros")
    net = Network(spec, select_backend("cpu"), dtype=dtype, seed=0)
    for W in net.W:
        W *= scale
    return ModelFile(net, class_names=[f"c{i}" for i in range(max(n_out, 2))],
                     input_shape=(3, 4, 1), preprocessing=preprocessing,
                     normalisation={"kind": "scale", "factor": 1 / 255})


@pytest.fixture
def image(tmp_path):
    path = tmp_path / "x.png"
    gray(200, (4, 3)).save(path)
    return path


@pytest.mark.parametrize("output, n_out, dtype", [("softmax", 3, "float64"),
                                                  ("sigmoid", 1, "float32"),
                                                  ("softmax", 3, "float32")])
def test_outputs_that_are_not_finite_are_an_error_for_the_image(image, output, n_out, dtype):
    big = 1e200 if dtype == "float64" else 1e30
    predictor = Predictor(_model(GOOD, output, n_out, scale=big, dtype=dtype))
    (item,) = predict_files(predictor, [image])
    assert item.probabilities is None and item.predicted is None
    assert "outputs are not finite for this image" in item.error
    assert str(image) in item.error


def test_finite_outputs_still_give_probabilities(image):
    (item,) = predict_files(Predictor(_model(GOOD)), [image])
    assert item.error is None and np.isclose(sum(item.probabilities), 1.0)


def test_predict_command_with_huge_weights_reports_the_image_not_nan(tmp_path, image, capsys):
    model = tmp_path / "huge.npz"
    save_model(model, _model(GOOD, scale=1e200))
    rc = main(["predict", str(model), str(image)])
    out = capsys.readouterr().out
    assert rc != 0
    assert "nan" not in out.lower() and "outputs are not finite" in out


@pytest.mark.parametrize("size", [[-3, 4], [0, 4], [3], [3.5, 4], ["3", "4"], None, [True, 4]])
def test_an_impossible_image_size_blames_the_model(size):
    pre = dict(GOOD, image_size=size)
    with pytest.raises(PredictError, match=r"^m\.npz: this model is bad: its image size"):
        Predictor(_model(pre), source="m.npz")


def test_an_image_size_pillow_cannot_make_blames_the_model(monkeypatch):
    import desktop_nn.predict as predict

    monkeypatch.setattr(predict, "MAX_IMAGE_SIDE", 3)  # a real one needs a 64 MB network
    with pytest.raises(PredictError, match=r"^m\.npz: this model is bad: its image size 4x3 "
                                           r"is too large: a width or height of at most 3 "):
        Predictor(_model(GOOD), source="m.npz")


@pytest.mark.parametrize("change, words", [
    ({"color": "purple"}, "image colour 'purple'"),
    ({"resize": "squash"}, "resize mode 'squash'"),
    ({"image_size": [4, 4]}, "images of 4x4 gray make 16 inputs, but its network reads 12"),
])
def test_other_impossible_preprocessing_blames_the_model(change, words):
    with pytest.raises(PredictError, match=f"this model is bad: its {words}"):
        Predictor(_model(dict(GOOD, **change)))


def test_predict_command_with_a_negative_image_size_blames_the_model(tmp_path, image,
                                                                     capsys):
    """save_model refuses such a model, so the file is written by hand: its header says a
    negative image size. The model file is blamed (by its reader), never the image."""
    model = tmp_path / "neg.npz"
    save_model(model, _model(GOOD))
    with np.load(model, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    header = json.loads(arrays["header"].tobytes().decode("utf-8"))
    header["preprocessing"]["image_size"] = [-3, 4]
    arrays["header"] = np.frombuffer(json.dumps(header).encode("utf-8"), dtype=np.uint8)
    with open(model, "wb") as f:
        np.savez(f, **arrays)
    rc = main(["predict", str(model), str(image)])
    err = capsys.readouterr().err
    assert rc == 2
    assert "neg.npz" in err and "image_size" in err and "x.png" not in err


def test_a_trained_models_preprocessing_is_accepted(tmp_path):
    root = make_folder(tmp_path / "d", {"a": 6, "b": 6}, size=(4, 3))
    model = tmp_path / "m.npz"
    assert main(["train", str(root), "--epochs", "1", "--quiet", "--save", str(model)]) == 0
    predictor = Predictor(load_model(model), source=model)
    assert predictor.input_shape == (3, 4, 1)


def test_an_image_model_given_a_table_says_it_predicts_images(tmp_path, image):
    rows = tmp_path / "rows.csv"
    rows.write_text("a,b\n1,2\n", encoding="utf-8")
    items = predict_files(Predictor(_model(GOOD)), [rows, image])
    assert items[0].error.startswith(f"{rows}: a table (.csv), but this model was trained on "
                                     f"images")
    assert items[1].error is None  # the image is still predicted
