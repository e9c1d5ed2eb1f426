"""The hand-over of reports from the training thread to the GUI (gui/worker.py ReportBuffer):
every report arrives, in order, and the training thread gives the GUI thread time while the
GUI is behind (a tiny network on 2-D points froze the window for seconds: Python's GIL was
never free for the GUI thread)."""

from __future__ import annotations

from desktop_nn.gui.worker import GUI_BEHIND_S, YIELD_S, ReportBuffer


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_every_report_arrives_in_order_once():
    clock = Clock()
    buffer = ReportBuffer(clock=clock, sleep=lambda s: None)
    for step in range(1, 101):
        clock.now += 1e-4
        buffer.add_step(step)
        if step % 10 == 0:
            buffer.add_epoch(-step)
    assert buffer.drain() == (list(range(1, 101)), list(range(-10, -101, -10)))
    assert buffer.drain() == ([], [])


def test_the_training_thread_yields_only_while_the_gui_is_behind():
    clock, slept = Clock(), []
    buffer = ReportBuffer(clock=clock, sleep=slept.append)
    buffer.drain()
    clock.now += GUI_BEHIND_S / 2
    buffer.add_step(1)
    assert slept == []  # the GUI drained a moment ago
    clock.now += GUI_BEHIND_S
    buffer.add_step(2)
    buffer.add_epoch(3)
    assert slept == [YIELD_S, YIELD_S]  # behind: each report gives the GUI thread time
    buffer.drain()
    buffer.add_step(4)
    assert slept == [YIELD_S, YIELD_S]
    assert buffer.drain() == ([4], [])
