"""Every CUDA source of desktop-nn compiles, on any Linux x86_64 machine: no GPU, no driver.

Each fused kernel of nn/ops/cuda_kernels.py is compiled with NVRTC (the nvidia-cuda-nvrtc-cu12
wheel of the test extra) as CuPy would compile it on a GPU: the whole source CuPy generates
around the app's snippet (tests/cuda_source.py), for float32 and float64, for the Hopper
architecture (the H100 and H200). A typo in a kernel fails here with NVRTC's message and
the line it names; a test below proves it, with a typo put into a copy of each kernel.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from cuda_source import (
    NVRTC_WHEEL,
    CompileError,
    Definition,
    Nvrtc,
    Recorder,
    find_nvrtc,
    kernel_source,
    wheel_expected,
)
from fake_cupy import fake_cupy

import desktop_nn
from desktop_nn.nn.ops import cuda_kernels

pytestmark = pytest.mark.cuda_source

ARCHS = ("compute_90",)  # Hopper: the H100 and H200 the GPU checks run on
DTYPES = ("float32", "float64")


@pytest.fixture(scope="module")
def nvrtc() -> Nvrtc:
    lib = find_nvrtc()
    if lib is None:
        if wheel_expected():  # the test extra installs it here: never skip on such a machine
            pytest.fail(f"{NVRTC_WHEEL} is not installed: pip install '.[test]'")
        pytest.skip(f"{NVRTC_WHEEL} has no wheel for this platform (Linux x86_64 only)")
    return Nvrtc(lib)


def definition(name: str) -> Definition:
    return cuda_kernels.build(Recorder, name)


def scalar_inputs(name: str) -> frozenset[str]:
    """The inputs of kernel ``name`` given as Python numbers, as CupyOps calls it: read from
    the kernel's self-check (which calls it as CupyOps does) on the NumPy stand-in for CuPy."""
    cp, d, calls = fake_cupy(), definition(name), []
    built = cuda_kernels.build(cp, name)

    def kernel(*args):
        calls.append(args)
        return built(*args)

    assert cuda_kernels.self_check(cp, kernel, name, np.dtype("float64")) is None
    (args,) = calls
    ins = [p.split()[-1] for p in d.args[0].split(",")]
    outs = [p.split()[-1] for p in d.args[1].split(",")]
    # CuPy takes the inputs, then the outputs of an elementwise kernel; a reduction's output
    # is its return value
    assert len(args) == len(ins) + (len(outs) if d.kind == "elementwise" else 0), name
    scalars = frozenset(n for n, a in zip(ins, args, strict=False)
                        if not isinstance(a, np.ndarray))
    assert all(isinstance(a, np.ndarray) for a in args[len(ins):])
    return scalars


def explain(error: CompileError, source: str) -> str:
    """NVRTC's log with each line it names shown from the source."""
    lines = source.splitlines()
    shown = [f"  line {n}: {lines[n - 1].strip()}" for n in error.lines if 0 < n <= len(lines)]
    return error.log + "\n" + "\n".join(shown)


def test_every_kernel_constructor_in_the_package_is_in_cuda_kernels():
    """The tests below compile what cuda_kernels.build makes: a CUDA source written anywhere
    else in the package would escape them."""
    root = Path(desktop_nn.__file__).parent
    pattern = re.compile(r"\b(RawKernel|RawModule|ElementwiseKernel|ReductionKernel|"
                         r"__global__|cupy\.fuse|cp\.fuse)\b")
    found = {str(p.relative_to(root)) for p in root.rglob("*.py")
             if pattern.search(p.read_text(encoding="utf-8"))}
    assert found == {"nn/ops/cuda_kernels.py"}


def test_the_kernel_list_is_every_kernel_cupy_ops_builds():
    assert set(cuda_kernels.NAMES) == {
        *(f"forward:{g}" for g in cuda_kernels.FORWARD),
        *(f"backward:{g}" for g in cuda_kernels.BACKWARD), "sgd", "momentum", "adam", "bce"}
    with pytest.raises(KeyError):
        definition("forward:softmax")


@pytest.mark.parametrize("name", cuda_kernels.NAMES)
def test_each_kernel_compiles_as_cupy_compiles_it(nvrtc, name):
    d, scalars = definition(name), scalar_inputs(name)
    # CuPy collapses contiguous arrays to 1-d; the bias broadcast over a batch keeps 2-d
    ndim = 2 if name.startswith("forward:") else 1
    for dtype in DTYPES:
        source = kernel_source(d, dtype, scalars, ndim)
        for arch in ARCHS:
            try:
                nvrtc.compile(source, f"{d.name}.cu", arch)
            except CompileError as error:
                pytest.fail(f"{name} ({dtype}, {arch}) does not compile:\n"
                            f"{explain(error, source)}")


def misspell(snippet: str, names: list[str]) -> tuple[str, str]:
    """``snippet`` with its last use of one of ``names`` misspelled, and the misspelling."""
    uses = [(m.start(), m.group()) for n in names for m in re.finditer(rf"\b{n}\b", snippet)]
    at, name = max(uses)
    typo = name + "_typo"
    return snippet[:at] + typo + snippet[at + len(name):], typo


@pytest.mark.parametrize("name", cuda_kernels.NAMES)
def test_a_typo_in_any_kernel_fails_naming_its_line(nvrtc, name):
    d = definition(name)
    params = [p.split()[-1] for p in (d.args[0] + "," + d.args[1]).split(",")]
    index = 2  # the operation of an elementwise kernel, the map expression of a reduction
    broken, typo = misspell(d.args[index], params)
    bad = Definition(d.kind, d.args[:index] + (broken,) + d.args[index + 1:])
    source = kernel_source(bad, "float32", scalar_inputs(name))
    with pytest.raises(CompileError) as caught:
        nvrtc.compile(source, f"{d.name}.cu", ARCHS[0])
    line = next(i for i, text in enumerate(source.splitlines(), 1) if typo in text)
    assert caught.value.lines == [line], explain(caught.value, source)
    assert f'identifier "{typo}" is undefined' in caught.value.log
    assert f"{d.name}.cu({line}): error" in explain(caught.value, source)
