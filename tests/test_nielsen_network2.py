"""benchmarks/nielsen_network2.py: the Python 2 -> 3 loading of the book's network2.py and the
data in mnist_loader's form (on generated files; the book's code itself is not in the repo)."""

from __future__ import annotations

import gzip
import importlib.util
from pathlib import Path

import numpy as np

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "nielsen_network2.py"
spec = importlib.util.spec_from_file_location("nielsen_network2", SCRIPT)
nielsen_network2 = importlib.util.module_from_spec(spec)
spec.loader.exec_module(nielsen_network2)

PY2 = '''
def report(n, total):
    for j in xrange(n):
        print "Epoch %s training complete" % j
    print "Accuracy on evaluation data: {} / {}".format(
        n, total)
    print
    print("already python 3")
    return [k for k in xrange(n)]
'''


def test_python2_prints_and_xrange_become_python3(tmp_path, capsys):
    path = tmp_path / "network2.py"
    path.write_text(PY2)
    module = nielsen_network2.load_network2(path)
    assert module.report(2, 7) == [0, 1]
    assert capsys.readouterr().out == ("Epoch 0 training complete\nEpoch 1 training complete\n"
                                       "Accuracy on evaluation data: 2 / 7\n\n"
                                       "already python 3\n")


def _write_idx(path: Path, array: np.ndarray) -> None:
    header = bytes([0, 0, 8, array.ndim]) + b"".join(
        int(n).to_bytes(4, "big") for n in array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def test_data_in_load_data_wrapper_form(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (7, 28, 28))
    labels = rng.integers(0, 10, 7)
    _write_idx(tmp_path / "train-images-idx3-ubyte.gz", images)
    _write_idx(tmp_path / "train-labels-idx1-ubyte.gz", labels)
    _write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", images[:2])
    _write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", labels[:2])
    training, validation, test = nielsen_network2.nielsen_data(tmp_path, n_train=5)
    assert len(training) == 5 and len(validation) == 2 and len(test) == 2
    x, y = training[3]
    assert x.shape == (784, 1) and y.shape == (10, 1)
    assert np.array_equal(x[:, 0], images[3].reshape(-1) / 256)  # mnist.pkl.gz's scale
    assert np.flatnonzero(y[:, 0]).tolist() == [labels[3]]
    x, y = validation[1]  # the images after the first n_train, targets as digits
    assert np.array_equal(x[:, 0], images[6].reshape(-1) / 256) and y == labels[6]


def test_data_dir_defaults_to_the_shared_data_reproduce_uses(monkeypatch, tmp_path):
    monkeypatch.setenv("DESKTOP_NN_SHARED_DATA", str(tmp_path))
    calls = []
    monkeypatch.setattr(nielsen_network2, "load_network2", lambda path: calls.append(path))

    def stop(data_dir):
        calls.append(data_dir)
        raise SystemExit(0)

    monkeypatch.setattr(nielsen_network2, "nielsen_data", stop)
    try:
        nielsen_network2.main(["--network2", "n2.py"])
    except SystemExit:
        pass
    assert calls == [Path("n2.py"), tmp_path / "mnist"]
