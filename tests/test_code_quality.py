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


def test_import_contracts_hold():
    """import-linter contracts in pyproject.toml: the layers (cli; gui, reproduce, bench;
    workbench; train, predict, inspect; io; nn, data; backend) import only downwards, and
    nothing below the GUI imports Qt."""
    lint = _tool("lint-imports")
    if lint is None:
        pytest.fail("import-linter is not installed: pip install '.[test]'")
    out = subprocess.run([lint, "--no-cache"], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stdout + out.stderr


MAX_MODULE_LINES = 500


def test_no_module_is_over_500_lines():
    """Small modules with one job each (docs/architecture.md says where each concern lives)."""
    too_long = {str(p.relative_to(ROOT)): n for p in (ROOT / "desktop_nn").rglob("*.py")
                if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES}
    assert too_long == {}
