"""``desktop-nn train toy:...`` and ``inspect-data toy:...`` (issue 25, item 1): the built-in
2-D data sets from the command line, and the spiral target (>= 0.97 training accuracy)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from cli_helpers import one_error_line

from desktop_nn.cli import build_parser, main

# docs/toy-data.md's spiral recipe, exactly (its figures are printed by this command)
SPIRAL_RECIPE = ["train", "toy:spiral", "--layers", "32,32", "--activations", "tanh",
                 "--optimizer", "adam", "--lr", "0.01", "--epochs", "300",
                 "--batch-size", "32", "--device", "cpu", "--json", "--quiet"]


@pytest.mark.parametrize("seed", [0, 1])
def test_the_spiral_recipe_reaches_the_target(capsys, seed):
    assert main([*SPIRAL_RECIPE, "--seed", str(seed)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["stopped"] == "completed" and out["epochs"] == 300
    assert out["train_accuracy"] >= 0.97


def test_the_recipe_is_the_one_in_the_docs():
    from pathlib import Path

    docs = (Path(__file__).parents[1] / "docs" / "toy-data.md").read_text()
    command = " ".join(["desktop-nn", *SPIRAL_RECIPE[:-4]])  # less --device cpu --json ...
    assert command in docs


def test_a_saved_model_says_what_it_was_trained_on(tmp_path, capsys):
    from desktop_nn.data.sources import load_training_data
    from desktop_nn.io.model_file import load_model
    from desktop_nn.predict import preparation_mismatch

    model = tmp_path / "m.npz"
    assert main(["train", "toy:circle,n=100,noise=0.1", "--layers", "4", "--epochs", "2",
                 "--device", "cpu", "--quiet", "--save", str(model)]) == 0
    m = load_model(model)
    assert m.preprocessing == {"toy": {"name": "circle", "n": 100, "noise": 0.1, "seed": 0}}
    assert m.training["data"] == "toy:circle,n=100,noise=0.1,seed=0"
    assert m.class_names == ["inside", "outside"] and m.input_shape is None
    assert m.normalisation == {"kind": "none"}
    # the same network goes on with other points of the circle, not with other classes
    more = load_training_data("toy:circle,n=300,seed=4").prepared
    assert preparation_mismatch(m, more) is None
    spiral = load_training_data("toy:spiral").prepared
    assert preparation_mismatch(m, spiral) == "the model was trained on other classes"


def test_a_model_file_with_a_bad_toy_record_is_refused(tmp_path, capsys):
    from desktop_nn.io.model_file import ModelFileError, load_model, save_model

    model = tmp_path / "m.npz"
    assert main(["train", "toy:xor,n=40", "--layers", "3", "--epochs", "1", "--device", "cpu",
                 "--quiet", "--save", str(model)]) == 0
    m = load_model(model)
    for bad in ({"toy": {"name": "moons", "n": 40, "noise": 0.0, "seed": 0}},
                {"toy": {"name": "xor", "n": 40, "noise": 0.0, "seed": 0}, "color": "gray"}):
        m.preprocessing = bad
        with pytest.raises((ModelFileError, ValueError)):
            save_model(tmp_path / "bad.npz", m)


def test_predict_refuses_images_for_a_toy_model(tmp_path, capsys):
    model = tmp_path / "m.npz"
    assert main(["train", "toy:gauss,n=40", "--layers", "3", "--epochs", "1", "--device",
                 "cpu", "--quiet", "--save", str(model)]) == 0
    image = tmp_path / "a.png"
    image.write_bytes(b"not looked at")
    assert main(["predict", str(model), str(image)]) == 2
    assert ("trained on the built-in 2-D data set toy:gauss,n=40,noise=0,seed=0: it reads "
            "points") in one_error_line(capsys.readouterr().err)


@pytest.mark.parametrize("extra, problem", [
    (["--test-dir", "tests"], "--test-dir tests: a test folder goes with an image folder, "
                              "not with the built-in data set toy:spiral"),
])
def test_toy_data_refuse_a_test_folder(capsys, extra, problem):
    assert main(["train", "toy:spiral", "--quiet", *extra]) == 2
    assert one_error_line(capsys.readouterr().err) == f"desktop-nn: error: {problem}"


@pytest.mark.parametrize("spec, problem", [
    ("toy:moons", "toy:moons: unknown data set 'moons'; the built-in ones are circle, xor, "
                  "gauss, spiral"),
    ("toy:spiral,n=2", "toy:spiral,n=2: n must be a whole number from 4 to 100,000, got 2"),
    ("toy:spiral,noise=1", "toy:spiral,noise=1: noise must be a number from 0 to 0.5, got 1.0"),
    ("toy:spiral,seed=x", "toy:spiral,seed=x: seed must be a whole number, got 'x'"),
    ("toy:spiral,size=3", "toy:spiral,size=3: unknown setting 'size'; the settings are n=N, "
                          "noise=F and seed=S"),
])
@pytest.mark.parametrize("command", ["train", "inspect-data"])
def test_a_bad_spec_is_one_line(capsys, command, spec, problem):
    assert main([command, spec]) == 2
    assert one_error_line(capsys.readouterr().err) == f"desktop-nn: error: {problem}"


def test_outputs_beside_a_folder_named_like_a_spec_are_fine(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "toy:xor").mkdir()  # not the data: toy:xor is the built-in set
    out = tmp_path / "toy:xor" / "m.npz"
    metrics = tmp_path / "run.jsonl"
    assert main(["train", "toy:xor,n=40", "--layers", "3", "--epochs", "1", "--device", "cpu",
                 "--quiet", "--save", str(out), "--metrics", str(metrics)]) == 0
    assert out.is_file() and metrics.is_file()


def test_inspect_data_reports_points_classes_and_counts(capsys):
    from desktop_nn.data.toy2d import make_toy, parse_spec

    assert main(["inspect-data", "toy:circle,n=300,noise=0.3,seed=2", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    labels = make_toy(parse_spec("toy:circle,n=300,noise=0.3,seed=2")).labels
    inside, outside = np.bincount(labels).tolist()
    assert report["counts"] == {"inside": inside, "outside": outside}
    assert inside + outside == 300 and report["n_x"] == 2
    assert report["data"] == "toy:circle,n=300,noise=0.3,seed=2"
    assert main(["inspect-data", "toy:circle,n=300,noise=0.3,seed=2"]) == 0
    text = capsys.readouterr().out
    assert f"  inside   {inside}\n" in text and f"  outside  {outside}\n" in text
    assert "points: 300, noise 0.3, seed 2" in text


def test_the_help_names_toy_data():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    train = sub.choices["train"].format_help()
    assert "toy:NAME[,n=N][,noise=F][,seed=S]" in " ".join(train.split())
    assert "toy:spiral" in sub.choices["inspect-data"].format_help()


@pytest.mark.parametrize("kind", ["scale", "standardise"])
def test_toy_data_refuse_a_normalisation_they_do_not_get(capsys, kind):
    """A built-in set's points are used as they are: asking for scaling or standardisation
    is refused, not silently ignored; --normalise none says what happens, and is taken."""
    assert main(["train", "toy:xor", "--normalise", kind, "--epochs", "1", "--quiet"]) == 2
    problem = capsys.readouterr().err
    assert f"--normalise {kind} does not apply to toy:xor" in problem
    assert main(["train", "toy:xor", "--normalise", "none", "--epochs", "1", "--quiet",
                 "--json"]) == 0
