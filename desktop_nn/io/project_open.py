"""Opening a project as one consistent unit: the project file, the model and the training
state that belong to it (the same save ``generation``, see :mod:`desktop_nn.io.project_file`),
and notes for the user on what was left out and why."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from desktop_nn.backend import Backend
from desktop_nn.io.model_file import ModelFile
from desktop_nn.io.project_file import (
    GenerationMismatch,
    Project,
    ProjectFileError,
    UnusableState,
    load_project,
    load_project_model,
    load_project_state,
)
from desktop_nn.io.project_paths import PathLike


@dataclass
class OpenedProject:
    """A project with the model and training state that belong to it.

    Attributes:
        project: the project (``model`` is None when its model was left out).
        model: the trained model, or None.
        state: the training state to continue from (``Trainer.checkpoint()``), or None.
        notes: what was left out and why, one sentence each, for the user ([] when nothing).
    """

    project: Project
    model: ModelFile | None = None
    state: tuple[dict, dict] | None = None
    notes: list[str] = field(default_factory=list)


def open_project(path: PathLike, backend: Backend | None = None,
                 drop_damaged: bool = False) -> OpenedProject:
    """The project at ``path`` with its model and training state, as one consistent unit.

    A model or state whose generation is not the project's is left out, with a note (the
    files stay on disk as they are): weights and training state of two saves are never mixed.
    So is a state whose values a run cannot continue from (bad counters, a generator state
    the generator refuses, optimiser arrays missing or not of the model's shapes).
    A damaged project raises :class:`ProjectFileError`; so does a damaged model or state file,
    unless ``drop_damaged`` (autosave recovery: the settings are still worth having), which
    leaves it out with a note too.
    """
    p = Path(path)
    opened = OpenedProject(load_project(p))
    project = opened.project
    try:
        opened.model = load_project_model(project, p, backend)
    except GenerationMismatch as exc:
        opened.notes.append(f"{exc}. The model was left out; the file is kept as it is.")
    except ProjectFileError as exc:
        if not drop_damaged:
            raise
        opened.notes.append(f"{exc}. The model was left out.")
    if opened.model is None:
        project.model = None
        return opened
    try:
        opened.state = load_project_state(p, project, opened.model.network.spec)
    except (GenerationMismatch, UnusableState) as exc:
        opened.notes.append(f"{exc}. The training state was left out: continuing training "
                            "starts the optimiser afresh.")
    except ProjectFileError as exc:
        if not drop_damaged:
            raise
        opened.notes.append(f"{exc}. The training state was left out: continuing training "
                            "starts the optimiser afresh.")
    return opened


__all__ = ["OpenedProject", "open_project"]
