"""benchmarks/cat_kernels.py: which forced OpenBLAS kernels a CPU can run, the variable set
for the subprocess only, and the per-kernel verdicts (a stand-in for the recipe runs)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "cat_kernels.py"
spec = importlib.util.spec_from_file_location("cat_kernels", SCRIPT)
cat_kernels = importlib.util.module_from_spec(spec)
spec.loader.exec_module(cat_kernels)

AVX2 = "flags\t\t: fpu sse2 avx avx2 fma bmi2\n"
AVX512 = AVX2.rstrip() + " avx512f avx512cd avx512bw avx512dq avx512vl\n"


def test_kernels_a_cpu_can_run_come_from_its_flags():
    two, five = cat_kernels.cpu_flags(AVX2), cat_kernels.cpu_flags(AVX512)
    assert "avx2" in two and "avx512f" not in two and "avx512f" in five
    assert cat_kernels.runnable("Haswell", two) == (True, "")
    assert cat_kernels.runnable("Zen", two)[0]
    ok, why = cat_kernels.runnable("SkylakeX", two)
    assert not ok and "avx512f" in why
    assert cat_kernels.runnable("SkylakeX", five) == (True, "")
    assert cat_kernels.runnable("default", set())[0]  # OpenBLAS picks one that runs
    assert cat_kernels.cpu_flags("processor : 0\n") == set()


def test_the_kernel_is_set_in_the_child_only(monkeypatch):
    monkeypatch.setenv("OPENBLAS_CORETYPE", "Zen")
    assert cat_kernels._env("Haswell")["OPENBLAS_CORETYPE"] == "Haswell"
    assert "OPENBLAS_CORETYPE" not in cat_kernels._env("default")


def test_verdicts_per_kernel_and_skipped_kernels(monkeypatch, tmp_path, capsys):
    def fake_run(cmd, env, capture_output, text):
        kernel = env.get("OPENBLAS_CORETYPE", "default")
        if "-c" in cmd:  # the corename probe
            return subprocess.CompletedProcess(cmd, 0, f"{kernel}\n", "")
        ok = kernel != "Zen"
        fig = {"label": "test accuracy", "measured": 0.8 if ok else 0.7,
               "result": "PASS" if ok else "MISS"}
        rep = {"pass": ok, "dtype": "float64", "networks": [{"figures": [fig]}]}
        return subprocess.CompletedProcess(cmd, 0 if ok else 1, json.dumps(rep), "")

    monkeypatch.setattr(cat_kernels.subprocess, "run", fake_run)
    (tmp_path / "cpuinfo").write_text(AVX2)
    monkeypatch.setattr(cat_kernels, "CPUINFO", tmp_path / "cpuinfo")
    out = tmp_path / "r.json"
    assert cat_kernels.main(["--kernels", "default", "Haswell", "--json", str(out)]) == 0
    assert cat_kernels.main(["--kernels", "SkylakeX", "Zen", "--recipes", "cat-2layer",
                             "--json", str(out)]) == 1
    text = capsys.readouterr().out
    assert "SkylakeX: not run, this CPU cannot (missing avx512" in text
    assert "Zen: OpenBLAS uses the Zen kernel" in text and "MISS" in text
    results = json.loads(out.read_text())
    assert results[0] == {"kernel": "SkylakeX", "skipped": results[0]["skipped"]}
    assert results[1]["kernel"] == "Zen" and results[1]["pass"] is False
