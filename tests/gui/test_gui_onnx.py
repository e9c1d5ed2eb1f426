"""File > Export model as ONNX (issue 25, item 3): the model in hand, written as ONNX from the
window, runs in onnxruntime as the Predict tab's predictor gives; without a model, or without
the onnx package, a dialog says why and nothing is written."""

from __future__ import annotations

import sys

import numpy as np
from onnx_support import TOLERANCE, need
from PIL import Image
from PySide6.QtWidgets import QFileDialog, QMessageBox
from test_gui_inspect import train

from desktop_nn.data.sources import sample_path
from desktop_nn.predict import Predictor, predict_files

FILES = sorted(sample_path().glob("test/*/*.png"))[::50]  # 24 images, every digit


def _choose(monkeypatch, path) -> None:
    """The save dialog answers ``path``."""
    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        staticmethod(lambda *args, **kwargs: (str(path), "")))


def _last_dialog(window) -> QMessageBox:
    box = list(window._dialogs)[-1]
    box.close()
    return box


def test_the_menu_entry_writes_what_predict_gives(qtbot, window, tmp_path, monkeypatch):
    ort = need("onnxruntime")
    need("onnx")
    action = window.export_onnx_action
    assert action in window.file_menu.actions()
    assert window.file_menu.actions().index(action) == \
        window.file_menu.actions().index(window.export_model_action) + 1
    train(qtbot, window, epochs=1)
    out = tmp_path / "digits.onnx"
    _choose(monkeypatch, out)
    action.trigger()
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    pixels = np.stack([np.asarray(Image.open(p), np.float32)[..., None] for p in FILES])
    (got,) = session.run(["probabilities"], {"pixels": pixels})
    items = predict_files(Predictor(window.workbench.current_model()), FILES)
    expected = np.array([item.probabilities for item in items])
    assert np.abs(got - expected).max() < TOLERANCE
    assert window.statusBar().currentMessage() == \
        f"ONNX model saved as {out} (input pixels, NHWC: (batch, 28, 28, 1))"


def test_no_model_yet_is_said_and_nothing_written(window, tmp_path):
    out = tmp_path / "m.onnx"
    assert not window.model_files.export_onnx(str(out))
    assert "No model yet" in _last_dialog(window).text()
    assert not out.exists()


def test_without_onnx_the_dialog_says_how_to_install_it(qtbot, window, tmp_path, monkeypatch):
    train(qtbot, window, epochs=1)
    monkeypatch.setitem(sys.modules, "onnx", None)  # `import onnx` raises ImportError
    out = tmp_path / "m.onnx"
    assert not window.model_files.export_onnx(str(out))
    assert "pip install 'desktop-nn[onnx]'" in _last_dialog(window).text()
    assert not out.exists()
    monkeypatch.setattr(QFileDialog, "getSaveFileName", None)  # the menu asks no file name
    window.export_onnx_action.trigger()
    assert "pip install 'desktop-nn[onnx]'" in _last_dialog(window).text()
