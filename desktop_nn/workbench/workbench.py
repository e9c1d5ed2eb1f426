"""The workbench: the one owner of a run's life and of the model in hand (no Qt).

    start(request) ──plan (device, memory)──▶ build (worker) ──▶ train (worker) ──▶ finished
                       │ a previous GPU run is        │ cannot be made:     │ out of GPU memory
                       │ set aside in host memory      │ previous comes back │ under auto: set
                       ▼ first                         ▼ on the CPU          ▼ aside, go on on
                                                                               the CPU

The window, the project controller, ``desktop-nn train`` and ``desktop-nn reproduce`` all
drive a run through it; none keeps run state of its own. A viewer forwards the user's actions
(start, pause, step, stop, import, reset) and shows what the workbench's
:class:`~desktop_nn.workbench.events.WorkbenchEvents` say. Long work goes through an
executor: a worker thread in the window, the calling thread elsewhere (then :meth:`start`
returns when the training is over).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from desktop_nn.backend import cpu_backend
from desktop_nn.data.dataset import PreparedData
from desktop_nn.io.model_file import ModelFile
from desktop_nn.train.device_memory import held_bytes
from desktop_nn.train.runs import Run, RunLog, describe
from desktop_nn.train.trainer import Trainer, TrainResult
from desktop_nn.workbench.building import (
    BuiltRun,
    EpochListener,
    Resume,
    RunRequest,
    StartPoint,
    StepListener,
    build_run,
    plan_run,
    resume_run,
)
from desktop_nn.workbench.continuing import StartMode, restart_reasons
from desktop_nn.workbench.events import TrainingSpan, WorkbenchEvents
from desktop_nn.workbench.executor import Executor, InlineExecutor, describe_error
from desktop_nn.workbench.model import (
    Fresh,
    Imported,
    InHand,
    ModelState,
    SetAside,
    Training,
    in_hand,
    model_file,
)

SNAPSHOT_WAIT_S = 5.0  # how long a save waits for a training run to pause between steps


@dataclass
class _Making:
    """A run being made in the worker, and what was asked meanwhile: pause, steps, stop
    (applied to the run before its first step), the epochs to train, and whether it is a new
    run or the same run going on elsewhere."""

    data: PreparedData
    key: str | None
    settings: dict | None
    paused: bool
    epochs: int | None
    new_run: bool
    resume: Run | None = None  # the reopened project's run it goes on with, if it can
    steps: int = 0
    stop: bool = False
    train: bool = True  # False: make the run only (:meth:`Workbench.make_run`)


class Workbench:
    """Owns the run (plan, build, train, continue, set aside, move to the CPU), the model in
    hand, and the session's runs. Call it from one thread (the GUI thread in the window);
    reports of a training run reach ``on_step`` / ``on_epoch`` from the training thread."""

    def __init__(self, executor: Executor | None = None, on_step: StepListener | None = None,
                 on_epoch: EpochListener | None = None) -> None:
        self.executor: Executor = executor or InlineExecutor()
        self.on_step, self.on_epoch = on_step, on_epoch
        self.events = WorkbenchEvents()
        self.runs = RunLog()
        self.current_run: Run | None = None
        self.last_result: TrainResult | None = None
        # why the last run that was not made was refused (ValueError: the data or design;
        # BackendError: the device), for viewers that word it differently
        self.last_refusal: Exception | None = None
        self._state: ModelState = Fresh()
        self._imported: ModelFile | None = None
        self._start_from: StartPoint | None = None
        # the reopened project's run that the start point's model and state come from, and
        # the key under which a Start goes on with it (see :meth:`resume_with`)
        self._reopened: Run | None = None
        self._resume_key: str | None = None
        self._making: _Making | None = None
        self._training = False
        self._end_epoch = 0  # the epoch the span in the worker trains to
        self._auto_device = False  # the run's device was "auto": it may move to the CPU
        self._closed = False
        self._pace: float | None = None  # slow motion: steps a second (None: full speed)
        self._asked: dict[str, float] = {}  # live changes asked while a run is made

    # ------------------------------------------------------------------ the model in hand
    @property
    def state(self) -> ModelState:
        """Fresh, Imported, Training or SetAside (see workbench/model.py)."""
        return self._state

    @property
    def trainer(self) -> Trainer | None:
        """The run's trainer (training now or between two starts), else None."""
        return self._state.trainer if isinstance(self._state, Training) else None

    def in_hand(self) -> InHand | None:
        """The model in hand, for the inspection views and the gradient check."""
        return in_hand(self._state)

    def trained_on(self) -> PreparedData | None:
        """The data the model in hand was trained on (None when none or imported)."""
        return self._state.data if isinstance(self._state, (Training, SetAside)) else None

    def current_model(self) -> ModelFile:
        """A host snapshot of the model in hand with what reading new images needs (safe to
        use from another thread). Raises ValueError saying why there is none."""
        state = self._state
        if isinstance(state, (Training, SetAside)):
            held = self.in_hand()
            run = self.current_run
            summary = {k: v for k, v in run.final().items() if k != "epochs"} if run else {}
            settings = run.settings if run is not None else None
            return model_file(held.network, state.data, {
                "epochs": held.epoch, "steps": held.steps, "settings": settings, **summary})
        if isinstance(state, Imported):
            return state.model
        raise ValueError("No model yet: train a network (or import a model) first.")

    def import_model(self, model: ModelFile, state: tuple[dict, dict] | None = None,
                     run: Run | None = None) -> bool:
        """A model file (imported, or a reopened project's with its training state) becomes
        the model in hand, and the next run starts from it when its design fits. ``run``: the
        reopened project's run (one of :attr:`runs`) they come from, which a Start under the
        key given to :meth:`resume_with` goes on with. False while a run is made or trains."""
        if not self.reset():
            return False
        self._imported = model
        self._state = Imported(model)
        self._start_from = StartPoint(model.network, state, model)
        self._reopened = run if state is not None else None  # weights alone: a new run
        self.events.model_changed.emit()
        return True

    def resume_with(self, key: str | None) -> None:
        """A Start whose request has ``key`` goes on with the reopened run (:meth:`
        import_model`): the same run, from its weights, optimiser state and counters, its
        history appended to. The viewer knows the key once the project's data are loaded:
        the run's own settings on those data. None: no key does."""
        self._resume_key = key if self._reopened is not None else None

    def _resumable(self, key: str | None) -> Run | None:
        """The reopened run a Start with ``key`` goes on with (None: it makes a new run)."""
        run, start = self._reopened, self._start_from
        if (run is None or key is None or key != self._resume_key or start is None
                or start.state is None or isinstance(self._state, Training)
                or not any(r is run for r in self.runs.runs)):  # removed from the Runs tab
            return None
        return run

    def reset(self) -> bool:
        """Drop the trained weights: the next run starts from freshly drawn ones (an imported
        model stays the model in hand until then). False while a run is made or trains."""
        if self.is_busy():
            return False
        self._start_from = None
        self._reopened = self._resume_key = None
        self._state = Imported(self._imported) if self._imported is not None else Fresh()
        self.events.model_changed.emit()
        return True

    def forget(self) -> bool:
        """A new project: no run, no imported model, no runs in the log."""
        if not self.reset():
            return False
        self._imported = None
        self._state = Fresh()
        self.runs.clear()
        self.current_run = None
        self.events.model_changed.emit()
        return True

    def saved_state(self) -> tuple[ModelFile | None, tuple[dict, dict] | None]:
        """What a project save or autosave writes: the model in hand (None without one) and
        the training state to continue it from. A run that is training has no consistent
        state (see :meth:`paused_for_snapshot`), so only its weights are given."""
        try:
            model = self.current_model()
        except ValueError:
            return None, None
        state = self._state
        if isinstance(state, Training):
            t = state.trainer
            if not t.is_running or t.is_waiting:  # between steps: weights and state agree
                return model, t.checkpoint()
            return model, None
        if isinstance(state, SetAside):
            return model, (state.run.state, state.run.arrays)
        start = self._start_from
        return model, start.state if start is not None else None

    @contextmanager
    def paused_for_snapshot(self) -> Iterator[bool]:
        """Hold a training run between two steps while the block runs (pausing it, then
        resuming it, unless the user had paused it); yields False when the run did not come
        to rest in time (no consistent snapshot). A run already paused may still be in the
        middle of the step it was asked to take: it is waited for too."""
        t = self.trainer
        if t is None or not self._training:
            yield True
            return
        paused_by_user = t.is_paused
        if not paused_by_user:
            t.pause()
        # is_running, not is_busy: that changes only when this thread handles the run's end,
        # and it is busy here
        deadline = time.monotonic() + SNAPSHOT_WAIT_S
        while t.is_running and not t.is_waiting and time.monotonic() < deadline:
            time.sleep(0.001)
        try:
            yield not (t.is_running and not t.is_waiting)
        finally:
            if not paused_by_user:
                t.resume()

    # ------------------------------------------------------------------ control
    def is_busy(self) -> bool:
        """A run is being made or trained."""
        return self._making is not None or self._training

    def is_paused(self) -> bool:
        if self._making is not None:
            return self._making.paused
        t = self.trainer
        return self._training and t is not None and t.is_paused

    def make_run(self, request: RunRequest) -> None:
        """Make a new run for ``request`` without training it (its trainer is then
        :attr:`trainer`, and a start with the same key trains it); ``finished(None)`` ends
        it. Raises as :meth:`start` does."""
        self.start(request, train=False)

    def start(self, request: RunRequest, paused: bool = False, epochs: int | None = None,
              train: bool = True) -> None:
        """Train for ``epochs`` more epochs (default: the request's). Continues the current
        run when ``request.key`` is its key, else makes a new run (in the executor). Raises
        ValueError or BackendError when the run cannot be made as asked; once it is being
        made, the events say how it goes, ending with ``finished``."""
        if self.is_busy() or self._closed:
            raise RuntimeError("a run is already being made or trained")
        self._asked = {}
        state = self._state
        self._auto_device = request.device == "auto"
        if (train and isinstance(state, Training) and request.key is not None
                and request.key == state.key):
            # the same network: a new learning rate, L2 or batch size goes on from its
            # weights and optimiser state (workbench/continuing.py)
            c = request.config
            state.trainer.change(lr=c.lr, l2=c.l2, batch_size=c.batch_size)
            self._train(state.trainer, paused, c.epochs if epochs is None else epochs)
            return
        previous = state.trainer if isinstance(state, Training) else None
        on_gpu = previous is not None and previous.network.backend.is_gpu
        plan = plan_run(request, held_bytes(previous.memory_tensors()) if on_gpu else 0)
        plan.on_step, plan.on_epoch, plan.start_from = self.on_step, self.on_epoch, \
            self._start_from
        resume = self._resumable(request.key)
        if resume is not None:  # the reopened run goes on, as a run in hand would
            plan.resume = Resume(resume.history, resume.settings_in_force())
        if on_gpu and plan.backend.is_gpu:
            # before the new run takes any GPU memory: the previous run's weights and state
            # wait in host memory, and become a CPU run again only if this one fails to build
            plan.set_aside = previous.set_aside(cpu_backend("moved off the GPU for a new run"))
            plan.previous_data = state.data
            self._state = SetAside(plan.set_aside, state.data, state.key)
            self.events.device_changed.emit(plan.set_aside.network.backend.label)
        # nothing here may hold the previous run while the new one is made (an executor may
        # make it before this returns): its GPU arrays must be freed first
        del previous, state
        self._make(lambda: build_run(plan), _Making(request.data, request.key, request.settings,
                                                  paused, epochs, new_run=True, resume=resume,
                                                  train=train))

    def start_mode(self, key: str | None) -> StartMode:
        """What :meth:`start` with a request of this key would do now: continue the run in
        hand, or make a new one (and which settings changed, when a run is in hand)."""
        state = self._state
        if not isinstance(state, Training):
            return StartMode("continue" if self._resumable(key) is not None else "start")
        if key is not None and key == state.key:
            return StartMode("continue")
        return StartMode("restart", restart_reasons(state.key or "", key or ""))

    def set_pace(self, steps_per_s: float | None) -> None:
        """Slow motion (at most ``steps_per_s`` steps a second, every step reported) or
        full speed (None), for the run training now and the runs to come."""
        self._pace = steps_per_s or None
        t = self.trainer
        if t is not None and self._making is None:
            t.set_pace(self._pace)

    def change_settings(self, lr: float | None = None, l2: float | None = None,
                        batch_size: int | None = None) -> None:
        """Go on with another learning rate, L2 or batch size (None: unchanged), keeping the
        weights and optimiser state: applied by the run at its next step (the batch size at
        its next epoch) and recorded in its history (train/live_settings.py). Asked while a
        run is made, it applies to that run; with no run in hand, a Start uses the panels'
        values anyway. Raises ValueError for a value no run can train with."""
        t = self.trainer
        asked = {k: v for k, v in (("lr", lr), ("l2", l2), ("batch_size", batch_size))
                 if v is not None}
        if self._making is not None:
            self._asked.update(asked)
        elif t is not None:
            t.change(**asked)

    def pause_or_resume(self) -> None:
        if self._making is not None:
            self._making.paused = not self._making.paused
        elif self._training and self.trainer is not None:
            if self.trainer.is_paused:
                self.trainer.resume()
            else:
                self.trainer.pause()

    def step(self) -> None:
        """One more mini-batch step of the run being made or trained (then it stays
        paused); nothing when idle (the viewer starts a paused run first)."""
        if self._making is not None:  # the run is being made: it takes the step first
            self._making.paused = True
            self._making.steps += 1
        elif self._training and self.trainer is not None:
            t = self.trainer
            if t.is_paused or not t.is_running:
                t.step()

    def stop(self) -> None:
        if self._making is not None:
            self._making.stop = True  # the run stops before its first step
        elif self._training and self.trainer is not None:
            self.trainer.stop()

    def close(self) -> None:
        """The viewer is going: stop the run, and start nothing more (a run being made is
        not trained; what ends from now on is not reported)."""
        self.stop()
        self._closed = True

    # ------------------------------------------------------------------ the run's life
    def _make(self, make, making: _Making) -> None:
        """Make a run in the executor, then train it."""
        self._making = making
        self.executor.submit("buildJob", make, self._made, self._make_failed)

    def _made(self, built: BuiltRun) -> None:
        making, self._making = self._making, None
        if making is None or self._closed:
            return
        if built.trainer is None:
            self.last_refusal = built.refusal
            self._not_made(built.previous, built.label, built.refused is not None,
                           built.refused or built.error or "the run could not be made")
            return
        trainer = built.trainer
        self._state = Training(trainer, making.data, making.key)
        self.events.device_changed.emit(built.label)
        for note in built.notes:
            self.events.notice.emit(note)
        # the reopened run goes on only when the trainer continued from its training state
        new_run = making.new_run and not (built.continued and making.resume is not None)
        self._reopened = self._resume_key = None  # its start point is now a run's past
        if making.new_run and not new_run:
            self.current_run = making.resume
        elif new_run:
            settings = making.settings
            if settings is not None:
                self.current_run = self.runs.add(
                    settings, trainer.history, trainer.train.m,
                    describe(settings["designer"], settings["training"]))
            else:
                self.current_run = None
        self.events.model_changed.emit()
        self.events.run_made.emit(trainer, new_run)
        if not making.train:
            self.events.finished.emit(None)
            return
        if making.stop:
            trainer.stop()
        if making.paused:  # steps asked while running was asked again are part of running
            for _ in range(making.steps):
                trainer.step()
        self._train(trainer, making.paused, making.epochs)

    def _not_made(self, previous: Trainer | None, label: str, refused: bool,
                  message: str) -> None:
        """No run was made. A previous run set aside for it comes back (on the CPU) when it
        could; should even that have failed, its weights and state stay set aside as the
        next run's start point."""
        state = self._state
        if isinstance(state, SetAside):
            if previous is not None:
                self._state = Training(previous, state.data, state.key)
                self.events.device_changed.emit(label)
            else:
                run = state.run
                self._imported = None
                self._start_from = StartPoint(run.network, (run.state, run.arrays))
            self.events.model_changed.emit()
        self.events.not_made.emit(message, refused)
        self.events.finished.emit(None)

    def _make_failed(self, message: str) -> None:
        """The build itself raised (build_run reports its own errors: a last resort)."""
        making, self._making = self._making, None
        if making is not None and not self._closed:
            self._not_made(None, "", False, message)

    def _train(self, trainer: Trainer, paused: bool, epochs: int | None) -> None:
        epochs = trainer.config.epochs if epochs is None else epochs
        span = TrainingSpan(trainer.step_count,
                            trainer.step_count + epochs * trainer.steps_per_epoch,
                            trainer.epoch + epochs)
        self._training = True
        self._end_epoch = span.last_epoch
        trainer.set_pace(self._pace)
        if self._asked:
            asked, self._asked = self._asked, {}
            trainer.change(**asked)
        self.events.training_started.emit(span)
        self.executor.submit("trainingJob",
                             lambda: trainer.run(epochs, start_paused=paused),
                             self._trained, self._train_failed)

    def _trained(self, result: TrainResult) -> None:
        self._training = False
        self.last_result = result
        if self._closed:
            return
        state = self._state
        trainer = state.trainer if isinstance(state, Training) else None
        if (trainer is not None and result.stopped == "out_of_memory"
                and self._auto_device
                and trainer.network.backend.is_gpu and not trainer.ended_stop_asked
                and (trainer.epoch < self._end_epoch or trainer.epoch_report_pending)):
            self._continue_on_cpu(trainer, state, result)
            return
        self.events.training_ended.emit(result, False)
        self.events.finished.emit(result)

    def _continue_on_cpu(self, trainer: Trainer, state: Training, result: TrainResult) -> None:
        """Auto: the GPU ran out of memory, so the same run (same weights, position and
        history) goes on on the CPU, once this span has ended."""
        self.events.notice.emit(f"{result.message} Continuing on the CPU.")
        self.events.training_ended.emit(result, True)
        try:
            set_aside = trainer.set_aside(cpu_backend("the GPU ran out of memory"))
        except Exception as exc:  # noqa: BLE001 - the GPU run stays as it is
            self.events.failed.emit(describe_error(exc))
            self.events.finished.emit(result)
            return
        data = state.data
        self._state = SetAside(set_aside, data, state.key)
        self._make(lambda: resume_run(set_aside, data),
                   _Making(data, state.key, None, trainer.ended_paused,
                           self._end_epoch - trainer.epoch, new_run=False))

    def _train_failed(self, message: str) -> None:
        self._training = False
        self.last_result = None
        if self._closed:
            return
        self.events.failed.emit(message)
        self.events.training_ended.emit(None, False)
        self.events.finished.emit(None)
