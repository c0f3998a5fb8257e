"""A page's history: who changed it, when and how much; moderators revert to a version.

A revert is a new change that restores that version's text (`page revert`),
never a rewrite: the history keeps every version, the revert included.
Selecting a version shows what it changed (`page diff`): insertions on green,
deletions struck through on red, in colours picked per theme and held to the
WCAG AA contrast the rest of the app keeps (tests/ui). Long unchanged runs
are shortened to their ends: the diff is about the change.
"""

from __future__ import annotations

import html
import re
from typing import Any

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from p2pcommunity.ui.delegate import is_dark
from p2pcommunity.ui.knowledge.session import Session
from p2pcommunity.ui.models import local_clock

COLUMNS = ("When", "Who", "Change", "Version")
# (text, background) of inserted and deleted runs, per theme.
DIFF_COLORS = {
    False: {"+": ("#0b4a22", "#d3f9d8"), "-": ("#7a1014", "#ffe1e1")},
    True: {"+": ("#b8f5c9", "#123d24"), "-": ("#ffcdcd", "#4d1a1c")},
}
KEPT_ENDS = 120  # characters kept at each end of a long unchanged run
_PLAIN_SUMMARY = re.compile(r"^\+\d+ -\d+ chars$")


def change_text(entry: dict[str, Any]) -> str:
    """ "+12 −3", from the sizes every peer computes alike; the author's own summary only
    when it says more (a revert), or while the sizes are not measured yet."""
    summary = str(entry.get("summary", ""))
    added, removed = entry.get("added"), entry.get("removed")
    if not isinstance(added, int) or not isinstance(removed, int):
        return summary
    sizes = f"+{added} \u2212{removed}"
    return sizes if not summary or _PLAIN_SUMMARY.match(summary) else f"{sizes} \u00b7 {summary}"


def _shown(op: str, text: str) -> str:
    if op == "=" and len(text) > 2 * KEPT_ENDS + 20:
        return f"{text[:KEPT_ENDS]}\n\u2026\n{text[-KEPT_ENDS:]}"
    return text


def first_change_at(runs: list[list[str]]) -> int:
    """Where the first insertion or deletion starts in the shown text (to scroll to it)."""
    at = 0
    for op, text in runs:
        if op != "=":
            return at
        at += len(_shown(op, text))
    return 0


def diff_html(runs: list[list[str]], dark: bool) -> str:
    colors = DIFF_COLORS[dark]
    parts = []
    for op, text in runs:
        shown = html.escape(_shown(op, text))
        if op == "=":
            parts.append(shown)
            continue
        fg, bg = colors.get(op, colors["+"])
        strike = "text-decoration: line-through;" if op == "-" else ""
        parts.append(f'<span style="color: {fg}; background-color: {bg}; {strike}">{shown}</span>')
    body = "".join(parts) or html.escape("This version changed no text.")
    return f'<pre style="white-space: pre-wrap; font-family: monospace;">{body}</pre>'


class HistoryWindow(QWidget):
    reverted = Signal()

    def __init__(
        self, session: Session, page_id: str, title: str, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent, Qt.WindowType.Dialog)
        self.session, self.page_id = session, page_id
        self.setWindowTitle(f"History of {title}")
        self.resize(720, 560)
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
        self.diff_view = QTextBrowser()
        self.diff_view.setObjectName("pageDiff")
        self.diff_view.setAccessibleName("What the selected version changed")
        self.diff_view.setOpenLinks(False)
        self.diff_view.setPlaceholderText("Select a version to see what it changed.")
        self._diff_runs: list[list[str]] = []
        self._diff_asked = ""
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
        legend = QLabel("Inserted text on green, deleted text struck through on red.")
        legend.setObjectName("muted")
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.table)
        split.addWidget(self.diff_view)
        split.setSizes([150, 290])
        layout.addWidget(heading)
        layout.addWidget(split, 1)
        layout.addWidget(legend)
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
                change_text(entry),
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
        version = self.selected_version()
        if version and version != self._diff_asked:
            self._diff_asked = version
            self.session.ask(
                "page diff", {"page": self.page_id, "version": version}, self._show_diff
            )

    def _show_diff(self, result: dict[str, Any]) -> None:
        if result.get("version") != self.selected_version():
            return  # an answer for a version no longer selected
        self._diff_runs = [list(map(str, run)) for run in result.get("diff", [])]
        self.diff_view.setHtml(diff_html(self._diff_runs, is_dark(self.palette())))
        cursor = self.diff_view.textCursor()
        cursor.setPosition(min(first_change_at(self._diff_runs), len(self.diff_view.toPlainText())))
        self.diff_view.setTextCursor(cursor)
        self.diff_view.ensureCursorVisible()  # the change, not the top of a long page

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange and self._diff_asked:
            # The colours are the theme's: a switch of theme redraws the diff in its own.
            self.diff_view.setHtml(diff_html(self._diff_runs, is_dark(self.palette())))

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
