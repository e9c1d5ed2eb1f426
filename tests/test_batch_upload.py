"""The double buffer that streams mini-batches to the GPU: the order of its copies and waits.

The stand-in streams run steps at once, so only the order of the calls can show that a host
buffer is not refilled before its copy is done, and that a device buffer is not overwritten
before the step that reads it is done; the streaming tests in test_device_memory.py check
the batches themselves with copies that run as late as allowed."""

from __future__ import annotations

import numpy as np

from desktop_nn.train.batch_upload import DoubleBuffer


class Recording:
    def __init__(self) -> None:
        self.calls: list[tuple] = []
        self.n = 0

    def _event(self, kind):
        self.n += 1
        return (kind, self.n)

    def copy_async(self, dev, host):
        np.copyto(dev, host)
        self.calls.append(("copy", dev.__array_interface__["data"][0]))

    def record_copy(self):
        event = self._event("copied")
        self.calls.append(("record", event))
        return event

    def record_compute(self):
        event = self._event("read")
        self.calls.append(("record", event))
        return event

    def copy_wait(self, event):
        self.calls.append(("copy_wait", event))

    def compute_wait(self, event):
        self.calls.append(("compute_wait", event))

    def host_wait(self, event):
        self.calls.append(("host_wait", event))


def test_each_buffer_waits_for_its_last_copy_and_its_last_reader():
    streams = Recording()
    buf = DoubleBuffer(streams, np, [(4, 3), (4, 1)], np.float32,
                       lambda shape, dtype: np.empty(shape, dtype))
    X = np.arange(5 * 4 * 3, dtype=np.float32).reshape(20, 3)
    batches, marks = [], []
    for i in range(5):
        marks.append(len(streams.calls))
        host_x, host_y = buf.host_buffers()
        streams.calls.append(("fill", i))
        host_x[:], host_y[:] = X[4 * i:4 * i + 4], i
        xb, yb = buf.upload(4)
        batches.append((xb.copy(), yb.copy()))
        buf.step_queued()
    buf.drain()
    for i, (xb, yb) in enumerate(batches):
        np.testing.assert_array_equal(xb, X[4 * i:4 * i + 4])
        assert (yb == i).all()
    calls = streams.calls
    copied = [c[1] for c in calls if c[0] == "record" and c[1][0] == "copied"]
    read = [c[1] for c in calls if c[0] == "record" and c[1][0] == "read"]
    for i in range(5):
        fill = calls.index(("fill", i))
        first_copy = next(j for j in range(fill, len(calls)) if calls[j][0] == "copy")
        # the compute stream waits for this batch's copy before the step is queued
        assert calls.index(("compute_wait", copied[i])) < calls.index(("record", read[i]))
        if i >= 2:  # the slot was used two batches ago
            assert marks[i] <= calls.index(("host_wait", copied[i - 2])) < fill
            assert fill < calls.index(("copy_wait", read[i - 2])) < first_copy
        else:
            assert not any(c[0] in ("host_wait", "copy_wait") for c in calls[marks[i]:fill + 1])
    # two device buffers take turns
    targets = [c[1] for c in calls if c[0] == "copy"]
    assert len(set(targets)) == 4 and targets[:2] != targets[2:4] and targets[:2] == targets[4:6]
    # drain waits for the last copy of each slot
    assert sorted(calls[-2:]) == [("host_wait", copied[3]), ("host_wait", copied[4])]
