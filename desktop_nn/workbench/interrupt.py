"""Ctrl-C as the window's Stop: while a run trains on the calling thread (the command line,
the notebook API), the first interrupt stops it after its step, so that what was trained is
kept; a second one raises KeyboardInterrupt at once."""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Callable, Iterator


@contextlib.contextmanager
def stop_on_interrupt(stop: Callable[[], None], said: Callable[[], None] | None = None
                      ) -> Iterator[list[int]]:
    """While the block runs, SIGINT (and SIGTERM) call ``stop`` (then ``said``, to tell the
    user) instead of raising; a second one raises KeyboardInterrupt. Yields the signals
    received (empty: none). Off the main thread (an embedding program's) signals are left
    alone."""
    received: list[int] = []

    def handler(signum, frame) -> None:
        if received:
            raise KeyboardInterrupt
        received.append(signum)
        if said is not None:
            said()
        stop()

    wanted = [signal.SIGINT] + ([signal.SIGTERM] if hasattr(signal, "SIGTERM") else [])
    try:
        before = {sig: signal.signal(sig, handler) for sig in wanted}
    except ValueError:  # not the main thread: signals cannot be caught here
        yield received
        return
    try:
        yield received
    finally:
        for sig, handler_before in before.items():
            signal.signal(sig, handler_before)
