"""Cost and accuracy of a network on a whole data set, a chunk of examples at a time.

A chunk's forward pass keeps every layer's Z and A of that many examples alive at once, so
:class:`Evaluator` runs EVAL_CHUNK examples at a time; when a chunk does not fit in the
device's memory it starts again with chunks half as big (down to MIN_EVAL_CHUNK), and keeps
that size for the evaluations that follow. A streamed data set (held in host memory) is
copied to the device chunk by chunk.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from desktop_nn.nn.network import Network, labels_from_outputs
from desktop_nn.train.data_placement import PlacedData
from desktop_nn.train.device_memory import EVAL_CHUNK

Array = Any
MIN_EVAL_CHUNK = 256  # an evaluation that runs out of memory halves its chunks down to this


@dataclass
class Evaluation:
    cost: float
    accuracy: float


class Evaluator:
    """Evaluates ``network`` on data sets placed as a run places them (``streaming``: held in
    host memory). ``chunk``: the examples per forward pass, halved on out-of-memory."""

    def __init__(self, network: Network, streaming: bool) -> None:
        self.network = network
        self.streaming = streaming
        self.chunk = EVAL_CHUNK

    def evaluate(self, data: PlacedData, l2: float, m_train: int, chunk: int | None = None
                 ) -> Evaluation:
        """Cost (with the L2 term of strength ``l2`` for a training set of ``m_train``
        examples) and accuracy on ``data``, ``chunk`` examples at a time (default: the
        current chunk size)."""
        while True:
            size = chunk or self.chunk
            try:
                return self._evaluate_chunks(data, size, l2, m_train)
            except Exception as exc:
                if not self.network.backend.is_out_of_memory(exc) or size <= MIN_EVAL_CHUNK:
                    raise
                chunk = None
                self.chunk = max(MIN_EVAL_CHUNK, size // 2)

    def _rows_on_device(self, rows: Array) -> Array:
        """A block of rows of a data set on the device (uploaded when it is streamed)."""
        return self.network.xp.asarray(rows) if self.streaming else rows

    def _evaluate_chunks(self, data: PlacedData, chunk: int, l2: float, m_train: int
                         ) -> Evaluation:
        net = self.network
        xp = net.xp
        total_cost = xp.zeros((), dtype=xp.float64)
        correct = xp.zeros((), dtype=xp.int64)
        for i in range(0, data.m, chunk):
            x = self._rows_on_device(data.XT[i:i + chunk]).T
            y = self._rows_on_device(data.YT[i:i + chunk]).T
            _, caches = net.forward(x)
            last = caches[-1]
            total_cost += net.ops.cost_value(net.cost, last.z, last.a, y,
                                             net.activations[-1]) * x.shape[1]
            correct += (labels_from_outputs(caches[-1].a) == labels_from_outputs(y)).sum()
        cost = net.backend.to_float(total_cost) / data.m
        if l2:
            cost += l2 / (2 * m_train) * sum(
                net.backend.to_float(net.ops.sum_of_squares(W)) for W in net.W)
        return Evaluation(cost=cost, accuracy=int(net.backend.to_host(correct)) / data.m)
