"""The packaging files are well formed (the build itself is packaging/smoke.sh, run by CI)."""

from __future__ import annotations

import configparser
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = ["packaging/build.sh", "packaging/smoke.sh", "packaging/linux/make_deb.sh",
           "packaging/linux/desktop-nn.sh", "packaging/macos/build_dmg.sh"]


@pytest.mark.parametrize("script", SCRIPTS)
def test_shell_scripts_parse_and_are_executable(script):
    path = ROOT / script
    assert path.stat().st_mode & 0o111, f"{script} is not executable"
    subprocess.run(["bash", "-n", str(path)], check=True)


def test_desktop_entry_has_what_menus_need():
    entry = configparser.ConfigParser(interpolation=None)
    entry.optionxform = str  # keys are case-sensitive
    entry.read(ROOT / "packaging/linux/desktop-nn.desktop", encoding="utf-8")
    e = entry["Desktop Entry"]
    assert e["Type"] == "Application" and e["Exec"] == "desktop-nn"
    assert e["Icon"] == "desktop-nn" and e["Terminal"] == "false"
    assert e["Categories"].endswith(";")


def test_deb_control_template_is_complete():
    text = (ROOT / "packaging/linux/control.in").read_text()
    fields = dict(line.split(": ", 1) for line in text.splitlines()
                  if line and not line.startswith(" "))
    for key in ("Package", "Version", "Architecture", "Maintainer", "Depends", "Description",
                "Installed-Size"):
        assert key in fields, key
    assert fields["Version"] == "@VERSION@" and "libxcb-cursor0" in fields["Depends"]


def test_the_icon_and_sample_ship_inside_the_package():
    from importlib import resources

    base = resources.files("desktop_nn") / "resources"
    assert (base / "icon.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (base / "samples" / "digits" / "train").is_dir()


def test_the_deb_depends_on_every_library_the_readme_lists_for_the_window():
    """README.md's apt-get line (the libraries Qt's xcb plugin needs) and the .deb's Depends
    name the same packages, so the installed app never lacks one the README names."""
    import re

    readme = (ROOT / "README.md").read_text()
    block = readme[readme.index("sudo apt-get install libegl1"):]
    block = block[:block.index("\n\n")]
    listed = set(re.findall(r"\blib[\w.+-]+", block.replace("\\", " ")))
    control = (ROOT / "packaging/linux/control.in").read_text()
    depends = next(line for line in control.splitlines() if line.startswith("Depends: "))
    packages = {p.split()[0] for p in depends.removeprefix("Depends: ").split(", ")}
    assert listed and listed <= packages, sorted(listed - packages)
