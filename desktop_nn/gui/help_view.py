"""The Help menu's windows: "What am I looking at?" (a non-modal window, one page per plot,
the texts of :mod:`desktop_nn.gui.help_texts`) and About (version, licence, documentation,
the versions of Python, Qt, NumPy and CuPy, and the device).

Each plot gets a small "?" button in its top-left corner, and pyqtgraph plots a "What am I
looking at?" entry in their context menu, both opening the plot's page."""

from __future__ import annotations

import importlib.metadata
import platform
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyqtgraph as pg
import PySide6
from PySide6.QtCore import QEvent, QObject, Qt, QUrl, qVersion
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QListWidget,
    QListWidgetItem,
    QTextBrowser,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

import desktop_nn
from desktop_nn.gui.help_texts import ABOUT_TEXT, PAGES, page_for_plot

HELP_BUTTON_PROPERTY = "helpButtonAttached"
MENU_ENTRY = "What am I looking at?"


class HelpWindow(QWidget):
    """One page per plot: the list on the left, the page on the right. A window of its own,
    never modal: it stays open beside the plots while training goes on."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.setObjectName("helpWindow")
        self.setWindowTitle("What am I looking at? — desktop-nn")
        self.list = QListWidget()
        self.list.setObjectName("helpPageList")
        self.text = QTextBrowser()
        self.text.setObjectName("helpPageText")
        self.text.setOpenExternalLinks(True)
        for page in PAGES:
            item = QListWidgetItem(page.title)
            item.setData(Qt.ItemDataRole.UserRole, page.key)
            self.list.addItem(item)
        self.list.currentRowChanged.connect(self._show_row)
        self.list.setMaximumWidth(230)
        h = QHBoxLayout(self)
        h.addWidget(self.list)
        h.addWidget(self.text, 1)
        self.resize(760, 480)
        self.list.setCurrentRow(0)

    def _show_row(self, row: int) -> None:
        if 0 <= row < len(PAGES):
            self.text.setHtml(PAGES[row].html)

    def current_key(self) -> str:
        return PAGES[max(0, self.list.currentRow())].key

    def show_page(self, key: str) -> None:
        """Show the page ``key`` (see help_texts.PAGES), bringing the window forward."""
        row = next((i for i, p in enumerate(PAGES) if p.key == key), 0)
        self.list.setCurrentRow(row)
        self._show_row(row)
        self.show()
        self.raise_()
        self.activateWindow()


def _version(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def cupy_version() -> str:
    """CuPy's version without importing it (only the backend imports CuPy)."""
    module = sys.modules.get("cupy")
    if module is not None:
        return str(getattr(module, "__version__", "?"))
    for dist in importlib.metadata.distributions():
        name = (dist.metadata["Name"] or "").lower()
        if name == "cupy" or name.startswith("cupy-"):
            return f"{dist.version} ({name}, not loaded)"
    return "not installed"


def docs_link() -> str:
    """The documentation: the docs folder of a source checkout when there is one."""
    docs = Path(desktop_nn.__file__).resolve().parent.parent / "docs"
    if docs.is_dir():
        url = QUrl.fromLocalFile(str(docs)).toString()
        return (f'<a href="{url}">{docs}</a> (ui.md: the window; diagnostics.md: what each '
                "plotted quantity is)")
    return "docs/ in the desktop-nn source (ui.md, diagnostics.md)"


def about_html(device: str) -> str:
    """The About text for the running app on ``device`` (the status bar's device label)."""
    return ABOUT_TEXT.format(
        version=desktop_nn.__version__, docs=docs_link(),
        python=f"{platform.python_version()} ({platform.python_implementation()})",
        qt=qVersion(), pyside=PySide6.__version__, pyqtgraph=pg.__version__,
        numpy=np.__version__, cupy=cupy_version(), device=device or "unknown")


class AboutDialog(QDialog):
    """About desktop-nn; shown without blocking anything (not modal)."""

    def __init__(self, device: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("aboutDialog")
        self.setWindowTitle("About desktop-nn")
        self.text = QTextBrowser()
        self.text.setObjectName("aboutText")
        self.text.setOpenExternalLinks(True)
        self.text.setHtml(about_html(device))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        v = QVBoxLayout(self)
        v.addWidget(self.text)
        v.addWidget(buttons)
        self.resize(520, 440)


class _CornerKeeper(QObject):
    """Keeps a "?" button in its plot's top-left corner (and on top) as the plot resizes."""

    def __init__(self, button: QToolButton) -> None:
        super().__init__(button)
        self.button = button

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt's name)
        if event.type() in (QEvent.Type.Resize, QEvent.Type.Show):
            self.button.move(2, 2)
            self.button.raise_()
        return False


def attach_help(root: QWidget, open_page: Callable[[str], None]) -> list[QWidget]:
    """Give every plot under ``root`` that has a help page a "?" button (object name
    ``<plot>HelpButton``) and, for a pyqtgraph plot, a context-menu entry, both calling
    ``open_page(key)``. Plots already given one are skipped; returns those given one now."""
    done = []
    for widget in [root, *root.findChildren(QWidget)]:
        page = page_for_plot(widget.objectName())
        if page is None or widget.property(HELP_BUTTON_PROPERTY):
            continue
        widget.setProperty(HELP_BUTTON_PROPERTY, True)
        button = QToolButton(widget)
        button.setObjectName(f"{widget.objectName()}HelpButton")
        button.setText("?")
        button.setToolTip(f"{MENU_ENTRY} ({page.title})")
        button.setAutoRaise(False)
        button.setFixedSize(20, 20)
        button.clicked.connect(lambda _=False, key=page.key: open_page(key))
        widget.installEventFilter(_CornerKeeper(button))
        button.move(2, 2)
        button.show()
        if isinstance(widget, pg.PlotWidget):
            menu = widget.getPlotItem().getViewBox().menu
            menu.addSeparator()
            menu.addAction(MENU_ENTRY, lambda key=page.key: open_page(key))
        done.append(widget)
    return done


class HelpMenu(QObject):
    """The Help menu of ``window`` (a QMainWindow): "What am I looking at?" (F1) and About.
    ``device()`` gives the device label About shows. :meth:`attach` gives the plots under a
    widget their "?" buttons (the window calls it for views made later)."""

    def __init__(self, window, device: Callable[[], str]) -> None:
        super().__init__(window)
        self.setObjectName("helpMenuController")
        self.window, self.device = window, device
        self.help_window: HelpWindow | None = None  # made when first asked for
        self.about_dialog: AboutDialog | None = None
        menu = self.menu = window.menuBar().addMenu("&Help")
        menu.setObjectName("helpMenu")
        self.whats_this_action = menu.addAction(MENU_ENTRY, lambda: self.show_page(None))
        self.whats_this_action.setObjectName("plotHelpAction")
        self.whats_this_action.setShortcut("F1")
        self.whats_this_action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        window.addAction(self.whats_this_action)
        self.about_action = menu.addAction("&About desktop-nn", self.about)
        self.about_action.setObjectName("aboutAction")
        self.about_action.setMenuRole(self.about_action.MenuRole.AboutRole)
        self.attach(window)

    def attach(self, root: QWidget) -> list[QWidget]:
        return attach_help(root, self.show_page)

    def show_page(self, key: str | None) -> HelpWindow:
        """The help window, on page ``key`` (None: the page it shows, the first at first)."""
        if self.help_window is None:
            self.help_window = HelpWindow(self.window)
        self.help_window.show_page(key if key is not None else self.help_window.current_key())
        return self.help_window

    def about(self) -> AboutDialog:
        if self.about_dialog is None:
            self.about_dialog = AboutDialog(self.device(), self.window)
        else:
            self.about_dialog.text.setHtml(about_html(self.device()))
        self.about_dialog.show()  # not modal: training and the window go on beside it
        self.about_dialog.raise_()
        return self.about_dialog

    def close(self) -> None:
        for w in (self.help_window, self.about_dialog):
            if w is not None:
                w.close()


__all__ = ["AboutDialog", "HelpMenu", "HelpWindow", "about_html", "attach_help", "cupy_version"]
