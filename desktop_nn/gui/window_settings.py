"""The window's geometry, dock layout and panel choices, kept in QSettings between sessions.
A damaged setting is ignored, never fatal; a value the panels cannot use is replaced and
listed in one message (MainWindow.report_replaced)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from PySide6.QtCore import QByteArray, Qt

if TYPE_CHECKING:
    from desktop_nn.gui.main_window import MainWindow

DEFAULT_SIZE = (1280, 800)
# saved dock layouts of another version are not restored (the default layout is used): 1 shows
# the Data dock above the Network dock instead of hiding it behind a tab
LAYOUT_VERSION = 1
SCROLL_BAR = 24  # a dock's scroll bar and frame


def default_layout(window: MainWindow) -> None:
    """The docks at first start: Data above Network on the left (both visible, the Data
    dock's fields readable at 1280 x 800), Training on the right."""
    window.splitDockWidget(window.data_dock, window.network_dock, Qt.Orientation.Vertical)
    window.resizeDocks([window.data_dock, window.network_dock], [330, 420],
                       Qt.Orientation.Vertical)
    # as wide as their panels ask, plus room for a vertical scroll bar
    left = max(window.data_panel.minimumSizeHint().width(),
               window.designer.minimumSizeHint().width(), 360) + SCROLL_BAR
    right = window.training_panel.minimumSizeHint().width() + SCROLL_BAR
    window.resizeDocks([window.data_dock, window.training_dock], [left, right],
                       Qt.Orientation.Horizontal)


def restore(window: MainWindow) -> None:
    s = window.settings
    geometry = s.value("geometry")
    if isinstance(geometry, QByteArray):
        window.restoreGeometry(geometry)
    else:
        window.resize(*DEFAULT_SIZE)
    state = s.value("windowState")
    if isinstance(state, QByteArray):
        window.restoreState(state, LAYOUT_VERSION)
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
    s.setValue("windowState", window.saveState(LAYOUT_VERSION))
    for key, state in window.panel_states().items():
        s.setValue(key, json.dumps(state))
    s.sync()
