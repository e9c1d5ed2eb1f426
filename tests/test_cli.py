import json

import numpy as np
import pytest

from desktop_nn.cli import main

JSON_KEYS = {"train_accuracy", "val_accuracy", "test_accuracy", "final_cost", "epochs", "steps",
             "seconds", "device", "stopped"}


def _npz(tmp_path, **arrays):
    path = tmp_path / "data.npz"
    np.savez(path, **arrays)
    return path


def test_train_json_and_files(tmp_path, capsys, blobs):
    X, Y = blobs
    data = _npz(tmp_path, X_train=X[:, :150], Y_train=Y[:, :150], X_test=X[:, 150:],
                Y_test=Y[0, 150:].astype(int))
    model, metrics = tmp_path / "m.npz", tmp_path / "run.jsonl"
    rc = main(["train", str(data), "--layers", "4", "--activations", "tanh", "--epochs", "5",
               "--lr", "0.5", "--batch-size", "10", "--device", "cpu", "--save", str(model),
               "--metrics", str(metrics), "--json", "--quiet"])
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == JSON_KEYS
    assert out["stopped"] == "completed" and out["epochs"] == 5
    assert out["test_accuracy"] == 1.0 and out["train_accuracy"] == 1.0
    assert out["device"].startswith("CPU")
    from desktop_nn.io.model_file import load_model

    loaded = load_model(model)
    assert loaded.network.spec.hidden_sizes == [4]
    lines = metrics.read_text().splitlines()
    assert sum(json.loads(line)["type"] == "epoch" for line in lines) == 5


def test_train_on_bundled_sample(capsys):
    rc = main(["train", "sample", "--layers", "30", "--activations", "sigmoid", "--epochs", "3",
               "--lr", "0.5", "--batch-size", "10", "--json", "--quiet", "--device", "cpu"])
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    assert out["test_accuracy"] > 0.6  # chance is 0.1


def test_train_nan_exit_code(tmp_path, capsys, xor):
    X, Y = xor
    data = _npz(tmp_path, X=X, Y=Y)
    rc = main(["train", str(data), "--layers", "8", "--activations", "relu", "--output",
               "linear", "--cost", "quadratic", "--init", "normal", "--lr", "50", "--epochs",
               "100", "--batch-size", "0", "--val-split", "0", "--json", "--quiet"])
    assert rc == 1
    assert json.loads(capsys.readouterr().out)["stopped"] == "nan"


@pytest.mark.parametrize("arrays,message", [
    ({"A": np.zeros(3)}, "expected arrays X and Y"),
    ({"X": np.zeros((5, 4)), "Y": np.zeros(5)}, "looks transposed"),
    ({"X": np.zeros((2, 4)), "Y": np.array([0.5, 1, 0, 1])}, "whole numbers"),
])
def test_bad_data_files_exit_2_naming_the_file(tmp_path, capsys, arrays, message):
    data = _npz(tmp_path, **arrays)
    assert main(["train", str(data), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert message in err and "data.npz" in err


def test_missing_and_pickled_data(tmp_path, capsys):
    assert main(["train", str(tmp_path / "nope.npz"), "--quiet"]) == 2
    assert "no such file" in capsys.readouterr().err
    bad = tmp_path / "obj.npz"
    np.savez(bad, X=np.array([{"a": 1}], dtype=object), Y=np.zeros(1))
    assert main(["train", str(bad), "--quiet"]) == 2
    assert "pickled" in capsys.readouterr().err


def test_invalid_network_is_usage_error(capsys):
    rc = main(["train", "sample", "--output", "linear", "--cost", "cross-entropy", "--quiet"])
    assert rc == 2
    assert "cost 'cross-entropy'" in capsys.readouterr().err


def test_gradcheck_all_passes(capsys):
    assert main(["gradcheck", "--all", "--layers", "3,3"]) == 0
    out = capsys.readouterr().out
    assert "30 of 30 within 1e-07" in out


def test_gradcheck_fails_when_backprop_is_wrong(capsys, monkeypatch):
    from desktop_nn.nn import activations

    monkeypatch.setattr(activations.Tanh, "derivative", lambda self, z, a: 1.0 - 0.9 * a * a)
    assert main(["gradcheck", "--layers", "3", "--activations", "tanh", "--json"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert out["ok"] is False and out["cases"][0]["worst"] > 1e-3


def test_module_entry_point():
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "desktop_nn", "--version"], capture_output=True,
                         text=True, check=True)
    assert out.stdout.startswith("desktop-nn ")
