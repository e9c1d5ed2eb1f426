#!/usr/bin/env bash
# Smoke test of the installer: build the bundle and the .deb from a clean venv, unpack the
# .deb into a temporary root (dpkg -x: no root needed, nothing installed on this machine),
# check its layout, and run the installed app's self-test. Prints the time and the sizes.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
export BUILD_DIR=${BUILD_DIR:-build/package}
packaging/build.sh

deb=$(ls "$BUILD_DIR"/desktop-nn_*.deb)
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
dpkg -x "$deb" "$root"
for f in usr/bin/desktop-nn opt/desktop-nn/desktop-nn usr/share/applications/desktop-nn.desktop \
    usr/share/icons/hicolor/256x256/apps/desktop-nn.png; do
  [ -e "$root/$f" ] || { echo "smoke: $f missing from the .deb" >&2; exit 1; }
done
grep -q '^exec /opt/desktop-nn/desktop-nn "\$@"' "$root/usr/bin/desktop-nn" \
  || { echo "smoke: the launcher does not start /opt/desktop-nn/desktop-nn" >&2; exit 1; }
if command -v desktop-file-validate >/dev/null 2>&1; then
  desktop-file-validate "$root/usr/share/applications/desktop-nn.desktop"
fi
# (no `| grep -q` here: with pipefail, grep quitting early would fail the pipe with SIGPIPE)
[ "$(dpkg-deb --field "$deb" Package)" = desktop-nn ] \
  || { echo "smoke: the .deb is not the desktop-nn package" >&2; exit 1; }

# the installed app, as the launcher runs it (from its unpacked place)
if ! report=$(QT_QPA_PLATFORM=offscreen timeout 600 "$root/opt/desktop-nn/desktop-nn" --self-test \
    2>"$root/self-test.err"); then
  cat "$root/self-test.err" >&2
  echo "smoke: the installed app's self-test failed" >&2
  exit 1
fi
echo "$report"

unpacked=$(du -sh "$root/opt/desktop-nn" | cut -f1)
echo "smoke: passed in $(( $(date +%s) - start )) s; .deb $(du -h "$deb" | cut -f1)," \
  "installed app $unpacked unpacked"
