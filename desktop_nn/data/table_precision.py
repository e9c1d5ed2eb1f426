"""What making a table's values float32 loses: X (n_x, m) is float32 (as the network, and an
ONNX export's input, are), so a column of large values with small differences (Unix times,
ids: near 1.7e9 float32 steps by 128) would have different values made equal, silently."""

from __future__ import annotations

import numpy as np

# the share of a column's different values that float32 must merge for a note: full-precision
# random values (17 digits) meet by chance in float32 now and then, a share far below this
MERGED_SHARE = 0.1


def merged_by_float32(v: np.ndarray) -> tuple[int, int] | None:
    """(different values, different values once float32) of the float64 values ``v`` (m,)
    when float32 makes more than MERGED_SHARE of them equal to others, else None."""
    n32 = np.unique(v.astype(np.float32)).size
    if n32 == v.size:  # all different in float32: nothing was merged
        return None
    n64 = np.unique(v).size
    return (n64, n32) if n32 < (1 - MERGED_SHARE) * n64 else None


def float32_notes(name: str, columns: list[str], values: np.ndarray) -> list[str]:
    """A note for each of ``columns`` (the columns of ``values`` (m, n_x) float64) whose
    different values float32 makes equal, naming the file ``name``, the column and the step
    of float32 at the column's largest size."""
    notes = []
    for column, v in zip(columns, values.T, strict=True):
        merged = merged_by_float32(v)
        if merged is None:
            continue
        size = float(np.abs(v).max())
        notes.append(f"{name}: column '{column}': {merged[0]:,} different values are "
                     f"{merged[1]:,} in float32 (X is float32), which near {size:.4g} steps "
                     f"by {float(np.spacing(np.float32(size))):.3g}; subtract an offset from "
                     f"the column (or rescale it) to keep them apart")
    return notes
