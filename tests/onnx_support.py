"""What the ONNX export's tests share: the tolerance, and onnx / onnxruntime, which the test
extra installs (CI: a missing one fails) and which elsewhere skip their tests, saying why."""

from __future__ import annotations

import os

import pytest

TOLERANCE = 1e-5  # max |onnxruntime - predict| over the probabilities, float32 (issue 25)


def need(name: str):
    """The module ``name`` (onnx, onnxruntime), or a skip outside CI when it is missing."""
    if os.environ.get("CI"):  # the test extra has it: missing there is a failure
        return __import__(name)
    return pytest.importorskip(name, reason=f"{name} is not installed (pip install "
                               f"'.[test]' brings it)")
