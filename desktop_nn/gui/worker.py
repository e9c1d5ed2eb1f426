"""Long work off the GUI thread: a :class:`Job` runs one function in its own QThread, and a
:class:`ReportBuffer` carries a trainer's reports to the GUI, which drains it on a timer.

The GUI thread never waits on a job: it connects to ``succeeded`` / ``failed`` / ``done`` and
reads the buffer at most ~30 times a second (see MainWindow), whatever the step rate.
"""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal, Slot

from desktop_nn.data.image_folder import Cancelled  # a job's function raises it when cancelled
from desktop_nn.train.history import EpochReport, StepReport


class Job(QObject):
    """Runs ``fn(job)`` in a new QThread. ``fn`` may call :meth:`report_progress` and should
    check :attr:`cancel_event`. Signals arrive in the GUI thread (queued connections).

    Keep a reference to the job until ``done``; it owns its thread."""

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
        self.thread_ = QThread()
        self.thread_.setObjectName(f"{name}Thread")
        self.moveToThread(self.thread_)
        self.thread_.started.connect(self._run)
        self._finished = threading.Event()

    def start(self) -> None:
        self.thread_.start()

    def cancel(self) -> None:
        self.cancel_event.set()

    def report_progress(self, done: int, total: int) -> None:
        self.progress.emit(int(done), int(total))

    def is_running(self) -> bool:
        return not self._finished.is_set() and self.thread_.isRunning()

    def wait(self, ms: int = 10_000) -> bool:
        """Block until the thread has ended (only for shutdown)."""
        return self.thread_.wait(ms)

    @Slot()
    def _run(self) -> None:
        try:
            result = self.fn(self)
        except Cancelled:
            self.cancelled.emit()
        except Exception as exc:  # shown to the user; the app stays usable
            traceback.print_exc()
            self.failed.emit(describe_error(exc))
        else:
            self.succeeded.emit(result)
        finally:
            self._finished.set()
            self.done.emit()
            # Directly, not through a signal: a queued quit would wait for the GUI thread,
            # which may itself be waiting for this thread (closing the window).
            self.thread_.quit()


def describe_error(exc: BaseException) -> str:
    """An error as the user reads it: the message alone for the errors that say what went
    wrong, with the error's type otherwise."""
    text = str(exc).strip()
    if isinstance(exc, (ValueError, OSError, RuntimeError)) and text:
        return text
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class ReportBuffer:
    """Thread-safe hand-over of step and epoch reports from the training thread to the GUI."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._steps: list[StepReport] = []
        self._epochs: list[EpochReport] = []

    def add_step(self, report: StepReport) -> None:
        with self._lock:
            self._steps.append(report)

    def add_epoch(self, report: EpochReport) -> None:
        with self._lock:
            self._epochs.append(report)

    def drain(self) -> tuple[list[StepReport], list[EpochReport]]:
        with self._lock:
            steps, epochs = self._steps, self._epochs
            self._steps, self._epochs = [], []
        return steps, epochs
