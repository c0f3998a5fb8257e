"""Dialogs that each run one job against the node (Parsec's job pattern).

A dialog disables its buttons, sends its request, and on the answer either
closes (emitting a past-tense signal) or shows the node's error in its own
error label, readable and in place. Dialogs are opened with `open()`, never
`exec()`, so no nested event loop hides a bug in a test.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QGuiApplication, QPixmap, QTextOption
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QStackedWidget,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from p2pcommunity.ui.client import ControlClient, friendly_error

HEX_ID = re.compile(r"^[0-9a-fA-F]{64}$")


def error_label() -> QLabel:
    label = QLabel()
    label.setObjectName("error")
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    label.hide()
    return label


def show_error(label: QLabel, message: str, code: str) -> None:
    label.setText(friendly_error(message, code))
    label.show()


def ask_text(
    parent: QWidget, title: str, label: str, done: Callable[[str], None], text: str = ""
) -> QInputDialog:
    """A non-blocking one-line question; `done(text)` when accepted."""
    dialog = QInputDialog(parent)
    dialog.setWindowTitle(title)
    dialog.setLabelText(label)
    dialog.setTextValue(text)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.textValueSelected.connect(done)
    dialog.open()
    return dialog


class JobDialog(QDialog):
    """A form with OK/Cancel whose OK sends one request."""

    def __init__(self, client: ControlClient, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.client = client
        self.setWindowTitle(title)
        self.setMinimumWidth(440)
        self.form = QFormLayout()
        self.error = error_label()
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.accepted.connect(self._submit)
        self.buttons.rejected.connect(self.reject)
        self.layout_ = QVBoxLayout(self)
        self.layout_.addLayout(self.form)
        self.layout_.addWidget(self.error)
        self.layout_.addWidget(self.buttons)

    def _submit(self) -> None:
        method, params = self.job()
        if not method:
            return
        self.buttons.setEnabled(False)
        self.error.hide()
        self.client.request(method, params, on_result=self._on_done, on_error=self._on_failed)

    def job(self) -> tuple[str, dict[str, Any]]:
        raise NotImplementedError

    def _on_done(self, result: dict[str, Any]) -> None:
        self.buttons.setEnabled(True)
        self.succeeded(result)
        self.accept()

    def succeeded(self, result: dict[str, Any]) -> None:
        pass

    def _on_failed(self, message: str, code: str) -> None:
        self.buttons.setEnabled(True)
        show_error(self.error, message, code)


class CreateCommunityDialog(JobDialog):
    created = Signal(str)  # community id

    def __init__(self, client: ControlClient, parent: QWidget | None = None) -> None:
        super().__init__(client, "Create a community", parent)
        self.name = QLineEdit()
        self.name.setPlaceholderText("e.g. Climbing club")
        self.description = QLineEdit()
        self.description.setPlaceholderText("What is it about? (optional)")
        self.form.addRow("Name", self.name)
        self.form.addRow("Description", self.description)

    def job(self) -> tuple[str, dict[str, Any]]:
        name = self.name.text().strip()
        if not name:
            show_error(self.error, "give the community a name", "invalid")
            return "", {}
        return "community create", {"name": name, "description": self.description.text().strip()}

    def succeeded(self, result: dict[str, Any]) -> None:
        self.created.emit(str(result.get("community_id", "")))


class ProfileDialog(JobDialog):
    saved = Signal(str)  # name

    def __init__(
        self, client: ControlClient, name: str, peer_id: str, parent: QWidget | None = None
    ) -> None:
        super().__init__(client, "Your profile", parent)
        self.name = QLineEdit(name)
        self.bio = QPlainTextEdit()
        self.bio.setPlaceholderText("A few words about you (optional)")
        self.bio.setFixedHeight(80)
        peer = QLineEdit(peer_id)
        peer.setReadOnly(True)
        peer.setToolTip("Your peer id: give it to an admin who adds you directly")
        self.form.addRow("Display name", self.name)
        self.form.addRow("Bio", self.bio)
        self.form.addRow("Peer id", peer)

    def job(self) -> tuple[str, dict[str, Any]]:
        name = self.name.text().strip()
        if not name:
            show_error(self.error, "the display name cannot be empty", "invalid")
            return "", {}
        return "profile set", {"name": name, "bio": self.bio.toPlainText().strip() or None}

    def succeeded(self, result: dict[str, Any]) -> None:
        self.saved.emit(self.name.text().strip())


class JoinDialog(QDialog):
    """Paste an invite code -> progress while the node syncs -> rules to acknowledge.

    The join runs on its own control connection: the node answers one
    connection's requests in order, and a join can take many seconds.
    """

    joined = Signal(str)  # community id, after the rules were acknowledged

    def __init__(self, socket_path: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Join a community")
        self.setMinimumWidth(520)
        self.community_id = ""
        self.client = ControlClient(self)
        self.client.connect_to(socket_path)
        self.stack = QStackedWidget()
        # page 0: the code
        page = QWidget()
        form = QVBoxLayout(page)
        intro = QLabel("Paste the invite code someone gave you.")
        intro.setWordWrap(True)
        self.code = QPlainTextEdit()
        self.code.setObjectName("inviteCode")
        self.code.setPlaceholderText("Invite code")
        self.code.setAccessibleName("Invite code")
        self.code.setWordWrapMode(QTextOption.WrapMode.WrapAnywhere)
        self.code.setFixedHeight(90)
        self.bootstrap = QLineEdit()
        self.bootstrap.setAccessibleName("Admin's node address")
        self.bootstrap.setPlaceholderText("/ip4/…/tcp/…/p2p/… (an admin's address)")
        self.bootstrap_label = QLabel("Added directly by an admin? Their node's address:")
        self.bootstrap_label.setWordWrap(True)
        self.code.textChanged.connect(self._on_code_text_changed)
        self.error = error_label()
        form.addWidget(intro)
        form.addWidget(self.code)
        form.addWidget(self.bootstrap_label)
        form.addWidget(self.bootstrap)
        form.addWidget(self.error)
        self._on_code_text_changed()
        # page 1: progress
        progress_page = QWidget()
        pl = QVBoxLayout(progress_page)
        self.progress_label = QLabel("Connecting to the community's peers…")
        self.progress = QProgressBar()
        self.progress.setRange(0, 0)
        pl.addStretch(1)
        pl.addWidget(self.progress_label)
        pl.addWidget(self.progress)
        pl.addStretch(1)
        # page 2: rules
        rules_page = QWidget()
        rl = QVBoxLayout(rules_page)
        self.rules_title = QLabel("<b>Community rules</b>")
        self.rules = QTextBrowser()
        self.rules.setAccessibleName("Community rules")
        rl.addWidget(self.rules_title)
        rl.addWidget(self.rules)
        for p in (page, progress_page, rules_page):
            self.stack.addWidget(p)
        self.join_button = QPushButton("Join")
        self.join_button.setDefault(True)
        self.join_button.clicked.connect(self._on_join_clicked)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.reject)
        self.agree_button = QPushButton("I agree, take me in")
        self.agree_button.clicked.connect(self._on_agree_clicked)
        self.agree_button.hide()
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.join_button)
        buttons.addWidget(self.agree_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.stack)
        layout.addLayout(buttons)

    def _on_code_text_changed(self) -> None:
        direct = bool(HEX_ID.match(self.code.toPlainText().strip()))
        self.bootstrap.setVisible(direct)
        self.bootstrap_label.setVisible(direct)

    def _on_join_clicked(self) -> None:
        code = self.code.toPlainText().strip()
        if not code:
            show_error(self.error, "paste an invite code first", "invalid")
            return
        params: dict[str, Any] = {"community": code, "timeout": 60}
        if HEX_ID.match(code):
            addr = self.bootstrap.text().strip()
            if not addr:
                show_error(
                    self.error, "a community id needs the address of a member's node", "invalid"
                )
                return
            params["bootstrap"] = [addr]
        self.error.hide()
        self.stack.setCurrentIndex(1)
        self.join_button.setEnabled(False)
        self.progress_label.setText("Connecting to the community's peers and syncing…")
        self.client.request("join", params, on_result=self._on_joined, on_error=self._on_failed)

    def _on_joined(self, result: dict[str, Any]) -> None:
        self.community_id = str(result.get("community_id", ""))
        rules = str(result.get("rules") or "")
        if not rules:
            self.joined.emit(self.community_id)
            self.accept()
            return
        version = result.get("rules_version")
        self.rules_title.setText(
            f"<b>Community rules</b>{f' (version {version})' if version else ''}"
            " — read them before you take part"
        )
        self.rules.setPlainText(rules)
        self.stack.setCurrentIndex(2)
        self.join_button.hide()
        self.cancel_button.setText("Leave")
        self.cancel_button.clicked.disconnect()
        self.cancel_button.clicked.connect(self._on_decline_clicked)
        self.agree_button.show()
        self.agree_button.setDefault(True)

    def _on_agree_clicked(self) -> None:
        self.joined.emit(self.community_id)
        self.accept()

    def _on_decline_clicked(self) -> None:
        self.client.request("leave", {"community": self.community_id})
        self.reject()

    def _on_failed(self, message: str, code: str) -> None:
        self.stack.setCurrentIndex(0)
        self.join_button.setEnabled(True)
        show_error(self.error, message, code)


def qr_pixmap(text: str, scale: int = 5) -> QPixmap:
    import io

    import segno

    buffer = io.BytesIO()
    segno.make(text, error="m").save(buffer, kind="png", scale=scale, border=2)
    pixmap = QPixmap()
    pixmap.loadFromData(buffer.getvalue(), "PNG")
    return pixmap


class InviteDialog(QDialog):
    """Create an invite: its code to copy and a QR code to scan."""

    created = Signal(str)  # invite code

    def __init__(
        self, client: ControlClient, community: str, name: str, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.client = client
        self.community = community
        self.setWindowTitle(f"Invite people to {name}")
        self.setMinimumWidth(560)
        self.expires = QComboBox()
        for label, value in (
            ("30 minutes", "30m"),
            ("12 hours", "12h"),
            ("1 day", "1d"),
            ("7 days", "7d"),
            ("30 days", "30d"),
        ):
            self.expires.addItem(label, value)
        self.expires.setCurrentIndex(3)
        self.uses = QSpinBox()
        self.uses.setRange(1, 1000)
        self.uses.setValue(1)
        self.role = QComboBox()
        self.role.addItems(["member", "moderator"])
        title = QLabel(f"<b>Invite people to {name}</b>")
        form = QFormLayout()
        form.addRow(title)
        form.addRow("Expires after", self.expires)
        form.addRow("Number of uses", self.uses)
        form.addRow("Joins as", self.role)
        self.create_button = QPushButton("Create invite")
        self.create_button.setDefault(True)
        self.create_button.clicked.connect(self._on_create_clicked)
        self.error = error_label()
        self.code = QPlainTextEdit()
        self.code.setObjectName("inviteCode")
        self.code.setAccessibleName("Invite code")
        self.code.setReadOnly(True)
        self.code.setWordWrapMode(QTextOption.WrapMode.WrapAnywhere)
        self.code.setFixedHeight(110)
        self.code.hide()
        self.qr = QLabel()
        self.qr.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.qr.hide()
        self.copy_button = QPushButton("Copy code")
        self.copy_button.clicked.connect(self._on_copy_clicked)
        self.copy_button.hide()
        self.hint = QLabel(
            "Send this code over a channel you trust. Anyone holding it can join "
            "until it expires or its uses run out; you can revoke it in the "
            "community settings."
        )
        self.hint.setObjectName("muted")
        self.hint.setWordWrap(True)
        self.hint.hide()
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.reject)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.copy_button)
        row.addWidget(self.create_button)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(row)
        layout.addWidget(self.error)
        layout.addWidget(self.qr)
        layout.addWidget(self.code)
        layout.addWidget(self.hint)
        layout.addWidget(close)

    def _on_create_clicked(self) -> None:
        self.create_button.setEnabled(False)
        self.error.hide()
        self.client.request(
            "invite create",
            {
                "community": self.community,
                "expires": self.expires.currentData(),
                "uses": self.uses.value(),
                "role": self.role.currentText(),
            },
            on_result=self._on_created,
            on_error=self._on_failed,
        )

    def show_code(self, code: str) -> None:
        self.code.setPlainText(code)
        self.code.show()
        self.qr.setPixmap(qr_pixmap(code, 4 if len(code) < 400 else 3))
        self.qr.show()
        self.copy_button.show()
        self.hint.show()
        self.create_button.setText("Create another")
        self.adjustSize()

    def _on_created(self, result: dict[str, Any]) -> None:
        self.create_button.setEnabled(True)
        code = str(result.get("invite", ""))
        self.show_code(code)
        self.created.emit(code)

    def _on_failed(self, message: str, code: str) -> None:
        self.create_button.setEnabled(True)
        show_error(self.error, message, code)

    def _on_copy_clicked(self) -> None:
        QGuiApplication.clipboard().setText(self.code.toPlainText())
        self.copy_button.setText("Copied ✓")
