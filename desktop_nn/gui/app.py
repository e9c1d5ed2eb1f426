"""QApplication set-up and the app's entry point."""

from __future__ import annotations

import gc
import sys
from importlib import resources

import pyqtgraph as pg
from PySide6.QtCore import QSettings, QTimer, qFormatLogMessage, qInstallMessageHandler
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from desktop_nn import __version__

_app: QApplication | None = None  # kept alive for windows made outside main()
_gc_timer: QTimer | None = None
GC_INTERVAL_MS = 500
# Qt's messages that say nothing to a user: the offscreen platform (--self-test, the tests)
# warns this for every window shown
QT_NOISE = frozenset({"This plugin does not support propagateSizeHints()"})
_previous_qt_handler = None


def ensure_app(argv: list[str] | None = None) -> QApplication:
    """The running QApplication, created (with the app's names) when there is none."""
    global _app
    app = QApplication.instance()
    if app is None:
        install_qt_message_filter()
        app = _app = QApplication(argv if argv is not None else sys.argv[:1])
    app.setApplicationName("desktop-nn")
    app.setOrganizationName("desktop-nn")
    app.setApplicationVersion(__version__)
    icon = resources.files("desktop_nn") / "resources" / "icon.png"
    if icon.is_file():
        app.setWindowIcon(QIcon(str(icon)))
    # no antialiasing: in software rendering it makes a redraw several times slower
    pg.setConfigOptions(antialias=False, background="w", foreground="k")
    # The training thread holds the GIL between NumPy calls; hand it over every 1 ms (Python's
    # default is 5 ms) so the GUI thread, which re-acquires it after each Qt call, stays lively.
    sys.setswitchinterval(0.001)
    _collect_garbage_in_the_gui_thread(app)
    return app


def install_qt_message_filter() -> None:
    """Drop Qt's messages in :data:`QT_NOISE` (those exact messages only); every other message
    goes on to the handler installed before, or is written to stderr as Qt writes it."""
    global _previous_qt_handler
    previous = qInstallMessageHandler(_qt_message)
    if previous is not _qt_message:
        _previous_qt_handler = previous


def _qt_message(mode, context, message: str) -> None:
    if message in QT_NOISE:
        return
    if _previous_qt_handler is not None:
        _previous_qt_handler(mode, context, message)
    else:
        sys.stderr.write(qFormatLogMessage(mode, context, message) + "\n")
        sys.stderr.flush()


def _collect_garbage_in_the_gui_thread(app: QApplication) -> None:
    """Python's cyclic garbage collector runs in whichever thread crosses its allocation
    threshold. In a training thread it can destroy the QObjects of a window that became
    garbage (a closed window in a reference cycle), from the wrong thread: a deadlock with
    the GUI thread (seen in the tests). So automatic collection is off while the app runs,
    and the GUI thread collects on a timer, generation by generation as the thresholds say
    (as pyqtgraph's GarbageCollector does)."""
    global _gc_timer
    gc.disable()
    if _gc_timer is not None:
        return
    _gc_timer = QTimer(app)
    _gc_timer.setObjectName("garbageCollectionTimer")
    _gc_timer.setInterval(GC_INTERVAL_MS)
    _gc_timer.timeout.connect(_collect)
    _gc_timer.start()


def _collect() -> None:
    counts, thresholds = gc.get_count(), gc.get_threshold()
    for generation in (2, 1, 0):
        if counts[generation] > thresholds[generation]:
            gc.collect(generation)
            return


WORKER_IMPORT_MESSAGE = (
    "desktop_nn.gui.create_main_window() was called while a worker process (started to "
    "decode images) imported your script again: put the code that makes the window under "
    "`if __name__ == \"__main__\":` (docs/ui.md). The images are decoded without workers "
    "meanwhile.")


def _importing_main_in_a_worker() -> bool:
    """Whether this is a multiprocessing worker (spawn, forkserver) importing the parent's
    main script, which it does before it can work: the window would be made once more in
    every worker. (multiprocessing's own "bootstrapping phase" check reads the same flag.)"""
    import multiprocessing

    return bool(getattr(multiprocessing.current_process(), "_inheriting", False))


def create_main_window(settings: QSettings | None = None, data: str | None = None):
    """Build the fully wired main window without entering the event loop: the bundled sample
    (or the last folder, or ``data``) loaded or loading, the training worker ready. A script
    that calls it keeps the call under ``if __name__ == "__main__":`` (docs/ui.md): in a
    worker process that imports the script again it raises RuntimeError saying so."""
    from desktop_nn.gui.main_window import MainWindow

    if _importing_main_in_a_worker():
        raise RuntimeError(WORKER_IMPORT_MESSAGE)
    ensure_app()
    window = MainWindow(settings)
    if data is not None:
        window.data_panel.folder_edit.setText(data)
    window.load_initial_data()
    return window


def main(argv: list[str] | None = None, data: str | None = None) -> int:
    app = ensure_app(argv)
    window = create_main_window(data=data)
    window.show()
    # after the window is up: offer the autosave of a session that crashed
    QTimer.singleShot(0, window.projects.offer_recovery)
    return app.exec()
