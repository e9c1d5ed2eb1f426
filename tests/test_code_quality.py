"""Lint and architecture checks, run by the test suite so CI enforces them."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _tool(name):
    exe = Path(sys.executable).with_name(name)
    return str(exe) if exe.exists() else shutil.which(name)


def test_ruff_clean():
    ruff = _tool("ruff")
    if ruff is None:
        pytest.fail("ruff is not installed: pip install '.[test]'")
    out = subprocess.run([ruff, "check", str(ROOT)], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_core_never_imports_qt():
    """import-linter contract in pyproject.toml: nn, data, train, io, backend never import Qt."""
    lint = _tool("lint-imports")
    if lint is None:
        pytest.fail("import-linter is not installed: pip install '.[test]'")
    out = subprocess.run([lint, "--no-cache"], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stdout + out.stderr
