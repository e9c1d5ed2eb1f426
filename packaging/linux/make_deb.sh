#!/usr/bin/env bash
# Make a .deb from the PyInstaller bundle: the app under /opt/desktop-nn, a `desktop-nn`
# launcher on PATH, a menu entry and its icon.
#
#     packaging/linux/make_deb.sh BUNDLE_DIR VERSION OUT_DIR
set -euo pipefail
bundle=$1
version=$2
out=$3
here=$(cd "$(dirname "$0")" && pwd)
arch=$(dpkg --print-architecture)
root="$out/deb/desktop-nn_${version}_${arch}"

rm -rf "$root"
mkdir -p "$root/DEBIAN" "$root/opt" "$root/usr/bin" "$root/usr/share/applications" \
  "$root/usr/share/icons/hicolor/256x256/apps"
cp -a "$bundle" "$root/opt/desktop-nn"
install -m 755 "$here/desktop-nn.sh" "$root/usr/bin/desktop-nn"
install -m 644 "$here/desktop-nn.desktop" "$root/usr/share/applications/desktop-nn.desktop"
install -m 644 "$bundle/_internal/desktop_nn/resources/icon.png" \
  "$root/usr/share/icons/hicolor/256x256/apps/desktop-nn.png"
chmod -R u+rwX,go+rX,go-w "$root"

size_kb=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s/@SIZE@/$size_kb/" \
  "$here/control.in" > "$root/DEBIAN/control"

deb="$out/desktop-nn_${version}_${arch}.deb"
# gzip: xz would take a minute longer on 2 cores for a few MB less
dpkg-deb --root-owner-group -Zgzip -z6 --build "$root" "$deb" >/dev/null
echo "deb: $deb ($(du -h "$deb" | cut -f1))"
