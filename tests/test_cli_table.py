"""The command line on tables (issue 25, item 2): train DATA.csv --target COLUMN, inspect-data
and predict of a table's rows; what is refused, in one line, with exit code 2."""

from __future__ import annotations

import json

import numpy as np
import pytest
from cli_helpers import one_error_line
from table_factory import FEATURES, SPECIES, table_rows, write_table

from desktop_nn.cli import main
from desktop_nn.io.model_file import load_model


@pytest.fixture
def table(tmp_path):
    return write_table(tmp_path / "iris.csv", m=90)


@pytest.fixture
def model(tmp_path, table, capsys):
    path = tmp_path / "m.npz"
    assert main(["train", str(table), "--target", "species", "--epochs", "60", "--lr", "0.5",
                 "--layers", "6", "--quiet", "--save", str(path), "--json"]) == 0
    capsys.readouterr()
    return path


def test_train_on_a_table_learns_and_keeps_the_columns(tmp_path, table, capsys):
    path = tmp_path / "m.npz"
    assert main(["train", str(table), "--target", "species", "--epochs", "60", "--lr", "0.5",
                 "--layers", "6", "--quiet", "--save", str(path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["train_accuracy"] > 0.9  # three well separated classes
    model = load_model(path)
    assert model.preprocessing["feature_columns"] == list(FEATURES)
    assert model.preprocessing["target_column"] == "species"
    assert model.class_names == sorted(SPECIES)
    assert model.normalisation == {"kind": "standardise", "factor": 1.0}
    assert model.training["data"] == str(table)


def test_normalise_none_keeps_the_raw_values(tmp_path, table, capsys):
    path = tmp_path / "m.npz"
    assert main(["train", str(table), "--target", "species", "--epochs", "1", "--quiet",
                 "--normalise", "none", "--save", str(path)]) == 0
    assert load_model(path).normalisation == {"kind": "none"}


@pytest.mark.parametrize("argv, fragment", [
    (["--epochs", "1"], "iris.csv is a table: name the column that holds the classes with "
                        "--target COLUMN; its columns are 'sepal length'"),
    (["--target", "kind"], "has no column 'kind' to take the classes from; its columns are"),
    (["--target", "species", "--normalise", "scale"], "--normalise scale divides pixels"),
])
def test_train_refuses_in_one_line(table, capsys, argv, fragment):
    assert main(["train", str(table), *argv]) == 2
    assert fragment in one_error_line(capsys.readouterr().err)


def test_target_is_refused_for_data_that_are_not_a_table(tmp_path, capsys):
    np.savez(tmp_path / "d.npz", X=np.zeros((2, 4)), Y=np.array([0, 1, 0, 1]))
    assert main(["train", str(tmp_path / "d.npz"), "--target", "y"]) == 2
    assert "--target goes with a table (.csv, .tsv)" in one_error_line(capsys.readouterr().err)
    assert main(["train", "sample", "--normalise", "none"]) == 2
    assert "--normalise none goes with a table" in one_error_line(capsys.readouterr().err)
    assert main(["inspect-data", "sample", "--target", "y"]) == 2
    assert "--target goes with a table" in one_error_line(capsys.readouterr().err)


def test_a_bad_value_is_refused_with_its_row_and_column(tmp_path, capsys):
    path = tmp_path / "bad.csv"
    path.write_text("a,b,y\n1,2,p\n3,oops,q\n", encoding="utf-8")
    assert main(["train", str(path), "--target", "y"]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert "row 3 (the header is row 1), column 'b'" in line and "'oops' is not a number" in line


def test_inspect_data_reports_columns_classes_and_counts(table, capsys):
    assert main(["inspect-data", str(table), "--target", "species", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    values, _ = table_rows(90)
    assert report["rows"] == 90 and report["n_x"] == 3 and report["features"] == list(FEATURES)
    assert report["classes"] == sorted(SPECIES)
    assert report["counts"] == {name: 30 for name in sorted(SPECIES)}
    weight = report["columns"][2]
    assert weight["kind"] == "numeric" and weight["role"] == "feature"
    assert weight["min"] == values[:, 2].min() and weight["max"] == values[:, 2].max()
    assert weight["mean"] == pytest.approx(values[:, 2].mean(), rel=1e-12)
    assert [c["role"] for c in report["columns"]][3:] == ["left out", "target"]
    assert main(["inspect-data", str(table), "--target", "species"]) == 0
    text = capsys.readouterr().out
    assert "classes (3, from the column 'species'):" in text
    assert "  versicolor  30" in text and "name          left out  text, 90 values" in text


def test_inspect_data_names_the_first_features_of_a_wide_table(tmp_path, capsys):
    path = tmp_path / "wide.csv"  # 500 features: each is in the columns, not all again
    path.write_text(",".join(f"f{i}" for i in range(500)) + ",y\n"
                    + "".join(",".join(["1"] * 500) + f",{c}\n" for c in "pq"),
                    encoding="utf-8")
    assert main(["inspect-data", str(path), "--target", "y"]) == 0
    text = capsys.readouterr().out
    assert "features: n_x = 500 (f0, f1, " in text and "f19, and 480 more)" in text
    assert "f20," not in text.split("features:")[1] and "  f499  feature" in text
    assert main(["inspect-data", str(path), "--target", "y", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)["features"]) == 500


def test_inspect_data_shows_a_min_and_max_that_differ_apart(tmp_path, capsys):
    path = tmp_path / "times.csv"  # 6 digits would show 1.7e+09 for both
    path.write_text("t,y\n1700000000,p\n1700000077,q\n", encoding="utf-8")
    assert main(["inspect-data", str(path), "--target", "y"]) == 0
    assert "numeric  min 1700000000  max 1700000077  mean 1700000038" in \
        capsys.readouterr().out


def test_inspect_data_without_a_target_lists_the_columns(table, capsys):
    assert main(["inspect-data", str(table)]) == 0
    out = capsys.readouterr().out
    assert "name the target column with --target COLUMN" in out
    assert "species       left out  text, 3 values" in out


def test_predict_reads_the_models_columns_by_name_and_reports_accuracy(tmp_path, model,
                                                                       capsys):
    values, classes = table_rows(12, seed=5)
    rows = tmp_path / "rows.tsv"  # other order, an extra column, TSV: read by name
    lines = ["note\tweight\tspecies\tpetal width\tsepal length"]
    lines += [f"x\t{v[2]}\t{c}\t{v[1]}\t{v[0]}" for v, c in zip(values, classes, strict=True)]
    rows.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert main(["predict", str(model), str(rows), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [r["row"] for r in out["results"]] == list(range(2, 14))
    # the same probabilities as the network on the standardised values, computed here
    m = load_model(model)
    X = (values.T.astype(np.float32) - m.norm_mean) / m.norm_std
    P = m.network.predict_proba(X)
    got = np.array([list(r["probabilities"].values()) for r in out["results"]]).T
    assert np.abs(got - P).max() < 1e-6
    predicted = [r["class"] for r in out["results"]]
    expected = np.mean([p == c for p, c in zip(predicted, classes, strict=True)])
    assert out["files"][0]["accuracy"] == pytest.approx(expected)
    assert main(["predict", str(model), str(rows)]) == 0
    text = capsys.readouterr().out
    assert f"rows.tsv row 2: {predicted[0]}   (" in text
    assert f"accuracy {expected:.2%} over 12 rows (their target column 'species')" in text


def test_predict_refuses_a_table_without_the_models_columns(tmp_path, model, capsys):
    rows = tmp_path / "rows.csv"
    rows.write_text("sepal length,weight\n5,1000\n", encoding="utf-8")
    assert main(["predict", str(model), str(rows)]) == 1
    out = capsys.readouterr().out
    assert "has no column 'petal width', which the model reads" in out
    rows.write_text("sepal length,petal width,weight\n5,0.1,1000\n6,,1200\n", encoding="utf-8")
    assert main(["predict", str(model), str(rows), "--json"]) == 1
    error = json.loads(capsys.readouterr().out)["results"][0]["error"]
    assert "row 3 (the header is row 1), column 'petal width'" in error


def test_rows_without_a_class_are_not_counted_in_the_accuracy(tmp_path, model, capsys):
    from desktop_nn.io.model_file import save_model

    m = load_model(model)
    W, b = m.network.get_parameters()
    W[0] = W[0] * np.float32(1e38)  # any input but the training mean overflows float32
    m.network.set_parameters(W, b)
    huge = save_model(tmp_path / "huge.npz", m)
    mean = [repr(float(v)) for v in m.norm_mean.ravel()]  # standardised: 0, outputs finite
    rows = tmp_path / "rows.csv"
    rows.write_text(",".join([*FEATURES, "species"]) + "\n" + ",".join([*mean, "setosa"])
                    + "\n5,0.1,1000,setosa\n", encoding="utf-8")
    assert main(["predict", str(huge), str(rows), "--json"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert "error" not in out["results"][0]
    assert "outputs are not finite" in out["results"][1]["error"]
    right = out["results"][0]["class"] == "setosa"
    assert out["files"][0]["accuracy"] == float(right)  # over the one row with a class
    assert out["files"][0]["accuracy_rows"] == 1 and out["files"][0]["rows"] == 2
    assert main(["predict", str(huge), str(rows)]) == 1
    assert f"accuracy {float(right):.2%} over 1 rows" in capsys.readouterr().out


def test_a_table_model_refuses_images_saying_what_it_reads(model):
    from desktop_nn.predict import PredictError, Predictor

    with pytest.raises(PredictError, match="was trained on a table .* not on images"):
        Predictor(load_model(model))


def test_export_of_a_table_model_says_its_columns(tmp_path, model, capsys):
    pytest.importorskip("onnx")
    out = tmp_path / "m.onnx"
    assert main(["export", str(model), str(out), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["input"] == "features" and report["input_shape"] == ["batch", 3]
    assert report["class_names"] == sorted(SPECIES)
    assert main(["export", str(model), str(out)]) == 0
    assert ("the raw values of the table's columns 'sepal length', 'petal width', 'weight', "
            "in this order") in capsys.readouterr().out
