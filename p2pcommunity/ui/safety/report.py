"""Reporting a message: a category and a reason, sealed to the moderators by the node."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QLineEdit,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from p2pcommunity.ui.client import ControlClient, friendly_error
from p2pcommunity.ui.safety.common import CATEGORIES

HINTS = {
    "harassment": "It targets or insults someone",
    "spam": "Advertising, scams or floods",
    "misinformation": "It spreads something false",
    "other": "Something else breaks the rules",
}


class ReportDialog(QDialog):
    reported = Signal(str)  # post id

    def __init__(
        self,
        client: ControlClient,
        community: str,
        post: dict[str, Any],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.client = client
        self.community = community
        self.post = post
        self.setWindowTitle("Report message")
        self.setMinimumWidth(440)
        intro = QLabel(
            "Only moderators can read your report. The message is collapsed for you once reported."
        )
        intro.setWordWrap(True)
        self.group = QButtonGroup(self)
        self.choices: dict[str, QRadioButton] = {}
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        for key, label in CATEGORIES:
            button = QRadioButton(f"{label} — {HINTS[key]}")
            button.setAccessibleName(label)
            self.group.addButton(button)
            self.choices[key] = button
            layout.addWidget(button)
        self.choices["other"].setChecked(True)
        self.reason = QLineEdit()
        self.reason.setPlaceholderText("What is wrong with it? (optional)")
        self.reason.setAccessibleName("Reason")
        self.error = QLabel()
        self.error.setObjectName("error")
        self.error.setWordWrap(True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.send_button = self.buttons.addButton(
            "Send report", QDialogButtonBox.ButtonRole.AcceptRole
        )
        self.buttons.accepted.connect(self.send)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.reason)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)

    def category(self) -> str:
        return next((k for k, b in self.choices.items() if b.isChecked()), "other")

    def send(self) -> None:
        self.send_button.setEnabled(False)
        category = self.category()
        reason = self.reason.text().strip() or dict(CATEGORIES)[category]

        def done(_result: dict[str, Any]) -> None:
            self.reported.emit(str(self.post["id"]))
            self.accept()

        def failed(message: str, code: str) -> None:
            self.send_button.setEnabled(True)
            self.error.setText(friendly_error(message, code))

        self.client.request(
            "report",
            {
                "community": self.community,
                "post": self.post["id"],
                "reason": reason,
                "category": category,
            },
            on_result=done,
            on_error=failed,
        )
