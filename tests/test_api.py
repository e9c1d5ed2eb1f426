"""The notebook API (desktop_nn/api/): a run made through it is the run ``desktop-nn train``
makes, reports reach the callback, a stop is clean, bad arguments are named, and its numbers
equal independent computations."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from desktop_nn import api
from desktop_nn.data.dataset import labels_of
from desktop_nn.io.model_file import load_model as load_model_file
from desktop_nn.train.history import EpochReport, StepReport

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def sample():
    return api.load_data("sample")


@pytest.fixture
def two_classes(tmp_path, blobs):
    X, Y = blobs
    np.savez(tmp_path / "blobs.npz", X=X, Y=Y)
    return api.load_data(tmp_path / "blobs.npz")


def _parameters(network):
    W, b = network.get_parameters()
    return [*W, *b]


def test_a_run_equals_the_command_lines_with_the_same_settings(tmp_path):
    """Same data, design, settings and seed: bit-identical weights (the same workbench run)."""
    saved = tmp_path / "cli.npz"
    argv = [sys.executable, "-m", "desktop_nn", "train", "sample", "--layers", "12,7",
            "--activations", "tanh", "--optimizer", "adam", "--lr", "0.01", "--batch-size",
            "32", "--l2", "0.5", "--epochs", "2", "--seed", "3", "--device", "cpu", "--quiet",
            "--save", str(saved)]
    done = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    cli = load_model_file(saved)

    data = api.load_data("sample", seed=3)
    spec = api.design(data, hidden=[12, 7], activation="tanh")
    run = api.train(data, spec, optimizer="adam", lr=0.01, batch_size=32, l2=0.5, epochs=2,
                    seed=3)
    model = run.model()
    assert model.spec.to_dict() == cli.network.spec.to_dict()
    for ours, theirs in zip(_parameters(model.network), _parameters(cli.network), strict=True):
        assert ours.dtype == theirs.dtype and np.array_equal(ours, theirs)
    assert model.class_names == cli.class_names
    assert model.file.normalisation == cli.normalisation
    for key in ("epochs", "steps", "train_accuracy", "val_accuracy", "test_accuracy", "data",
                "config"):
        assert model.file.training[key] == cli.training[key], key


def test_each_report_reaches_the_callback_in_order(sample):
    seen = []
    run = api.train(sample, epochs=2, report_every=5, on_report=seen.append)
    steps = [r for r in seen if isinstance(r, StepReport)]
    epochs = [r for r in seen if isinstance(r, EpochReport)]
    assert len(steps) + len(epochs) == len(seen)
    assert [r.step for r in steps] == [r.step for r in run.history.steps]
    assert [r.step for r in steps] == list(range(5, run.result.steps + 1, 5))
    assert epochs == run.history.epochs and [r.epoch for r in epochs] == [1, 2]
    # an epoch's report comes after its steps' reports
    first_epoch_end = seen.index(epochs[0])
    assert all(r.step <= epochs[0].step for r in seen[:first_epoch_end])


@pytest.mark.parametrize("how", ["return False", "raise StopTraining"])
def test_the_callback_stops_the_run_cleanly(sample, how):
    seen = []

    def on_report(report):
        seen.append(report)
        if len(seen) == 2:
            if how == "return False":
                return False
            raise api.StopTraining
        return None

    run = api.train(sample, epochs=5, report_every=3, on_report=on_report)
    assert run.result.stopped == "stopped"
    assert len(seen) == 2 and run.result.steps == seen[-1].step == 6  # after that step
    assert run.epoch == 0
    # what was trained is the model: it can still be evaluated, saved and trained on
    assert 0.0 <= api.evaluate(run, sample).accuracy <= 1.0
    run.train_more(1)
    assert run.result.stopped == "completed" and run.epoch == 1


def test_an_error_in_the_callback_stops_the_run_and_is_raised(sample):
    class Mine(Exception):
        pass

    calls = []

    def on_report(report):
        calls.append(report)
        raise Mine("from the callback")

    with pytest.raises(Mine, match="from the callback"):
        api.train(sample, epochs=3, on_report=on_report)
    assert len(calls) == 1  # not called again while the run stopped
    # continuing: the run stays usable and says how its last call ended
    run = api.train(sample, epochs=1)
    with pytest.raises(Mine):
        run.train_more(3, on_report=on_report)
    assert run.result.stopped == "stopped" and run.result.steps == calls[-1].step
    with pytest.raises(ValueError, match="^on_report"):
        run.train_more(1, lr=0.5, on_report="print")
    assert run.config.lr == 0.1  # refused before anything changed
    assert run.train_more(1).result.stopped == "completed"


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_an_interrupt_stops_the_run_and_keeps_it(sample, capsys):
    """Ctrl-C (a notebook's interrupt button) is the window's Stop: the run is returned."""
    seen = []

    def on_report(report):
        seen.append(report)
        if len(seen) == 1:
            os.kill(os.getpid(), signal.SIGINT)

    run = api.train(sample, epochs=50, on_report=on_report)
    assert run.result.stopped == "stopped" and run.epoch < 50
    assert "interrupted: training stops after this step" in capsys.readouterr().err
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # given back


def test_train_more_continues_the_same_run(sample):
    """Two epochs then two more: the weights of four epochs in one go (the same run, its
    optimiser state and shuffles going on), and its history appended to."""
    whole = api.train(sample, epochs=4, optimizer="momentum", seed=5)
    halves = api.train(sample, epochs=2, optimizer="momentum", seed=5)
    assert halves.train_more(2) is halves
    for a, b in zip(_parameters(whole.network), _parameters(halves.network), strict=True):
        assert np.array_equal(a, b)
    assert [r.epoch for r in halves.history.epochs] == [1, 2, 3, 4]
    halves.train_more(1, lr=0.01)
    assert halves.config.lr == 0.01
    assert [(c.name, c.old, c.new) for c in halves.history.changes] == [("lr", 0.1, 0.01)]


def test_a_saved_model_loads_and_predicts_the_same(sample, tmp_path):
    model = api.train(sample, epochs=1).model()
    path = model.save(tmp_path / "m.npz")
    again = api.load_model(path)
    X = sample.test.X
    P = model.predict(X)
    assert P.shape == (10, sample.test.m)
    assert np.array_equal(again.predict(X), P)
    assert np.array_equal(again.predict_classes(X), P.argmax(axis=0))
    assert again.class_names == sample.class_names
    assert again.spec.to_dict() == model.spec.to_dict()


def test_evaluate_equals_an_independent_computation(sample):
    run = api.train(sample, api.design(sample, hidden=[16]), epochs=2)
    model = run.model()
    for split in ("train", "val", "test"):
        ds = getattr(sample, split)
        scores = api.evaluate(model, sample, split)
        truth = labels_of(ds.Y)
        guessed = model.predict(ds.X).argmax(axis=0)
        assert scores.accuracy == np.mean(guessed == truth)
        confusion = np.zeros((10, 10), dtype=np.int64)
        for t, p in zip(truth, guessed, strict=True):
            confusion[t, p] += 1
        assert np.array_equal(scores.confusion, confusion)
        # the data cost: mean over the examples of -sum_k y_k log a_k (softmax output)
        A = model.outputs(ds.X)
        cost = -np.sum(ds.Y * np.log(A)) / ds.m
        assert math.isclose(scores.cost, cost, rel_tol=1e-5)
    # and the numbers the window plots for the last epoch (l2 = 0: no L2 term)
    last = run.history.epochs[-1]
    val = api.evaluate(run, sample, "val")
    assert (val.cost, val.accuracy) == (last.val_cost, last.val_accuracy)


def test_two_classes_give_two_probability_rows(two_classes):
    assert two_classes.n_outputs == 1 and two_classes.input_shape is None
    spec = api.design(two_classes, hidden=[4])
    assert spec.output_activation == "sigmoid" and spec.output_size == 1
    run = api.train(two_classes, spec, epochs=20, lr=0.5)
    model = run.model()
    P = model.predict(two_classes.val.X)
    a = model.outputs(two_classes.val.X)[0]
    assert P.shape == (2, two_classes.val.m)
    assert np.array_equal(P[1], a) and np.array_equal(P[0], 1.0 - a)
    scores = api.evaluate(model, two_classes, "val")
    assert scores.accuracy == np.mean((a > 0.5) == labels_of(two_classes.val.Y))
    assert scores.confusion.shape == (2, 2)


def test_extra_keywords_reach_the_loader(monkeypatch, sample):
    """Options of new data kinds (a CSV's ``target``) go to load_training_data as given."""
    got = {}

    def loader(source, options, val_split, seed, normalisation, test_dir, **more):
        got.update(more, source=source, val_split=val_split, seed=seed)
        return sample.loaded

    monkeypatch.setattr("desktop_nn.api.data.load_training_data", loader)
    data = api.load_data("table.csv", target="species", val_split=0.2, seed=4)
    assert got == {"target": "species", "source": "table.csv", "val_split": 0.2, "seed": 4}
    assert data.train is sample.train


@pytest.mark.parametrize("call, name", [
    (lambda d: api.train(d, epochs=-1), "epochs"),
    (lambda d: api.train(d, epochs=2.5), "epochs"),
    (lambda d: api.train(d, lr=0), "lr"),
    (lambda d: api.train(d, lr=float("nan")), "lr"),
    (lambda d: api.train(d, l2=-1), "l2"),
    (lambda d: api.train(d, batch_size=-1), "batch_size"),
    (lambda d: api.train(d, optimizer="rmsprop"), "optimizer"),
    (lambda d: api.train(d, device="tpu"), "device"),
    (lambda d: api.train(d, dtype="float16"), "dtype"),
    (lambda d: api.train(d, seed=-1), "seed"),
    (lambda d: api.train(d, report_every=0), "report_every"),
    (lambda d: api.train(d, on_report="print"), "on_report"),
    (lambda d: api.train(d, "design"), "spec"),
    (lambda d: api.train("sample"), "data"),
    (lambda d: api.design(d, hidden=[30, 0]), "hidden"),
    (lambda d: api.design(d, hidden=30), "hidden"),
    (lambda d: api.design(d, activation="swish"), "activation"),
    (lambda d: api.design(d, hidden=[3, 3, 3], activation=["relu", "tanh"]), "activation"),
    (lambda d: api.design(d, output="relu"), "output"),
    (lambda d: api.design(d, cost="hinge"), "cost"),
    (lambda d: api.design(d, init="zeros"), "init"),
    (lambda d: api.load_data("sample", val_split=1.0), "val_split"),
    (lambda d: api.load_data("sample", normalisation="minmax"), "normalisation"),
    (lambda d: api.load_data("sample", image_size="big"), "image_size"),
    (lambda d: api.load_data("sample", image_size=(0, 8)), "image_size"),
    (lambda d: api.load_data("sample", color="blue"), "color"),
    (lambda d: api.load_data("sample", resize="crop"), "resize"),
    (lambda d: api.load_data(None), "source"),
    (lambda d: api.load_data("sample", image_size=0), "image_size"),
    (lambda d: api.load_data("sample", use_cache="no"), "use_cache"),
    (lambda d: api.design(d, activation=None), "activation"),
    (lambda d: api.design(d, hidden=[3, 3], activation=["relu", 3]), "activation"),
    (lambda d: api.train(d, shuffle="no"), "shuffle"),
    (lambda d: api.evaluate("model", d), "model"),
    (lambda d: d.split("holdout"), "split"),
])
def test_a_bad_argument_is_a_value_error_naming_it(sample, call, name):
    with pytest.raises(ValueError, match=rf"^{name}\b"):
        call(sample)


@pytest.mark.parametrize("source", ["npz", "toy:circle"])
@pytest.mark.parametrize("asked", ["scale", "standardise"])
def test_a_normalisation_the_data_do_not_take_is_refused_not_ignored(two_classes, source,
                                                                     asked):
    """Arrays and 2-D points are used as given: asking to scale or standardise them says so
    instead of handing back unscaled inputs; None (the default) and "none" load them."""
    source = two_classes.loaded.source if source == "npz" else source
    with pytest.raises(ValueError, match=rf"^normalisation '{asked}' does not apply to .*"
                                         r"used as given"):
        api.load_data(source, normalisation=asked)
    for ok in (None, "none"):
        data = api.load_data(source, normalisation=ok)
        assert data.prepared.normalisation.kind == "none"


def test_images_are_scaled_unless_asked_otherwise(sample):
    assert sample.prepared.normalisation.kind == "scale"  # load_data("sample"): the default
    assert float(sample.train.X.max()) <= 1.0
    for asked in ("none", "standardise"):
        assert api.load_data("sample", normalisation=asked).prepared.normalisation.kind == asked


def test_other_refusals_say_what_is_wrong(sample, tmp_path, two_classes):
    with pytest.raises(ValueError, match="no such folder"):
        api.load_data(tmp_path / "nowhere")
    with pytest.raises(ValueError, match="spec has 2 inputs and 1 outputs; the data need 784"):
        api.train(sample, api.design(two_classes))
    with pytest.raises(ValueError, match=r"X must have shape \(784, k\)"):
        api.train(sample, epochs=0).model().predict(np.zeros((3, 2)))
    with pytest.raises(ValueError, match="no test set"):
        api.evaluate(api.train(two_classes, epochs=0), two_classes, "test")


def test_a_gpu_run_trains_there_and_its_model_comes_to_the_cpu(sample, monkeypatch):
    """device="gpu" is the workbench's GPU run (here the tests' stand-in GPU); the model is a
    host copy that predicts as the run's network does."""
    from fake_gpu import fake_gpu

    from desktop_nn.train import device_memory

    monkeypatch.setattr(device_memory, "select_backend", lambda choice: fake_gpu())
    run = api.train(sample, epochs=1, device="gpu")
    assert run.network.backend.is_gpu and run.network.backend.device_name == "Fake GPU"
    model = run.model()
    assert not model.network.backend.is_gpu
    X = sample.val.X
    on_gpu = run.network.backend.to_host(run.network.predict_proba(X))
    assert np.array_equal(model.outputs(X), on_gpu.astype(np.float64))
    assert api.evaluate(run, sample).accuracy == run.history.epochs[-1].val_accuracy


def test_without_a_gpu_a_gpu_run_is_refused_saying_why(sample):
    from desktop_nn.backend import BackendError, gpu_available

    if gpu_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(BackendError):
        api.train(sample, epochs=1, device="gpu")
