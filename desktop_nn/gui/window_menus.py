"""The main window's actions, menus, toolbar and shortcuts."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence

from desktop_nn.data.sources import SAMPLE_NAME
from desktop_nn.gui.examples_menu import make_examples_menu
from desktop_nn.gui.help_view import HelpMenu

if TYPE_CHECKING:
    from desktop_nn.gui.main_window import MainWindow


def make_actions(w: MainWindow) -> None:
    """Make the actions (as attributes of ``w``: ``open_action``, ``start_pause_action``,
    ...), the File / Train / View / Examples / Help menus and the toolbar."""

    def action(text: str, name: str, shortcut: str | QKeySequence | None, slot,
               tip: str = "") -> QAction:
        a = QAction(text, w)
        a.setObjectName(name)
        if shortcut is not None:
            a.setShortcut(QKeySequence(shortcut))
            a.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        a.setToolTip(tip or text)
        a.triggered.connect(slot)
        w.addAction(a)
        return a

    files = w.model_files
    w.open_action = action("&Open image folder…", "openFolderAction",
                           QKeySequence.StandardKey.Open, w.data_panel.browse)
    w.sample_action = action("Load the bundled &sample", "loadSampleAction", None,
                             lambda: w.data_panel.load(SAMPLE_NAME))
    w.quit_action = action("&Quit", "quitAction", QKeySequence.StandardKey.Quit, w.close)
    w.start_pause_action = action("Start / &pause", "startPauseAction", "Space",
                                  w.start_or_pause, "Start, pause or resume (Space)")
    w.step_action = action("S&tep", "stepAction", "F10", w.step, "One mini-batch step (F10)")
    w.stop_action = action("St&op", "stopAction", "Ctrl+.", w.stop, "Stop (Ctrl+.)")
    w.reset_action = action("&Reset weights", "resetAction", None, w.reset_weights)
    w.export_model_action = action("&Export model…", "exportModelAction", None,
                                   files.ask_export_model)
    w.export_onnx_action = action("Export model as O&NX…", "exportOnnxAction", None,
                                  files.ask_export_onnx)
    w.import_model_action = action("&Import model…", "importModelAction", None,
                                   files.ask_import_model)
    w.export_plot_action = action("Export plot as &PNG…", "exportPlotAction", None,
                                  files.ask_export_plot)

    menu = w.menuBar()
    file_menu = w.file_menu = menu.addMenu("&File")
    pr = w.projects
    file_menu.addActions([pr.new_action, pr.open_action])
    file_menu.addMenu(pr.recent_menu)
    file_menu.addActions([pr.save_action, pr.save_as_action])
    file_menu.addSeparator()
    file_menu.addActions([w.open_action, w.sample_action])
    file_menu.addSeparator()
    file_menu.addActions([w.import_model_action, w.export_model_action,
                          w.export_onnx_action, w.export_plot_action])
    file_menu.addSeparator()
    file_menu.addAction(w.quit_action)
    w.examples_menu = make_examples_menu(w)  # its own menu, where a student looks first
    train_menu = menu.addMenu("&Train")
    train_menu.addActions([w.start_pause_action, w.step_action, w.stop_action,
                           w.reset_action])
    view_menu = menu.addMenu("&View")
    for dock in (w.network_dock, w.data_dock, w.training_dock):
        view_menu.addAction(dock.toggleViewAction())
    w.help_menu = HelpMenu(w, w.device_label.text)
    toolbar = w.addToolBar("Main")
    toolbar.setObjectName("mainToolBar")
    toolbar.addActions([w.open_action, w.start_pause_action, w.step_action, w.stop_action,
                        w.reset_action])
