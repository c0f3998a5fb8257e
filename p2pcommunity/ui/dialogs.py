"""Dialogs that each run one job against the node (Parsec's job pattern).

A dialog disables its buttons, sends its request, and on the answer either
closes (emitting a past-tense signal) or shows the node's error in its own
error label, readable and in place; the error goes away as soon as the user
edits the input it was about. Dialogs are opened with `open()`, never
`exec()`, so no nested event loop hides a bug in a test.

Every dialog here must fit an 800x600 screen: what can grow (the invite's QR
code and text) sits in a scroll area, and the button row stays outside it.
The join flow lives in join.py; this module keeps the small one-job dialogs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QGuiApplication, QPixmap, QShowEvent, QTextOption
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from p2pcommunity.ui.client import ControlClient, friendly_error
from p2pcommunity.ui.links import make_link

ONLY_ADMINS_INVITE = "Only admins can create invites"
CHANNEL_KINDS = (
    ("chat", "Chat: a timeline of messages"),
    ("forum", "Forum: topics with titles, tags and replies"),
    ("qa", "Q&A: questions, votes and accepted answers"),
)


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


def confirm_leave(
    parent: QWidget, name: str, leave: Callable[[], None], back: str = "Cancel"
) -> QMessageBox:
    """Ask before `leave` runs: leaving deletes the community's data from this device.

    `back` names the way out ("Back to the rules" in the join flow). Non-blocking:
    `leave()` is called once the user chose Leave, and never otherwise.
    """
    name = name or "this community"
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Warning)
    box.setWindowTitle("Leave community")
    box.setText(f"Leave {name}?")
    box.setInformativeText(
        f"This deletes {name}'s messages, channels and member list from this device, "
        "and it stops syncing. To come back you need a new invite."
    )
    leave_button = box.addButton("Leave", QMessageBox.ButtonRole.DestructiveRole)
    leave_button.setObjectName("confirmLeave")
    back_button = box.addButton(back, QMessageBox.ButtonRole.RejectRole)
    back_button.setObjectName("confirmBack")
    box.setDefaultButton(back_button)
    box.setEscapeButton(back_button)

    def finished(_result: int) -> None:
        # deleteLater here, not WA_DeleteOnClose: with that, a key that closes the box
        # crashed PySide6 6.x at the next event round (seen with Escape in a test).
        box.deleteLater()
        if box.clickedButton() is leave_button:
            leave()

    box.finished.connect(finished)
    box.open()
    return box


class CommunityDialog(QDialog):
    """A dialog about one community, asking the node through `client`."""

    def __init__(
        self, client: ControlClient, community: str, title: str, parent: QWidget | None
    ) -> None:
        super().__init__(parent)
        self.client = client
        self.community = community
        self.setWindowTitle(title)


class JobDialog(QDialog):
    """A form with OK/Cancel whose OK sends one request."""

    def __init__(
        self, client: ControlClient, title: str, parent: QWidget | None = None, ok_text: str = ""
    ) -> None:
        super().__init__(parent)
        self.client = client
        self.setWindowTitle(title)
        self.setMinimumWidth(440)
        self.form = QFormLayout()
        self.error = error_label()
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        if ok_text:
            self.ok_button.setText(ok_text)
        self.first_field: QWidget | None = None
        self.buttons.accepted.connect(self._submit)
        self.buttons.rejected.connect(self.reject)
        self.layout_ = QVBoxLayout(self)
        self.layout_.addLayout(self.form)
        self.layout_.addWidget(self.error)
        self.layout_.addWidget(self.buttons)

    def add_name_fields(
        self, thing: str, example: str, note: str, note_hint: str
    ) -> tuple[QLineEdit, QLineEdit]:
        """The "Name" of a new `thing` ("channel") and an optional line below it."""
        name = QLineEdit()
        name.setObjectName(f"{thing}Name")
        name.setPlaceholderText(f"e.g. {example}")
        name.setAccessibleName(f"{thing.capitalize()} name")
        other = QLineEdit()
        other.setPlaceholderText(note_hint)
        other.setAccessibleName(note)
        self.add_field("Name", name)
        self.add_field(note, other)
        return name, other

    def add_field(self, label: str, field: QLineEdit | QPlainTextEdit) -> None:
        """A row of the form; the first one gets the focus, and editing any hides the error."""
        self.form.addRow(label, field)
        field.textChanged.connect(self.error.hide)
        if self.first_field is None:
            self.first_field = field
        # The buttons were made first, so Tab would start on them: put them last.
        QWidget.setTabOrder(field, self.ok_button)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self.first_field is not None:
            self.first_field.setFocus(Qt.FocusReason.OtherFocusReason)

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
        super().__init__(client, "Create a community", parent, ok_text="Create")
        self.name, self.description = self.add_name_fields(
            "community", "Climbing club", "Description", "What is it about? (optional)"
        )

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
        super().__init__(client, "Your profile", parent, ok_text="Save")
        self.name = QLineEdit(name)
        self.bio = QPlainTextEdit()
        self.bio.setPlaceholderText("A few words about you (optional)")
        self.bio.setFixedHeight(80)
        peer = QLineEdit(peer_id)
        peer.setReadOnly(True)
        peer.setToolTip("Your peer id: give it to an admin who adds you directly")
        self.add_field("Display name", self.name)
        self.add_field("Bio", self.bio)
        self.form.addRow("Peer id", peer)

    def job(self) -> tuple[str, dict[str, Any]]:
        name = self.name.text().strip()
        if not name:
            show_error(self.error, "the display name cannot be empty", "invalid")
            return "", {}
        return "profile set", {"name": name, "bio": self.bio.toPlainText().strip() or None}

    def succeeded(self, result: dict[str, Any]) -> None:
        self.saved.emit(self.name.text().strip())


class CreateChannelDialog(JobDialog):
    """The "+" beside CHANNELS: a name, an optional topic and its kind (chat, forum, Q&A)."""

    created = Signal(str)  # channel id

    def __init__(
        self, client: ControlClient, community: str, parent: QWidget | None = None
    ) -> None:
        super().__init__(client, "Create a channel", parent, ok_text="Create")
        self.community = community
        self.name, self.topic = self.add_name_fields(
            "channel", "announcements", "Topic", "What is it for? (optional)"
        )
        self.kind = QComboBox()
        self.kind.setObjectName("channelKind")
        self.kind.setAccessibleName("Kind")
        for value, label in CHANNEL_KINDS:
            self.kind.addItem(label, value)
        self.form.addRow("Kind", self.kind)

    def job(self) -> tuple[str, dict[str, Any]]:
        name = self.name.text().strip().lstrip("#").strip()
        if not name:
            show_error(self.error, "give the channel a name", "invalid")
            return "", {}
        return "channel create", {
            "community": self.community,
            "name": name,
            "topic": self.topic.text().strip() or None,
            "kind": self.kind.currentData(),
        }

    def succeeded(self, result: dict[str, Any]) -> None:
        self.created.emit(str(result.get("channel_id", "")))


def qr_pixmap(text: str, scale: int = 5) -> QPixmap:
    import io

    import segno

    buffer = io.BytesIO()
    segno.make(text, error="m").save(buffer, kind="png", scale=scale, border=2)
    pixmap = QPixmap()
    pixmap.loadFromData(buffer.getvalue(), "PNG")
    return pixmap


class InviteDialog(QDialog):
    """Create an invite: its code and its `p2pcommunity://join/` link to copy, a QR code to scan.

    The code, the QR code and the hint scroll; Close stays in reach below them
    on a screen 800 pixels high.
    """

    created = Signal(str)  # invite code

    def __init__(
        self, client: ControlClient, community: str, name: str, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.client = client
        self.community = community
        self.setWindowTitle(f"Invite people to {name}")
        self.setMinimumWidth(480)
        self.expires = QComboBox()
        self.expires.setAccessibleName("Expires after")
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
        self.uses.setAccessibleName("Number of uses")
        self.uses.setRange(1, 1000)
        self.uses.setValue(1)
        self.role = QComboBox()
        self.role.setAccessibleName("Joins as")
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
        self.code.setFixedHeight(96)
        self.code.hide()
        self.qr = QLabel()
        self.qr.setAccessibleName("QR code of the invite")
        self.qr.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.qr.hide()
        self.copy_button = QPushButton("Copy code")
        self.copy_button.clicked.connect(self._on_copy_clicked)
        self.copy_button.hide()
        self.copy_link_button = QPushButton("Copy link")
        self.copy_link_button.setToolTip(
            "A p2pcommunity://join/… link: clicking it opens the app's join flow"
        )
        self.copy_link_button.clicked.connect(self._on_copy_link_clicked)
        self.copy_link_button.hide()
        self.hint = QLabel(
            "Send this code or link over a channel you trust. Anyone holding it can "
            "join until it expires or its uses run out; you can revoke it in the "
            "community settings."
        )
        self.hint.setObjectName("muted")
        self.hint.setWordWrap(True)
        self.hint.hide()
        self.close_buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.close_buttons.rejected.connect(self.reject)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.copy_link_button)
        row.addWidget(self.copy_button)
        row.addWidget(self.create_button)
        body = QWidget()
        inner = QVBoxLayout(body)
        inner.setContentsMargins(0, 0, 0, 0)
        inner.addLayout(form)
        inner.addLayout(row)
        inner.addWidget(self.error)
        inner.addWidget(self.qr)
        inner.addWidget(self.code)
        inner.addWidget(self.hint)
        inner.addStretch(1)
        self.scroll_area = QScrollArea()
        self.scroll_area.setWidgetResizable(True)
        self.scroll_area.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll_area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.scroll_area.setWidget(body)
        layout = QVBoxLayout(self)
        layout.addWidget(self.scroll_area, 1)
        layout.addWidget(self.close_buttons)

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
        self.copy_button.setText("Copy code")
        self.copy_link_button.show()
        self.copy_link_button.setText("Copy link")
        self.hint.show()
        self.create_button.setText("Create another")
        self._fit_screen()

    def _fit_screen(self) -> None:
        """Grow to show what was added, but never past the screen: the rest scrolls."""
        body = self.scroll_area.widget()
        assert body is not None
        want = body.sizeHint().height() + self.close_buttons.sizeHint().height() + 40
        screen = self.screen() or QGuiApplication.primaryScreen()
        room = screen.availableGeometry().height() - 60 if screen is not None else want
        self.resize(max(self.width(), body.sizeHint().width() + 40), max(240, min(want, room)))

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
        self.copy_link_button.setText("Copy link")

    def _on_copy_link_clicked(self) -> None:
        QGuiApplication.clipboard().setText(make_link(self.code.toPlainText()))
        self.copy_link_button.setText("Link copied ✓")
        self.copy_button.setText("Copy code")
