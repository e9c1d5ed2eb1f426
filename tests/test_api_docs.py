"""docs/api.md's example is the one the suite runs: its ```python blocks, in order, in one
namespace, in a temporary folder; then what they made is checked."""

from __future__ import annotations

import importlib.util
import math
import re
from pathlib import Path

import numpy as np
import pytest

from desktop_nn import api

DOC = Path(__file__).resolve().parents[1] / "docs" / "api.md"


def python_blocks(text: str) -> list[str]:
    """The bodies of the ```python fenced blocks of a Markdown text, in order."""
    return re.findall(r"^```python\n(.*?)^```$", text, flags=re.DOTALL | re.MULTILINE)


def test_the_block_reader_finds_fenced_python_only():
    text = "a\n```python\nx = 1\n```\n```\nnot = python\n```\n```python\ny = 2\n```\n"
    assert python_blocks(text) == ["x = 1\n", "y = 2\n"]


def test_the_examples_in_docs_api_md_run(tmp_path, monkeypatch, capsys):
    blocks = python_blocks(DOC.read_text(encoding="utf-8"))
    assert len(blocks) >= 2
    monkeypatch.chdir(tmp_path)
    ns: dict = {"__name__": "__docs_api__"}
    for i, block in enumerate(blocks):
        exec(compile(block, f"{DOC.name} block {i + 1}", "exec"), ns)  # noqa: S102
    out = capsys.readouterr().out

    data, run = ns["data"], ns["run"]
    # the callback was called with the step reports the run kept
    assert ns["costs"] == [(r.step, r.batch_cost) for r in run.history.steps]
    assert len(ns["costs"]) >= 5 and all(math.isfinite(c) for _, c in ns["costs"])
    assert out.count("epoch ") >= 5  # its epoch lines
    assert run.epoch == 5 and run.result.stopped == "completed"

    scores = ns["scores"]
    assert 0.0 <= scores.accuracy <= 1.0 and math.isfinite(scores.cost)
    assert scores.confusion.shape == (10, 10) and scores.confusion.sum() == data.test.m
    truth = data.test.labels()
    assert scores.accuracy == np.mean(ns["model"].predict_classes(data.test.X) == truth)

    # the reloaded model predicts what the trained one does
    X = ns["X"]
    assert X.shape == (784, 5)
    assert np.array_equal(ns["probabilities"], ns["model"].predict(X))
    assert ns["probabilities"].shape == (10, 5)
    assert np.allclose(ns["probabilities"].sum(axis=0), 1.0, atol=1e-5)
    assert (tmp_path / "digits.npz").is_file()
    assert isinstance(ns["again"], api.Model)
    if importlib.util.find_spec("onnx") is not None:
        assert (tmp_path / "digits.onnx").stat().st_size > 0
    else:
        assert "not exported" in out

    # the early stop: stopped after the epoch that reached 80%, or ran out of epochs below it
    early = ns["early"]
    last = early.history.epochs[-1]
    if early.result.stopped == "stopped":
        assert last.val_accuracy >= 0.8 and early.epoch == last.epoch
        assert all(r.val_accuracy < 0.8 for r in early.history.epochs[:-1])
    else:
        pytest.fail(f"the doc's early stop did not stop within 20 epochs: {early.result}")

    # the other data: the spiral recipe reaches toy-data.md's target; the table's shapes
    assert ns["spiral"].train.X.shape == (2, 360) and ns["spiral_accuracy"] >= 0.97
    table = ns["table"]
    assert table.class_names == ["a", "b", "c"] and table.train.X.shape[0] == 2
    X = table.train.X.astype(np.float64)  # standardised with the training rows' statistics
    assert np.allclose(X.mean(axis=1), 0, atol=1e-5) and np.allclose(X.std(axis=1), 1, atol=1e-4)
