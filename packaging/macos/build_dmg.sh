#!/usr/bin/env bash
# macOS: desktop-nn.app (PyInstaller BUNDLE in packaging/desktop-nn.spec) and a .dmg.
# Run on a Mac from the repository root:
#     packaging/macos/build_dmg.sh      -> build/dist/desktop-nn.app, build/desktop-nn-VERSION.dmg
# Unsigned: to run it elsewhere, sign and notarise it (codesign --deep -s "Developer ID
# Application: ..." then xcrun notarytool submit ... --wait; xcrun stapler staple).
set -euo pipefail
cd "$(dirname "$0")/../.."
python3 -m venv build/venv
build/venv/bin/pip install -q . 'pyinstaller>=6.10,<7'
build/venv/bin/pyinstaller --noconfirm --distpath build/dist --workpath build/work \
  packaging/desktop-nn.spec
version=$(build/venv/bin/python -c "import desktop_nn; print(desktop_nn.__version__)")
build/dist/desktop-nn.app/Contents/MacOS/desktop-nn --self-test
hdiutil create -volname desktop-nn -srcfolder build/dist/desktop-nn.app -ov -format UDZO \
  "build/desktop-nn-$version.dmg"
