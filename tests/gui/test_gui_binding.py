"""The Qt binding itself must not corrupt reference counts: PySide6 6.12.0 dropped a reference
to None on every call of a void method, which kills the app (none_dealloc) after a few thousand
plot updates on Python 3.11. pyproject.toml excludes it; this fails if such a build comes back."""

import sys

from PySide6.QtWidgets import QGraphicsRectItem


def test_void_calls_keep_none_alive(qapp):
    item = QGraphicsRectItem(0, 0, 1, 1)
    before = sys.getrefcount(None)
    for _ in range(2000):
        item.show()
        item.hide()
    assert sys.getrefcount(None) >= before - 50
