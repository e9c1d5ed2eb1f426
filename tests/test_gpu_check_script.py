"""benchmarks/gpu_check.sh, as far as it can be checked without a GPU: the gpu tests its
summary names for each GPU path exist and are marked gpu, the summary's verdicts, and the
script's plan (--dry-run). Running it on a GPU is the check itself (docs/benchmarks.md)."""

from __future__ import annotations

import importlib
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
_spec = importlib.util.spec_from_file_location("gpu_check_summary",
                                               ROOT / "benchmarks" / "gpu_check_summary.py")
summary = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(summary)


def test_each_gpu_path_names_gpu_tests_that_exist():
    for path, tests in summary.PATHS.items():
        assert tests, path
        for test in tests:
            file, name = test.split("::")
            module = importlib.import_module(file.removesuffix(".py"))
            function = getattr(module, name)  # a renamed test breaks the summary: fails here
            on_module = getattr(module, "pytestmark", [])  # a mark, or a list of marks
            marks = [*(on_module if isinstance(on_module, list) else [on_module]),
                     *getattr(function, "pytestmark", [])]
            assert "gpu" in {m.name for m in marks}, test


def junit(tmp_path: Path, outcome: str = "passed", but: str | None = None) -> Path:
    """A JUnit XML with each test of the summary's paths, all ``outcome`` (``but`` failed)."""
    cases = []
    for test in {t for tests in summary.PATHS.values() for t in tests}:
        file, name = test.split("::")
        body = "<skipped/>" if outcome == "skipped" else ""
        if test == but:
            body = "<failure message='x'/>"
        cases.append(f"<testcase classname='tests.{file.removesuffix('.py')}' "
                     f"name='{name}[float32]'>{body}</testcase>")
    xml = tmp_path / "pytest.xml"
    xml.write_text("<testsuites><testsuite>" + "".join(cases) + "</testsuite></testsuites>")
    return xml


def test_the_summary_passes_only_when_every_path_passed_on_the_gpu(tmp_path, capsys):
    junit(tmp_path)
    assert summary.main([str(tmp_path), "1", "0", "0", "0", "0"]) == 0
    assert capsys.readouterr().out.count(" passed") == len(summary.PATHS) + 4
    shuffle = summary.PATHS["device shuffle equals NumPy's"][0]
    junit(tmp_path, but=shuffle)
    assert summary.main([str(tmp_path), "1", "1", "0", "0", "0"]) == 1
    out = capsys.readouterr().out
    assert "device shuffle equals NumPy's" in out and "FAILED (failed: 1)" in out
    junit(tmp_path, "skipped")  # on a GPU, a skipped gpu test is a failure
    assert summary.main([str(tmp_path), "1", "0", "0", "0", "0"]) == 1
    junit(tmp_path)
    assert summary.main([str(tmp_path), "1", "0", "124", "0", "0"]) == 1
    assert "step bench   TIMED OUT" in capsys.readouterr().out


def test_without_a_gpu_the_gpu_steps_are_skipped_and_the_check_passes(tmp_path, capsys):
    junit(tmp_path, "skipped")
    assert summary.main([str(tmp_path), "0", "0", "nogpu", "0", "0"]) == 0
    out = capsys.readouterr().out
    assert out.count("skipped: no GPU") == len(summary.PATHS) + 1
    assert "NO GPU on this machine" in out
    (tmp_path / "pytest.xml").unlink()  # pytest did not run at all: a failure anywhere
    assert summary.main([str(tmp_path), "0", "0", "nogpu", "0", "0"]) == 1


@pytest.mark.skipif(sys.platform == "win32", reason="a bash script")
def test_the_dry_run_prints_each_step_with_its_time_limit(tmp_path):
    run = subprocess.run(["bash", str(ROOT / "benchmarks" / "gpu_check.sh"), "--dry-run"],
                         capture_output=True, text=True, timeout=60,
                         env={"PATH": "/usr/bin:/bin", "OUT": str(tmp_path / "out")})
    assert run.returncode == 0, run.stderr
    steps = [line.split(":")[0] for line in run.stdout.splitlines()]
    assert steps == ["[dry-run] set-up", "[dry-run] pytest (at most 150s)",
                     "[dry-run] bench (at most 180s)", "[dry-run] window (at most 75s)",
                     "[dry-run] gradcheck (at most 150s)"]
    assert "-m desktop_nn bench --device gpu --workload all --repeats 5" in run.stdout
    assert not (tmp_path / "out").exists()  # a dry run writes nothing
