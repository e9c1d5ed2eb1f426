"""Starting the app from the command line."""

from __future__ import annotations

from desktop_nn.cli import main


def test_no_arguments_starts_the_app(monkeypatch):
    import desktop_nn.gui.app as app

    calls = []
    monkeypatch.setattr(app, "main", lambda data=None: calls.append(data) or 0)
    assert main([]) == 0
    assert main(["gui", "some/folder"]) == 0
    assert calls == [None, "some/folder"]
