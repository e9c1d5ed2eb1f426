"""The CLI on image folders: train DIR, inspect-data, predict."""

import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from desktop_nn.cli import main

INSPECT_KEYS = {"classes", "counts", "n_x", "input_shape", "loaded", "skipped", "splits"}


def make_folder(root, n_per_class=12, size=(6, 5), mode="L", split=None, classes=("dark", "light")):
    """Two trivially separable classes: dark and light images (W x H = size)."""
    rng = np.random.default_rng(0)
    for ci, name in enumerate(classes):
        d = root / split / name if split else root / name
        d.mkdir(parents=True, exist_ok=True)
        for i in range(n_per_class):
            base = 40 if ci == 0 else 210
            shape = (size[1], size[0]) if mode == "L" else (size[1], size[0], 3)
            a = np.clip(base + rng.integers(-30, 30, shape), 0, 255).astype(np.uint8)
            Image.fromarray(a, mode).save(d / f"img {i}.png")
    return root


def test_inspect_data_json(tmp_path, capsys):
    root = make_folder(tmp_path / "data")
    (root / "dark" / "notes.txt").write_text("hello")
    (root / "light" / "broken.png").write_bytes(b"not a png at all")
    assert main(["inspect-data", str(root), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert INSPECT_KEYS <= set(out)
    assert out["classes"] == ["dark", "light"]
    assert out["counts"] == {"dark": 12, "light": 12}
    assert out["input_shape"] == [5, 6, 1] and out["n_x"] == 30
    assert out["loaded"] == 24
    reasons = {s["path"]: s["reason"] for s in out["skipped"]}
    assert reasons["dark/notes.txt"].startswith("not an image file")
    assert reasons["light/broken.png"].startswith("not a readable image")
    assert out["splits"] == {"train": {"dark": 12, "light": 12}}


def test_inspect_data_text_and_image_size(tmp_path, capsys):
    root = make_folder(tmp_path / "data", mode="RGB")
    assert main(["inspect-data", str(root), "--image-size", "4x3"]) == 0
    out = capsys.readouterr().out
    assert "n_x = 3 * 4 * 3 = 36" in out and "dark" in out


def test_inspect_data_bad_folder_exits_2(tmp_path, capsys):
    (tmp_path / "only").mkdir()
    make_folder(tmp_path / "one", classes=("solo",))
    assert main(["inspect-data", str(tmp_path / "missing")]) == 2
    assert "no such folder" in capsys.readouterr().err
    assert main(["inspect-data", str(tmp_path / "one")]) == 2
    assert "only one class" in capsys.readouterr().err


def test_train_folder_with_test_dir_save_and_predict(tmp_path, capsys):
    train = make_folder(tmp_path / "train", n_per_class=20)
    test = make_folder(tmp_path / "test", n_per_class=5)
    model = tmp_path / "m.npz"
    rc = main(["train", str(train), "--test-dir", str(test), "--layers", "4", "--epochs", "30",
               "--lr", "0.5", "--batch-size", "8", "--save", str(model), "--json", "--quiet",
               "--normalise", "standardise"])
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    assert out["test_accuracy"] == 1.0 and out["train_accuracy"] == 1.0

    # predict gives the probabilities of the network on the identically prepared column
    img = test / "light" / "img 3.png"
    assert main(["predict", str(model), str(img), str(test / "dark" / "img 0.png"),
                 "--json"]) == 0
    res = json.loads(capsys.readouterr().out)["results"]
    assert [r["class"] for r in res] == ["light", "dark"]
    from desktop_nn.data.dataset import Normalisation
    from desktop_nn.data.image_folder import decode_image
    from desktop_nn.io.model_file import load_model

    mf = load_model(model)
    assert mf.preprocessing == {"image_size": [5, 6], "color": "gray", "resize": "stretch",
                                "flatten_order": "channel-planes"}
    norm = Normalisation.from_model(mf.normalisation, mf.norm_mean, mf.norm_std)
    assert norm.kind == "standardise"
    x = norm.apply(decode_image(img, (5, 6), "gray")[None, :])
    a = float(mf.network.predict_proba(x)[0, 0])
    assert res[0]["probabilities"]["light"] == pytest.approx(a, rel=1e-6)
    assert res[0]["probabilities"]["dark"] == pytest.approx(1 - a, rel=1e-6)


def test_train_splits_layout_uses_its_test_folder(tmp_path, capsys):
    root = tmp_path / "data"
    make_folder(root, n_per_class=16, split="train")
    make_folder(root, n_per_class=4, split="test")
    assert main(["train", str(root), "--layers", "3", "--epochs", "20", "--lr", "0.5",
                 "--batch-size", "8", "--json", "--quiet"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["test_accuracy"] == 1.0


def test_predict_refusals(tmp_path, capsys, xor):
    X, Y = xor
    data = tmp_path / "xor.npz"
    np.savez(data, X=X, Y=Y)
    model = tmp_path / "m.npz"
    assert main(["train", str(data), "--epochs", "1", "--val-split", "0", "--quiet",
                 "--save", str(model)]) == 0
    img = tmp_path / "a.png"
    Image.fromarray(np.zeros((2, 2), np.uint8)).save(img)
    assert main(["predict", str(model), str(img)]) == 2
    assert f"{model}: this model was trained on arrays" in capsys.readouterr().err
    assert main(["predict", str(tmp_path / "nope.npz"), str(img)]) == 2
    assert "nope.npz" in capsys.readouterr().err


def test_predict_bad_image_is_reported_and_exit_1(tmp_path, capsys):
    train = make_folder(tmp_path / "train")
    model = tmp_path / "m.npz"
    assert main(["train", str(train), "--epochs", "30", "--lr", "0.5", "--batch-size", "8",
                 "--quiet", "--save", str(model)]) == 0
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    good = train / "dark" / "img 0.png"
    assert main(["predict", str(model), str(good), str(bad), str(tmp_path / "gone.png")]) == 1
    out = capsys.readouterr().out
    assert "img 0.png: dark" in out
    assert "bad.png: error:" in out
    assert "gone.png: error:" in out and "no such file" in out.lower()


@pytest.mark.parametrize("size", ["0x0", "nanxnan", "12x", "99999999999999999999x9"])
def test_a_bad_image_size_names_the_option(capsys, size):
    """Issue 21 re-test, finding 20: the message says which option holds the bad value."""
    assert main(["inspect-data", "sample", "--image-size", size]) == 2
    assert capsys.readouterr().err.startswith(f"desktop-nn: error: --image-size {size}: ")


@pytest.mark.skipif(sys.platform != "linux", reason="names of any bytes are a POSIX thing")
def test_a_folder_whose_name_is_not_utf8_trains_and_is_saved(tmp_path, capsys):
    """Issue 21 re-test, finding 5: the model names its data as the loader shows them."""
    root = os.fsencode(tmp_path) + b"/d\xffata"
    make_folder(Path(os.fsdecode(root)))
    model = tmp_path / "m.npz"
    assert main(["train", os.fsdecode(root), "--epochs", "1", "--layers", "3", "--quiet",
                 "--save", str(model)]) == 0
    from desktop_nn.io.model_file import load_model

    assert load_model(model).training["data"] == f"{tmp_path}/d\\xffata"


def test_a_size_of_zero_says_what_is_wrong_with_it(capsys):
    assert main(["inspect-data", "sample", "--image-size", "0x0"]) == 2
    assert capsys.readouterr().err == ("desktop-nn: error: --image-size 0x0: image size '0x0': "
                                       "the width and height must be at least 1 pixel\n")
