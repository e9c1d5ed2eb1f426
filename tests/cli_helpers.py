"""What the command-line tests share: a small data set file and the check that a failure is
one message line."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def npz_data(tmp_path: Path, blobs) -> Path:
    """The ``blobs`` fixture's X (n_x, m) and Y saved as ``tmp_path/data.npz``."""
    X, Y = blobs
    path = tmp_path / "data.npz"
    np.savez(path, X=X, Y=Y)
    return path


def one_error_line(err: str) -> str:
    """``err`` holds exactly one line, ``desktop-nn: error: ...``, and no traceback."""
    lines = [line for line in err.splitlines() if line.strip()]
    assert "Traceback" not in err
    assert len(lines) == 1, err
    assert lines[0].startswith("desktop-nn: error: ")
    return lines[0]
