"""Print the requirements of the core's tests, one per line: the project's dependencies and
its test extra without Qt (PySide6, pyqtgraph, pytest-qt), read from pyproject.toml so that
there is one list to keep."""

import re
import tomllib
from pathlib import Path

QT = ("pyside6", "pyqtgraph", "pytest-qt")
project = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())["project"]
for requirement in [*project["dependencies"], *project["optional-dependencies"]["test"]]:
    name = re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0].lower()
    if not name.startswith(QT):
        print(requirement)
