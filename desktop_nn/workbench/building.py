"""Making a training run: plan it (cheap, on the caller's thread), then build it (the slow
part, safe to run in a worker).

:func:`plan_run` chooses the device from the run's memory estimate; :func:`build_run` draws or
copies the weights and makes the Trainer, which copies the data to the device. Converting an
MNIST-sized data set to float64 takes most of a second, and copying it to a GPU or drawing the
weights of a wide network takes a while too: the window runs :func:`build_run` in a worker.
Nothing here touches a widget or the workbench: the outcome comes back as a :class:`BuiltRun`.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from desktop_nn.backend import Backend, BackendError, cpu_backend
from desktop_nn.data.dataset import PreparedData
from desktop_nn.io.model_file import ModelFile
from desktop_nn.nn.network import Network, NetworkSpec
from desktop_nn.predict import preparation_mismatch
from desktop_nn.train.device_memory import (
    OutOfDeviceMemory,
    Tensor,
    choose_training_backend,
    out_of_memory_said,
    run_tensors,
)
from desktop_nn.train.history import EpochReport, History, StepReport
from desktop_nn.train.trainer import SetAsideRun, TrainConfig, Trainer
from desktop_nn.workbench.executor import describe_error

StepListener = Callable[[StepReport], None]
EpochListener = Callable[[EpochReport], None]


@dataclass
class RunRequest:
    """What a viewer asks to train: the design, the hyperparameters, the device ("auto",
    "cpu" or "gpu"), the data, and

    - ``key``: a start whose key equals the current run's continues that run (the window's
      settings, serialised); None never continues one;
    - ``settings``: the panels' states, kept with the run for the Runs tab and the model file;
    - ``initial_parameters``: host W[1..L], b[1..L] to start from instead of drawn ones (the
      course's own initial weights in a reproduction).
    """

    spec: NetworkSpec
    config: TrainConfig
    dtype: str
    device: str
    data: PreparedData
    key: str | None = None
    settings: dict | None = None
    initial_parameters: tuple[list[np.ndarray], list[np.ndarray]] | None = None


@dataclass(frozen=True)
class StartPoint:
    """Weights a new run starts from when its design is theirs: an imported model, a reopened
    project, or a run set aside that could not go on. ``state`` is the training state to
    continue from ((JSON-able dict, host arrays) as Trainer.checkpoint gives it), ``model`` the
    model file they came from (its preprocessing must match the data)."""

    network: Network
    state: tuple[dict, dict] | None = None
    model: ModelFile | None = None


@dataclass(frozen=True)
class Resume:
    """A reopened project's run that the new trainer goes on with, when it continues from
    the start point's training state: its ``history`` (appended to: the same run) and the
    learning rate, L2 and batch size it last trained with (``settings``, TrainConfig
    names). The trainer is made with those, as the run stood when saved; the request's own
    values follow as live changes, marked on the curves (as a Continue of a run in hand)."""

    history: History
    settings: dict[str, float]


@dataclass
class RunPlan:
    """A request with its device chosen: what :func:`build_run` makes."""

    request: RunRequest
    backend: Backend
    tensors: list[Tensor]  # the memory estimate on ``backend`` (for the out-of-memory message)
    on_step: StepListener | None = None
    on_epoch: EpochListener | None = None
    start_from: StartPoint | None = None
    resume: Resume | None = None  # the run to go on with, when it continues from start_from
    # the previous run, set aside in host memory because it was on the GPU, and the data it
    # was trained on: it comes back, on the CPU, when the new run cannot be built
    set_aside: SetAsideRun | None = None
    previous_data: PreparedData | None = None


@dataclass
class BuiltRun:
    """The outcome of building a run: a trainer, or why there is none."""

    trainer: Trainer | None = None
    label: str = ""  # the device label: backend, and whether the data are streamed
    notes: list[str] = field(default_factory=list)  # passing messages
    refusal: Exception | None = None  # why it cannot be made as asked (data, memory, device)
    error: str | None = None  # an unexpected failure
    previous: Trainer | None = None  # the set-aside run again, on the CPU (no new run)
    continued: bool = False  # the trainer goes on with the plan's Resume run (no new run)

    @property
    def refused(self) -> str | None:
        return None if self.refusal is None else str(self.refusal)


def plan_run(request: RunRequest, reclaimable: int = 0) -> RunPlan:
    """Choose the device: under auto the CPU when the GPU cannot hold the run (even with the
    data set streamed), under gpu :class:`OutOfDeviceMemory` saying what to change.
    ``reclaimable``: GPU bytes the previous run holds and gives back before this one is made.
    Raises ValueError for a configuration that cannot train."""
    request.config.validate()
    train, val = request.data.train, request.data.val
    m_val = val.m if val is not None else 0

    def estimate(on_gpu: bool) -> list[Tensor]:
        return run_tensors(request.spec.sizes, train.m, m_val, request.config, request.dtype,
                           on_gpu)

    gpu_tensors = estimate(True)
    backend = choose_training_backend(request.device, gpu_tensors, reclaimable=reclaimable)
    return RunPlan(request, backend, gpu_tensors if backend.is_gpu else estimate(False))


def build_run(plan: RunPlan) -> BuiltRun:
    """Make the run of ``plan``. Under auto, a GPU that runs out of memory while the run is
    made gives a CPU run; otherwise running out is a refusal whose message names the largest
    tensor. Without a new run, the set-aside previous run, if any, comes back on the CPU."""
    built = BuiltRun()
    try:
        try:
            built.trainer = _new_trainer(plan, plan.backend, built)
        except OutOfDeviceMemory:
            if not plan.backend.is_gpu or plan.request.device != "auto":
                raise
            # auto: the GPU looked big enough but was not (another program took memory)
            backend = cpu_backend(f"{plan.backend.device_name} ran out of memory")
            built.trainer = _new_trainer(plan, backend, built)
        return built
    except (ValueError, BackendError) as exc:
        built.refusal = exc
    except Exception as exc:  # noqa: BLE001 - reported to the user; the previous run is kept
        traceback.print_exc()
        built.error = describe_error(exc)
    built.trainer = None
    if plan.set_aside is not None and plan.previous_data is not None:
        try:
            built.previous = plan.set_aside.resume(*host_arrays(plan.previous_data))
        except Exception:  # noqa: BLE001 - the new run's error is the one to report
            built.previous = None  # its weights stay set aside, the next run's start point
        else:
            built.label = built.previous.network.backend.label
    return built


def resume_run(set_aside: SetAsideRun, data: PreparedData) -> BuiltRun:
    """The set-aside run again, on its network's device, from the data it was trained on (a
    GPU run that ran out of memory goes on on the CPU)."""
    try:
        trainer = set_aside.resume(*host_arrays(data))
    except Exception as exc:  # noqa: BLE001 - reported; its weights stay set aside
        traceback.print_exc()
        return BuiltRun(error=describe_error(exc))
    return BuiltRun(trainer=trainer, label=trainer.network.backend.label)


def host_arrays(data: PreparedData) -> tuple:
    """X, Y of the training set and of the validation set (None without one): (n_x, m),
    (n_y, m) host arrays."""
    train, val = data.train, data.val
    return (train.X, train.Y, val.X if val is not None else None,
            val.Y if val is not None else None)


def _check_fits(dtype: str, parameters: tuple[list[np.ndarray], list[np.ndarray]]) -> None:
    """Refuse weights that the run's precision cannot hold (a float64 model's weights beyond
    float32's range would become inf: a run must never train on them)."""
    largest = float(np.finfo(dtype).max)
    for a in (*parameters[0], *parameters[1]):
        if a.size and float(np.abs(a).max()) > largest:
            raise ValueError(f"the model's weights do not fit {dtype} (one is "
                             f"{float(np.abs(a).max()):.3g}, {dtype} holds at most "
                             f"{largest:.3g}): choose float64 precision")


def _new_trainer(plan: RunPlan, backend: Backend, built: BuiltRun) -> Trainer:
    """A trainer for the plan on ``backend``: from the given initial parameters, else from the
    start point when it fits the design and the data, else freshly drawn weights. Weights
    that do not fit the run's precision are refused (ValueError) before anything is made."""
    request = plan.request
    start = plan.start_from
    if start is not None and start.model is not None:
        problem = preparation_mismatch(start.model, request.data)
        if problem:
            built.notes.append(f"Starting from fresh weights: {problem}")
            start = None
    if start is not None and start.network.spec.to_dict() != request.spec.to_dict():
        start = None
    given = request.initial_parameters
    if given is None and start is not None:  # the imported, reopened or set-aside weights
        given = start.network.get_parameters()
    if given is not None:
        _check_fits(request.dtype, given)
    with out_of_memory_said(backend, plan.tensors):
        net = Network(request.spec, backend, dtype=request.dtype,
                      seed=None if start is not None else request.config.seed)
        if given is not None:
            net.set_parameters(*given)
    X, Y, X_val, Y_val = host_arrays(request.data)
    trainer = Trainer(net, X, Y, request.config, X_val=X_val, Y_val=Y_val,
                      on_step=plan.on_step, on_epoch=plan.on_epoch)
    built.label = backend.label + (" (data streamed from host memory)"
                                   if trainer.streaming else "")
    if start is not None and start.state is not None:
        asked, resume = trainer.config, plan.resume
        try:
            if resume is not None:  # as the run stood when saved (batches inside an epoch)
                trainer.config = replace(asked, **resume.settings)
                trainer.config.validate()
            trainer.restore(*start.state)
        except ValueError as exc:  # e.g. another optimiser chosen since: start it afresh
            trainer.config = asked
            built.notes.append(f"Continuing with fresh optimiser state: {exc}")
        else:
            if resume is not None:  # the same run goes on: its history, then the panels'
                trainer.history = resume.history
                trainer.change(lr=asked.lr, l2=asked.l2, batch_size=asked.batch_size)
                built.continued = True
    return trainer
