"""The notebook API: load data, design a network, train it with a callback per report,
evaluate it, save it, export it, from a script or a notebook, without the window.

A thin layer over what the window and ``desktop-nn train`` use: data come from
:func:`~desktop_nn.data.sources.load_training_data`, a run is a
:class:`~desktop_nn.workbench.RunRequest` trained by a
:class:`~desktop_nn.workbench.Workbench` on the calling thread (its ``InlineExecutor``), as
``desktop-nn train`` does, so the same settings give bit-identical weights. See docs/api.md.

Arrays are in the course's column layout: X (n_x, m), one example per column; Y (n_y, m) with
n_y = 1 (0/1) for two classes, else one-hot (C, m).

Modules: ``data`` (load_data, design), ``run`` (train, Run, StopTraining), ``model`` (Model,
load_model), ``evaluation`` (evaluate, Scores), ``checks`` (the argument checks). No Qt.
"""

from desktop_nn.api.data import Data, design, load_data
from desktop_nn.api.evaluation import Scores, evaluate
from desktop_nn.api.model import Model, load_model
from desktop_nn.api.run import Run, StopTraining, train
from desktop_nn.train.history import EpochReport, StepReport

__all__ = ["Data", "EpochReport", "Model", "Run", "Scores", "StepReport", "StopTraining",
           "design", "evaluate", "load_data", "load_model", "train"]
