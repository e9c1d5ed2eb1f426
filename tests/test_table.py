"""Tables (issue 25, item 2): a CSV / TSV with a header read into X (n_x, m) and classes,
what is refused and how it is said, and standardisation with the training set's statistics
kept in the model file (data/table.py, data/dataset.py Normalisation)."""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from table_factory import FEATURES, SPECIES, table_rows, write_table

from desktop_nn.backend import select_backend
from desktop_nn.data import table as table_module
from desktop_nn.data.dataset import PIXEL_FACTOR, Normalisation, stratified_split
from desktop_nn.data.sources import load_training_data
from desktop_nn.data.table import (
    TableError,
    prepare_table_data,
    read_header,
    read_table,
    table_preprocessing,
)
from desktop_nn.io.model_file import ModelFile, ModelFileError, load_model, save_model
from desktop_nn.nn.network import Network, NetworkSpec


def test_numeric_columns_become_x_and_the_target_the_classes(tmp_path):
    path = write_table(tmp_path / "iris.csv", m=30)
    values, classes = table_rows(30)
    t = read_table(path, "species")
    assert t.feature_names == list(FEATURES)
    assert t.class_names == sorted(SPECIES)
    assert t.counts() == {name: 10 for name in SPECIES}
    assert t.X.shape == (3, 30) and t.X.dtype == np.float32
    assert np.array_equal(t.X, values.T.astype(np.float32))
    assert [t.class_names[k] for k in t.labels] == classes
    assert t.rows.tolist() == list(range(2, 32))  # the header is row 1
    assert t.delimiter == "," and "extension .csv" in t.delimiter_how
    assert [c.role for c in t.columns] == ["feature"] * 3 + ["left out", "target"]
    assert len(t.notes) == 1 and "column 'name' holds no numbers" in t.notes[0]
    weight = t.columns[2]
    assert (weight.min, weight.max) == (values[:, 2].min(), values[:, 2].max())
    assert weight.mean == pytest.approx(values[:, 2].mean(), rel=1e-12)


def test_read_header_gives_the_column_names(tmp_path):
    assert read_header(write_table(tmp_path / "t.tsv", delimiter="\t")) == \
        [*FEATURES, "name", "species"]


@pytest.mark.parametrize("name, delimiter, how", [
    ("t.tsv", "\t", "tab (the extension .tsv)"),
    ("t.csv", ";", "semicolon (sniffed from the header line)"),
    ("t.txt", "\t", "tab (sniffed from the header line)"),
    ("t.txt", "|", "bar (sniffed from the header line)"),
])
def test_the_delimiter_by_extension_or_sniffed(tmp_path, name, delimiter, how):
    t = read_table(write_table(tmp_path / name, m=9, delimiter=delimiter), "species")
    assert (t.delimiter, t.delimiter_how) == (delimiter, how)
    assert t.feature_names == list(FEATURES) and t.m == 9


def test_number_classes_are_sorted_as_numbers_and_keep_their_text(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("x,y\n1,10\n2,2\n3,1.5\n4,10\n", encoding="utf-8")
    t = read_table(path, "y")
    assert t.class_names == ["1.5", "2", "10"]
    assert t.labels.tolist() == [2, 1, 0, 2]


def test_blank_lines_and_a_bom_are_taken_as_a_spreadsheet_would(tmp_path):
    path = tmp_path / "t.csv"
    path.write_bytes("\ufeffa,y\n1,p\n\n2,q\n,\n3,p\n".encode())
    t = read_table(path, "y")
    assert t.feature_names == ["a"] and t.rows.tolist() == [2, 4, 6]


def _refused(tmp_path, text: str, target: str | None = "y", name: str = "t.csv") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(TableError) as exc:
        read_table(path, target)
    message = str(exc.value)
    assert "\n" not in message and message.startswith(str(path))
    return message


@pytest.mark.parametrize("text, fragments", [
    ("a,b,y\n1,2,p\n3,,q\n", ["row 3 (the header is row 1)", "column 'b'", "a missing value"]),
    ("a,b,y\n1,2,p\n3,4,q\n\n5,NA,p\n", ["row 5", "column 'b'", "a missing value ('NA')"]),
    ("a,b,y\n1,2,p\n3,x4,q\n", ["row 3", "column 'b'", "'x4' is not a number"]),
    ("a,b,y\n1,2,p\n3,1_000,q\n", ["row 3", "column 'b'", "'1_000' is not a number"]),
    ("a,b,y\n1,inf,p\n3,4,q\n", ["row 2", "column 'b'", "'inf' is not a number"]),
    ("a,b,y\n1,2,p\n3,4\n", ["row 3", "has 2 values but the header has 3 columns"]),
    ("a,b,y\n1,2,p\n3,4,\n", ["row 3", "column 'y' (the target): a missing value"]),
    ("a,b,y\n1,2,p\n3,4,p\n", ["column 'y' holds one value only ('p')", "at least 2"]),
    ("a,a,y\n1,2,p\n3,4,q\n", ["columns 1 and 2 are both named 'a'"]),
    ("a,,y\n1,2,p\n3,4,q\n", ["column 2 has no name"]),
    ("a,b,y\n", ["has a header but no rows"]),
    ("", ["is empty"]),
    ("a,b,y\np,q,r\ns,t,u\n", ["has no numeric column", "'a', 'b', 'y'"]),
    ('a,b,y\n1,2,"p\n', ["row 2", "cannot be read as comma-separated values"]),
    # finite in float64 but inf once X is made float32
    ("a,b,y\n1,2,p\n3,-1e39,q\n", ["row 3", "column 'b'", "'-1e39' is too large for float32"]),
    # numbers with decimal commas: refused, not left out of the features as text
    ("a;b;y\n1;2,5;p\n3;;q\n4;4,1;p\n", ["row 2", "column 'b'", "'2,5' is not a number "
                                         "(a comma in a number"]),
    ("a;b;y\n1;2;p\n3;4,1;q\n", ["row 3", "column 'b' (a feature column)", "a comma in"]),
    # one number written two ways in the target: one class or two?
    ("a,y\n1,1\n2,0\n3,1.0\n4,0\n", ["row 4", "column 'y' (the target)",
                                     "'1.0' is the same number as the class '1'"]),
])
def test_what_is_refused_names_the_row_and_the_column(tmp_path, text, fragments):
    message = _refused(tmp_path, text)
    for fragment in fragments:
        assert fragment in message


def test_a_target_that_does_not_exist_is_refused_listing_the_columns(tmp_path):
    message = _refused(tmp_path, "a,b,y\n1,2,p\n3,4,q\n", target="species")
    assert "has no column 'species'" in message and "'a', 'b', 'y'" in message


def test_a_header_read_as_one_column_says_its_delimiter(tmp_path):
    message = _refused(tmp_path, "a,b,y\n1,2,p\n3,4,q\n", name="t.tsv")
    assert "its columns are 'a,b,y' (delimiter: tab (the extension .tsv))" in message


def test_a_target_that_is_not_text_is_refused_saying_so(tmp_path):
    path = write_table(tmp_path / "t.csv", m=9)
    with pytest.raises(TableError, match="the target must be a column's name .text., got 3"):
        read_table(path, 3)
    with pytest.raises(ValueError, match="the target must be a column's name"):
        load_training_data(path, target=3)


def test_a_text_column_holding_a_decimal_comma_is_still_left_out(tmp_path):
    path = tmp_path / "t.csv"  # only a column of such numbers alone is taken as a mistake
    path.write_text('a,code,y\n1,"1,5",p\n2,B7,q\n', encoding="utf-8")
    t = read_table(path, "y")
    assert t.feature_names == ["a"] and "'code' holds no numbers" in t.notes[0]


def test_values_that_overflow_float32_once_standardised_are_refused(tmp_path):
    path = tmp_path / "t.csv"  # each value fits float32, v - mean does not
    path.write_text("a,y\n3e38,p\n3e38,q\n-3e38,q\n", encoding="utf-8")
    t = read_table(path, "y")  # mean 1e38: -3e38 - mean = -4e38
    with pytest.raises(TableError, match="column 'a' spans more than float32 holds"):
        prepare_table_data(t, val_split=0, normalisation="standardise")
    X = prepare_table_data(t, val_split=0, normalisation="none").train.X
    assert np.array_equal(X, np.float32([[3e38, 3e38, -3e38]]))


def test_the_first_bad_value_in_row_order_is_the_one_named(tmp_path):
    message = _refused(tmp_path, "a,b,y\n1,2,p\n3,x,q\n?,4,q\n")
    assert "row 3" in message and "column 'b'" in message


def test_too_many_classes_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(table_module, "MAX_CLASSES", 3)
    message = _refused(tmp_path, "a,y\n" + "".join(f"{i},c{i}\n" for i in range(5)))
    assert "holds 5 different values, over the limit of 3 classes" in message


def test_a_file_that_is_not_utf8_says_so_with_its_line(tmp_path):
    path = tmp_path / "t.csv"
    path.write_bytes(b"a,y\n1,p\n2,caf\xe9\n")
    with pytest.raises(TableError, match=r"line 3 is not UTF-8 text \(byte 0xe9"):
        read_table(path, "y")


def test_a_nul_byte_is_refused(tmp_path):
    path = tmp_path / "t.csv"
    path.write_bytes(b"a,y\n1,p\x00\n")
    with pytest.raises(TableError, match="line 2 holds a NUL byte"):
        read_table(path, "y")


def test_only_a_regular_file_of_bounded_size_is_read(tmp_path, monkeypatch):
    with pytest.raises(TableError, match="not a regular file"):
        read_table(tmp_path, "y")
    if hasattr(os, "mkfifo"):
        os.mkfifo(tmp_path / "pipe.csv")
        with pytest.raises(TableError, match="a FIFO"):
            read_table(tmp_path / "pipe.csv", "y")
        with pytest.raises(TableError, match="a FIFO"):
            read_header(tmp_path / "pipe.csv")
    path = write_table(tmp_path / "t.csv", m=9)
    monkeypatch.setattr(table_module, "MAX_TABLE_FILE_BYTES", 100)
    with pytest.raises(TableError, match="too big"):
        read_table(path, "y")
    with pytest.raises(TableError, match="no such file"):
        read_table(tmp_path / "missing.csv", "y")


def test_an_all_text_or_empty_column_is_left_out_with_a_note(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("a,city,blank,y\n1,Paris,,p\n2,Oslo,,q\n", encoding="utf-8")
    t = read_table(path, "y")
    assert t.feature_names == ["a"]
    assert [c.kind for c in t.columns] == ["numeric", "text", "empty", "target"]
    assert any("'city'" in n and "'Paris'" in n for n in t.notes)
    assert any("'blank'" in n and "empty" in n for n in t.notes)


def test_reading_a_models_columns_by_name_in_any_order(tmp_path):
    path = tmp_path / "rows.csv"
    path.write_text("extra,weight,sepal length,petal width\nx,1000,5,0.1\n,1300,6,0.2\n",
                    encoding="utf-8")
    t = read_table(path, "species", features=list(FEATURES))
    assert t.values.tolist() == [[5, 0.1, 1000], [6, 0.2, 1300]]
    assert t.target_values is None
    with pytest.raises(TableError, match="has no column 'weight', which the model reads"):
        path.write_text("sepal length,petal width\n5,0.1\n", encoding="utf-8")
        read_table(path, "species", features=list(FEATURES))


# ------------------------------------------------------------------ standardisation
def test_standardised_with_the_training_splits_statistics(tmp_path):
    t = read_table(write_table(tmp_path / "iris.csv", m=90), "species")
    prepared = prepare_table_data(t, val_split=0.2, seed=3)
    keep, held = stratified_split(t.labels, 0.2, 3)
    v = t.values[keep]
    mean, std = v.mean(axis=0), v.std(axis=0)
    expected_train = ((v - mean) / std).T
    expected_val = ((t.values[held] - mean) / std).T
    assert np.abs(prepared.train.X - expected_train).max() < 1e-4
    assert np.abs(prepared.val.X - expected_val).max() < 1e-4
    norm = prepared.normalisation
    assert norm.to_model() == {"kind": "standardise", "factor": 1.0}
    assert np.allclose(norm.mean.ravel(), mean, rtol=1e-6)
    assert prepared.preprocessing == table_preprocessing(t)
    assert prepared.input_shape is None


def test_a_constant_feature_gets_std_1_and_none_keeps_the_values(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("a,c,y\n1,7,p\n2,7,q\n3,7,p\n4,7,q\n", encoding="utf-8")
    t = read_table(path, "y")
    prepared = prepare_table_data(t, val_split=0)
    assert prepared.normalisation.std.ravel().tolist() == [pytest.approx(np.std([1, 2, 3, 4])),
                                                            1.0]
    assert prepared.train.X[1].tolist() == [0.0] * 4
    raw = prepare_table_data(t, val_split=0, normalisation="none")
    assert np.array_equal(raw.train.X, t.X) and raw.normalisation.to_model() == {"kind": "none"}
    with pytest.raises(TableError, match="standardised or used as they are"):
        prepare_table_data(t, normalisation="scale")


def test_old_pixel_normalisations_read_exactly_as_before():
    pixels = np.random.default_rng(0).integers(0, 256, (20, 6)).astype(np.uint8)
    fitted = Normalisation.fit("standardise", pixels)
    assert fitted.to_model() == {"kind": "standardise", "factor": 1 / 255}
    v = pixels.astype(np.float64) / 255.0
    assert np.allclose(fitted.mean.ravel(), v.mean(axis=0), rtol=1e-6)
    for info in ({"kind": "standardise", "factor": 1 / 255},
                 {"kind": "standardise", "factor": 0.003922}, {"kind": "standardise"}):
        norm = Normalisation.from_model(info, fitted.mean, fitted.std)
        assert norm.factor == PIXEL_FACTOR and norm.pixels
        expected = (pixels.T.astype(np.float32) * np.float32(1 / 255) - fitted.mean) \
            / fitted.std
        assert np.array_equal(norm.apply(pixels), expected)
    assert np.array_equal(Normalisation.from_model(None, None, None).apply(pixels),
                          pixels.T.astype(np.float32) * np.float32(1 / 255))


def _table_model(tmp_path, **changes) -> ModelFile:
    t = read_table(write_table(tmp_path / "iris.csv", m=30), "species")
    prepared = prepare_table_data(t, val_split=0)
    norm = prepared.normalisation
    net = Network(NetworkSpec(3, [4], ["tanh"], 3, "softmax"), select_backend("cpu"), seed=0)
    fields = dict(network=net, class_names=prepared.class_names,
                  normalisation=norm.to_model(), norm_mean=norm.mean, norm_std=norm.std,
                  preprocessing=prepared.preprocessing)
    return ModelFile(**{**fields, **changes})


def test_a_table_model_keeps_its_columns_and_statistics(tmp_path):
    model = _table_model(tmp_path)
    loaded = load_model(save_model(tmp_path / "m.npz", model))
    assert loaded.preprocessing == {"kind": "table", "feature_columns": list(FEATURES),
                                    "target_column": "species",
                                    "class_names": sorted(SPECIES)}
    norm = Normalisation.from_model(loaded.normalisation, loaded.norm_mean, loaded.norm_std)
    assert norm.factor == 1.0 and not norm.pixels
    assert np.array_equal(norm.mean, model.norm_mean) and np.array_equal(norm.std,
                                                                          model.norm_std)


@pytest.mark.parametrize("changes, fragment", [
    (dict(normalisation={"kind": "standardise", "factor": 1 / 255}),
     "factor must be 1 for a model trained on a table"),
    # without its factor 1/255 would be taken: the table's values divided as pixels
    (dict(normalisation={"kind": "standardise"}), "must be standardise with factor 1, or none"),
    (dict(normalisation={"kind": "scale"}), "must be standardise with factor 1, or none"),
    (dict(normalisation={"kind": "scale", "factor": 1.0}), "must be standardise with factor 1"),
    (dict(normalisation=None), "must be standardise with factor 1, or none"),
    (dict(preprocessing={"kind": "table", "feature_columns": ["a", "b"],
                         "target_column": "y"}), "must list the 3 column names"),
    (dict(preprocessing={"kind": "table", "feature_columns": ["a", "b", "a"],
                         "target_column": "y"}), "names a column twice"),
    (dict(preprocessing={"kind": "table", "feature_columns": ["a", "b", "c\x1b"],
                         "target_column": "y"}), "is not printable text"),
])
def test_a_bad_table_model_is_refused(tmp_path, changes, fragment):
    with pytest.raises(ValueError, match=fragment):
        save_model(tmp_path / "m.npz", _table_model(tmp_path, **changes))


def _edited(path, edit) -> None:
    """Rewrite the JSON header of the model file at ``path`` with ``edit(header)``."""
    import json

    with np.load(path) as npz:
        arrays = dict(npz)
    header = json.loads(arrays["header"].tobytes())
    edit(header)
    arrays["header"] = np.frombuffer(json.dumps(header).encode(), np.uint8)
    np.savez(path, **arrays)


def test_a_table_model_whose_factor_was_taken_out_is_refused_at_load(tmp_path):
    path = save_model(tmp_path / "m.npz", _table_model(tmp_path))
    _edited(path, lambda header: header["normalisation"].pop("factor"))
    with pytest.raises(ModelFileError, match="must be standardise with factor 1, or none"):
        load_model(path)


def test_a_pixel_model_with_a_factor_of_1_is_refused_at_load(tmp_path):
    import json
    import zipfile

    path = save_model(tmp_path / "m.npz", _table_model(tmp_path))
    with np.load(path) as npz:
        arrays = dict(npz)
    header = json.loads(arrays["header"].tobytes())
    header["preprocessing"] = None
    arrays["header"] = np.frombuffer(json.dumps(header).encode(), np.uint8)
    np.savez(path, **arrays)
    assert zipfile.is_zipfile(path)
    with pytest.raises(ModelFileError, match="factor must be 1/255"):
        load_model(path)


# ------------------------------------------------------------------ load_training_data
def test_load_training_data_reads_a_table_with_its_target(tmp_path):
    path = write_table(tmp_path / "iris.csv", m=30)
    loaded = load_training_data(path, target="species", val_split=0.2)
    assert loaded.prepared.train.n_x == 3 and loaded.prepared.class_names == sorted(SPECIES)
    assert loaded.prepared.normalisation.kind == "standardise"  # scale, the default, for images
    assert loaded.folder is None and loaded.source == str(path)
    assert any("'name'" in note for note in loaded.notes)


def test_load_training_data_refuses_a_target_where_it_does_not_fit(tmp_path):
    path = write_table(tmp_path / "iris.csv", m=30)
    with pytest.raises(ValueError, match="say which column holds the classes.*'species'"):
        load_training_data(path)
    with pytest.raises(ValueError, match="a test folder goes with an image folder"):
        load_training_data(path, target="species", test_dir=tmp_path)
    np.savez(tmp_path / "d.npz", X=np.zeros((2, 4)), Y=np.array([0, 1, 0, 1]))
    with pytest.raises(ValueError, match="a target column goes with a table"):
        load_training_data(tmp_path / "d.npz", target="species")


# ------------------------------------------------------------------ fuzzing
_CELLS = st.sampled_from(["1", "-2.5", "", "NA", "x", "a b", '"q,1"', '"', "1e3", "inf", "1e39",
                          "2,5", "1.0",
                          "\ufeff", "é", "\t", ";", "\r"])


@settings(max_examples=150, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.lists(_CELLS, min_size=0, max_size=4), max_size=6),
       noise=st.binary(max_size=12), suffix=st.sampled_from([".csv", ".tsv", ".txt"]),
       target=st.sampled_from([None, "y", "1"]))
def test_any_file_gives_a_table_or_a_table_error_naming_it(tmp_path, rows, noise, suffix,
                                                             target):
    path = tmp_path / f"f{suffix}"
    text = "a,y,1\n" + "\n".join(",".join(r) for r in rows)
    path.write_bytes(text.encode("utf-8") + noise)
    try:
        t = read_table(path, target)
    except TableError as exc:
        assert str(exc).startswith(str(path)) and "\n" not in str(exc)
        return
    assert t.values.shape == (t.m, len(t.feature_names)) and np.isfinite(t.X).all()
    if target is not None:
        assert len(t.class_names) >= 2 and t.labels.shape == (t.m,)


def test_a_table_model_on_other_columns_says_which(tmp_path):
    from desktop_nn.predict import preparation_mismatch

    model = _table_model(tmp_path)  # iris.csv: sepal length, petal width, weight -> species
    same = prepare_table_data(read_table(tmp_path / "iris.csv", "species"), val_split=0)
    assert preparation_mismatch(model, same) is None
    text = (tmp_path / "iris.csv").read_text(encoding="utf-8")
    (tmp_path / "mass.csv").write_text(text.replace("weight", "mass"), encoding="utf-8")
    renamed = prepare_table_data(read_table(tmp_path / "mass.csv", "species"), val_split=0)
    assert preparation_mismatch(model, renamed) == (
        "the model reads the columns sepal length, petal width, weight; the data's are "
        "sepal length, petal width, mass")
    (tmp_path / "kind.csv").write_text(text.replace("species", "kind"), encoding="utf-8")
    other = prepare_table_data(read_table(tmp_path / "kind.csv", "kind"), val_split=0)
    assert preparation_mismatch(model, other) == (
        "the model's classes come from the column 'species', the data's from 'kind'")


def test_a_file_of_one_column_without_a_delimiter_says_so_once(tmp_path):
    message = _refused(tmp_path, "hello world\n", target="x", name="notes.txt")
    assert message.endswith("its columns are 'hello world' (delimiter: comma (the header line "
                            "holds no delimiter: one column))")


def test_values_float32_would_merge_are_noted(tmp_path):
    path = tmp_path / "t.csv"  # Unix times a few seconds apart: float32 steps by 128 there
    times = [1_700_000_000 + 7 * i for i in range(12)]
    path.write_text("t,a,y\n" + "".join(f"{t},{i},{'pq'[i % 2]}\n" for i, t in enumerate(times)),
                    encoding="utf-8")
    t = read_table(path, "y")
    distinct32 = np.unique(np.float32(times)).size  # computed here: 1 or 2
    assert distinct32 < 12
    notes = [n for n in t.notes if "column 't'" in n]
    assert notes == [f"{path}: column 't': 12 different values are {distinct32} in float32 (X "
                     f"is float32), which near 1.7e+09 steps by 128; subtract an offset from "
                     f"the column (or rescale it) to keep them apart"]
    assert not any("column 'a'" in n for n in t.notes)  # small whole numbers: exact
    loaded = load_training_data(path, target="y", val_split=0)
    assert notes[0] in loaded.notes  # what the window and train show
    full = np.random.default_rng(0).standard_normal(100_000)  # 17 digits: chance meetings
    assert table_module.float32_notes("f", ["x"], full[:, None]) == []
