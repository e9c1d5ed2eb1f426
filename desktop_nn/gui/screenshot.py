"""Render the main window after a short training run on the bundled sample to a PNG.

    python -m desktop_nn.gui.screenshot docs/screenshot.png [weights evaluation]

Each extra tab name also saves that tab, beside the first: docs/screenshot-weights.png, ...
(The README's screenshots are made this way; the tests render one to a temporary folder.)
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path


def render_screenshot(path: str | os.PathLike, epochs: int = 5, width: int = 1280,
                      height: int = 800, tabs: tuple[str, ...] = ()) -> Path:
    """Train ``epochs`` epochs on the sample in a fresh window (private settings) of the
    default size, 1280 x 800, then save the window as a PNG at ``path`` (atomically), and
    the window showing each of ``tabs``
    ("weights", "evaluation", "math", "runs") as ``<stem>-<tab>.png`` beside it."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QEventLoop, QSettings, QTimer
    from PySide6.QtWidgets import QApplication

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
        _save(window, path)
        views = {"weights": window.weights_view, "evaluation": window.evaluation_view,
                 "math": window.math_view, "runs": window.runs_view}
        for name in tabs:
            window.tabs.setCurrentWidget(views[name])
            for _ in range(2000):  # the evaluation is computed in the background
                QApplication.processEvents()
                if window.inspection.evaluation_job is None:
                    break
                loop_wait = QEventLoop()
                QTimer.singleShot(5, loop_wait.quit)
                loop_wait.exec()
            QApplication.processEvents()
            _save(window, path.with_name(f"{path.stem}-{name}{path.suffix}"))
        window.projects.ask_unsaved = lambda name: "discard"  # no modal question
        window.close()
    return path


def _save(window, path: Path) -> None:
    image = window.grab().toImage()
    tmp_png = path.with_name(f".{path.name}.tmp.png")
    if not image.save(str(tmp_png), "PNG"):
        raise OSError(f"{path}: could not write the screenshot")
    os.replace(tmp_png, path)


if __name__ == "__main__":
    out = render_screenshot(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshot.png",
                            tabs=tuple(sys.argv[2:]))
    print(out)
