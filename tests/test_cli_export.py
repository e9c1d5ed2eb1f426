"""``desktop-nn export MODEL.npz OUT.onnx`` (issue 25, item 3): a model trained from the
command line, exported, gives in onnxruntime what ``desktop-nn predict --json`` prints; a bad
model file, a missing onnx package, an output onto the model or into a missing folder are
refused in one line, exit 2, and leave no file behind."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
from cli_helpers import one_error_line as _one_error_line
from onnx_support import TOLERANCE
from PIL import Image

from desktop_nn.cli import main
from desktop_nn.data.sources import sample_path

SAMPLE_FILES = sorted(sample_path().glob("test/*/*.png"))[::40]  # 30 images, every digit


@pytest.fixture(scope="module")
def sample_model(tmp_path_factory) -> str:
    """A model trained on the bundled sample by ``desktop-nn train``."""
    path = tmp_path_factory.mktemp("model") / "digits.npz"
    assert main(["train", "sample", "--layers", "16", "--activations", "leaky_relu",
                 "--epochs", "10", "--device", "cpu", "--quiet", "--save", str(path)]) == 0
    return str(path)


def test_export_then_onnxruntime_equals_predict(tmp_path, capsys, onnx, ort, sample_model):
    out = tmp_path / "digits.onnx"
    assert main(["export", sample_model, str(out), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["input"] == "pixels" and report["input_shape"] == ["batch", 28, 28, 1]
    assert report["class_names"] == [str(d) for d in range(10)]
    onnx.checker.check_model(str(out), full_check=True)

    assert main(["predict", sample_model, *map(str, SAMPLE_FILES), "--json"]) == 0
    results = json.loads(capsys.readouterr().out)["results"]
    expected = np.array([[r["probabilities"][str(d)] for d in range(10)] for r in results])
    classes = [r["class"] for r in results]

    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    pixels = np.stack([np.asarray(Image.open(p), np.float32)[..., None] for p in SAMPLE_FILES])
    probabilities, index = session.run(["probabilities", "class"], {"pixels": pixels})
    assert np.abs(probabilities - expected).max() < TOLERANCE
    names = json.loads(session.get_modelmeta().custom_metadata_map["class_names"])
    assert [names[i] for i in index] == classes
    accuracy = np.mean([c == p.parent.name for c, p in zip(classes, SAMPLE_FILES, strict=True)])
    assert accuracy > 0.5  # a network that learnt: its probabilities mean something


@pytest.mark.parametrize("uint8", [False, True])
def test_a_model_trained_on_arrays_takes_the_features(tmp_path, capsys, onnx, ort, blobs,
                                                      uint8):
    """Float arrays are used as they are; uint8 arrays were scaled by 1/255 in training, so
    the graph takes their raw values and scales them."""
    from desktop_nn.io.model_file import load_model

    X, Y = blobs
    if uint8:
        X = np.clip(np.rint(X * 40 + 128), 0, 255).astype(np.uint8)
    np.savez(tmp_path / "blobs.npz", X=X, Y=Y)
    model = tmp_path / "blobs.model.npz"
    assert main(["train", str(tmp_path / "blobs.npz"), "--layers", "3", "--activations",
                 "tanh", "--epochs", "3", "--device", "cpu", "--quiet", "--save",
                 str(model)]) == 0
    out = tmp_path / "blobs.onnx"
    assert main(["export", str(model), str(out)]) == 0
    assert "features: float32 (batch, 2)" in capsys.readouterr().out
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    (inp,) = session.get_inputs()
    assert inp.name == "features" and inp.shape == ["batch", 2]
    (got,) = session.run(["probabilities"], {"features": X.T.astype(np.float32)})
    saved = load_model(model)
    assert saved.normalisation["kind"] == ("scale" if uint8 else "none")
    inputs = X.astype(np.float32) * np.float32(1 / 255) if uint8 else X.astype(np.float32)
    a = saved.network.predict_proba(inputs).astype(np.float64)
    assert np.abs(got - np.vstack([1 - a, a]).T).max() < TOLERANCE
    assert np.ptp(a) > 1e-3


def test_a_bad_model_file_is_refused_in_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip at all")
    out = tmp_path / "bad.onnx"
    assert main(["export", str(bad), str(out)]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert str(bad) in line and "not a" in line
    assert not out.exists()
    assert main(["export", str(tmp_path / "missing.npz"), str(out)]) == 2
    assert "missing.npz does not exist" in _one_error_line(capsys.readouterr().err)


def test_without_the_onnx_package_it_says_how_to_install_it(tmp_path, capsys, monkeypatch,
                                                            sample_model):
    monkeypatch.setitem(sys.modules, "onnx", None)  # `import onnx` raises ImportError
    out = tmp_path / "m.onnx"
    assert main(["export", sample_model, str(out)]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert "needs the onnx package" in line and "pip install 'desktop-nn[onnx]'" in line
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_the_output_is_never_the_model_nor_in_a_missing_folder(tmp_path, capsys,
                                                               sample_model):
    import os

    before = open(sample_model, "rb").read()
    assert main(["export", sample_model, sample_model]) == 2
    assert "would replace the model" in _one_error_line(capsys.readouterr().err)
    link = tmp_path / "link.npz"
    os.link(sample_model, link)  # another name of the same file
    assert main(["export", sample_model, str(link)]) == 2
    assert "would replace the model" in _one_error_line(capsys.readouterr().err)
    assert open(sample_model, "rb").read() == before
    assert main(["export", sample_model, str(tmp_path / "no" / "m.onnx")]) == 2
    assert "does not exist" in _one_error_line(capsys.readouterr().err)
    with pytest.raises(SystemExit) as exit_code:  # argparse: an empty name
        main(["export", sample_model, ""])
    assert exit_code.value.code == 2 and "empty file name" in capsys.readouterr().err


def test_a_float64_model_beyond_float32_is_refused_naming_it(tmp_path, capsys, onnx):
    from desktop_nn.io.model_file import ModelFile, save_model
    from desktop_nn.nn.network import Network, NetworkSpec

    net = Network(NetworkSpec(3, [2], ["relu"], 1, "sigmoid"), dtype="float64", seed=0)
    net.W[0][0, 0] = 1e39  # finite in float64, infinite in float32
    model = tmp_path / "huge.npz"
    save_model(model, ModelFile(net))
    out = tmp_path / "huge.onnx"
    assert main(["export", str(model), str(out)]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert line == (f"desktop-nn: error: {model}: W1 has values too large for float32; it "
                    f"cannot be exported")
    assert not out.exists()
