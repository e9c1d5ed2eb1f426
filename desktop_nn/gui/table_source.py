"""The Data panel's table chooser: open a CSV / TSV file and choose its target column (the
column holding the classes; the combo lists the file's header), then the panel loads it
(data/table.py reads it; the panel's Load, Validation split and Scaling apply as to images;
Scaling "pixels / 255" means nothing for a table's values: a table loads with Scaling set to
standardise, its default, and the next data that are not a table load with "pixels / 255"
again, unless the user chose the Scaling since)."""

from __future__ import annotations

from PySide6.QtWidgets import QComboBox, QFileDialog, QHBoxLayout, QLabel, QPushButton, QWidget

from desktop_nn.data.sources import resolve
from desktop_nn.data.table import TableError, is_table_path, read_header
from desktop_nn.gui.saved_values import Replaced

TABLE_FILTER = "Tables (*.csv *.tsv *.tab *.txt);;All files (*)"


class TableSource(QWidget):
    """``panel`` is the DataPanel: it shows the chosen file in its edit and loads it, asking
    :meth:`target_for` which column holds the classes."""

    def __init__(self, panel) -> None:
        super().__init__(panel)
        self.setObjectName("tableSource")
        self.panel = panel
        self._path: str | None = None  # the table whose columns the combo lists
        # a target asked for (a project's, open()'s) until the next table's columns are read
        self._pending: str | None = None
        # Scaling was set to standardise for a table, not by the user: images get scale back
        self._standardised_for_table = False
        panel.scaling_combo.activated.connect(self._scaling_chosen)  # the user's choice only
        self.open_button = QPushButton("Open table…")
        self.open_button.setObjectName("openTableButton")
        self.open_button.setToolTip("Open a CSV or TSV file with a header line: its numeric "
                                    "columns are the features, the target column's values "
                                    "the classes")
        self.open_button.clicked.connect(self.choose)
        self.target_combo = QComboBox()
        self.target_combo.setObjectName("targetCombo")
        self.target_combo.setToolTip("The table's column that holds the classes (the target); "
                                     "every other numeric column is a feature")
        self.target_combo.setEnabled(False)
        self.target_combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.target_combo.setMinimumContentsLength(10)
        self.target_combo.activated.connect(self._target_chosen)  # the user's choice only
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.open_button)
        layout.addWidget(QLabel("Target column"))
        layout.addWidget(self.target_combo, 1)

    def choose(self) -> None:
        start = self._path or self.panel.folder_edit.text()
        path, _ = QFileDialog.getOpenFileName(self, "Open a table (CSV or TSV)", start,
                                              TABLE_FILTER)
        if path:
            self.open(path)

    def open(self, path: str, target: str | None = None) -> None:
        """Show ``path``'s columns, choose ``target`` (default: the last column, where a
        table usually keeps its classes) and load the table."""
        self._pending, self._path = target, None
        self.panel.load(path)  # asks target_for, which reads the columns

    def target_for(self, source: str) -> str | None:
        """The target column to load ``source`` with: None when it is not a table; else the
        combo's choice (its columns read first when they are another file's)."""
        if not is_table_path(source) or resolve(source).is_dir():
            if self._standardised_for_table and self.panel.normalisation() == "standardise":
                self.panel.set_normalisation("scale")  # what the user had for images
            self._standardised_for_table = False
            self.target_combo.setEnabled(False)  # not these data's: kept for the table's return
            return None
        if self.panel.normalisation() == "scale":  # pixels / 255: a table is standardised
            self.panel.set_normalisation("standardise")  # (the loader's default) and shown so
            self._standardised_for_table = True
        if self._path != source:
            wanted = self._pending
            if not self._fill(source):
                return wanted  # its header cannot be read: the loader says why
            if wanted is not None and self.target_combo.findText(wanted) < 0:
                return wanted  # not (or no longer) a column: the loader says so, listing them
        self.target_combo.setEnabled(True)
        return self.target_combo.currentText() or None

    def _fill(self, path: str) -> bool:
        """List ``path``'s columns in the combo, the target asked for (else the last)
        chosen. False when its header cannot be read (the combo emptied)."""
        try:
            columns = read_header(resolve(path))
        except TableError:
            self._path = None
            self.target_combo.clear()
            self.target_combo.setEnabled(False)
            return False
        self._path = path
        self.target_combo.clear()
        self.target_combo.addItems(columns)
        self.target_combo.setEnabled(True)
        wanted, self._pending = self._pending, None
        self.target_combo.setCurrentIndex(
            self.target_combo.findText(wanted) if wanted in columns else len(columns) - 1)
        return True

    def _scaling_chosen(self, _index: int) -> None:
        self._standardised_for_table = False  # the user's Scaling is kept for any data

    def _target_chosen(self, _index: int) -> None:
        if self._path is not None:
            self.panel.load(self._path)

    def state(self) -> dict:
        """The target column, for a project (None until a table is chosen)."""
        return {"target": self.target_combo.currentText() or self._pending}

    def set_state(self, state: dict, replaced: Replaced) -> None:
        """A saved target column: used when the panel next loads a table."""
        target = state.get("target")
        if target is not None and not isinstance(target, str):
            replaced.add("target column", target, "is not a column name", "none")
            target = None
        self._pending = target
        # a project saved with a table shows standardise, as any table loads: not a choice
        # for images (for them the saved Scaling is kept)
        folder = state.get("folder")
        self._standardised_for_table = (isinstance(folder, str) and is_table_path(folder)
                                        and self.panel.normalisation() == "standardise")
        self._path = None  # the combo is filled again from the file when it loads
        self.target_combo.clear()
        self.target_combo.setEnabled(False)
