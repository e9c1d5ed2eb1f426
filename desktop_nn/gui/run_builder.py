"""Building a training run off the GUI thread.

The window reads what a run needs from its widgets on the GUI thread (a :class:`RunPlan`);
:func:`build_run` then makes the Network and the Trainer in a worker. Converting a data set
of MNIST's size to float64 (most of a second), copying it to the GPU or drawing the initial
weights of a wide network is work the window must not wait for. Nothing here touches a
widget: what the window shows comes back in a :class:`BuiltRun`.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from dataclasses import dataclass, field

from desktop_nn.backend import Backend, BackendError, cpu_backend
from desktop_nn.data.sources import LoadedData
from desktop_nn.gui.worker import describe_error
from desktop_nn.io.model_file import ModelFile
from desktop_nn.nn.network import Network, NetworkSpec
from desktop_nn.predict import preparation_mismatch
from desktop_nn.train.device_memory import OutOfDeviceMemory, out_of_memory_said, run_tensors
from desktop_nn.train.history import EpochReport, StepReport
from desktop_nn.train.trainer import ParkedRun, TrainConfig, Trainer


@dataclass
class RunPlan:
    """What a new run is made of, read from the window on the GUI thread."""

    spec: NetworkSpec
    config: TrainConfig
    dtype: str
    device_choice: str  # "auto", "cpu" or "gpu", as chosen in the training panel
    backend: Backend  # the device chosen for it (auto: after the memory check)
    data: LoadedData
    on_step: Callable[[StepReport], None]
    on_epoch: Callable[[EpochReport], None]
    # weights the run starts from when they fit (an imported model or a reopened project)
    pending_network: Network | None = None
    pending_state: tuple[dict, dict] | None = None
    imported_model: ModelFile | None = None
    # the previous run, its weights waiting in host memory (it was on the GPU), and the data
    # it was trained on: it comes back, on the CPU, when the new run cannot be built
    parked: ParkedRun | None = None
    previous_data: LoadedData | None = None


@dataclass
class BuiltRun:
    """The outcome of building a run: a trainer, or why there is none."""

    trainer: Trainer | None = None
    label: str = ""  # the device label: backend, and whether the data are streamed
    notes: list[str] = field(default_factory=list)  # for the status bar
    refused: str | None = None  # a run that cannot be made as designed (memory, device)
    error: str | None = None  # an unexpected failure
    previous: Trainer | None = None  # the parked run again, on the CPU (no new run)


def build_run(plan: RunPlan) -> BuiltRun:
    """Make the run of ``plan``. Under auto, a GPU that runs out of memory while the run is
    made gives a CPU run; otherwise running out is a refusal whose message names the largest
    tensor. Without a new run the parked previous run, if any, is brought back on the CPU."""
    built = BuiltRun()
    try:
        try:
            built.trainer = _new_trainer(plan, plan.backend, built)
        except OutOfDeviceMemory:
            if not plan.backend.is_gpu or plan.device_choice != "auto":
                raise
            # auto: the GPU looked big enough but was not (another program took memory)
            backend = cpu_backend(f"{plan.backend.device_name} ran out of memory")
            built.trainer = _new_trainer(plan, backend, built)
        return built
    except (ValueError, BackendError) as exc:
        built.refused = str(exc)
    except Exception as exc:  # noqa: BLE001 - reported to the user; the previous run is kept
        traceback.print_exc()
        built.error = describe_error(exc)
    built.trainer = None
    if plan.parked is not None and plan.previous_data is not None:
        try:
            built.previous = plan.parked.resume(*host_arrays(plan.previous_data))
        except Exception:  # noqa: BLE001 - the new run's error is the one to report
            built.previous = None  # the window keeps the parked weights as pending ones
        else:
            built.label = built.previous.network.backend.label
    return built


def resume_run(parked: ParkedRun, data: LoadedData) -> BuiltRun:
    """The parked run again, on its network's device, from the data it was trained on (a
    GPU run that ran out of memory goes on on the CPU)."""
    try:
        trainer = parked.resume(*host_arrays(data))
    except Exception as exc:  # noqa: BLE001 - reported; the window keeps the parked weights
        traceback.print_exc()
        return BuiltRun(error=describe_error(exc))
    return BuiltRun(trainer=trainer, label=trainer.network.backend.label)


def host_arrays(data: LoadedData) -> tuple:
    """X, Y of the training set and of the validation set (None without one): (n_x, m),
    (n_y, m) host arrays."""
    train, val = data.prepared.train, data.prepared.val
    return (train.X, train.Y, val.X if val is not None else None,
            val.Y if val is not None else None)


def _new_trainer(plan: RunPlan, backend: Backend, built: BuiltRun) -> Trainer:
    """A trainer for the plan on ``backend``, from the pending weights when they fit the
    design and the data, else freshly initialised."""
    prepared = plan.data.prepared
    train, val = prepared.train, prepared.val
    pending = plan.pending_network
    if pending is not None and plan.imported_model is not None:
        problem = preparation_mismatch(plan.imported_model, prepared)
        if problem:
            built.notes.append(f"Starting from fresh weights: {problem}")
            pending = None
    with out_of_memory_said(backend, run_tensors(
            plan.spec.sizes, train.m, val.m if val is not None else 0, plan.config,
            plan.dtype, backend.is_gpu)):
        if pending is not None and pending.spec.to_dict() == plan.spec.to_dict():
            # continue from the imported or reopened weights, on the chosen device/dtype
            net = Network(plan.spec, backend, dtype=plan.dtype, seed=None)
            net.set_parameters(*pending.get_parameters())
        else:
            pending = None
            net = Network(plan.spec, backend, dtype=plan.dtype, seed=plan.config.seed)
    X, Y, X_val, Y_val = host_arrays(plan.data)
    trainer = Trainer(net, X, Y, plan.config, X_val=X_val, Y_val=Y_val,
                      on_step=plan.on_step, on_epoch=plan.on_epoch)
    built.label = backend.label + (" (data streamed from host memory)"
                                   if trainer.streaming else "")
    if pending is not None and plan.pending_state is not None:
        try:
            trainer.restore(*plan.pending_state)
        except ValueError as exc:  # e.g. another optimiser chosen since: start it afresh
            built.notes.append(f"Continuing with fresh optimiser state: {exc}")
    return trainer
