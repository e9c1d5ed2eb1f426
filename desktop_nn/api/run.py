"""Training for the API: :func:`train` makes a :class:`Run` on the workbench, as
``desktop-nn train`` does, and :meth:`Run.train_more` continues it."""

from __future__ import annotations

import itertools
import sys
from collections.abc import Callable
from dataclasses import replace

from desktop_nn.api.checks import MAX_SEED, choice, flag, number, whole
from desktop_nn.api.data import Data, design
from desktop_nn.api.model import Model
from desktop_nn.nn.network import DTYPES, Network, NetworkSpec
from desktop_nn.nn.optimizers import OPTIMIZERS
from desktop_nn.train.history import EpochReport, History, StepReport
from desktop_nn.train.trainer import TrainConfig, TrainResult, summary
from desktop_nn.workbench import RunRequest, Workbench, model_file
from desktop_nn.workbench.interrupt import stop_on_interrupt

Report = StepReport | EpochReport
OnReport = Callable[[Report], object]
DEVICES = ("cpu", "auto", "gpu")

_keys = itertools.count(1)


def _callback(on_report: object) -> OnReport | None:
    if on_report is not None and not callable(on_report):
        raise ValueError(f"on_report must be a function of one report, got {on_report!r}")
    return on_report


class StopTraining(Exception):  # noqa: N818 - raised to ask for a stop, not an error
    """Raise it in ``on_report`` to stop the run after the step just reported (as returning
    False does); the run keeps what was trained."""


class Run:
    """A training run on the workbench (the one ``desktop-nn train`` and the window drive):
    made by :func:`train`, continued by :meth:`train_more`.

    ``result``: how the last call ended (``TrainResult``: ``stopped`` completed | stopped |
    nan | early_stopping | out_of_memory, ``message``, ``epochs``, ``steps``,
    ``final_cost``); ``history``: every report kept (``history.epochs``, ``history.steps``).
    """

    def __init__(self, data: Data, request: RunRequest) -> None:
        self.data = data
        self.notices: list[str] = []  # the workbench's passing messages (device, ...)
        self._request = request
        self._on_report: OnReport | None = None
        self._error: BaseException | None = None
        self._problems: list[str] = []
        self.workbench = Workbench(on_step=self._deliver, on_epoch=self._deliver)
        events = self.workbench.events
        events.notice.connect(self.notices.append)
        events.not_made.connect(lambda message, refused: self._problems.append(message))
        events.failed.connect(self._problems.append)
        self.result: TrainResult | None = None

    def _deliver(self, report: Report) -> None:
        """A report from the trainer (the calling thread): to ``on_report``; False or
        StopTraining stops the run after this step, any other error stops it and is raised
        again by the call that trains."""
        if self._on_report is None or self._error is not None:
            return
        try:
            go_on = self._on_report(report)
        except StopTraining:
            go_on = False
        except BaseException as exc:  # noqa: BLE001 - the caller's, raised after the stop
            self._error, go_on = exc, False
        if go_on is False:
            self.workbench.stop()

    def _train(self, epochs: int | None, on_report: OnReport | None) -> Run:
        self._on_report, self._error, self._problems[:] = on_report, None, []
        workbench = self.workbench

        def said() -> None:
            sys.stderr.write("\ninterrupted: training stops after this step (the run keeps "
                             "what was trained; interrupt again to quit at once)\n")

        try:
            with stop_on_interrupt(workbench.stop, said):
                workbench.start(self._request, epochs=epochs)  # returns when trained
        finally:
            self._on_report = None
        if workbench.last_result is not None:  # also when the callback's error is raised
            self.result = workbench.last_result
        if self._error is not None:
            error, self._error = self._error, None
            raise error
        if workbench.trainer is None:  # not made: the device's or the data's reason
            if workbench.last_refusal is not None:
                raise workbench.last_refusal
            raise RuntimeError(self._problems[-1] if self._problems else "no run was made")
        if workbench.last_result is None:  # training raised (its traceback is printed)
            raise RuntimeError(self._problems[-1] if self._problems else "training failed")
        return self

    def train_more(self, epochs: int, *, on_report: OnReport | None = None,
                   lr: float | None = None, l2: float | None = None,
                   batch_size: int | None = None) -> Run:
        """Go on training the same run for ``epochs`` more epochs, from its weights,
        optimiser state and place (as the window's Continue); ``lr``, ``l2``, ``batch_size``
        change those settings from now on (None: unchanged). Returns the run."""
        whole("epochs", epochs, 0)
        _callback(on_report)
        changes: dict[str, float] = {}
        if lr is not None:
            changes["lr"] = number("lr", lr, 0.0, low_open=True)
        if l2 is not None:
            changes["l2"] = number("l2", l2, 0.0)
        if batch_size is not None:
            changes["batch_size"] = whole("batch_size", batch_size, 0)
        self._request = replace(self._request, config=replace(self._request.config, **changes))
        return self._train(epochs, on_report)

    @property
    def network(self) -> Network:
        """The run's network, on its device (a view: it changes as the run trains)."""
        return self._trainer().network

    @property
    def history(self) -> History:
        return self._trainer().history

    @property
    def config(self) -> TrainConfig:
        """The settings in force (learning rate, L2, batch size as last changed)."""
        return self._trainer().config

    @property
    def epoch(self) -> int:
        """Epochs completed."""
        return self._trainer().epoch

    def _trainer(self):
        trainer = self.workbench.trainer
        if trainer is None:
            raise RuntimeError("this run has no trainer")
        return trainer

    def model(self) -> Model:
        """A host snapshot of the trained network with its data's classes and scaling: the
        model file ``desktop-nn train --save`` writes for the same run."""
        trainer, result = self._trainer(), self.result
        test = self.data.test
        test_acc = trainer.evaluate(test.X, test.Y).accuracy if test is not None else None
        return Model(model_file(trainer.network, self.data.prepared, dict(
            summary(result, trainer), test_accuracy=test_acc, data=self.data.loaded.source)))


def train(data: Data, spec: NetworkSpec | None = None, *, epochs: int = 10, lr: float = 0.1,
          optimizer: str = "sgd", batch_size: int = 64, l2: float = 0.0, seed: int = 0,
          shuffle: bool = True, report_every: int = 10, patience: int = 0,
          dtype: str = "float32", device: str = "cpu",
          on_report: OnReport | None = None) -> Run:
    """Train a new network of design ``spec`` (default: :func:`design` (data)) on
    ``data.train``, evaluated on ``data.val`` after each epoch, on the calling thread; returns
    the :class:`Run` when the epochs are done or the run stopped.

    optimizer: sgd, momentum or adam; batch_size 0: full batch; l2: lambda of the L2 term
    lambda / (2 m) sum ||W[l]||^2; seed: the initial weights and the shuffles; patience > 0:
    early stopping on the validation cost; device: "cpu", "gpu" (CuPy) or "auto"; dtype
    float32 or float64. The defaults are ``desktop-nn train``'s, except the device (the CLI's
    is auto).

    ``on_report(report)`` is called on this thread with each report the window plots: a
    :class:`~desktop_nn.train.history.StepReport` every ``report_every`` steps (``epoch``,
    ``step``, ``batch_cost``, ``layers``: per-layer diagnostics, ``examples_per_s``) and an
    :class:`~desktop_nn.train.history.EpochReport` at each epoch's end (``epoch``,
    ``train_cost``, ``train_accuracy``, ``val_cost``, ``val_accuracy``; NaN without a
    validation set). Returning False, or raising :class:`StopTraining`, stops the run after
    that step; any other exception stops it and is raised here. Ctrl-C (a notebook's
    interrupt) stops it too, keeping what was trained. Raises ValueError naming a bad argument.
    """
    if not isinstance(data, Data):
        raise ValueError(f"data must be what load_data gives, got {type(data).__name__}")
    if spec is None:
        spec = design(data)
    elif not isinstance(spec, NetworkSpec):
        raise ValueError(f"spec must be what design gives, got {type(spec).__name__}")
    if (spec.input_size, spec.output_size) != (data.n_inputs, data.n_outputs):
        raise ValueError(f"spec has {spec.input_size} inputs and {spec.output_size} outputs; "
                         f"the data need {data.n_inputs} and {data.n_outputs}")
    config = TrainConfig(
        lr=number("lr", lr, 0.0, low_open=True), epochs=whole("epochs", epochs, 0),
        batch_size=whole("batch_size", batch_size, 0),
        optimizer=choice("optimizer", optimizer, OPTIMIZERS), l2=number("l2", l2, 0.0),
        seed=whole("seed", seed, 0, MAX_SEED), shuffle=flag("shuffle", shuffle),
        report_every=whole("report_every", report_every, 1),
        patience=whole("patience", patience, 0))
    request = RunRequest(spec, config, choice("dtype", dtype, DTYPES),
                         choice("device", device, DEVICES), data.prepared,
                         key=f"api-run-{next(_keys)}")  # its own key: train_more continues it
    return Run(data, request)._train(None, _callback(on_report))
