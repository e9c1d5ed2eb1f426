"""A probe of the GUI thread's event loop, shared by the latency benchmarks: a QTimer asks to
run every ``interval_ms``; the gaps between its runs, less the interval, are what a user
feels as lag."""

from __future__ import annotations

import time

from PySide6.QtCore import QTimer


class GapProbe:
    """Records the gaps (seconds) between the timer's runs from :meth:`start` to :meth:`stop`."""

    def __init__(self, interval_ms: int = 10) -> None:
        self.interval_s = interval_ms / 1000
        self.gaps: list[float] = []
        self._last = 0.0
        self.timer = QTimer()
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self._tick)

    def _tick(self) -> None:
        now = time.perf_counter()
        self.gaps.append(now - self._last)
        self._last = now

    def start(self) -> float:
        """Start afresh; returns the start time (``time.perf_counter``)."""
        self.gaps.clear()
        self._last = time.perf_counter()
        self.timer.start()
        return self._last

    def stop(self) -> None:
        self.timer.stop()
