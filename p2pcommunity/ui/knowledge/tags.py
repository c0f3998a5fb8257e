"""The community's tags: a list, and for moderators a field to add one.

A window beside the topic list rather than a one-job dialog: a moderator
usually adds several tags in a row, and sees each appear in the list.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLineEdit, QListWidget, QPushButton, QVBoxLayout, QWidget

from p2pcommunity.ui.client import ControlClient
from p2pcommunity.ui.dialogs import error_label, show_error
from p2pcommunity.ui.knowledge.widgets import named


class TagsDialog(QWidget):
    """The community's tags; moderators add one by name. A window, not a modal job."""

    changed = Signal()

    def __init__(
        self, client: ControlClient, community: str, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent, Qt.WindowType.Dialog)
        self.setWindowTitle("Tags")
        self.setMinimumWidth(360)
        self.client, self.community = client, community
        self.error = error_label()
        self.list = named(QListWidget(), "tagList", "Tags")
        self.name = named(QLineEdit(), "tagName", "New tag")
        self.name.setPlaceholderText("new tag: lowercase, no spaces")
        self.name.setMaxLength(32)
        self.add_button = named(QPushButton("Add tag"), "addTag")
        self.add_button.clicked.connect(self._on_add_button_clicked)
        self.name.returnPressed.connect(self._on_add_button_clicked)
        self.name.textChanged.connect(lambda _t: self.error.hide())
        row = QHBoxLayout()
        row.addWidget(self.name, 1)
        row.addWidget(self.add_button)
        close = QPushButton("Close")
        close.clicked.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.list, 1)
        layout.addLayout(row)
        layout.addWidget(self.error)
        layout.addWidget(close, 0, Qt.AlignmentFlag.AlignRight)
        self.refresh()

    def refresh(self) -> None:
        def done(result: dict[str, Any]) -> None:
            self.list.clear()
            for tag in result.get("tags", []):
                self.list.addItem(f"#{tag}")
            if not self.list.count():
                self.list.addItem("(no tags yet)")

        self.client.request("tag list", {"community": self.community}, on_result=done)

    def _on_add_button_clicked(self) -> None:
        name = self.name.text().strip().lstrip("#")
        if not name:
            return
        self.add_button.setEnabled(False)

        def done(_result: dict[str, Any]) -> None:
            self.add_button.setEnabled(True)
            self.name.clear()
            self.refresh()
            self.changed.emit()

        def failed(message: str, code: str) -> None:
            self.add_button.setEnabled(True)
            show_error(self.error, message, code)

        self.client.request(
            "tag create",
            {"community": self.community, "name": name},
            on_result=done,
            on_error=failed,
        )
