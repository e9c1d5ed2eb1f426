"""The command line's outputs (issue 21 re-test, findings 2, 3, 17, 20): an output never
replaces another output or the user's data; a stream that fails (a full disk, /dev/full, a
closed descriptor, a pipe whose reader has gone) never costs the model or the metrics."""

import errno
import json
import os
import signal
import subprocess
import sys

import pytest
from cli_helpers import npz_data as _data
from cli_helpers import one_error_line as _one_error_line

from desktop_nn.cli import main
from desktop_nn.io.model_file import load_model


def _train(data, *extra):
    return main(["train", str(data), "--layers", "4", "--epochs", "2", "--batch-size", "20",
                 "--device", "cpu", *extra])


@pytest.fixture
def never_loaded(monkeypatch):
    import desktop_nn.data.sources as sources

    def never(*args, **kwargs):
        raise AssertionError("loaded the data before checking the outputs")

    monkeypatch.setattr(sources, "load_training_data", never)


# ---------------------------------------------------------------- outputs apart (2, 17)
def test_save_and_metrics_onto_one_file_are_refused_before_training(tmp_path, capsys, blobs,
                                                                    never_loaded):
    data = _data(tmp_path, blobs)
    out = tmp_path / "out"
    out.mkdir()
    for save, metrics in ((out / "same", out / "same"),
                          (out / "same", out / "." / ".." / "out" / "same")):
        assert _train(data, "--save", str(save), "--metrics", str(metrics)) == 2
        line = _one_error_line(capsys.readouterr().err)
        assert f"--save {save} and --metrics {metrics} are the same file" in line
    (out / "model.npz").write_bytes(b"old")
    os.link(out / "model.npz", out / "hard.jsonl")  # one file, two names
    assert _train(data, "--save", str(out / "model.npz"), "--metrics",
                  str(out / "hard.jsonl")) == 2
    assert "are the same file" in _one_error_line(capsys.readouterr().err)
    assert (out / "model.npz").read_bytes() == b"old"


@pytest.mark.parametrize("option", ["--save", "--metrics"])
def test_an_output_onto_the_training_data_set_is_refused(tmp_path, capsys, blobs, option,
                                                         never_loaded):
    data = _data(tmp_path, blobs)
    before = data.read_bytes()
    os.symlink(data, tmp_path / "link.npz")
    for target in (data, tmp_path / "link.npz"):
        assert _train(data, option, str(target)) == 2
        line = _one_error_line(capsys.readouterr().err)
        assert f"{option} {target} is the training data {data}" in line
    assert data.read_bytes() == before


def test_an_output_inside_the_image_or_test_folder_is_refused(tmp_path, capsys,
                                                              never_loaded):
    from image_factory import gray, save

    for folder in ("train", "test"):
        for label in ("a", "b"):
            save(tmp_path / folder / label / "0.png", gray(40 if label == "a" else 200, (4, 4)))
    train, test = tmp_path / "train", tmp_path / "test"
    argv = ["train", str(train), "--test-dir", str(test), "--epochs", "1", "--quiet"]
    assert main([*argv, "--save", str(train / "a" / "0.png")]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert f"--save {train / 'a' / '0.png'} is inside the training data {train}" in line
    assert main([*argv, "--metrics", str(test / "run.jsonl")]) == 2
    assert f"is inside the test folder {test}" in _one_error_line(capsys.readouterr().err)
    assert not (test / "run.jsonl").exists()


def test_an_output_beside_the_data_is_fine(tmp_path, capsys, blobs):
    data = _data(tmp_path, blobs)
    assert _train(data, "--quiet", "--save", str(tmp_path / "data.model.npz")) == 0


# ---------------------------------------------------------------- empty names, epochs 0 (20)
@pytest.mark.parametrize("argv,option", [
    (["train", "DATA", "--save", ""], "--save"),
    (["train", "DATA", "--metrics", ""], "--metrics"),
    (["train", "", "--epochs", "1"], "DATA"),
    (["train", "DATA", "--test-dir", ""], "--test-dir"),
    (["inspect-data", ""], "DIR"),
    (["predict", "MODEL", ""], "IMAGE"),
    (["predict", "", "x.png"], "MODEL.npz"),
])
def test_an_empty_file_name_is_refused_naming_the_argument(tmp_path, capsys, blobs, argv,
                                                           option):
    data = str(_data(tmp_path, blobs))
    argv = [data if a in ("DATA", "MODEL") else a for a in argv]
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    last = capsys.readouterr().err.splitlines()[-1]
    assert f"argument {option}: an empty file name" in last


def test_epochs_0_says_that_nothing_was_trained(tmp_path, capsys, blobs):
    model = tmp_path / "m.npz"
    assert _train(_data(tmp_path, blobs), "--epochs", "0", "--quiet", "--save",
                  str(model)) == 0
    assert capsys.readouterr().err == ("note: --epochs 0: nothing was trained; the model "
                                       "holds its initial weights (--seed 0)\n")
    assert load_model(model).network.spec.hidden_sizes == [4]


# ---------------------------------------------------------------- failing streams (3, 20)
class _Failing:
    """A stream whose every write fails as a full disk (or a pipe without a reader) does."""

    def __init__(self, error: int) -> None:
        self.error = error
        self.writes = 0

    def write(self, text):
        self.writes += 1
        raise OSError(self.error, os.strerror(self.error))

    def flush(self):
        pass

    def isatty(self):
        return False


@pytest.mark.parametrize("error", [errno.ENOSPC, errno.EPIPE, errno.EIO])
def test_a_failing_stderr_never_costs_the_model_or_the_metrics(tmp_path, capsys, blobs,
                                                               monkeypatch, error):
    failing = _Failing(error)
    monkeypatch.setattr(sys, "stderr", failing)
    model, metrics = tmp_path / "m.npz", tmp_path / "run.jsonl"
    assert _train(_data(tmp_path, blobs), "--save", str(model), "--metrics",
                  str(metrics)) == 0
    assert failing.writes == 1  # the first progress line failed; nothing more was tried
    assert load_model(model).network.spec.hidden_sizes == [4]
    assert len(metrics.read_text().splitlines()) > 2
    assert sys.stderr is failing  # given back as it was


def test_a_failing_stdout_is_named_after_the_model_is_saved(tmp_path, capsys, blobs,
                                                            monkeypatch):
    monkeypatch.setattr(sys, "stdout", _Failing(errno.ENOSPC))
    model = tmp_path / "m.npz"
    assert _train(_data(tmp_path, blobs), "--quiet", "--json", "--save", str(model)) == 2
    assert _one_error_line(capsys.readouterr().err) == (
        "desktop-nn: error: cannot write the output to standard output: No space left on "
        "device")
    assert load_model(model).network.spec.hidden_sizes == [4]


def test_a_stdout_pipe_closed_early_ends_quietly_with_141(tmp_path, capsys, blobs,
                                                          monkeypatch):
    monkeypatch.setattr(sys, "stdout", _Failing(errno.EPIPE))
    model = tmp_path / "m.npz"
    assert _train(_data(tmp_path, blobs), "--quiet", "--json", "--save", str(model)) == 141
    assert capsys.readouterr().err == ""
    assert model.is_file()


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_real_descriptors_closed_full_or_a_pipe_without_reader(tmp_path, blobs):
    """The model is written and the process exits cleanly (no 'Exception ignored' at exit)
    with stderr closed, on /dev/full, and a pipe whose reader has gone; stdout on /dev/full
    is one line on stderr and exit 2."""
    data = _data(tmp_path, blobs)
    code = ("import sys; from desktop_nn.cli import main; "
            "sys.exit(main(sys.argv[1:]))")

    def run(name, **streams):
        model = tmp_path / f"{name}.npz"
        argv = [sys.executable, "-c", code, "train", str(data), "--layers", "3", "--epochs",
                "3", "--device", "cpu", "--json", "--save", str(model), "--metrics",
                str(tmp_path / f"{name}.jsonl")]
        done = subprocess.run(argv, timeout=120, **streams)
        assert model.is_file() and (tmp_path / f"{name}.jsonl").is_file(), name
        return done

    read, write = os.pipe()
    os.close(read)  # the reader has gone before the first line
    try:
        with open("/dev/full", "w") as full:
            assert run("full", stderr=full, stdout=subprocess.DEVNULL).returncode == 0
            assert run("pipe", stderr=write, stdout=subprocess.DEVNULL).returncode == 0
            done = run("stdout-full", stdout=full, stderr=subprocess.PIPE, text=True)
            assert done.returncode == 2
            assert done.stderr.splitlines()[-1] == ("desktop-nn: error: cannot write the "
                                                    "output to standard output: No space "
                                                    "left on device")
    finally:
        os.close(write)
    closed = run("closed", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                 pass_fds=(), preexec_fn=lambda: os.close(2))
    assert closed.returncode == 0


# ---------------------------------------------------------------- names reach no terminal raw
def test_names_from_files_are_escaped_in_the_text_output(tmp_path, capsys):
    """Issue 21 re-test: a class folder or an image named with ESC / CR / U+202E would write
    escape sequences to the user's terminal through predict and inspect-data."""
    from image_factory import gray, save

    evil = "\x1b[31mred\x1b]0;pwn\x07"
    for label, shade in (("dark\r", 40), (evil, 200), ("b\u202ec", 120)):
        for i in range(3):
            save(tmp_path / "data" / label / f"{i}.png", gray(shade, (4, 4)))
    save(tmp_path / "data" / "dark\r" / f"{evil}.png", gray(40, (4, 4)))
    (tmp_path / "data" / "dark\r" / f"{evil}.txt").write_text("not an image")
    assert main(["inspect-data", str(tmp_path / "data")]) == 0
    out = capsys.readouterr().out
    assert "\\x1b[31mred\\x1b]0;pwn\\x07" in out and "dark\\r" in out and "b\\u202ec" in out
    model = tmp_path / "m.npz"
    assert main(["train", str(tmp_path / "data"), "--epochs", "1", "--quiet", "--save",
                 str(model)]) == 0
    capsys.readouterr()
    assert main(["predict", str(model), str(tmp_path / "data" / "dark\r" / f"{evil}.png"),
                 str(tmp_path / "data" / "dark\r" / f"{evil}.txt")]) == 1
    out = capsys.readouterr().out
    assert not any(c in out for c in "\x1b\r\x07\u202e"), repr(out)
    assert main(["predict", "--json", str(model),
                 str(tmp_path / "data" / "dark\r" / f"{evil}.png")]) == 0
    out = capsys.readouterr().out
    assert not any(c in out for c in "\x1b\r\x07\u202e"), repr(out)
    assert json.loads(out)["results"][0]["path"].endswith(f"{evil}.png")


# ---------------------------------------------------------------- Ctrl-C keeps what was trained
@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_training_saves_what_was_trained(tmp_path, blobs, signum):
    """Ctrl-C (or SIGTERM) after hours of training stopped with nothing saved; now the run
    stops after its step, the model and metrics are written, and the exit says it was cut."""
    data = _data(tmp_path, blobs)
    model, metrics = tmp_path / "m.npz", tmp_path / "run.jsonl"
    code = "import sys; from desktop_nn.cli import main; sys.exit(main(sys.argv[1:]))"
    argv = [sys.executable, "-c", code, "train", str(data), "--layers", "3", "--epochs",
            "100000", "--device", "cpu", "--save", str(model), "--metrics", str(metrics)]
    with subprocess.Popen(argv, stderr=subprocess.PIPE, text=True) as proc:
        for line in proc.stderr:  # the first epoch's line: training is under way
            if line.startswith("epoch"):
                break
        proc.send_signal(signum)
        rest = proc.stderr.read()
        assert proc.wait(timeout=60) == 128 + signum, rest
    assert "interrupted: training stops after this step" in rest
    assert f"saved {model}" in rest and "Traceback" not in rest
    trained = load_model(model).training
    epochs = [json.loads(line) for line in metrics.read_text().splitlines()
              if json.loads(line)["type"] == "epoch"]
    assert 1 <= len(epochs) < 100000 and trained["steps"] >= epochs[-1]["step"]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX FIFOs and links")
def test_an_output_that_cannot_be_a_file_is_refused_before_training(tmp_path, capsys, blobs,
                                                                    never_loaded):
    """A link to a pipe (as /dev/stderr is, on a pipe) was 'a link that leads to nothing',
    after training; a folder that is a loop of links was 'does not exist'."""
    data = _data(tmp_path, blobs)
    os.mkfifo(tmp_path / "pipe")
    (tmp_path / "to_pipe").symlink_to(tmp_path / "pipe")
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    cases = [(tmp_path / "to_pipe", f"is a symbolic link to {tmp_path / 'pipe'}, which is a "
                                    f"FIFO (named pipe), not a regular file"),
             (tmp_path / "loop" / "m.npz", f"the folder {tmp_path / 'loop'} is a loop of "
                                           f"symbolic links")]
    for target, words in cases:
        for option in ("--save", "--metrics"):
            assert _train(data, option, str(target)) == 2
            assert f"{option} {target}: {words}" in _one_error_line(capsys.readouterr().err)
