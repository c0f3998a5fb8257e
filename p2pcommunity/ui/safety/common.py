"""What every safety dialog and page shares: the node client, a status line, names, jobs.

A request is sent and the dialog returns at once; its answer lands in the status
line (or a callback), its error as a sentence, never a traceback. A dialog is
about one community for its whole life; a page (`SafetyPage`, in the centre of
the chat page) is shown for whichever community is current, so an answer that
comes back after the community changed is dropped.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import shiboken6
from PySide6.QtCore import QDateTime, Qt, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from p2pcommunity.ui.client import ControlClient, friendly_error
from p2pcommunity.ui.models import short_peer

Row = dict[str, Any]
ROW_ROLE = int(Qt.ItemDataRole.UserRole) + 1

CATEGORIES = (
    ("harassment", "Harassment"),
    ("spam", "Spam"),
    ("misinformation", "Misinformation"),
    ("other", "Other"),
)

ACTION_WORDS = {
    "hide": "hid a message",
    "unhide": "showed a message again",
    "timeout": "timed out",
    "untimeout": "lifted the timeout of",
    "member_remove": "removed",
    "role_set": "changed the role of",
    "note_set": "added a context note",
    "note_remove": "removed a context note",
    "post_approve": "approved a message",
    "post_reject": "rejected a message",
    "policy_set": "changed the policy",
    "appeal_uphold": "upheld on appeal",
    "appeal_reverse": "reversed on appeal",
}


def local_time(iso: str | None) -> str:
    """An ISO 8601 UTC time of the node as the user's local date and time."""
    dt = QDateTime.fromString(iso or "", Qt.DateFormat.ISODateWithMs)
    if not dt.isValid():
        return ""
    return dt.toLocalTime().toString("d MMM yyyy, HH:mm")


def tree(headers: list[str], name: str) -> QTreeWidget:
    view = QTreeWidget()
    view.setAccessibleName(name)
    view.setHeaderLabels(headers)
    view.setRootIsDecorated(False)
    view.setAlternatingRowColors(True)
    view.setWordWrap(True)
    view.setUniformRowHeights(False)
    return view


def add_row(view: QTreeWidget, texts: list[str], row: Row) -> QTreeWidgetItem:
    item = QTreeWidgetItem([t.replace("\n", " ") for t in texts])
    item.setData(0, ROW_ROLE, row)
    for column, text in enumerate(texts):
        item.setToolTip(column, text)
    view.addTopLevelItem(item)
    return item


def row_of(item: QTreeWidgetItem | None) -> Row:
    data = item.data(0, ROW_ROLE) if item is not None else None
    return dict(data) if isinstance(data, dict) else {}


class SafetyClient:
    """Requests for one community, names of its members, a status line: dialogs and pages.

    Mixed into a Qt widget that sets `client`, `community`, `names` and `status`
    and has a `changed` signal."""

    client: ControlClient
    community: str
    names: dict[str, str]
    status: QLabel
    changed: Any

    def alive(self) -> bool:
        """False once the widget was closed and deleted: a late answer has nowhere to go."""
        return shiboken6.isValid(self) and shiboken6.isValid(self.status)

    def name(self, peer: str | None) -> str:
        if not peer:
            return ""
        return self.names.get(peer) or short_peer(peer)

    def load_names(self, then: Callable[[], None]) -> None:
        def done(result: Row) -> None:
            self.names = {m["peer_id"]: m.get("name") or "" for m in result.get("members", [])}
            then()

        self.ask("member list", {}, done)

    def ask(self, method: str, params: Row, done: Callable[[Row], None]) -> None:
        self.request(method, {"community": self.community, **params}, done)

    def request(
        self,
        method: str,
        params: Row,
        done: Callable[[Row], None],
        failed: Callable[[str, str], None] | None = None,
    ) -> None:
        """Send `method`; its answer reaches `done` (or `failed`) only while the widget
        lives and still shows the community it was asked about."""
        community = self.community

        def answered(result: Row) -> None:
            if self.alive() and self.community == community:
                done(result)

        def refused(message: str, code: str) -> None:
            if self.alive() and self.community == community:
                (failed or self.fail)(message, code)

        self.client.request(method, params, on_result=answered, on_error=refused)

    def job(
        self, method: str, params: Row, done_text: str, then: Callable[[], None] | None = None
    ) -> None:
        """Do one thing the user asked for; say so when the node did it."""

        def done(_result: Row) -> None:
            self.status.setText(done_text)
            self.changed.emit()
            if then is not None:
                then()

        self.status.setText("Working…")
        self.ask(method, params, done)

    def fail(self, message: str, code: str) -> None:
        self.status.setText(friendly_error(message, code))


def status_label() -> QLabel:
    status = QLabel()
    status.setObjectName("muted")
    status.setWordWrap(True)
    return status


class SafetyDialog(SafetyClient, QDialog):
    """A dialog about one community: a body, a status line and Close."""

    changed = Signal()  # something this dialog did changed what the timeline shows

    def __init__(
        self, client: ControlClient, community: str, title: str, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.client = client
        self.community = community
        self.names: dict[str, str] = {}
        self.setWindowTitle(title)
        self.status = status_label()
        self.body = QVBoxLayout()
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(self.body, 1)
        layout.addWidget(self.status)
        layout.addWidget(buttons)

    def showEvent(self, event: QShowEvent) -> None:
        # Return in a field (a word, a channel's seconds) acts on that field; it must not
        # press a dialog button (Qt makes every push button of a dialog an autoDefault).
        for button in self.findChildren(QPushButton):
            button.setAutoDefault(False)
            button.setDefault(False)
        super().showEvent(event)


class SafetyPage(SafetyClient, QWidget):
    """A page of the community in the chat page's centre: a header like a channel's,
    a body, a status line. `show_for` points it at the current community."""

    changed = Signal()  # something done here changed what the timeline shows

    def __init__(
        self, client: ControlClient, title: str, subtitle: str, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.client = client
        self.community = ""
        self.me = ""
        self.names: dict[str, str] = {}
        self.setAccessibleName(title)
        self.title = QLabel(f"<b>{title}</b>")
        self.title.setObjectName("channelTitle")
        self.subtitle = QLabel(subtitle)
        self.subtitle.setObjectName("muted")
        header = QFrame()
        header.setObjectName("channelHeader")
        row = QHBoxLayout(header)
        row.setContentsMargins(16, 10, 10, 10)
        row.addWidget(self.title)
        row.addWidget(self.subtitle, 1)
        self.header = row
        self.status = status_label()
        self.body = QVBoxLayout()
        self.body.setContentsMargins(12, 8, 12, 0)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 8)
        layout.setSpacing(0)
        layout.addWidget(header)
        layout.addLayout(self.body, 1)
        self.status.setContentsMargins(12, 4, 12, 0)
        layout.addWidget(self.status)

    def show_for(self, community: str, me: str) -> None:
        """Point the page at `community` (a new one starts empty) and load it."""
        if community != self.community:
            self.community = community
            self.forget()
        self.me = me
        self.load_names(self.reload)

    def forget(self) -> None:
        """Drop what was shown of the previous community."""

    def reload(self) -> None:
        raise NotImplementedError


def items(view: QTreeWidget) -> list[QTreeWidgetItem]:
    found = (view.topLevelItem(i) for i in range(view.topLevelItemCount()))
    return [item for item in found if item is not None]


def select_first(view: QTreeWidget) -> None:
    first = items(view)[:1]
    if first:
        view.setCurrentItem(first[0])
