"""Where the workbench's long work runs: a worker thread in the window, the calling thread on
the command line.

An executor takes a function and two callbacks; it runs the function and then calls ``done``
with its result, or ``failed`` with a message, on the thread the workbench lives on. The
window's executor (``QtExecutor`` in gui/worker.py) runs the function in a worker thread;
:class:`InlineExecutor` runs it at once, so that the command line, the reproductions and the
tests drive the same workbench code synchronously.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from typing import Any, Protocol


class Executor(Protocol):
    def submit(self, name: str, work: Callable[[], Any], done: Callable[[Any], None],
               failed: Callable[[str], None]) -> None:
        """Run ``work()``; then ``done(result)``, or ``failed(message)`` when it raised."""


class InlineExecutor:
    """Runs the work on the calling thread, before :meth:`submit` returns."""

    def submit(self, name: str, work: Callable[[], Any], done: Callable[[Any], None],
               failed: Callable[[str], None]) -> None:
        try:
            result = work()
        except Exception as exc:  # reported like the window's worker reports it
            traceback.print_exc()
            failed(describe_error(exc))
            return
        done(result)


def describe_error(exc: BaseException) -> str:
    """An error as the user reads it: the message alone for the errors that say what went
    wrong, with the error's type otherwise."""
    text = str(exc).strip()
    if isinstance(exc, (ValueError, OSError, RuntimeError)) and text:
        return text
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
