"""The CUDA source of desktop-nn's kernels as CuPy builds it, and NVRTC to compile it on a
machine with no GPU and no driver (tests/test_cuda_source.py).

CuPy's ``ElementwiseKernel`` and ``ReductionKernel`` take a snippet and wrap it in a kernel of
their own when first called on arrays, which needs a GPU. Here a recorder stands in for CuPy
while ``cuda_kernels.build`` runs, so that the test gets exactly the arguments the app gives
CuPy, and ``kernel_source`` writes the source CuPy generates from them (cupy/_core/_kernel.pyx
and _reduction.pyx, CuPy 13): a ``typedef`` for each type name, one kernel parameter per
argument (arrays as ``CArray``, scalars in the type T as CuPy casts them), each array element
bound to its parameter's name (``const T &x = _raw_x[_ind.get()];``), then the snippet. CuPy's
own headers (carray.cuh, ...) are not installed without CuPy: ``STAND_IN_HEADER`` declares the
few names of theirs that the generated code uses, so a typo in a snippet is an error here as it
is in CuPy.

NVRTC comes from the ``nvidia-cuda-nvrtc-cu12`` wheel (the test extra, on Linux x86_64) and is
called through ctypes: six C functions, no further package.
"""

from __future__ import annotations

import ctypes
import importlib.util
import platform
import re
from dataclasses import dataclass
from pathlib import Path

# CuPy's C type for each NumPy dtype the kernels run in
C_TYPES = {"float32": "float", "float64": "double"}

STAND_IN_HEADER = """\
// Stand-in for CuPy's headers: the names of theirs that generated kernels use.
template <typename T, int ndim, int c_contiguous = 0, int index_32_bits = 0,
          int core_ndim = 0>
struct CArray {
  T *data_;
  __device__ T &operator[](ptrdiff_t i) const { return data_[i]; }
};
template <int ndim, int index_32_bits = 0>
struct CIndexer {
  ptrdiff_t size_, index_;
  __device__ ptrdiff_t size() const { return size_; }
  __device__ void set(ptrdiff_t i) { index_ = i; }
  __device__ ptrdiff_t get() const { return index_; }
};
#define CUPY_FOR(i, n) \\
  for (ptrdiff_t i = (ptrdiff_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n); \\
       i += (ptrdiff_t)blockDim.x * gridDim.x)
"""


@dataclass(frozen=True)
class Definition:
    """What the app passed to CuPy's ElementwiseKernel (``kind`` "elementwise": in_params,
    out_params, operation, name) or ReductionKernel ("reduction": in_params, out_params,
    map_expr, reduce_expr, post_map_expr, identity, name)."""

    kind: str
    args: tuple[str, ...]

    @property
    def name(self) -> str:
        return self.args[-1]

    @property
    def snippets(self) -> tuple[str, ...]:
        """The CUDA fragments written in the app (operation; or map, reduce, post-map)."""
        return self.args[2:3] if self.kind == "elementwise" else self.args[2:5]


class Recorder:
    """Stands in for the CuPy module in ``cuda_kernels.build``: each kernel it is asked for
    comes back as its Definition."""

    @staticmethod
    def ElementwiseKernel(*args: str) -> Definition:  # noqa: N802 (CuPy's name)
        assert len(args) == 4, args  # in, out, operation, name: no keyword options
        return Definition("elementwise", args)

    @staticmethod
    def ReductionKernel(*args: str) -> Definition:  # noqa: N802 (CuPy's name)
        assert len(args) == 7, args  # in, out, map, reduce, post-map, identity, name
        return Definition("reduction", args)


def _params(spec: str) -> list[tuple[str, str]]:
    """[(type, name)] of a CuPy parameter list such as "T g, T lr"."""
    out = []
    for param in spec.split(","):
        words = param.split()
        assert len(words) == 2 and words[0] == "T", f"only 'T name' is handled: {param!r}"
        out.append((words[0], words[1]))
    return out


def kernel_source(d: Definition, dtype: str, scalars: frozenset[str] = frozenset(),
                  ndim: int = 2) -> str:
    """The whole CUDA source CuPy compiles for ``d`` called on ``ndim``-dimensional arrays of
    ``dtype`` (Python numbers for the inputs named in ``scalars``)."""
    c = C_TYPES[dtype]
    ins, outs = _params(d.args[0]), _params(d.args[1])

    def param(t: str, n: str, const: bool) -> str:
        qual = "const " if const else ""
        if n in scalars:
            return f"{qual}{c} {n}"
        return f"{qual}CArray<{c}, {ndim}, 1, 1, 0> _raw_{n}"

    params = [param(t, n, True) for t, n in ins] + [param(t, n, False) for t, n in outs]
    arrays_in = [(t, n) for t, n in ins if n not in scalars]
    if d.kind == "elementwise":
        binds = [f"const {t} &{n} = _raw_{n}[_ind.get()];" for t, n in arrays_in]
        binds += [f"{t} &{n} = _raw_{n}[_ind.get()];" for t, n in outs]
        body = "\n".join([*binds, d.args[2]])
        params.append(f"CIndexer<{ndim}, 1> _ind")
        return "\n".join([
            STAND_IN_HEADER, f"typedef {c} T;", "",
            f'extern "C" __global__ void {d.name}({", ".join(params)}) {{',
            "  ;", "  #pragma unroll 1", "  CUPY_FOR(i, _ind.size()) {", "    _ind.set(i);",
            f"{body};", "  }", "  ;", "}", ""])
    map_expr, reduce_expr, post_map_expr, identity = d.args[2:6]
    assert post_map_expr.startswith(f"{outs[0][1]} = "), "POST_MAP writes the output"
    input_expr = "\n".join(f"const {t} {n} = _raw_{n}[_in_ind.get()];" for t, n in arrays_in)
    output_expr = "\n".join(f"{t} &{n} = _raw_{n}[_out_ind.get()];" for t, n in outs)
    params += [f"CIndexer<{ndim}, 1> _in_ind", "CIndexer<0, 1> _out_ind",
               "const int _block_stride"]
    block = 512  # CuPy's block size for a reduction on CUDA
    return "\n".join([
        STAND_IN_HEADER, "typedef int IndexT;", f"typedef {c} T;", "",
        f"#define REDUCE(a, b) ({reduce_expr})",
        f"#define POST_MAP(a) ({post_map_expr})",
        "#define _REDUCE(_offset) if (_tid < _offset) { \\",
        "  _type_reduce _a = _sdata[_tid], _b = _sdata[(_tid + _offset)]; \\",
        "  _sdata[_tid] = REDUCE(_a, _b); \\", "}",
        "typedef T _type_reduce;",
        f'extern "C" __global__ void {d.name}({", ".join(params)}) {{',
        f"  __shared__ char _sdata_raw[{block} * sizeof(_type_reduce)];",
        "  _type_reduce *_sdata = reinterpret_cast<_type_reduce*>(_sdata_raw);",
        "  unsigned int _tid = threadIdx.x;",
        "  IndexT _J_offset = _tid >> __popc(_block_stride - 1);",
        "  ptrdiff_t _j_offset = (ptrdiff_t)_J_offset * _out_ind.size();",
        f"  IndexT _J_stride = {block} >> __popc(_block_stride - 1);",
        "  ptrdiff_t _j_stride = (ptrdiff_t)_J_stride * _out_ind.size();",
        "  for (ptrdiff_t _i_base = (ptrdiff_t)blockIdx.x * _block_stride;",
        "       _i_base < _out_ind.size(); _i_base += (ptrdiff_t)gridDim.x * _block_stride) {",
        f"    _type_reduce _s = _type_reduce({identity});",
        "    ptrdiff_t _i = _i_base + (_tid & (_block_stride - 1));",
        "    IndexT _J = _J_offset;",
        "    for (ptrdiff_t _j = _i + _j_offset; _j < _in_ind.size();",
        "         _j += _j_stride, _J += _J_stride) {",
        "      _in_ind.set(_j);",
        input_expr,
        f"      _type_reduce _a = static_cast<_type_reduce>({map_expr});",
        "      _s = REDUCE(_s, _a);", "    }",
        "    _sdata[_tid] = _s;", "    __syncthreads();",
        f"    for (unsigned int _block = {block} / 2; _block >= _block_stride; _block >>= 1) {{",
        "      if (_tid < _block) { _REDUCE(_block); }", "      __syncthreads();", "    }",
        "    if (_tid < _block_stride) { _s = _sdata[_tid]; }",
        "    if (_tid < _block_stride && _i < _out_ind.size()) {",
        "      _out_ind.set(static_cast<ptrdiff_t>(_i));",
        output_expr, "      POST_MAP(_s);", "    }", "  }", "}", ""])


# ---------------------------------------------------------------------------- NVRTC

NVRTC_WHEEL = "nvidia-cuda-nvrtc-cu12"


def wheel_expected() -> bool:
    """Whether the test extra installs the NVRTC wheel here (its marker in pyproject.toml)."""
    return platform.system() == "Linux" and platform.machine() == "x86_64"


def find_nvrtc() -> Path | None:
    """libnvrtc.so.12 from the nvidia-cuda-nvrtc-cu12 wheel, or None where it is missing."""
    try:
        spec = importlib.util.find_spec("nvidia.cuda_nvrtc")
    except ModuleNotFoundError:
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        lib = Path(folder) / "lib" / "libnvrtc.so.12"
        if lib.is_file():
            return lib
    return None


class CompileError(Exception):
    """NVRTC rejected a source; ``log`` is its message, ``lines`` its errors' line numbers."""

    def __init__(self, log: str) -> None:
        super().__init__(log)
        self.log = log
        self.lines = [int(n) for n in re.findall(r"\((\d+)\): error", log)]


class Nvrtc:
    """NVRTC through ctypes (nvrtcCreateProgram, nvrtcCompileProgram, its log)."""

    def __init__(self, lib: Path) -> None:
        self.lib = ctypes.CDLL(str(lib))
        major, minor = ctypes.c_int(), ctypes.c_int()
        self._check(self.lib.nvrtcVersion(ctypes.byref(major), ctypes.byref(minor)))
        self.version = (major.value, minor.value)

    def _check(self, status: int) -> None:
        if status != 0:
            self.lib.nvrtcGetErrorString.restype = ctypes.c_char_p
            raise RuntimeError(f"NVRTC: {self.lib.nvrtcGetErrorString(status).decode()}")

    def compile(self, source: str, filename: str, arch: str) -> None:
        """Compile ``source`` for virtual architecture ``arch`` (e.g. compute_90) with the
        options CuPy 13 gives NVRTC; raise CompileError with NVRTC's log on an error."""
        prog = ctypes.c_void_p()
        self._check(self.lib.nvrtcCreateProgram(ctypes.byref(prog), source.encode(),
                                                filename.encode(), 0, None, None))
        try:
            options = [f"--gpu-architecture={arch}".encode(), b"--std=c++17"]
            status = self.lib.nvrtcCompileProgram(
                prog, len(options), (ctypes.c_char_p * len(options))(*options))
            size = ctypes.c_size_t()
            self._check(self.lib.nvrtcGetProgramLogSize(prog, ctypes.byref(size)))
            log = ctypes.create_string_buffer(size.value)
            self._check(self.lib.nvrtcGetProgramLog(prog, log))
            if status != 0:
                raise CompileError(log.value.decode(errors="replace"))
        finally:
            self.lib.nvrtcDestroyProgram(ctypes.byref(prog))
