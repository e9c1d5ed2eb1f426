"""Render the main window after a short training run on the bundled sample to a PNG.

    python -m desktop_nn.gui.screenshot docs/screenshot.png

(The README's screenshot is made this way; the tests render one to a temporary folder.)
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path


def render_screenshot(path: str | os.PathLike, epochs: int = 5, width: int = 1400,
                      height: int = 860) -> Path:
    """Train ``epochs`` epochs on the sample in a fresh window (private settings), then save
    the window as a PNG at ``path`` (atomically)."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QEventLoop, QSettings, QTimer

    from desktop_nn.gui.app import create_main_window

    path = Path(path)
    with tempfile.TemporaryDirectory() as tmp:
        settings = QSettings(str(Path(tmp) / "settings.ini"), QSettings.Format.IniFormat)
        window = create_main_window(settings=settings)
        window.resize(width, height)
        window.show()
        window.designer.set_layers([(30, "sigmoid"), (20, "relu")])
        window.training_panel.epochs_spin.setValue(epochs)
        loop = QEventLoop()
        window.training_finished.connect(loop.quit)
        QTimer.singleShot(120_000, loop.quit)  # never hang
        if not window.start():
            raise RuntimeError("training could not start")
        loop.exec()
        window.plots.refresh()
        image = window.grab().toImage()
        tmp_png = path.with_name(f".{path.name}.tmp.png")
        if not image.save(str(tmp_png), "PNG"):
            raise OSError(f"{path}: could not write the screenshot")
        os.replace(tmp_png, path)
        window.projects.ask_unsaved = lambda name: "discard"  # no modal question
        window.close()
    return path


if __name__ == "__main__":
    out = render_screenshot(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshot.png")
    print(out)
