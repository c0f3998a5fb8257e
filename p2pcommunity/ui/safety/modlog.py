"""The moderation log page, for every member, and the appeal a member writes from it.

`modlog` lists every moderation act with its actor, target, reason, the rule it
cites and its time (shown in local time). A member on whom an entry acted (a
hide of their message, their timeout, their role change) appeals it once from
here: the text is sealed to the admins by the node; the outcome comes back as
an `appeal_uphold` / `appeal_reverse` entry naming the member (appeals.py turns
it into a notice).
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from p2pcommunity.ui.client import ControlClient, friendly_error
from p2pcommunity.ui.safety.common import (
    ACTION_WORDS,
    Row,
    SafetyDialog,
    add_row,
    items,
    local_time,
    row_of,
    tree,
)

APPEALABLE = ("hide", "timeout", "role_set")
MAX_APPEAL = 2000
HIGHLIGHT = QColor(255, 214, 102, 90)


class ModlogDialog(SafetyDialog):
    def __init__(
        self, client: ControlClient, community: str, me: str, parent: QWidget | None = None
    ) -> None:
        super().__init__(client, community, "Moderation log", parent)
        self.me = me
        self.resize(960, 480)
        self.mine: set[str] = set()  # hidden posts that are mine (from `thread`)
        intro = QLabel(
            "Every moderation act in this community, newest first. Everyone in the "
            "community sees the same log. If an act concerned you, you can appeal it once."
        )
        intro.setWordWrap(True)
        self.view = tree(["Time", "Moderator", "Action", "Concerns", "Reason", "Rule"], "Log")
        for column, width in enumerate((130, 100, 260, 110, 180)):
            self.view.setColumnWidth(column, width)
        self.view.currentItemChanged.connect(self._update_buttons)
        self.appeal_button = QPushButton("Appeal…")
        self.appeal_button.clicked.connect(self.open_appeal)
        refresh = QPushButton("Refresh")
        refresh.clicked.connect(self.reload)
        buttons = QHBoxLayout()
        buttons.addWidget(self.appeal_button)
        buttons.addStretch(1)
        buttons.addWidget(refresh)
        self.body.addWidget(intro)
        self.body.addWidget(self.view, 1)
        self.body.addLayout(buttons)
        self._update_buttons()
        self.load_names(self.reload)

    def reload(self) -> None:
        self.status.setText("Loading the moderation log…")
        self.ask("modlog", {"limit": 500}, self._on_modlog)

    def _on_modlog(self, result: Row) -> None:
        self.view.clear()
        entries = result.get("entries", [])
        for entry in entries:
            item = add_row(self.view, self._texts(entry), entry)
            if self._concerns_me(entry) and entry["action"].startswith("appeal_"):
                for column in range(self.view.columnCount()):
                    item.setBackground(column, QBrush(HIGHLIGHT))
            if entry.get("action") == "hide" and entry.get("target"):
                self._check_mine(entry["target"])
        self.status.setText(f"{len(entries)} entr{'ies' if len(entries) != 1 else 'y'}.")
        self._update_buttons()

    def _texts(self, entry: Row) -> list[str]:
        action = str(entry.get("action", ""))
        words = ACTION_WORDS.get(action) or action
        detail = str(entry.get("detail") or "")
        if action == "timeout" and detail.startswith("until "):
            words += f" (until {local_time(detail.removeprefix('until '))})"
        elif detail and action in ("role_set", "policy_set"):
            words += f" ({detail})"
        if action.startswith("appeal_") and self._concerns_me(entry):
            words += " — your appeal"
        return [
            local_time(entry.get("time")),
            self.name(entry.get("actor")),
            words,
            self._target(entry),
            entry.get("reason") or "",
            entry.get("rule") or "",
        ]

    def _target(self, entry: Row) -> str:
        target = entry.get("target") or ""
        if target == self.me or target in self.mine:
            return "you" if target == self.me else "your message"
        if target.startswith("12D3Koo"):
            return self.name(target)
        return "a message" if target else ""

    def _concerns_me(self, entry: Row) -> bool:
        target = entry.get("target") or ""
        return bool(target) and (target == self.me or target in self.mine)

    def _check_mine(self, post_id: str) -> None:
        def done(result: Row) -> None:
            posts = result.get("posts", [])
            if any(p.get("id") == post_id and p.get("author") == self.me for p in posts):
                self.mine.add(post_id)
                for item in items(self.view):
                    if row_of(item).get("target") == post_id:
                        item.setText(3, "your message")
                self._update_buttons()

        self.request(
            "thread",
            {"community": self.community, "post": post_id, "include_hidden": True},
            done,
            lambda _m, _c: None,  # deleted since: nothing to appeal about
        )

    def current(self) -> Row:
        return row_of(self.view.currentItem())

    def _update_buttons(self, *_args: object) -> None:
        entry = self.current()
        can = entry.get("action") in APPEALABLE and self._concerns_me(entry)
        self.appeal_button.setEnabled(can)
        self.appeal_button.setToolTip(
            "" if can else "You can appeal a hide, timeout or role change that concerned you."
        )

    def open_appeal(self) -> AppealDialog | None:
        entry = self.current()
        if not self.appeal_button.isEnabled():
            return None
        dialog = AppealDialog(self.client, self.community, entry, self._texts(entry)[2], self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.appealed.connect(
            lambda _id: self.status.setText(
                "Appeal sent. Only the admins can read it; the outcome will appear here."
            )
        )
        dialog.open()
        return dialog


class AppealDialog(QDialog):
    appealed = Signal(str)  # appeal id

    def __init__(
        self,
        client: ControlClient,
        community: str,
        entry: Row,
        what: str,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.client = client
        self.community = community
        self.entry = entry
        self.setWindowTitle("Appeal a moderation act")
        self.resize(520, 320)
        reason = entry.get("reason") or "no reason given"
        summary = QLabel(
            f"<b>{what}</b> on {local_time(entry.get('time'))} ({reason}).<br>"
            "You can appeal once. Your text is sealed to the community's admins: "
            "nobody else can read it."
        )
        summary.setWordWrap(True)
        self.text = QPlainTextEdit()
        self.text.setAccessibleName("Your appeal")
        self.text.setPlaceholderText("Why should this be undone?")
        self.text.textChanged.connect(self._update)
        self.error = QLabel()
        self.error.setObjectName("error")
        self.error.setWordWrap(True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.send_button = self.buttons.addButton(
            "Send appeal", QDialogButtonBox.ButtonRole.AcceptRole
        )
        self.buttons.accepted.connect(self.send)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(summary)
        layout.addWidget(self.text, 1)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)
        self._update()

    def _update(self) -> None:
        text = self.text.toPlainText().strip()
        self.send_button.setEnabled(0 < len(text) <= MAX_APPEAL)
        self.error.setText(f"At most {MAX_APPEAL} characters." if len(text) > MAX_APPEAL else "")

    def send(self) -> None:
        self.send_button.setEnabled(False)

        def done(result: dict[str, Any]) -> None:
            self.appealed.emit(str(result.get("appeal_id", "")))
            self.accept()

        def failed(message: str, code: str) -> None:
            self.error.setText(
                "You have already appealed this."
                if code == "exists"
                else friendly_error(message, code)
            )
            self._update()

        self.client.request(
            "appeal",
            {
                "community": self.community,
                "entry": self.entry["id"],
                "text": self.text.toPlainText(),
            },
            on_result=done,
            on_error=failed,
        )
