#!/usr/bin/env bash
# benchmarks/gpu_check.sh: every GPU check of issue 24 in one call, on a machine with an NVIDIA
# GPU, in under 8 minutes (each step has its own time limit, and all of them together fit in
# GPU_CHECK_BUDGET_S, default 450 s), writing everything into $OUT (default ./gpu-check-out).
#
#   1. env       the GPU, driver, Python, CuPy, PyTorch                      -> env.txt
#   2. pytest    pytest -m gpu: the fused kernels against the reference, the deferred NaN
#                check against a checked run, a streamed run against a resident one and one
#                over a forced small device budget, a run set aside and resumed, the fall back
#                to the CPU when the GPU really runs out of memory, the device shuffle against
#                NumPy's; the gradcheck grid on CuPy runs last, in the time left
#                                                   -> pytest.log, pytest.xml, gradcheck.xml
#   3. bench     desktop-nn bench --device gpu --workload all --repeats 5 --json
#                                                                     -> bench.json, bench.log
#   4. window    the window, offscreen, trains the bundled sample for 3 epochs on the GPU
#                (benchmarks/gpu_window.py)                                -> window.log
#   then a summary, one line per GPU path and per step                    -> summary.txt
#
# Exit 0 when every step passed. Without a GPU (here: CI, a laptop) the GPU steps report
# "skipped: no GPU" and the script still exits 0, so it can be tried anywhere; on a machine
# with a GPU a skipped GPU test is a failure.
#
# The plan, for the lent device machine of this workplace (/work/.library/device/README.md):
# it reaches nothing outside (no PyPI), and everything it needs travels with the working tree
# (64 MiB at most) or is already in its image. Its python3 (3.12, /opt/torch/.venv) holds
# PyTorch with CUDA (the bench's reference), CuPy (cupy-cuda13x: the app needs only `cupy`),
# NumPy, Pillow, pytest and hypothesis; PySide6, pyqtgraph and platformdirs are missing, and
# PySide6-Essentials' wheel alone is 80 MB. So:
#   here, once, with the network:  benchmarks/gpu_check.sh --prepare
#       writes .gpu-carry/ (git-ignored, about 31 MB): the wheels of pyqtgraph (and its
#       colorama), platformdirs and shiboken6, PySide6 without the Qt modules the app does
#       not use (QML, Quick, Designer, Wayland, translations, ...) as one .tar.xz (26 MB), and
#       the .debs of the few system
#       libraries Qt's offscreen platform loads, unpacked on the device under /tmp only when
#       missing there (never into /);
#   there, in one device call:     run(command="benchmarks/gpu_check.sh", carry=[".gpu-carry"],
#                                      timeout_s=540)
#       runs the image's python3 itself (a virtual environment made from it would not see its
#       packages: python3 is one already), installs the carried wheels with --no-index into
#       /tmp/desktop-nn-gpu-site, put on PYTHONPATH with the working tree, and runs the project
#       from the working tree (`python -m desktop_nn`): nothing is downloaded.
# On any other GPU machine that reaches PyPI, no --prepare is needed: without .gpu-carry/ the
# script installs '.[gpu,test,bench]' (CuPy for CUDA 12 with its CUDA wheels; PyTorch's Linux
# wheels on PyPI are CUDA builds) into a new virtual environment, GPU_CHECK_VENV.
#
# Options: --prepare (see above), --dry-run (print the plan and the commands, run nothing).
# Environment: OUT, GPU_CHECK_BUDGET_S, GPU_CHECK_PYTHON (the python that runs the checks, or
# makes the virtual environment GPU_CHECK_VENV), GPU_CHECK_SKIP_SETUP=1 (run GPU_CHECK_PYTHON
# as it is, e.g. an existing development environment's).
# What cannot be checked without a GPU: that the steps pass there; the script's flow, its
# offline set-up and its skipping are checked here (tests/test_gpu_check_script.py).
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
CARRY=$ROOT/.gpu-carry
OUT=${OUT:-$ROOT/gpu-check-out}
BUDGET=${GPU_CHECK_BUDGET_S:-450}
VENV=${GPU_CHECK_VENV:-/tmp/desktop-nn-gpu-venv}
SITE=/tmp/desktop-nn-gpu-site
PYTHON=${GPU_CHECK_PYTHON:-python3}
START=$(date +%s)
DRY=0

prepare() {
  # Everything the device machine lacks, into .gpu-carry/ (run where PyPI and apt work).
  set -e
  local pyver="--python-version 3.12 --implementation cp --only-binary=:all: --no-deps"
  local plats="--platform manylinux_2_34_x86_64 --platform manylinux_2_28_x86_64"
  plats="$plats --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64"
  rm -rf "$CARRY" && mkdir -p "$CARRY/wheels" "$CARRY/debs"
  local tmp; tmp=$(mktemp -d)
  # the versions this project's tests run with (pyproject.toml allows PySide6 < 6.12)
  python3 -m pip download -q $pyver $plats -d "$CARRY/wheels" "shiboken6==6.11.3" \
    "pyqtgraph==0.14.0" "colorama==0.4.6" "platformdirs==4.14.9"
  python3 -m pip download -q $pyver $plats -d "$tmp" "PySide6-Essentials==6.11.3"
  (cd "$tmp" && python3 -m zipfile -e pyside6_essentials-*.whl site)
  local qt="$tmp/site/PySide6"
  # the app imports QtCore, QtGui and QtWidgets (pyqtgraph may ask for QtOpenGL, QtSvg)
  rm -rf "$qt/Qt/qml" "$qt/Qt/translations" "$qt/Qt/metatypes" "$qt/Qt/libexec" \
    "$qt/Qt/plugins/designer" "$qt/Qt/plugins/qmltooling" "$qt/Qt/plugins/qmllint" \
    "$qt/Qt/plugins/"wayland* "$qt/Qt/plugins/sqldrivers" "$qt/include" "$qt/typesystems" \
    "$qt/glue" "$qt/scripts"
  rm -f "$qt/Qt/lib/"libQt6{Quick,Qml,Designer,Wayland,LabsStyleKit,Sql,Help,UiTools}* \
    "$qt/"{QtQml,QtQuick,QtQuickControls2,QtQuickTest,QtQuickWidgets,QtDesigner,QtHelp}.* \
    "$qt/"{QtSql,QtUiTools,QtConcurrent,QtXml}.* "$qt/"{designer,linguist,assistant} \
    "$qt/"{lrelease,lupdate,qmlformat,qmllint,qmlls,qmlcachegen,qmltyperegistrar} \
    "$qt/"{rcc,uic,balsam,balsamui,svgtoqml,qsb,androiddeployqt} 2>/dev/null || true
  (cd "$tmp/site" && tar -cJf "$CARRY/pyside6.tar.xz" PySide6 pyside6_essentials-*.dist-info)
  rm -rf "$tmp"
  # Qt's offscreen platform loads these (.ci/run installs the same ones)
  if command -v apt-get >/dev/null; then
    local lists=/tmp/gpu-check-apt-lists
    local o="-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=$lists"
    mkdir -p "$lists/partial"
    apt-get $o update -qq >/dev/null
    (cd "$CARRY/debs" && apt-get $o download -qq libxkbcommon0 libfontconfig1 libdbus-1-3 \
      libglib2.0-0 libegl1 libgl1 libglvnd0 libglx0 libopengl0 libfreetype6 libpng16-16 \
      libexpat1 >/dev/null) || echo "some .debs could not be fetched" >&2
  fi
  du -sh "$CARRY"
  echo "carry it: run(command=\"benchmarks/gpu_check.sh\", carry=[\".gpu-carry\"])"
}

remaining() { echo $(( BUDGET - ($(date +%s) - START) )); }

# step NAME MAX_S COMMAND...: run COMMAND with a limit of MAX_S seconds, or what is left of
# the budget (less 20 s for the rest), log into $OUT/NAME.log (or $OUT/$LOG.log), record the
# exit status
declare -A STATUS
step() {
  local name=$1 max=$2 log=$OUT/${LOG:-$1}.log; shift 2
  local left; left=$(( $(remaining) - 20 ))
  local limit=$(( max < left ? max : left ))
  if (( DRY )); then echo "[dry-run] $name (at most ${max}s): $*"; STATUS[$name]=dry; return; fi
  if (( limit < 10 )); then
    echo "== $name: no time left" | tee -a "$log"; STATUS[$name]=124; return
  fi
  echo "== $name (at most ${limit}s): $*"
  local t0; t0=$(date +%s)
  timeout --kill-after=10 "$limit" "$@" >>"$log" 2>&1
  STATUS[$name]=$?
  echo "   exit ${STATUS[$name]} after $(( $(date +%s) - t0 ))s"
}

# The python that runs the checks (PY), with what they import: the carried wheels beside the
# image's packages, or a virtual environment from PyPI.
PY=$PYTHON
setup_python() {
  if [ -n "${GPU_CHECK_SKIP_SETUP:-}" ]; then
    echo "set-up skipped: $PYTHON as it is (GPU_CHECK_SKIP_SETUP)"
  elif [ -d "$CARRY/wheels" ]; then
    rm -rf "$SITE"
    "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --target "$SITE" \
      "$CARRY"/wheels/*.whl || return 1
    if [ -f "$CARRY/pyside6.tar.xz" ]; then
      tar -xJf "$CARRY/pyside6.tar.xz" -C "$SITE" || return 1
    fi
    export PYTHONPATH=$ROOT:$SITE
    local libs=/tmp/desktop-nn-gpu-libs
    for deb in "$CARRY"/debs/*.deb; do
      [ -e "$deb" ] || continue
      local so; so=$(dpkg-deb -c "$deb" | grep -oE '[^/]+\.so\.[0-9]+$' | head -1)
      # a library the system lacks is unpacked beside, never into /
      if [ -n "$so" ] && ! ldconfig -p | grep -q "$so"; then
        dpkg-deb -x "$deb" "$libs" && echo "unpacked $(basename "$deb") (no $so here)"
      fi
    done
    local dirs="$libs/usr/lib/x86_64-linux-gnu:$libs/lib/x86_64-linux-gnu"
    [ -d "$libs" ] && export LD_LIBRARY_PATH="$dirs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  else
    "$PYTHON" -m venv "$VENV" || return 1
    "$VENV/bin/python" -m pip install -q "$ROOT[gpu,test,bench]" || return 1
      fi
  return 0
}

for arg in "$@"; do
  case $arg in
    --prepare) prepare; exit $? ;;
    --dry-run) DRY=1 ;;
    -h|--help) sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "gpu_check.sh: unknown option $arg (--prepare, --dry-run, --help)" >&2; exit 2 ;;
  esac
done

if (( ! DRY )); then mkdir -p "$OUT" && : >"$OUT/env.txt"; fi
export PYTHONPATH=$ROOT PYTHONUNBUFFERED=1 QT_QPA_PLATFORM=offscreen
export MPLBACKEND=Agg DESKTOP_NN_CACHE_DIR=/tmp/desktop-nn-gpu-cache

if (( DRY )); then
  echo "[dry-run] set-up: $([ -d "$CARRY/wheels" ] && echo "$PYTHON with the carried" \
    "wheels of .gpu-carry/ in $SITE" || echo "a virtual environment at $VENV with" \
    "'.[gpu,test,bench]' from PyPI")"
else
  echo "== set-up"
  { setup_python; echo "set-up exit $?"; } >>"$OUT/env.txt" 2>&1
fi

GPU=0
if (( ! DRY )); then
  {
    echo "== machine"; nvidia-smi 2>&1 | head -15 || echo "no nvidia-smi"
    "$PY" - <<'EOF'
import platform, sys
print("python", sys.version.split()[0], platform.machine())
for name in ("numpy", "cupy", "torch", "PySide6", "pyqtgraph"):
    try:
        module = __import__(name)
        print(name, getattr(module, "__version__", "?"))
    except Exception as exc:  # a missing one is said, and the steps that need it fail
        print(name, "missing:", type(exc).__name__, exc)
from desktop_nn.backend import select_backend
print("desktop-nn device:", select_backend("auto").label)
EOF
  } >>"$OUT/env.txt" 2>&1
  "$PY" -c "from desktop_nn.backend import gpu_available as g; raise SystemExit(0 if g() else 1)" \
    2>/dev/null && GPU=1
  echo "GPU: $([ $GPU = 1 ] && echo yes || echo "none: the GPU steps will say skipped")"
fi

# 2. pytest -m gpu, but the gradcheck grid, which runs last with the time left (tests/gui
# holds no gpu test, and needs pytest-qt, which is not carried)
GRID=tests/test_nn_gradcheck.py::test_gradcheck_passes_on_the_gpu
step pytest 150 "$PY" -m pytest -m gpu -q -rs -p no:cacheprovider tests --ignore=tests/gui \
  --deselect "$GRID" --junitxml="$OUT/pytest.xml"
# 3. the bench
if (( GPU || DRY )); then
  step bench 180 bash -c "\"$PY\" -m desktop_nn bench --device gpu --workload all --repeats 5 \
--json >\"$OUT/bench.json\""
else
  STATUS[bench]=nogpu
fi
# 4. the window, trained on the GPU
step window 75 "$PY" benchmarks/gpu_window.py --epochs 3 $( (( GPU )) || echo --allow-cpu)
# 2b. the gradcheck grid on CuPy (its log goes on in pytest.log)
LOG=pytest step gradcheck 150 "$PY" -m pytest -q -rs -p no:cacheprovider "$GRID" \
  --junitxml="$OUT/gradcheck.xml"

(( DRY )) && exit 0
"$PY" benchmarks/gpu_check_summary.py "$OUT" "$GPU" "${STATUS[pytest]}" "${STATUS[bench]}" \
  "${STATUS[window]}" "${STATUS[gradcheck]}" | tee "$OUT/summary.txt"
exit "${PIPESTATUS[0]}"
