"""The Examples and Help menus: Examples is a menu of its own whose advice works in the
window as written; Help has About (versions, licence, device) and a non-modal "What am I
looking at?" window, one page per plot, reachable from each plot's "?" button."""

from __future__ import annotations

import platform
import re

import numpy as np
import PySide6
from PySide6.QtCore import QObject, QPoint, Qt
from PySide6.QtWidgets import QToolButton

import desktop_nn
from desktop_nn.examples import EXAMPLES, VANISHING
from desktop_nn.gui import help_texts
from desktop_nn.gui.help_texts import PAGES, page_for_plot


def menu_titles(window) -> list[str]:
    return [a.text().replace("&", "") for a in window.menuBar().actions()]


def test_examples_is_a_menu_of_its_own_with_every_example(window):
    assert "Examples" in menu_titles(window)
    assert window.examples_menu.objectName() == "examplesMenu"
    assert [a.text() for a in window.examples_menu.actions()] == [
        e.title for e in EXAMPLES.values()]
    file_entries = [a.text().replace("&", "") for a in window.file_menu.actions()]
    assert "Examples" not in file_entries
    assert window.findChild(QObject, "vanishingGradientsExampleAction") is window.vanishing_action


def test_following_the_vanishing_examples_advice_in_the_window(qtbot, window):
    """As a student would: open the example, change what the advice says, train: the run
    does not diverge and shows what the advice promises."""
    for advice in VANISHING.advice:
        assert window.open_example(VANISHING.key)
        assert re.sub("<[^>]+>", "", advice.text) in window.example_panel.text.toPlainText()
        followed = VANISHING.followed(advice)
        window.designer.set_state(followed.designer)
        window.training_panel.set_state(followed.training)
        window.training_panel.epochs_spin.setValue(2)
        with qtbot.waitSignal(window.training_finished, timeout=60_000) as blocker:
            assert window.start()
        assert blocker.args[0].stopped == "completed"
        assert np.isfinite(window.plots.steps.cost).all()
        accuracy = window.plots.epochs.column("val_accuracy")
        assert accuracy.max() > 0.4  # left chance level (0.1), which the example does not
        if len(followed.designer["layers"]) > 1:
            db = window.plots.steps.layer_values("grad_norm_b")
            assert np.nanmedian(db[0] / db[3]) > 0.25  # layer 1 no longer far below layer 4


def test_help_menu_has_about_and_the_plot_pages(window):
    assert menu_titles(window)[-1] == "Help"
    assert window.findChild(QObject, "aboutAction") is not None
    assert window.findChild(QObject, "plotHelpAction") is not None


def test_about_says_versions_licence_and_device(qtbot, window):
    dialog = window.help_menu.about()
    assert not dialog.isModal()  # opened without blocking
    text = dialog.text.toPlainText()
    for needle in (desktop_nn.__version__, "MIT", platform.python_version(), np.__version__,
                   PySide6.__version__, PySide6.QtCore.qVersion(), "CuPy",
                   window.device_label.text()):
        assert needle in text, needle
    dialog.close()


def test_each_plot_has_a_question_mark_opening_its_page(qtbot, window):
    plots = [*window.plots.plots(), window.runs_view.plot,
             window.weights_view.histogram_plot]
    for plot in plots:
        page = page_for_plot(plot.objectName())
        assert page is not None, plot.objectName()
        button = plot.findChild(QToolButton, f"{plot.objectName()}HelpButton")
        assert button is not None
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
        help_window = window.help_menu.help_window
        assert help_window.isVisible() and not help_window.isModal()
        assert help_window.current_key() == page.key
        heading = re.search("<h3>(.*?)</h3>", page.html).group(1)
        assert help_window.text.toPlainText().startswith(heading)
        # and the plot's context menu has the entry too
        menu = plot.getPlotItem().getViewBox().menu
        assert "What am I looking at?" in [a.text() for a in menu.actions()]
    assert window.findChild(QToolButton, "confusionMatrixHelpButton") is not None
    # the window's own Help entry opens the same window (F1)
    window.help_menu.whats_this_action.trigger()
    assert window.help_menu.help_window.isVisible()


def test_the_slowdown_tab_made_later_gets_its_buttons(qtbot, window):
    assert window.open_example("learning-slowdown")
    qtbot.waitUntil(lambda: window.slowdown_view.job is None, timeout=20_000)
    assert window.slowdown_view.cost_plot.findChild(QToolButton,
                                                    "slowdownCostPlotHelpButton") is not None


def test_every_page_is_distinct_and_the_definitions_agree_with_the_diagnostics():
    keys = [p.key for p in PAGES]
    assert len(set(keys)) == len(keys)
    names = [n for p in PAGES for n in p.plots]
    assert len(set(names)) == len(names)  # a plot has one page
    from desktop_nn.nn import diagnostics

    for name in ("SATURATION_THRESHOLD", "WINDOW_EXAMPLES"):
        if hasattr(diagnostics, name):  # once issue 22's definitions land
            assert getattr(help_texts, name) == getattr(diagnostics, name)
    units = help_texts.UNITS.html
    assert f"{help_texts.SATURATION_THRESHOLD:g}" in units and "n/a" in units
    assert "W[l] after the step − W[l] before" in help_texts.GRADIENTS.html


# ---------------------------------------------------------------------------- the docks
def fits(widget, viewport) -> bool:
    """``widget`` lies whole, left to right, inside ``viewport`` (not clipped)."""
    left = widget.mapTo(viewport, QPoint(0, 0)).x()
    right = widget.mapTo(viewport, QPoint(widget.width(), 0)).x()
    return widget.isVisible() and left >= 0 and right <= viewport.width()


def test_the_data_dock_is_visible_and_readable_at_the_default_size(qtbot, window):
    assert (window.width(), window.height()) == (1280, 800)
    for dock in (window.data_dock, window.network_dock, window.training_dock):
        assert dock.isVisible() and not dock.visibleRegion().isEmpty(), dock.objectName()
        assert window.tabifiedDockWidgets(dock) == []  # no dock hides behind another's tab
    for dock, widgets in (
            (window.data_dock, [window.data_panel.folder_edit, window.data_panel.browse_button,
                                window.data_panel.load_button, window.data_panel.scaling_combo,
                                window.data_panel.val_spin]),
            (window.training_dock, [window.training_panel.lr_spin,
                                    window.training_panel.start_button])):
        scroll = dock.widget()
        assert not scroll.horizontalScrollBar().isVisible(), dock.objectName()
        for widget in widgets:
            assert fits(widget, scroll.viewport()), widget.objectName()


def test_a_dock_layout_saved_by_an_older_version_gives_the_new_default(qtbot, window,
                                                                       tmp_path):
    from PySide6.QtCore import QSettings
    from test_gui_inspect import close

    from desktop_nn.gui import create_main_window

    window.tabifyDockWidget(window.network_dock, window.data_dock)  # the old layout
    settings = QSettings(str(tmp_path / "old.ini"), QSettings.Format.IniFormat)
    settings.setValue("windowState", window.saveState())  # version 0
    again = create_main_window(settings=settings)
    qtbot.addWidget(again)
    again.show()
    assert again.tabifiedDockWidgets(again.data_dock) == []
    close(again)
