"""File > Import model, Export model, Export model as ONNX and Export plot as PNG: the model in
hand written to or read from a ``.npz`` model file (refused with a message when bad), written
as ONNX (desktop_nn/io/onnx_export.py), the current tab as a PNG."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QFileDialog, QMessageBox

from desktop_nn.backend import cpu_backend
from desktop_nn.gui.designer import design_too_big
from desktop_nn.gui.worker import file_error
from desktop_nn.io.model_file import ModelFileError, load_model, save_model

if TYPE_CHECKING:
    from desktop_nn.gui.main_window import MainWindow


class ModelFiles:
    def __init__(self, window: MainWindow) -> None:
        self.window = window

    def export_model(self, path: str) -> bool:
        """Save the model in hand as ``path`` (.npz). False with a message when refused."""
        w = self.window
        try:
            model = w.workbench.current_model()
        except ValueError as exc:  # no model yet
            w.show_dialog("Cannot export the model", str(exc), QMessageBox.Icon.Warning)
            return False
        try:
            save_model(path, model)
        except (ValueError, OSError) as exc:
            w.show_dialog("Cannot export the model", file_error(path, exc),
                          QMessageBox.Icon.Warning)
            return False
        w.say(f"Model saved as {path}", 5000)
        return True

    def export_onnx(self, path: str) -> bool:
        """Write the model in hand as an ONNX file at ``path``. False with a message when
        refused (no model yet, the onnx package not installed, a file that cannot be
        written)."""
        from desktop_nn.io.onnx_export import (
            OnnxExportError,
            OnnxUnavailableError,
            export_onnx,
            input_signature,
        )

        w = self.window
        try:
            model = w.workbench.current_model()
            export_onnx(model, path)
        except (ValueError, OnnxUnavailableError) as exc:  # OnnxExportError is a ValueError
            title = "Cannot export the model as ONNX"
            text = str(exc) if not isinstance(exc, OnnxExportError) else f"{path}: {exc}"
            w.show_dialog(title, text, QMessageBox.Icon.Warning)
            return False
        except OSError as exc:
            w.show_dialog("Cannot export the model as ONNX", file_error(path, exc),
                          QMessageBox.Icon.Warning)
            return False
        name, layout, shape = input_signature(model)
        dims = ", ".join(map(str, shape))
        w.say(f"ONNX model saved as {path} (input {name}, {layout}: (batch, {dims}))", 8000)
        return True

    def import_model(self, path: str) -> bool:
        """Load a model file: its design goes to the designer, its weights are what the next
        run starts from, and Predict uses it. A bad file is refused with its message."""
        w = self.window
        if w.is_training():
            return False
        try:
            model = load_model(path, cpu_backend("chosen"))
        except ModelFileError as exc:
            w.show_dialog("Cannot open the model", str(exc), QMessageBox.Icon.Warning)
            return False
        too_big = design_too_big(model.network.spec)
        if too_big is not None:  # its design could not be shown, nor trained on
            w.show_dialog("Cannot open the model", f"{path}: {too_big} (desktop-nn predict "
                          "reads it)", QMessageBox.Icon.Warning)
            return False
        w.apply_model(model)
        w.say(f"Model {path} imported", 5000)
        return True

    def export_plot_png(self, path: str) -> bool:
        """The current tab as a PNG (written to a temporary file, then moved into place)."""
        w = self.window
        target = Path(path)
        tmp = target.with_name(f".{target.name}.tmp.png")
        if not w.tabs.currentWidget().grab().save(str(tmp), "PNG"):
            w.show_dialog("Cannot export the plot", f"{path}: could not be written",
                          QMessageBox.Icon.Warning)
            return False
        try:
            os.replace(tmp, target)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            w.show_dialog("Cannot export the plot", file_error(path, exc),
                          QMessageBox.Icon.Warning)
            return False
        return True

    def ask_export_model(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self.window, "Export model", "model.npz",
                                              "desktop-nn model (*.npz)")
        if path:
            self.export_model(path)

    def ask_export_onnx(self) -> None:
        from desktop_nn.io.onnx_export import missing_onnx

        problem = missing_onnx()  # said before a file name is asked for, not after
        if problem is not None:
            self.window.show_dialog("Cannot export the model as ONNX", problem,
                                    QMessageBox.Icon.Warning)
            return
        path, _ = QFileDialog.getSaveFileName(self.window, "Export model as ONNX",
                                              "model.onnx", "ONNX model (*.onnx)")
        if path:
            self.export_onnx(path)

    def ask_import_model(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.window, "Import model", "",
                                              "desktop-nn model (*.npz);;All files (*)")
        if path:
            self.import_model(path)

    def ask_export_plot(self) -> None:
        w = self.window
        name = w.tabs.tabText(w.tabs.currentIndex()).lower()
        path, _ = QFileDialog.getSaveFileName(w, "Export plot as PNG", f"{name}.png",
                                              "PNG image (*.png)")
        if path:
            self.export_plot_png(path)
