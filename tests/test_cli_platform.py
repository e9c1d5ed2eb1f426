"""Issue 21, item 18: before the window opens, a missing system library of Qt's xcb platform
plugin is named with the packages and the one apt-get command that install it (exit 2), never
Qt's abort. The libraries are stand-ins: nothing needs to be missing on this machine."""

import stat
import sys
from pathlib import Path

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
    assert pc.platform_problem(X11, plugin, ldd=ok, reach=lambda display: None) is None
    monkeypatch.setattr(pc.ctypes, "CDLL", lambda path: (_ for _ in ()).throw(
        OSError("invalid ELF header")))
    assert pc.platform_problem(X11, plugin, ldd=str(tmp_path / "no-ldd"),
                               reach=lambda display: None) is None
    assert pc.platform_problem(X11, tmp_path / "absent.so") is None


@linux_only
def test_the_installed_plugin_loads_here():
    """This machine has every library (the window tests open windows): nothing to say."""
    assert pc.platform_problem(X11, reach=lambda display: None) is None


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


# ------------------------------------------------------------- issue 21 re-test, finding 22
@linux_only
def test_a_library_there_but_broken_is_named_with_the_reinstall_command(tmp_path):
    """An empty or damaged file where a library should be: ldd (and Qt) fail to load it;
    Qt would abort, the app says which file and how to reinstall it."""
    plugin = tmp_path / "libqxcb.so"
    plugin.write_bytes(b"")
    ldd = _fake_ldd(tmp_path, f"{plugin}: error while loading shared libraries: "
                    "/lib/x86_64-linux-gnu/libxcb-icccm.so.4: file too short", rc=1)
    problem = pc.platform_problem(X11, plugin, ldd=ldd, reach=lambda display: None)
    assert problem == (
        "the window cannot open: Qt's X11 platform plugin (xcb) needs "
        "/lib/x86_64-linux-gnu/libxcb-icccm.so.4, which cannot be loaded (file too short); "
        "reinstall it:\n    sudo apt-get install --reinstall libxcb-icccm4")


@linux_only
def test_a_broken_library_is_found_by_loading_without_ldd(tmp_path, monkeypatch):
    plugin = tmp_path / "libqoffscreen.so"
    plugin.write_bytes(b"")

    def damaged(path):
        raise OSError("/lib/x86_64-linux-gnu/libEGL.so.1: file too short")

    monkeypatch.setattr(pc.ctypes, "CDLL", damaged)
    problem = pc.platform_problem({"QT_QPA_PLATFORM": "offscreen"}, plugin,
                                  ldd=str(tmp_path / "no-ldd"))
    assert "needs /lib/x86_64-linux-gnu/libEGL.so.1, which cannot be loaded (file too short)" \
        in problem and "--reinstall libegl1" in problem


@linux_only
def test_a_display_where_no_x_server_answers_is_said_before_qt_aborts(tmp_path):
    """DISPLAY names a display nobody serves: asked through libxcb, as Qt would ask."""
    plugin = tmp_path / "libqxcb.so"
    plugin.write_bytes(b"")
    ok = _fake_ldd(tmp_path, "")
    asked = []
    assert pc.platform_problem({"DISPLAY": ":7"}, plugin, ldd=ok,
                               reach=lambda d: asked.append(d) or "none there") == "none there"
    assert asked == [":7"]
    unused = next(f":{n}" for n in range(5791, 5891)
                  if not Path(f"/tmp/.X11-unix/X{n}").exists())
    problem = pc.display_problem(unused)
    if problem is None:  # no libxcb to ask: the check cannot tell (and says nothing)
        pytest.skip("libxcb.so.1 cannot be loaded here")
    assert problem.startswith(f"the window cannot open: no X11 display answers at "
                              f"DISPLAY={unused} (no X server runs there")


def test_a_qt_library_that_fails_to_load_on_import_is_one_line(monkeypatch, capsys):
    """The last guard (no ldd, say): Qt's ImportError for a system library is a message."""
    monkeypatch.setattr(pc, "platform_problem", lambda: None)
    stand_in = type(sys)("stand-in")

    def broken(name):
        raise ImportError("/lib/x86_64-linux-gnu/libEGL.so.1: file too short")

    stand_in.__getattr__ = broken
    monkeypatch.setitem(sys.modules, "desktop_nn.gui.app", stand_in)
    assert main([]) == 2
    assert capsys.readouterr().err == (
        "desktop-nn: error: the window cannot open: a library Qt needs cannot be loaded: "
        "/lib/x86_64-linux-gnu/libEGL.so.1: file too short\n")


def test_the_window_is_imported_where_the_installer_sees_it():
    """PyInstaller bundles the modules it finds in import statements: the window and the
    self-test must be imported by name (an ``__import__`` call left them out of the bundle)."""
    import ast
    import inspect

    import desktop_nn.cli as cli

    tree = ast.parse(inspect.getsource(cli))
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert {"desktop_nn.gui.app", "desktop_nn.gui.selftest"} <= imported
    calls = [node for node in ast.walk(tree) if isinstance(node, ast.Call)
             and isinstance(node.func, ast.Name) and node.func.id == "__import__"]
    assert calls == []


@linux_only
def test_a_platform_qt_does_not_have_is_said_before_qt_aborts(monkeypatch, capsys):
    """QT_QPA_PLATFORM=nonesuch made Qt abort (rc 134); the plugins it has are listed."""
    monkeypatch.setattr(pc, "available_platforms", lambda: ["offscreen", "wayland", "xcb"])
    problem = pc.platform_problem({"QT_QPA_PLATFORM": "nonesuch"})
    assert problem == ("the window cannot open: QT_QPA_PLATFORM=nonesuch names no platform "
                       "plugin of this Qt; it has offscreen, wayland, xcb (unset "
                       "QT_QPA_PLATFORM to let Qt choose)")
    for fine in ("wayland", "wayland-egl", "offscreen"):
        assert pc.unknown_platform(fine) is None
    monkeypatch.setenv("QT_QPA_PLATFORM", "nonesuch")
    assert main(["--self-test"]) == 2
    assert capsys.readouterr().err == f"desktop-nn: error: {problem}\n"


@linux_only
def test_the_installed_qt_has_its_usual_plugins():
    # the core's no-Qt step has no PySide6; the README's test command (with Qt) runs this
    pytest.importorskip("PySide6", reason="PySide6 is not installed (the core's no-Qt run)")
    assert {"offscreen", "xcb"} <= set(pc.available_platforms())
