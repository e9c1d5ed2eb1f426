"""The Examples menu: one entry per teaching example (:mod:`desktop_nn.examples`); opening
one sets the panels up as the example says and shows its explanation beside the plots."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu

from desktop_nn.data.sources import SAMPLE_NAME
from desktop_nn.examples import EXAMPLES, SLOWDOWN
from desktop_nn.gui.example_view import SlowdownView

if TYPE_CHECKING:
    from desktop_nn.gui.main_window import MainWindow

# the menu entries' object names (tests and automation find them by these)
ACTION_NAMES = {"vanishing-gradients": "vanishingGradientsExampleAction",
                "learning-slowdown": "learningSlowdownExampleAction"}


def make_examples_menu(w: MainWindow) -> QMenu:
    """The top-level Examples menu, one action per example (``w.vanishing_action``,
    ``w.slowdown_action`` as before)."""
    menu = w.menuBar().addMenu("E&xamples")
    menu.setObjectName("examplesMenu")
    for key, example in EXAMPLES.items():
        a = QAction(f"{example.title}", w)
        a.setObjectName(ACTION_NAMES.get(key, f"{key}ExampleAction"))
        a.setToolTip(f"Open the example “{example.title}”")
        a.triggered.connect(lambda _=False, key=key: w.open_example(key))
        w.addAction(a)
        menu.addAction(a)
    actions = {a.objectName(): a for a in menu.actions()}
    w.vanishing_action = actions[ACTION_NAMES["vanishing-gradients"]]
    w.slowdown_action = actions[ACTION_NAMES["learning-slowdown"]]
    return menu


def open_example(w: MainWindow, key: str) -> bool:
    """Set the example ``key`` up in ``w`` and show its explanation beside its plot (the
    learning slowdown has a tab of its own). False when refused (a run is training, or the
    user kept the unsaved project)."""
    if w.is_training():
        w.say("Stop the training run first.", 5000)
        return False
    example = EXAMPLES[key]
    if example is SLOWDOWN:
        if w.slowdown_view is None:
            w.slowdown_view = SlowdownView()
            w.tabs.addTab(w.slowdown_view, "Learning slowdown")
            w.help_menu.attach(w.slowdown_view)
        w.tabs.setCurrentWidget(w.slowdown_view)
        w.slowdown_view.run()
        return True
    if not w.projects.new():  # an example is a new, untitled project: ask first
        return False
    if w.data_panel.data is None or w.data_panel.folder_edit.text() != SAMPLE_NAME:
        w.data_panel.load(SAMPLE_NAME, synchronous=True)  # the bundled MNIST digits
    # the design after the data: loading may pick a default output for the classes
    if example.designer is not None:
        w.designer.set_state(example.designer)
    if example.training is not None:
        w.training_panel.set_state(example.training)
    if example.gradient_mode is not None:
        w.plots.gradient_mode.setCurrentText(example.gradient_mode)
    w.tabs.setCurrentWidget(w.training_tab)
    w.example_panel.show_example(example)
    return True
