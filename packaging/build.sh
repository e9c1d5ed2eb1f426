#!/usr/bin/env bash
# Build desktop-nn as a one-folder app (PyInstaller) and, on Linux, a .deb, from a clean venv.
#
#     packaging/build.sh                 # -> build/package/dist/desktop-nn/, build/package/*.deb
#     EXTRA='cupy-cuda12x' packaging/build.sh   # a GPU build: CuPy is bundled when installed
#
# BUILD_DIR (default build/package) and PYTHON (default python3) can be set.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build/package}
PYTHON=${PYTHON:-python3}

rm -rf "$BUILD_DIR"
mkdir -p "$BUILD_DIR"
"$PYTHON" -m venv "$BUILD_DIR/venv"
# shellcheck disable=SC2086  # EXTRA is a list of requirements
"$BUILD_DIR/venv/bin/pip" install -q . 'pyinstaller>=6.10,<7' ${EXTRA:-}
"$BUILD_DIR/venv/bin/pyinstaller" --noconfirm --log-level ERROR \
  --distpath "$BUILD_DIR/dist" --workpath "$BUILD_DIR/work" packaging/desktop-nn.spec
echo "bundle: $BUILD_DIR/dist/desktop-nn ($(du -sh "$BUILD_DIR/dist/desktop-nn" | cut -f1))"

if [ "$(uname -s)" = Linux ] && command -v dpkg-deb >/dev/null 2>&1; then
  version=$("$BUILD_DIR/venv/bin/python" -c "import desktop_nn; print(desktop_nn.__version__)")
  packaging/linux/make_deb.sh "$BUILD_DIR/dist/desktop-nn" "$version" "$BUILD_DIR"
fi
