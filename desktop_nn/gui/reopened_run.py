"""A reopened project's current run in the window (File > Open, or an autosave recovered):
the Runs tab, its curves in the live plots, the status bar at its epoch and step, and Start
ready to go on with it as the same run.

Which Start goes on with it: one with the run's own settings on the data the project opened
with, nothing changed but the epochs, learning rate, L2 or batch size (the run key of
workbench/continuing.py). A run key names the loaded data by identity
(:meth:`~desktop_nn.gui.run_flow.RunFlow.key`), so the run's key is given to the workbench
(:meth:`~desktop_nn.workbench.Workbench.resume_with`) when the project's own data have been
loaded; data the user loads instead make the next Start a new run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject

from desktop_nn.data.sources import LoadedData
from desktop_nn.train.runs import Run
from desktop_nn.workbench.continuing import run_key

if TYPE_CHECKING:
    from desktop_nn.gui.main_window import MainWindow


class ReopenedRun(QObject):
    """Shows a reopened project's runs and current run in ``window``, and tells its
    workbench which Start continues that run."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self._waiting: Run | None = None  # the run whose project's data are being loaded
        window.data_loaded.connect(self._data_loaded)

    def show(self, run: Run | None) -> None:
        """The runs were restored: list them; plot ``run``'s history (the model in hand's
        run; None: no curves), reset the Activations tab for its layers and show its epoch
        and step in the status bar."""
        w = self.window
        w.runs_view.refresh()
        self._waiting = None
        held = w.workbench.in_hand()
        if run is None or held is None:
            return
        spec = held.network.spec
        w.plots.reset(spec.n_layers, spec.activations, spec.cost)
        w.plots.add(list(run.history.steps), list(run.history.epochs))
        for c in run.history.changes:  # the settings changed during the run
            w.plots.mark_change(c.step, c.epoch, c.label)
        w.plots.refresh()
        w.activation_view.reset(spec.activations)
        # a Continue goes on with this history: its changes are marked already
        w.progress.follow_changes(run.history, marked=len(run.history.changes))
        w.progress.show_position(held.epoch, held.steps)
        self._waiting = run

    def _data_loaded(self, data: LoadedData) -> None:
        run, self._waiting = self._waiting, None
        w = self.window
        if run is None or w.data_panel.loaded_by_user:  # not the project's own data
            return
        designer, training = run.settings.get("designer"), run.settings.get("training")
        if isinstance(designer, dict) and isinstance(training, dict):
            w.workbench.resume_with(run_key(designer, training, id(data)))
            w.flow.update_start()
