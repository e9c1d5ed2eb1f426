"""The desktop app (Qt). ``create_main_window()`` builds the wired window without running the
event loop; ``desktop-nn`` calls it and then ``exec()``."""

from __future__ import annotations

from desktop_nn.gui.app import create_main_window, main

__all__ = ["create_main_window", "main"]
