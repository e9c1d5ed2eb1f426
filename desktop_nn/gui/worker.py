"""Long work off the GUI thread: a :class:`Job` runs one function in its own thread, a
:class:`QtExecutor` runs the workbench's work in jobs, and a :class:`ReportBuffer` carries a
trainer's reports to the GUI, which drains it on a timer.

The GUI thread never waits on a job: it connects to ``succeeded`` / ``failed`` / ``done`` and
reads the buffer at most ~30 times a second (see MainWindow), whatever the step rate.
"""

from __future__ import annotations

import os
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal, Slot

from desktop_nn.data.image_folder import Cancelled  # a job's function raises it when cancelled
from desktop_nn.train.history import EpochReport, StepReport
from desktop_nn.workbench.executor import describe_error


class Job(QObject):
    """Runs ``fn(job)`` in a new thread. ``fn`` may call :meth:`report_progress` and should
    check :attr:`cancel_event`. The job lives in the GUI thread, so its signals arrive there
    (queued connections), and ``done`` comes last, whatever the outcome.

    The thread is a Python daemon thread, not a QThread: a piece of work that cannot be
    interrupted (a read blocked on a file that never answers) may outlive its window, and a
    QThread destroyed while it runs aborts the app, at the latest when Python exits. The
    thread holds the job, so the job lives as long as its work does."""

    progress = Signal(int, int)  # done, total
    succeeded = Signal(object)
    failed = Signal(str)
    cancelled = Signal()
    done = Signal()  # always last, whatever the outcome

    def __init__(self, fn: Callable[[Job], Any], name: str = "job") -> None:
        super().__init__()
        self.fn = fn
        self.setObjectName(name)
        self.cancel_event = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"{name}Thread", daemon=True)
        self._finished = threading.Event()

    def start(self) -> None:
        self._thread.start()

    def cancel(self) -> None:
        self.cancel_event.set()

    def report_progress(self, done: int, total: int) -> None:
        self.progress.emit(int(done), int(total))

    def is_running(self) -> bool:
        return not self._finished.is_set() and self._thread.is_alive()

    def wait(self, ms: int = 10_000) -> bool:
        """Block up to ``ms`` until the thread has ended (only for shutdown); whether it
        has (a job never started has nothing to end)."""
        if self._thread.ident is None:
            return True
        self._thread.join(max(ms, 0) / 1000)
        return not self._thread.is_alive()

    def _run(self) -> None:
        work, self.fn = self.fn, None  # what the work holds (a run, say) goes with it
        try:
            try:
                result = work(self)
            finally:
                del work
        except Cancelled:
            self.cancelled.emit()
        except Exception as exc:  # shown to the user; the app stays usable
            if not is_users_error(exc):  # a bug: its traceback on the terminal too
                traceback.print_exc()
            self.failed.emit(describe_error(exc))
        else:
            self.succeeded.emit(result)
        finally:
            self._finished.set()
            self.done.emit()


def is_users_error(exc: BaseException) -> bool:
    """Whether ``exc`` is about the user's files, folders or settings, and says so itself: the
    operating system's file errors, memory too small for what was asked, and the app's own
    errors (FolderError, ModelFileError,
    BackendError, ...: ValueError and RuntimeError subclasses defined in desktop_nn). Those
    are shown in a dialog alone; anything else is a bug, whose traceback is printed too."""
    if isinstance(exc, OSError | MemoryError):  # MemoryError: more than this computer has
        return True
    return isinstance(exc, (ValueError, RuntimeError)) and \
        type(exc).__module__.startswith("desktop_nn.")


def file_error(path: str | os.PathLike, exc: BaseException) -> str:
    """One line naming the file a read or write of ``path`` failed on, and why (an OSError
    names no file, or a temporary one, by itself: "[Errno 28] No space left on device")."""
    if isinstance(exc, OSError) and exc.strerror:
        return f"{os.fspath(path)}: {exc.strerror}"
    text = str(exc).strip() or type(exc).__name__
    name = os.fspath(path)
    return text if name in text or os.path.basename(name) in text else f"{name}: {text}"


class QtExecutor(QObject):
    """The workbench's executor in the window: each piece of work runs in a :class:`Job`, and
    its outcome is handed to the workbench in the GUI thread (through this object's slots:
    a signal connected to a plain function could call it in the worker thread). Each job is
    kept until its thread has ended."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("workbenchExecutor")
        self._callbacks: dict[Job, tuple[Callable[[Any], None], Callable[[str], None]]] = {}

    def submit(self, name: str, work: Callable[[], Any], done: Callable[[Any], None],
               failed: Callable[[str], None]) -> None:
        job = Job(lambda job: work(), name)
        self._callbacks[job] = (done, failed)
        job.succeeded.connect(self._succeeded)
        job.failed.connect(self._failed)
        job.cancelled.connect(self._cancelled)
        job.done.connect(self._ended)
        job.start()

    def jobs(self) -> list[Job]:
        """The jobs whose threads have not ended yet."""
        return list(self._callbacks)

    def wait(self, ms: int = 30_000) -> None:
        """Block until every job's thread has ended (only for shutdown)."""
        for job in self.jobs():
            job.wait(ms)

    @Slot(object)
    def _succeeded(self, result: Any) -> None:
        callbacks = self._callbacks.get(self.sender())
        if callbacks is not None:
            callbacks[0](result)

    @Slot(str)
    def _failed(self, message: str) -> None:
        callbacks = self._callbacks.get(self.sender())
        if callbacks is not None:
            callbacks[1](message)

    @Slot()
    def _cancelled(self) -> None:
        callbacks = self._callbacks.get(self.sender())
        if callbacks is not None:  # the work always ends in done() or failed()
            callbacks[1]("cancelled")

    @Slot()
    def _ended(self) -> None:
        job = self.sender()
        if isinstance(job, Job):
            job.wait(5000)  # the thread is quitting
            self._callbacks.pop(job, None)


# The training thread shares Python's GIL with the GUI thread: a tiny network (2-D points)
# runs Python without a pause (no long BLAS call that lets the GIL go) and thousands of
# reports a second, and the window froze for seconds. When the GUI has not drained the
# reports for GUI_BEHIND_S, the training thread sleeps YIELD_S at each report it hands over,
# so the GUI thread gets the GIL to draw and to answer (docs/benchmarks.md, issue 25).
GUI_BEHIND_S = 0.035
YIELD_S = 0.002


class ReportBuffer:
    """Thread-safe hand-over of step and epoch reports from the training thread to the GUI;
    the training thread gives way while the GUI is behind (see :data:`GUI_BEHIND_S`)."""

    def __init__(self, clock: Callable[[], float] = time.perf_counter,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self._lock = threading.Lock()
        self._clock, self._sleep = clock, sleep
        self._steps: list[StepReport] = []
        self._epochs: list[EpochReport] = []
        self._drained_at = clock()  # the GUI's last drain

    def add_step(self, report: StepReport) -> None:
        with self._lock:
            self._steps.append(report)
        self._yield_if_behind()

    def add_epoch(self, report: EpochReport) -> None:
        with self._lock:
            self._epochs.append(report)
        self._yield_if_behind()

    def drain(self) -> tuple[list[StepReport], list[EpochReport]]:
        with self._lock:
            steps, epochs = self._steps, self._epochs
            self._steps, self._epochs = [], []
            self._drained_at = self._clock()
        return steps, epochs

    def _yield_if_behind(self) -> None:
        """On the training thread: let the GUI thread run while it is behind."""
        if self._clock() - self._drained_at > GUI_BEHIND_S:
            self._sleep(YIELD_S)
