"""The pages shown before the chat: connecting, the display name, create-or-join.

Plain widgets emitting past-tense signals; the app decides what comes next.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal, SignalInstance
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from p2pcommunity.ui.dialogs import error_label


def _centered(inner: QWidget) -> QVBoxLayout:
    outer = QVBoxLayout()
    row = QHBoxLayout()
    row.addStretch(1)
    row.addWidget(inner)
    row.addStretch(1)
    outer.addStretch(2)
    outer.addLayout(row)
    outer.addStretch(3)
    return outer


def _boxed(page: QWidget, width: int) -> QVBoxLayout:
    """The layout of a box `width` wide, centred on `page`."""
    box = QFrame()
    box.setFixedWidth(width)
    page.setLayout(_centered(box))
    return QVBoxLayout(box)


def _title(text: str) -> QLabel:
    label = QLabel(text)
    label.setObjectName("heroTitle")
    label.setWordWrap(True)
    return label


def _muted(text: str) -> QLabel:
    label = QLabel(text)
    label.setObjectName("muted")
    label.setWordWrap(True)
    return label


class ConnectingPage(QWidget):
    retried = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = _boxed(self, 420)
        self.title = _title("Starting your node…")
        self.detail = _muted("Your messages live on your computer and your peers'.")
        self.progress = QProgressBar()
        self.progress.setRange(0, 0)
        self.progress.setTextVisible(False)
        self.progress.setFixedHeight(6)
        self.error = error_label()
        self.retry = QPushButton("Try again")
        self.retry.hide()
        self.retry.clicked.connect(self.retried.emit)
        layout.addWidget(self.title)
        layout.addWidget(self.detail)
        layout.addSpacing(8)
        layout.addWidget(self.progress)
        layout.addWidget(self.error)
        layout.addWidget(self.retry, 0, Qt.AlignmentFlag.AlignLeft)

    def show_progress(self, title: str) -> None:
        self.title.setText(title)
        self.progress.show()
        self.error.hide()
        self.retry.hide()

    def show_failure(self, message: str) -> None:
        self.title.setText("The node could not start")
        self.progress.hide()
        self.error.setText(message)
        self.error.show()
        self.retry.show()


class NamePage(QWidget):
    """First run: the display name other members see."""

    name_chosen = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = _boxed(self, 440)
        layout.addWidget(_title("Welcome to p2pcommunity"))
        layout.addWidget(
            _muted(
                "Communities here have no server: everything lives on the members' own "
                "machines, signed with a key this app creates for you now."
            )
        )
        layout.addSpacing(12)
        layout.addWidget(QLabel("What should people call you?"))
        self.name = QLineEdit()
        self.name.setObjectName("displayName")
        self.name.setAccessibleName("Display name")
        self.name.setPlaceholderText("Display name")
        self.name.setMaxLength(64)
        self.name.returnPressed.connect(self._on_continue_clicked)
        self.error = error_label()
        self.button = QPushButton("Continue")
        self.button.setDefault(True)
        self.button.clicked.connect(self._on_continue_clicked)
        layout.addWidget(self.name)
        layout.addWidget(self.error)
        layout.addWidget(self.button, 0, Qt.AlignmentFlag.AlignRight)

    def _on_continue_clicked(self) -> None:
        name = self.name.text().strip()
        if not name:
            self.error.setText("Please enter a name (you can change it later).")
            self.error.show()
            return
        self.error.hide()
        self.button.setEnabled(False)
        self.name_chosen.emit(name)

    def reset(self) -> None:
        self.button.setEnabled(True)
        self.name.setFocus()


class WelcomePage(QWidget):
    """No community yet: create one, or join with an invite code."""

    create_clicked = Signal()
    join_clicked = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = _boxed(self, 620)
        self.title = _title("Join your first community")
        layout.addWidget(self.title)
        layout.addWidget(
            _muted(
                "Communities are invite-only. Start your own, or paste a code a member sent you."
            )
        )
        layout.addSpacing(16)
        cards = QHBoxLayout()
        cards.addWidget(
            self._card(
                "Create a community",
                "You will be its owner and can invite people.",
                "Create…",
                self.create_clicked,
            )
        )
        cards.addWidget(
            self._card(
                "Join with an invite",
                "Paste the invite code you received.",
                "Join…",
                self.join_clicked,
            )
        )
        layout.addLayout(cards)

    def _card(self, title: str, text: str, button: str, signal: SignalInstance) -> QFrame:
        card = QFrame()
        card.setObjectName("card")
        layout = QVBoxLayout(card)
        heading = QLabel(f"<b>{title}</b>")
        layout.addWidget(heading)
        layout.addWidget(_muted(text))
        layout.addStretch(1)
        push = QPushButton(button)
        push.setObjectName(button.strip("…").lower() + "Button")
        push.clicked.connect(signal.emit)
        layout.addWidget(push, 0, Qt.AlignmentFlag.AlignLeft)
        card.setMinimumHeight(150)
        return card

    def set_name(self, name: str) -> None:
        self.title.setText(f"Hi {name}! Join your first community")
