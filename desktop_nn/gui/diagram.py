"""A drawing of the network: one column of nodes per layer, edges between neighbours.

Wide layers show their first and last few nodes around an ellipsis and their true size under
the column, so a 784-unit input stays readable.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

MAX_NODES = 12  # nodes drawn per column; wider layers are elided in the middle

ACTIVATION_COLORS = {
    "input": QColor("#7f8c8d"), "sigmoid": QColor("#2e86de"), "tanh": QColor("#8e44ad"),
    "relu": QColor("#e67e22"), "leaky_relu": QColor("#d35400"), "linear": QColor("#16a085"),
    "softmax": QColor("#c0392b"),
}


def shown_nodes(n: int, limit: int = MAX_NODES) -> tuple[list[int], bool]:
    """Indices of the nodes to draw for a layer of ``n`` units, and whether some are elided."""
    if n <= limit:
        return list(range(n)), False
    head = limit // 2
    tail = limit - head - 1
    return list(range(head)) + list(range(n - tail, n)), True


class NetworkDiagram(QWidget):
    """Paints ``sizes`` [n_x, n_1, ..., n_L] with ``activations`` [g_1, ..., g_L]."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("networkDiagram")
        self.setMinimumSize(220, 160)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.sizes: list[int] = []
        self.activations: list[str] = []

    def set_network(self, sizes: list[int], activations: list[str]) -> None:
        self.sizes, self.activations = list(sizes), list(activations)
        self.setToolTip(" - ".join(str(n) for n in sizes))
        self.update()

    def node_positions(self) -> list[list[QPointF]]:
        """Centres of the drawn nodes, column by column (also used by tests)."""
        if not self.sizes:
            return []
        w, h = self.width(), self.height() - 24
        cols = len(self.sizes)
        out = []
        for c, n in enumerate(self.sizes):
            x = w * (c + 0.5) / cols
            idx, elided = shown_nodes(n)
            slots = len(idx) + (1 if elided else 0)
            ys = [h * (k + 0.5) / slots + 4 for k in range(slots)]
            if elided:
                head = MAX_NODES // 2
                ys = ys[:head] + ys[head + 1:]
            out.append([QPointF(x, y) for y in ys])
        return out

    def paintEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.fillRect(self.rect(), self.palette().base())
        columns = self.node_positions()
        if not columns:
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "no network")
            return
        radius = max(3.0, min(10.0, (self.height() - 24) / (2.6 * (MAX_NODES + 1))))
        edge = QColor(self.palette().text().color())
        edge.setAlpha(40)
        p.setPen(QPen(edge, 0.6))
        for left, right in zip(columns, columns[1:], strict=False):
            for a in left:
                for b in right:
                    p.drawLine(a, b)
        names = ["input", *self.activations]
        for c, (nodes, n) in enumerate(zip(columns, self.sizes, strict=True)):
            color = ACTIVATION_COLORS.get(names[c], QColor("#95a5a6"))
            p.setPen(QPen(color.darker(140), 1))
            p.setBrush(color)
            for pt in nodes:
                p.drawEllipse(pt, radius, radius)
            if n > MAX_NODES:
                mid = nodes[MAX_NODES // 2 - 1]
                nxt = nodes[MAX_NODES // 2]
                p.setPen(self.palette().text().color())
                p.drawText(QRectF(mid.x() - 20, mid.y(), 40, nxt.y() - mid.y()),
                           Qt.AlignmentFlag.AlignCenter, "⋮")
            p.setPen(self.palette().text().color())
            label = f"{n}" if c == 0 else f"{n} {names[c]}"
            x = nodes[0].x()
            p.drawText(QRectF(x - 60, self.height() - 20, 120, 18),
                       Qt.AlignmentFlag.AlignCenter, label)
        p.end()
