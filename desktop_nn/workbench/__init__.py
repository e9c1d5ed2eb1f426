"""The workbench: a Qt-free owner of a run's life and of the model in hand, which the window,
the project controller, the command line and the reproductions all drive (see
docs/architecture.md)."""

from desktop_nn.workbench.building import BuiltRun, RunPlan, RunRequest, StartPoint
from desktop_nn.workbench.events import Event, TrainingSpan, WorkbenchEvents
from desktop_nn.workbench.executor import Executor, InlineExecutor, describe_error
from desktop_nn.workbench.model import (
    Fresh,
    Imported,
    InHand,
    ModelState,
    SetAside,
    Training,
    model_file,
)
from desktop_nn.workbench.workbench import Workbench

__all__ = ["BuiltRun", "Event", "Executor", "Fresh", "Imported", "InHand", "InlineExecutor",
           "ModelState", "RunPlan", "RunRequest", "SetAside", "StartPoint", "Training",
           "TrainingSpan", "Workbench", "WorkbenchEvents", "describe_error", "model_file"]
