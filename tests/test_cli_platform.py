"""Issue 21, item 18: before the window opens, a missing system library of Qt's xcb platform
plugin is named with the packages and the one apt-get command that install it (exit 2), never
Qt's abort. The libraries are stand-ins: nothing needs to be missing on this machine."""

import stat
import sys

import pytest

from desktop_nn.cli import main
from desktop_nn.cli import platform_check as pc

X11 = {"DISPLAY": ":0"}
linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="X11 is Linux's")


def _fake_ldd(tmp_path, output: str, rc: int = 0):
    ldd = tmp_path / "ldd"
    ldd.write_text(f"#!/bin/sh\ncat <<'EOF'\n{output}\nEOF\nexit {rc}\n")
    ldd.chmod(ldd.stat().st_mode | stat.S_IEXEC)
    return str(ldd)


LDD_OUTPUT = """\
\tlinux-vdso.so.1 (0x00007ffd)
\tlibQt6XcbQpa.so.6 => /x/PySide6/Qt/lib/libQt6XcbQpa.so.6 (0x00007f)
\tlibxcb-cursor.so.0 => /lib/x86_64-linux-gnu/libxcb-cursor.so.0 (0x00007f)
\tlibxcb-icccm.so.4 => not found
\tlibxcb-keysyms.so.1 => not found
\tlibxcb-icccm.so.4 => not found
\tlibxcb-render-util.so.0 => not found"""


@linux_only
def test_missing_libraries_are_named_with_their_packages_and_one_command(tmp_path):
    plugin = tmp_path / "libqxcb.so"
    plugin.write_bytes(b"")
    problem = pc.platform_problem(X11, plugin, ldd=_fake_ldd(tmp_path, LDD_OUTPUT))
    assert problem == (
        "the window cannot open: Qt's X11 platform plugin (xcb) needs libxcb-icccm.so.4, "
        "libxcb-keysyms.so.1, libxcb-render-util.so.0, not found on this system; install "
        "them with:\n    sudo apt-get install libxcb-icccm4 libxcb-keysyms1 "
        "libxcb-render-util0")


@linux_only
def test_a_library_of_no_known_package_is_still_named(tmp_path):
    plugin = tmp_path / "libqxcb.so"
    plugin.write_bytes(b"")
    ldd = _fake_ldd(tmp_path, "\tlibfoo.so.3 => not found\n\tlibxcb-shm.so.0 => not found")
    problem = pc.platform_problem(X11, plugin, ldd=ldd)
    assert "needs libfoo.so.3, libxcb-shm.so.0" in problem
    assert problem.endswith("sudo apt-get install libxcb-shm0 (and the packages that provide "
                            "libfoo.so.3)")


@linux_only
def test_without_ldd_loading_the_plugin_names_the_first_missing_library(tmp_path, monkeypatch):
    def cdll(path):
        raise OSError("libxcb-icccm.so.4: cannot open shared object file: No such file or "
                      "directory")

    monkeypatch.setattr(pc.ctypes, "CDLL", cdll)
    plugin = tmp_path / "libqxcb.so"
    plugin.write_bytes(b"")
    problem = pc.platform_problem(X11, plugin, ldd=str(tmp_path / "no-ldd"))
    assert "needs libxcb-icccm.so.4" in problem and "apt-get install libxcb-icccm4" in problem


@linux_only
def test_nothing_missing_and_undecidable_cases_let_the_window_open(tmp_path, monkeypatch):
    plugin = tmp_path / "libqxcb.so"
    plugin.write_bytes(b"")
    ok = _fake_ldd(tmp_path, "\tlibxcb.so.1 => /lib/libxcb.so.1 (0x1)")
    assert pc.platform_problem(X11, plugin, ldd=ok) is None
    monkeypatch.setattr(pc.ctypes, "CDLL", lambda path: (_ for _ in ()).throw(
        OSError("invalid ELF header")))
    assert pc.platform_problem(X11, plugin, ldd=str(tmp_path / "no-ldd")) is None
    assert pc.platform_problem(X11, tmp_path / "absent.so") is None


@linux_only
def test_the_installed_plugin_loads_here():
    """This machine has every library (the window tests open windows): nothing to say."""
    assert pc.platform_problem(X11) is None


@linux_only
def test_no_display_is_said_before_qt_aborts(tmp_path):
    plugin = tmp_path / "libqxcb.so"
    plugin.write_bytes(b"")
    ok = _fake_ldd(tmp_path, "")
    assert "DISPLAY is not set" in pc.platform_problem({}, plugin, ldd=ok)


@pytest.mark.parametrize("environ,xcb", [
    ({}, True),
    ({"QT_QPA_PLATFORM": "xcb"}, True),
    ({"QT_QPA_PLATFORM": "offscreen"}, False),
    ({"QT_QPA_PLATFORM": "wayland;xcb"}, False),
    ({"WAYLAND_DISPLAY": "wayland-0", "XDG_SESSION_TYPE": "wayland"}, False),
    ({"WAYLAND_DISPLAY": "wayland-0", "XDG_SESSION_TYPE": "wayland",
      "QT_QPA_PLATFORM": "xcb"}, True),
])
@linux_only
def test_which_platform_qt_uses(environ, xcb):
    assert pc.uses_xcb(environ) is xcb


def test_the_app_exits_2_with_the_message_instead_of_qts_abort(monkeypatch, capsys):
    message = ("the window cannot open: Qt's X11 platform plugin (xcb) needs "
               "libxcb-icccm.so.4, not found on this system; install them with:\n"
               "    sudo apt-get install libxcb-icccm4")
    monkeypatch.setattr(pc, "platform_problem", lambda: message)
    started = []
    monkeypatch.setitem(sys.modules, "desktop_nn.gui.app",
                        type(sys)("stand-in"))  # never imported: Qt is not touched
    sys.modules["desktop_nn.gui.app"].main = lambda **kw: started.append(1) or 0
    assert main([]) == 2
    assert started == []
    assert capsys.readouterr().err == f"desktop-nn: error: {message}\n"


@linux_only
def test_the_offscreen_plugin_is_checked_too_without_a_display(tmp_path):
    plugin = tmp_path / "libqoffscreen.so"
    plugin.write_bytes(b"")
    offscreen = {"QT_QPA_PLATFORM": "offscreen"}
    assert pc.platform_problem(offscreen, plugin, ldd=_fake_ldd(tmp_path, "")) is None
    missing = _fake_ldd(tmp_path, "\tlibEGL.so.1 => not found")
    assert pc.platform_problem(offscreen, plugin, ldd=missing) == (
        "the window cannot open: Qt's platform plugin offscreen needs libEGL.so.1, not found "
        "on this system; install them with:\n    sudo apt-get install libegl1")


def test_the_self_test_checks_the_offscreen_plugin_first(monkeypatch, capsys):
    asked = []
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    monkeypatch.setattr(pc, "platform_problem",
                        lambda environ: asked.append(environ["QT_QPA_PLATFORM"]) or "no EGL")
    assert main(["--self-test"]) == 2
    assert asked == ["offscreen"]
    assert capsys.readouterr().err == "desktop-nn: error: no EGL\n"
