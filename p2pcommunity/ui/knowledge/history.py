"""A page's history: who changed it, when and how much; moderators revert to a version.

A revert is a new change that restores that version's text (`page revert`),
never a rewrite: the history keeps every version, the revert included.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from p2pcommunity.ui.knowledge.session import Session
from p2pcommunity.ui.models import local_clock

COLUMNS = ("When", "Who", "Change", "Version")


class HistoryWindow(QWidget):
    reverted = Signal()

    def __init__(
        self, session: Session, page_id: str, title: str, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent, Qt.WindowType.Dialog)
        self.session, self.page_id = session, page_id
        self.setWindowTitle(f"History of {title}")
        self.resize(640, 380)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("historyTable")
        self.table.setAccessibleName("Versions, oldest first")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.table.itemSelectionChanged.connect(self._on_table_item_selection_changed)
        self.revert_button = QPushButton("Revert to this version")
        self.revert_button.setObjectName("revertPage")
        self.revert_button.setEnabled(False)
        self.revert_button.clicked.connect(self._on_revert_button_clicked)
        if not session.moderator:
            self.revert_button.setToolTip("Moderators revert pages")
        note = QLabel("Reverting adds a new version with the old text; nothing is erased.")
        note.setObjectName("muted")
        close = QPushButton("Close")
        close.clicked.connect(self.close)
        buttons = QHBoxLayout()
        buttons.addWidget(note, 1)
        buttons.addWidget(self.revert_button)
        buttons.addWidget(close)
        heading = QLabel(f"History of {title}")
        heading.setTextFormat(Qt.TextFormat.PlainText)
        heading.setStyleSheet("font-size: 13pt; font-weight: 600;")
        layout = QVBoxLayout(self)
        layout.addWidget(heading)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)
        self.refresh()

    def refresh(self) -> None:
        self.session.ask("page history", {"page": self.page_id}, self._fill)

    def _fill(self, result: dict[str, Any]) -> None:
        rows = list(result.get("history", []))
        self.table.setRowCount(len(rows))
        for n, entry in enumerate(rows):
            cells = (
                local_clock(entry.get("time")),
                self.session.name_of(str(entry.get("author", ""))),
                str(entry.get("summary", "")),
                str(entry.get("version", "")),
            )
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setData(Qt.ItemDataRole.UserRole, entry.get("version"))
                if column == 1:
                    item.setToolTip(str(entry.get("author", "")))
                self.table.setItem(n, column, item)
        self.table.resizeColumnsToContents()
        self.table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)

    def selected_version(self) -> str:
        items = self.table.selectedItems()
        return str(items[0].data(Qt.ItemDataRole.UserRole)) if items else ""

    def _on_table_item_selection_changed(self) -> None:
        last = self.table.rowCount() - 1
        rows = {i.row() for i in self.table.selectedItems()}
        # The newest version is the page as it is: reverting to it would change nothing.
        self.revert_button.setEnabled(self.session.moderator and bool(rows) and rows != {last})

    def _on_revert_button_clicked(self) -> None:
        version = self.selected_version()
        if not version:
            return
        self.revert_button.setEnabled(False)

        def done(_result: dict[str, Any]) -> None:
            self.session.status_message.emit(f"Page reverted to version {version}.")
            self.refresh()
            self.reverted.emit()

        self.session.ask("page revert", {"page": self.page_id, "version": version}, done)
