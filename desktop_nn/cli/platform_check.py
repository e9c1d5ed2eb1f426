"""Before the window opens on Linux: can Qt's X11 platform plugin (xcb) load here? (Or the
offscreen one, for ``--self-test``.)

Qt aborts with "Could not load the Qt platform plugin xcb" when a system library the plugin
needs is missing, and names one that may well be installed (libxcb-cursor0). This check asks
``ldd`` which libraries of ``PySide6/Qt/plugins/platforms/libqxcb.so`` (and of the Qt libraries
it loads) cannot be found, before any Qt module that needs them is imported, and says which
Debian / Ubuntu packages provide them and the one ``apt-get install`` that installs them all.
Where ``ldd`` is not there, loading the plugin with ``ctypes`` names the first one missing.
Nothing here imports Qt.
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import re
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping
from pathlib import Path

# What the xcb plugin and the Qt libraries under it need (ldd on PySide6 6.11's libqxcb.so on
# Debian 12), with the Debian / Ubuntu package of each. README.md lists the same packages.
XCB_PACKAGES = {
    "libEGL.so.1": "libegl1",
    "libGL.so.1": "libgl1",
    "libGLX.so.0": "libglx0",
    "libGLdispatch.so.0": "libglvnd0",
    "libfontconfig.so.1": "libfontconfig1",
    "libfreetype.so.6": "libfreetype6",
    "libpng16.so.16": "libpng16-16",
    "libbrotlidec.so.1": "libbrotli1",
    "libbrotlicommon.so.1": "libbrotli1",
    "libexpat.so.1": "libexpat1",
    "libglib-2.0.so.0": "libglib2.0-0",
    "libgthread-2.0.so.0": "libglib2.0-0",
    "libpcre2-8.so.0": "libpcre2-8-0",
    "libdbus-1.so.3": "libdbus-1-3",
    "libX11.so.6": "libx11-6",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libXau.so.6": "libxau6",
    "libXdmcp.so.6": "libxdmcp6",
    "libbsd.so.0": "libbsd0",
    "libmd.so.0": "libmd0",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libxcb.so.1": "libxcb1",
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-render.so.0": "libxcb-render0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-util.so.1": "libxcb-util1",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
}

_NOT_FOUND = re.compile(r"^\s*(\S+)\s+=>\s+not found", re.MULTILINE)
_CANNOT_OPEN = re.compile(r"(\S+\.so[.\d]*): cannot open shared object file")
# a library that is there but cannot be loaded (an empty or damaged file, a wrong architecture)
_BROKEN = re.compile(r"(/\S+\.so[.\d]*): (?!cannot open shared object file)([^\n]+)")
_LDD_BROKEN = re.compile(r"error while loading shared libraries: " + _BROKEN.pattern)
DISPLAY_TIMEOUT_S = 10.0


def platform_plugin(name: str = "xcb") -> Path | None:
    """The platform plugin ``name`` of the installed PySide6, without importing Qt."""
    spec = importlib.util.find_spec("PySide6")
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        plugin = Path(folder) / "Qt" / "plugins" / "platforms" / f"libq{name}.so"
        if plugin.is_file():
            return plugin
    return None


def _ldd(plugin: Path, ldd: str) -> str | None:
    """What ``ldd plugin`` says (stdout and stderr), or None when it cannot be run."""
    try:
        done = subprocess.run([ldd, str(plugin)], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{done.stdout}\n{done.stderr}" if done.returncode != 0 or done.stderr \
        else done.stdout


def missing_libraries(plugin: Path, ldd: str = "ldd") -> list[str] | None:
    """The shared libraries ``plugin`` needs, directly or through another, that cannot be
    found: [] when all are there, None when it cannot be told."""
    said = _ldd(plugin, ldd)
    if said is None or (not _NOT_FOUND.search(said) and _LDD_BROKEN.search(said)):
        return _missing_by_loading(plugin)
    return sorted(set(_NOT_FOUND.findall(said)))


def broken_library(plugin: Path, ldd: str = "ldd") -> tuple[str, str] | None:
    """(path, reason) of a library ``plugin`` needs that is there but cannot be loaded (an
    empty or damaged file: Qt would abort on it), or None."""
    said = _ldd(plugin, ldd)
    if said is None:
        try:
            ctypes.CDLL(str(plugin))
        except OSError as exc:
            said = str(exc)
        else:
            return None
    found = _LDD_BROKEN.search(said) or _BROKEN.match(said)
    if found is None or Path(found.group(1)).name == plugin.name:
        return None  # the plugin itself unreadable: Qt has other ways; nothing sure to say
    return found.group(1), found.group(2).strip()


def _missing_by_loading(plugin: Path) -> list[str] | None:
    try:
        ctypes.CDLL(str(plugin))
    except OSError as exc:
        found = _CANNOT_OPEN.search(str(exc))
        return [found.group(1)] if found else None
    return []


def display_problem(display: str) -> str | None:
    """Why no X server can be reached at ``display`` (nothing listens there, or it refuses
    this client), asked through libxcb as Qt will ask; None when it answers or when this
    cannot be told (no libxcb to ask, or no answer within DISPLAY_TIMEOUT_S)."""
    try:
        xcb = ctypes.CDLL("libxcb.so.1")
    except OSError:
        return None
    xcb.xcb_connect.restype = ctypes.c_void_p
    xcb.xcb_connect.argtypes = [ctypes.c_char_p, ctypes.POINTER(ctypes.c_int)]
    xcb.xcb_connection_has_error.argtypes = [ctypes.c_void_p]
    xcb.xcb_disconnect.argtypes = [ctypes.c_void_p]
    answer: list[int] = []

    def ask() -> None:
        connection = xcb.xcb_connect(os.fsencode(display), None)
        answer.append(xcb.xcb_connection_has_error(connection))
        xcb.xcb_disconnect(connection)

    # a remote display may take a TCP timeout to fail: never hold the start-up longer
    asking = threading.Thread(target=ask, daemon=True)
    asking.start()
    asking.join(DISPLAY_TIMEOUT_S)
    if not answer or answer[0] == 0:
        return None
    return (f"the window cannot open: no X11 display answers at DISPLAY={display} (no X server "
            f"runs there, or it refused this program: check DISPLAY and XAUTHORITY); start it "
            f"in a desktop session, or check it without one with desktop-nn --self-test")


def available_platforms() -> list[str] | None:
    """The platform plugins the installed PySide6 has (xcb, offscreen, wayland, ...), or None
    when they cannot be listed."""
    plugin = platform_plugin("offscreen") or platform_plugin("xcb")
    if plugin is None:
        return None
    try:
        names = [p.name for p in plugin.parent.iterdir()]
    except OSError:
        return None
    return sorted(n[len("libq"):-len(".so")] for n in names
                  if n.startswith("libq") and n.endswith(".so"))


def unknown_platform(name: str | None) -> str | None:
    """Why Qt would abort on ``QT_QPA_PLATFORM`` naming a plugin it does not have, or None."""
    if name is None:
        return None
    available = available_platforms()
    # one plugin can answer to several keys (wayland: wayland-egl, wayland-brcm)
    if not available or any(name == a or name.startswith(f"{a}-") for a in available):
        return None
    return (f"the window cannot open: QT_QPA_PLATFORM={name} names no platform plugin of "
            f"this Qt; it has {', '.join(available)} (unset QT_QPA_PLATFORM to let Qt "
            f"choose)")


def qt_platform(environ: Mapping[str, str]) -> str | None:
    """The platform plugin Qt will use here (xcb, offscreen, wayland, ...); None off Linux."""
    if not sys.platform.startswith("linux"):
        return None
    chosen = environ.get("QT_QPA_PLATFORM", "").split(";")[0].split(":")[0].strip().lower()
    if chosen:
        return chosen
    # not chosen: Qt takes Wayland in a Wayland session, X11 otherwise
    wayland = environ.get("WAYLAND_DISPLAY") and \
        environ.get("XDG_SESSION_TYPE", "").lower() == "wayland"
    return "wayland" if wayland else "xcb"


def uses_xcb(environ: Mapping[str, str]) -> bool:
    """Whether Qt will open its windows through the xcb plugin here."""
    return qt_platform(environ) == "xcb"


def platform_problem(environ: Mapping[str, str] | None = None, plugin: Path | None = None,
                     ldd: str = "ldd",
                     reach: Callable[[str], str | None] = display_problem) -> str | None:
    """Why the window cannot open here (the libraries missing, and the command that installs
    them; a library there but broken; no display, or none answering: ``reach`` asks), or None
    when it can, or when this cannot be told."""
    environ = os.environ if environ is None else environ
    name = qt_platform(environ)
    unknown = unknown_platform(name)
    if unknown is not None:
        return unknown
    if name not in ("xcb", "offscreen"):
        return None
    plugin = plugin if plugin is not None else platform_plugin(name)
    if plugin is None:
        return None
    which = "X11 platform plugin (xcb)" if name == "xcb" else f"platform plugin {name}"
    missing = missing_libraries(plugin, ldd) or []
    if missing:
        packages = sorted({XCB_PACKAGES[lib] for lib in missing if lib in XCB_PACKAGES})
        unknown = [lib for lib in missing if lib not in XCB_PACKAGES]
        if not packages:
            how = "; install the packages that provide them"
        else:
            also = f" (and the packages that provide {', '.join(unknown)})" if unknown else ""
            how = f"; install them with:\n    sudo apt-get install {' '.join(packages)}{also}"
        return (f"the window cannot open: Qt's {which} needs "
                f"{', '.join(missing)}, not found on this system{how}")
    broken = broken_library(plugin, ldd)
    if broken is not None:
        path, reason = broken
        package = XCB_PACKAGES.get(Path(path).name)
        how = f"sudo apt-get install --reinstall {package}" if package else \
            "reinstall the package that provides it"
        return (f"the window cannot open: Qt's {which} needs {path}, which cannot be loaded "
                f"({reason}); reinstall it:\n    {how}")
    if name != "xcb":
        return None
    if not environ.get("DISPLAY"):
        return ("the window cannot open: no X11 display (DISPLAY is not set); start it in a "
                "desktop session, or check it without one with desktop-nn --self-test")
    return reach(environ["DISPLAY"])
