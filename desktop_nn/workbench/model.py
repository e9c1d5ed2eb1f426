"""The model in hand: which weights are "the model" for saving, exporting, inspecting and
checking gradients. One tagged state, never several variables that could disagree:

- :class:`Fresh`: nothing trained or imported yet (the design's weights are drawn at Start);
- :class:`Imported`: a model file, imported or reopened with a project;
- :class:`Training`: a run made by the workbench (training now or between two Starts); its
  network is the model;
- :class:`SetAside`: a run whose weights and training state wait in host memory, without its
  data: while a new GPU run is made (the previous run gives its GPU memory back first), or
  after a run could neither go on nor come back on the CPU.
"""

from __future__ import annotations

from dataclasses import dataclass

from desktop_nn.backend import cpu_backend
from desktop_nn.data.dataset import PreparedData
from desktop_nn.io.model_file import ModelFile
from desktop_nn.nn.network import Network
from desktop_nn.train.trainer import SetAsideRun, Trainer


@dataclass(frozen=True)
class Fresh:
    """No model yet."""


@dataclass(frozen=True)
class Imported:
    """A model file's network (imported, or the model of a reopened project)."""

    model: ModelFile


@dataclass(frozen=True)
class Training:
    """A run: its trainer and the data it trains on. ``key``: the request key it was made
    for (a start with the same key continues it)."""

    trainer: Trainer
    data: PreparedData
    key: str | None = None


@dataclass(frozen=True)
class SetAside:
    """A run's weights, optimiser state and position in host memory, and the data it was
    trained on (to resume it from)."""

    run: SetAsideRun
    data: PreparedData
    key: str | None = None


ModelState = Fresh | Imported | Training | SetAside


@dataclass(frozen=True)
class InHand:
    """What the inspection views and the gradient check read of the model in hand: its
    network (on its own device; a view, never a copy), the data it was trained on (None for
    an imported model), its image shape, its L2 strength (None when unknown), and how far it
    was trained."""

    network: Network
    data: PreparedData | None
    input_shape: tuple[int, int, int] | None
    l2: float | None
    epoch: int
    steps: int


def in_hand(state: ModelState) -> InHand | None:
    """The model of ``state``, or None for :class:`Fresh`."""
    if isinstance(state, Training):
        t = state.trainer
        return InHand(t.network, state.data, state.data.input_shape, t.config.l2, t.epoch,
                      t.step_count)
    if isinstance(state, SetAside):
        run = state.run
        return InHand(run.network, state.data, state.data.input_shape, run.config.l2,
                      int(run.state["epoch"]), int(run.state["step_count"]))
    if isinstance(state, Imported):
        m = state.model
        training = m.training or {}
        return InHand(m.network, None, m.input_shape, None, int(training.get("epochs") or 0),
                      int(training.get("steps") or 0))
    return None


def model_file(network: Network, data: PreparedData, training: dict) -> ModelFile:
    """A host (NumPy) copy of ``network`` with what reading new images needs: the classes,
    the image shape and preprocessing, the input scaling; ``training`` says how it was
    trained. Safe to hand to another thread."""
    norm = data.normalisation
    return ModelFile(network=network.to(cpu_backend("saved")), class_names=list(data.class_names),
                     input_shape=data.input_shape, normalisation=norm.to_model(),
                     norm_mean=norm.mean, norm_std=norm.std, preprocessing=data.preprocessing,
                     training=training)
