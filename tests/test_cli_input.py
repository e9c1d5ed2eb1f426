"""The command line and the user's input (issue 21, items 3, 12, 13): every bad argument,
output or size ends in one line naming the option or the file, exit 2, no traceback; a
failing output never costs the trained model."""

import errno
import json

import pytest
from cli_helpers import npz_data as _data
from cli_helpers import one_error_line as _one_error_line

from desktop_nn.cli import main

GB = 1_000_000_000


def _train(data, *extra):
    return main(["train", str(data), "--layers", "4", "--epochs", "2", "--batch-size", "20",
                 "--device", "cpu", "--quiet", *extra])


def _disk_full(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device", "/full/.run.jsonl.x.tmp")


# ---------------------------------------------------------------- outputs (item 3, item 12)
def test_a_failing_metrics_file_never_costs_the_model(tmp_path, capsys, blobs, monkeypatch):
    from desktop_nn.io.model_file import load_model
    from desktop_nn.train.history import History

    monkeypatch.setattr(History, "save_jsonl", _disk_full)
    model, metrics = tmp_path / "ok.npz", tmp_path / "run.jsonl"
    rc = _train(_data(tmp_path, blobs), "--save", str(model), "--metrics", str(metrics),
                "--json")
    out, err = capsys.readouterr()
    assert rc == 2
    assert load_model(model).network.spec.hidden_sizes == [4]
    assert json.loads(out)["stopped"] == "completed"  # the summary is still printed
    assert _one_error_line(err) == (f"desktop-nn: error: cannot write {metrics}: "
                                    "No space left on device")


def test_a_failing_model_file_never_costs_the_metrics(tmp_path, capsys, blobs, monkeypatch):
    import desktop_nn.io.model_file as model_file

    monkeypatch.setattr(model_file, "save_model", _disk_full)
    model, metrics = tmp_path / "m.npz", tmp_path / "run.jsonl"
    assert _train(_data(tmp_path, blobs), "--save", str(model), "--metrics", str(metrics)) == 2
    assert sum(json.loads(line)["type"] == "epoch"
               for line in metrics.read_text().splitlines()) == 2
    assert _one_error_line(capsys.readouterr().err) == (
        f"desktop-nn: error: cannot write {model}: No space left on device")


def test_both_outputs_failing_are_both_reported(tmp_path, capsys, blobs, monkeypatch):
    import desktop_nn.io.model_file as model_file
    from desktop_nn.train.history import History

    monkeypatch.setattr(model_file, "save_model", _disk_full)
    monkeypatch.setattr(History, "save_jsonl", _disk_full)
    assert _train(_data(tmp_path, blobs), "--save", str(tmp_path / "m.npz"), "--metrics",
                  str(tmp_path / "r.jsonl")) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert [line.split(":")[0] for line in err.splitlines()] == ["desktop-nn"] * 2
    assert "m.npz" in err and "r.jsonl" in err


@pytest.mark.parametrize("option", ["--save", "--metrics"])
def test_an_output_in_a_missing_folder_is_refused_before_training(tmp_path, capsys, blobs,
                                                                  monkeypatch, option):
    import desktop_nn.data.sources as sources

    def never(*args, **kwargs):
        raise AssertionError("loaded the data before checking the outputs")

    monkeypatch.setattr(sources, "load_training_data", never)
    target = tmp_path / "no-such-folder" / "out"
    assert _train(_data(tmp_path, blobs), option, str(target)) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert option in line and "does not exist" in line and str(target.parent) in line


def test_an_output_that_is_a_folder_is_refused(tmp_path, capsys, blobs):
    assert _train(_data(tmp_path, blobs), "--save", str(tmp_path)) == 2
    assert "is a folder" in _one_error_line(capsys.readouterr().err)


# ---------------------------------------------------------------- arguments (items 12, 13)
@pytest.mark.parametrize("argv,option", [
    (["train", "sample", "--layers", "99999999999999999999999"], "--layers"),
    (["train", "sample", "--layers", "30,0"], "--layers"),
    (["train", "sample", "--layers", "30,x"], "--layers"),
    (["train", "sample", "--l2", "nan"], "--l2"),
    (["train", "sample", "--l2", "-1"], "--l2"),
    (["train", "sample", "--val-split", "nan"], "--val-split"),
    (["train", "sample", "--val-split", "1"], "--val-split"),
    (["train", "sample", "--val-split", "-0.1"], "--val-split"),
    (["train", "sample", "--lr", "nan"], "--lr"),
    (["train", "sample", "--lr", "inf"], "--lr"),
    (["train", "sample", "--lr", "0"], "--lr"),
    (["train", "sample", "--seed", "-1"], "--seed"),
    (["train", "sample", "--epochs", "-1"], "--epochs"),
    (["train", "sample", "--batch-size", "-5"], "--batch-size"),
    (["train", "sample", "--batch-size", "99999999999999999999"], "--batch-size"),
    (["train", "sample", "--patience", "-3"], "--patience"),
    (["train", "sample", "--report-every", "0"], "--report-every"),
    (["train", "sample", "--activations", "foo"], "--activations"),
    (["train", "sample", "--activations", "softmax"], "--activations"),
    (["predict", "m.npz", "x.png", "--top", "0"], "--top"),
    (["predict", "m.npz", "x.png", "--top", "-1"], "--top"),
    (["gradcheck", "--eps", "nan"], "--eps"),
    (["gradcheck", "--eps", "0"], "--eps"),
    (["gradcheck", "--examples", "0"], "--examples"),
    (["gradcheck", "--inputs", "99999999999999999999999"], "--inputs"),
    (["gradcheck", "--l2", "nan"], "--l2"),
    (["gradcheck", "--seed", "-1"], "--seed"),
])
def test_bad_numbers_are_refused_naming_the_option(capsys, argv, option):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert f"argument {option}" in err.splitlines()[-1]


def test_no_hidden_layers_as_the_help_says(tmp_path, capsys, blobs):
    data = _data(tmp_path, blobs)
    for extra in ([], ["--activations", ""]):
        rc = main(["train", str(data), "--layers", "", *extra, "--epochs", "1", "--device",
                   "cpu", "--quiet", "--save", str(tmp_path / "m.npz")])
        assert rc == 0, capsys.readouterr().err
        from desktop_nn.io.model_file import load_model

        assert load_model(tmp_path / "m.npz").network.spec.hidden_sizes == []
    assert main(["gradcheck", "--layers", "", "--activations", ""]) == 0
    assert main(["gradcheck", "--layers", ""]) == 0


@pytest.mark.parametrize("layers,acts,words", [
    ("3", "", "--activations ''"),
    ("3,4", "relu,tanh,relu", "3 activations"),
])
def test_activations_that_do_not_match_the_layers(capsys, layers, acts, words):
    assert main(["train", "sample", "--layers", layers, "--activations", acts, "--quiet"]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert words in line and "--layers" in line


def test_activation_aliases_still_work(tmp_path, blobs):
    assert _train(_data(tmp_path, blobs), "--activations", "leaky-relu") == 0


# ---------------------------------------------------------------- memory (item 12)
def test_an_image_size_that_cannot_fit_is_refused_before_decoding(capsys, monkeypatch):
    import desktop_nn.cli.common as common
    import desktop_nn.data.sources as sources

    def never(*args, **kwargs):
        raise AssertionError("decoded before checking the memory")

    monkeypatch.setattr(sources, "load_training_data", never)
    monkeypatch.setattr(common, "available_memory", lambda: 8 * GB)
    assert main(["train", "sample", "--image-size", "20000x20000", "--color", "rgb"]) == 2
    line = _one_error_line(capsys.readouterr().err)
    # 1200 images x 20000 x 20000 x 3 channels x 9 bytes (pixels, inputs, trainer's copy)
    assert "--image-size 20000x20000: 1,200 RGB images" in line
    assert "need at least 12960.0 GB" in line and "8.0 GB available" in line
    side = int((8 * GB / (1200 * 3 * 9)) ** 0.5)
    assert f"at most about {side}x{side} fits" in line


def test_inspect_data_checks_the_memory_of_an_image_size(capsys, monkeypatch):
    import desktop_nn.cli.common as common

    monkeypatch.setattr(common, "available_memory", lambda: 1 * GB)
    assert main(["inspect-data", "sample", "--image-size", "20000x20000"]) == 2
    assert "need at least" in _one_error_line(capsys.readouterr().err)


def test_a_size_that_fits_is_not_refused(capsys, monkeypatch):
    import desktop_nn.cli.common as common

    monkeypatch.setattr(common, "available_memory", lambda: 8 * GB)
    assert main(["inspect-data", "sample", "--image-size", "14x14", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["input_shape"] == [14, 14, 1]


def test_a_network_that_cannot_fit_on_the_cpu_is_refused_before_it_is_made(
        tmp_path, capsys, blobs, monkeypatch):
    import desktop_nn.cli.common as common

    monkeypatch.setattr(common, "available_memory", lambda: 1 * GB)
    rc = main(["train", str(_data(tmp_path, blobs)), "--layers", "10000000,10000",
               "--device", "cpu", "--quiet"])
    assert rc == 2
    line = _one_error_line(capsys.readouterr().err)
    assert "Not enough memory on this computer" in line and "1.0 GB free" in line
    assert "W[2]" in line and "fewer units" in line


# ---------------------------------------------------------------- the safety net
@pytest.mark.parametrize("error,expected", [
    (MemoryError("Unable to allocate 27.9 GiB for an array with shape (25, 1200000000)"),
     "desktop-nn: error: not enough memory: Unable to allocate 27.9 GiB"),
    (PermissionError(errno.EACCES, "Permission denied", "/data/x.npz"),
     "desktop-nn: error: /data/x.npz: Permission denied"),
])
def test_errors_about_the_users_files_are_one_line(capsys, monkeypatch, error, expected):
    import desktop_nn.data.sources as sources

    def fail(*args, **kwargs):
        raise error

    monkeypatch.setattr(sources, "load_training_data", fail)
    assert main(["train", "sample", "--quiet"]) == 2
    assert _one_error_line(capsys.readouterr().err).startswith(expected)


def test_a_bug_keeps_its_traceback(monkeypatch):
    import desktop_nn.data.image_folder as image_folder

    def fail(*args, **kwargs):
        raise KeyError("a bug")

    monkeypatch.setattr(image_folder, "load_image_folder", fail)
    with pytest.raises(KeyError):
        main(["inspect-data", "sample"])


@pytest.mark.parametrize("command", ["train", "inspect-data"])
def test_a_loading_error_that_does_not_name_the_data_is_led_by_it(capsys, monkeypatch,
                                                                   command):
    import desktop_nn.data.image_folder as image_folder
    import desktop_nn.data.sources as sources

    def fail(*args, **kwargs):  # a class folder whose name is not UTF-8, as the cache saw it
        raise UnicodeEncodeError("utf-8", "bad\udcff", 3, 4, "surrogates not allowed")

    monkeypatch.setattr(sources, "load_training_data", fail)
    monkeypatch.setattr(image_folder, "load_image_folder", fail)
    assert main([command, "/data/digits"]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert line.startswith("desktop-nn: error: /data/digits: 'utf-8' codec can't encode")
