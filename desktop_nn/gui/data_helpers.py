"""What the data panel shows that is not a widget: an image as a QImage (the panel's
thumbnails, Predict's and Evaluate's pictures), the image size field's check, the folder a
drop brings, and the per-class counts of a set."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtGui import QImage

from desktop_nn.data.dataset import labels_of
from desktop_nn.data.image_folder import parse_image_size, unflatten_planes


def to_qimage(pixels: np.ndarray, shape: tuple[int, int, int]) -> QImage:
    """One flattened image (n_x,) uint8 in channel planes -> a QImage (copied)."""
    h, w, c = shape
    a = np.ascontiguousarray(unflatten_planes(pixels, shape))
    if c == 1:
        img = QImage(a.tobytes(), w, h, w, QImage.Format.Format_Grayscale8)
    else:
        img = QImage(a.tobytes(), w, h, 3 * w, QImage.Format.Format_RGB888)
    return img.copy()


def image_size_text(text) -> bool:
    """Whether ``text`` is what the image size field takes: auto (or blank) or WxH."""
    if not isinstance(text, str):
        return False
    if text.strip().lower() in ("", "auto"):
        return True
    try:
        parse_image_size(text)
    except ValueError:
        return False
    return True


def dropped_folder(mime) -> str | None:
    """The first local folder among the URLs a drag brings, or None."""
    if not mime.hasUrls():
        return None
    for url in mime.urls():
        path = url.toLocalFile()
        if path and Path(path).is_dir():
            return path
    return None


def class_counts(Y: np.ndarray | None, n_classes: int) -> list[int] | None:
    """Examples per class of targets Y (n_y, m); None for no set."""
    if Y is None:
        return None
    return np.bincount(labels_of(Y), minlength=n_classes).tolist()
