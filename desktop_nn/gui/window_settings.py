"""The window's geometry, dock layout and panel choices, kept in QSettings between sessions.
A damaged setting is ignored, never fatal; a value the panels cannot use is replaced and
listed in one message (MainWindow.report_replaced)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from PySide6.QtCore import QByteArray

if TYPE_CHECKING:
    from desktop_nn.gui.main_window import MainWindow

DEFAULT_SIZE = (1280, 800)


def restore(window: MainWindow) -> None:
    s = window.settings
    geometry = s.value("geometry")
    if isinstance(geometry, QByteArray):
        window.restoreGeometry(geometry)
    else:
        window.resize(*DEFAULT_SIZE)
    state = s.value("windowState")
    if isinstance(state, QByteArray):
        window.restoreState(state)
    for key, widget in (("designer", window.designer), ("data", window.data_panel),
                        ("training", window.training_panel)):
        text = s.value(key)
        if isinstance(text, str):
            try:
                state = json.loads(text)
            except ValueError:
                continue  # a damaged setting is ignored, never fatal
            window.report_replaced(widget.set_state(state))


def save(window: MainWindow) -> None:
    s = window.settings
    s.setValue("geometry", window.saveGeometry())
    s.setValue("windowState", window.saveState())
    for key, state in window.panel_states().items():
        s.setValue(key, json.dumps(state))
    s.sync()
