"""ONNX export of a model trained on a table (issue 25, item 3): the input is the raw feature
columns (batch, n_features) float32 in the model's column order, the standardisation is in
the graph, and onnxruntime gives what ``desktop-nn predict`` gives on the rows of the CSV
(max difference < 1e-5, float32) for every hidden activation and output. The input is read
from the CSV here with Python's csv module, by the column names in the ONNX metadata."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from onnx_support import TOLERANCE
from table_factory import FEATURES, write_table

from desktop_nn.backend import select_backend
from desktop_nn.data.table import prepare_table_data, read_table
from desktop_nn.io.model_file import ModelFile
from desktop_nn.io.onnx_export import build_onnx_model
from desktop_nn.nn.activations import HIDDEN_ACTIVATIONS
from desktop_nn.nn.network import Network, NetworkSpec
from desktop_nn.predict import TablePredictor
from desktop_nn.train.config import TrainConfig
from desktop_nn.train.trainer import Trainer


@pytest.fixture(scope="module")
def table_file(tmp_path_factory):
    return write_table(tmp_path_factory.mktemp("t") / "iris.csv", m=60)


@pytest.fixture(scope="module")
def small_values(tmp_path_factory):
    """The same table with values near 1 (a network on raw weights near 1000 saturates)."""
    return write_table(tmp_path_factory.mktemp("t") / "small.csv", m=60, weight=1e-3)


def _model(path, hidden: str, output: str, n_out: int, normalise: str) -> ModelFile:
    """A small network trained on the table (three classes; one output unit: setosa or not)."""
    table = read_table(path, "species")
    prepared = prepare_table_data(table, val_split=0, normalisation=normalise)
    Y = prepared.train.Y if n_out == 3 else prepared.train.Y[:1]
    cost = "cross-entropy" if output in ("sigmoid", "softmax") else "quadratic"
    spec = NetworkSpec(3, [5, 4], [hidden, hidden], n_out, output, cost, "he")
    net = Network(spec, select_backend("cpu"), seed=2)
    Trainer(net, prepared.train.X, Y, TrainConfig(lr=0.05, epochs=3, batch_size=10,
                                                  evaluate=False)).run()
    norm = prepared.normalisation
    names = prepared.class_names if n_out == 3 else ["other", "setosa"]
    return ModelFile(net, class_names=names, normalisation=norm.to_model(),
                     norm_mean=norm.mean, norm_std=norm.std,
                     preprocessing={**prepared.preprocessing, "class_names": names})


def _onnx_input(path, columns: list[str]) -> np.ndarray:
    with open(path, newline="", encoding="utf-8") as f:
        return np.array([[float(row[c]) for c in columns] for row in csv.DictReader(f)],
                        dtype=np.float32)


CASES = [(h, "softmax", 3, "standardise") for h in HIDDEN_ACTIVATIONS] + [
    ("relu", "sigmoid", 1, "standardise"), ("tanh", "sigmoid", 3, "none"),
    ("sigmoid", "linear", 3, "standardise"), ("relu", "tanh", 1, "none")]


@pytest.mark.parametrize("hidden, output, n_out, normalise", CASES)
def test_onnxruntime_on_the_csv_columns_equals_predict(onnx, ort, table_file, small_values,
                                                       hidden, output, n_out, normalise):
    if normalise == "none":
        table_file = small_values
    model = _model(table_file, hidden, output, n_out, normalise)
    proto = build_onnx_model(model)
    onnx.checker.check_model(proto, full_check=True)
    meta = {p.key: p.value for p in proto.metadata_props}
    columns = json.loads(meta["feature_columns"])
    assert columns == list(FEATURES) and meta["target_column"] == "species"
    assert json.loads(meta["class_names"]) == model.class_names
    session = ort.InferenceSession(proto.SerializeToString(),
                                   providers=["CPUExecutionProvider"])
    assert session.get_inputs()[0].name == "features"
    assert session.get_inputs()[0].shape == ["batch", 3]
    got, got_class = session.run(["probabilities", "class"],
                                 {"features": _onnx_input(table_file, columns)})
    expected = TablePredictor(model).predict_file(table_file)
    assert got.dtype == np.float32 and got.shape == expected.P.T.shape
    assert np.ptp(expected.P, axis=1).max() > 1e-3  # the rows give different outputs
    assert np.abs(got - expected.P.T).max() < TOLERANCE
    assert np.array_equal(got_class, expected.predicted())


def test_the_standardisation_is_in_the_graph(onnx, table_file):
    proto = build_onnx_model(_model(table_file, "relu", "softmax", 3, "standardise"))
    ops = [n.op_type for n in proto.graph.node]
    assert ops[:2] == ["Sub", "Div"] and "Mul" not in ops  # no 1/255 for a table's values
    raw = build_onnx_model(_model(table_file, "relu", "softmax", 3, "none"))
    assert raw.graph.node[0].op_type == "Gemm"
