"""Joining: the invite code, the wait while the node syncs, and the rules that gate the rest.

The app joins with `acknowledge: false`: the node takes the community up and
syncs it, but writes nothing (no rules acknowledgement, no profile) until
`rules accept`. So a joiner is either in, having accepted, or on the rules;
never half-in. Every way out of the rules (the Leave button, Escape, the
window's X) asks first, says what leaving deletes, and then either calls
`leave` or goes back to the rules.

`RulesView` is that choice as a widget, used twice: inside `JoinDialog`, and
in the main window's `RulesPage`, which the app shows instead of a community
whose rules this member has not accepted (a joiner who closed the dialog
while it synced, or a member after an admin published new rules).

A join runs on its own control connection: the node answers one connection's
requests in order, and a join can take many seconds.
"""

from __future__ import annotations

import html
import re
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtGui import QTextOption
from PySide6.QtWidgets import (
    QDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QStackedWidget,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from p2pcommunity.ui.client import ControlClient, friendly_error
from p2pcommunity.ui.dialogs import confirm_leave, error_label, show_error
from p2pcommunity.ui.links import LinkError, is_link, parse_link

HEX_ID = re.compile(r"^[0-9a-fA-F]{64}$")
JOIN_TIMEOUT_S = 60


class RulesView(QWidget):
    """A community's rules with "I agree" and "Leave…"; the owner sends the requests."""

    agreed = Signal()
    leave_clicked = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.name = ""
        self.title = QLabel("<b>Community rules</b>")
        self.title.setWordWrap(True)
        self.intro = QLabel()
        self.intro.setObjectName("muted")
        self.intro.setWordWrap(True)
        self.rules = QTextBrowser()
        self.rules.setObjectName("rulesText")
        self.rules.setAccessibleName("Community rules")
        self.error = error_label()
        self.leave_button = QPushButton("Leave…")
        self.leave_button.setObjectName("rulesLeave")
        self.leave_button.clicked.connect(self.leave_clicked.emit)
        self.agree_button = QPushButton("I agree, take me in")
        self.agree_button.setObjectName("rulesAgree")
        self.agree_button.setDefault(True)
        self.agree_button.clicked.connect(self._on_agree_clicked)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.leave_button)
        buttons.addWidget(self.agree_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.title)
        layout.addWidget(self.intro)
        layout.addWidget(self.rules, 1)
        layout.addWidget(self.error)
        layout.addLayout(buttons)

    def set_rules(self, name: str, rules: str, version: object, intro: str = "") -> None:
        self.name = name
        suffix = f" (version {version})" if version else ""
        self.title.setText(f"<b>The rules of {html.escape(name)}</b>{suffix}")
        self.intro.setText(
            intro
            or "Read them before you take part. Nothing of the community is shown, "
            "and nothing is sent in your name, until you agree."
        )
        self.rules.setPlainText(rules)
        self.error.hide()
        self.set_busy(False)

    def set_busy(self, busy: bool) -> None:
        self.agree_button.setEnabled(not busy)
        self.leave_button.setEnabled(not busy)

    def show_failure(self, message: str, code: str) -> None:
        self.set_busy(False)
        show_error(self.error, message, code)

    def _on_agree_clicked(self) -> None:
        self.error.hide()
        self.set_busy(True)
        self.agreed.emit()


class JoinDialog(QDialog):
    """Paste an invite code (or open a link) -> progress while the node syncs -> the rules."""

    joined = Signal(str)  # community id, once the rules are accepted (or it was ours already)
    left = Signal(str)  # community id: declined the rules and left

    CODE, PROGRESS, RULES, MEMBER = range(4)

    def __init__(
        self,
        socket_path: str,
        parent: QWidget | None = None,
        known: dict[str, bool] | None = None,
        code: str = "",
    ) -> None:
        """`known`: the communities this device already has -> whether their rules are accepted."""
        super().__init__(parent)
        self.setWindowTitle("Join a community")
        self.setMinimumWidth(480)
        self.community_id = ""
        self.community_name = ""
        self.known = dict(known or {})
        self.leave_box: QMessageBox | None = None
        self.client = ControlClient(self)
        self.client.connect_to(socket_path)
        self.stack = QStackedWidget()
        # page CODE
        page = QWidget()
        form = QVBoxLayout(page)
        intro = QLabel("Paste the invite code or the p2pcommunity:// link someone gave you.")
        intro.setWordWrap(True)
        self.code = QPlainTextEdit()
        self.code.setObjectName("inviteCode")
        self.code.setAccessibleName("Invite code")
        self.code.setPlaceholderText("Invite code")
        self.code.setTabChangesFocus(True)
        self.code.setWordWrapMode(QTextOption.WrapMode.WrapAnywhere)
        self.code.setMinimumHeight(90)  # and the room the page has: a code is ~8 lines
        self.bootstrap = QLineEdit()
        self.bootstrap.setAccessibleName("Address of an admin's node")
        self.bootstrap.setPlaceholderText("/ip4/…/tcp/…/p2p/… (an admin's address)")
        self.bootstrap_label = QLabel("Added directly by an admin? Their node's address:")
        self.bootstrap_label.setWordWrap(True)
        self.code.textChanged.connect(self._on_code_text_changed)
        self.error = error_label()
        form.addWidget(intro)
        form.addWidget(self.code, 1)
        form.addWidget(self.bootstrap_label)
        form.addWidget(self.bootstrap)
        form.addWidget(self.error)
        # page PROGRESS
        progress_page = QWidget()
        pl = QVBoxLayout(progress_page)
        self.progress_label = QLabel("Connecting to the community's peers…")
        self.progress_label.setWordWrap(True)
        self.progress = QProgressBar()
        self.progress.setRange(0, 0)
        pl.addStretch(1)
        pl.addWidget(self.progress_label)
        pl.addWidget(self.progress)
        pl.addStretch(1)
        # page RULES
        self.rules_view = RulesView()
        self.rules_view.agreed.connect(self._on_rules_view_agreed)
        self.rules_view.leave_clicked.connect(self.ask_leave)
        # page MEMBER: the code was for a community this device is in already
        member_page = QFrame()
        ml = QVBoxLayout(member_page)
        self.member_label = QLabel()
        self.member_label.setObjectName("alreadyMember")
        self.member_label.setWordWrap(True)
        ml.addStretch(1)
        ml.addWidget(self.member_label)
        ml.addStretch(1)
        for p in (page, progress_page, self.rules_view, member_page):
            self.stack.addWidget(p)
        self.join_button = QPushButton("Join")
        self.join_button.setDefault(True)
        self.join_button.clicked.connect(self._on_join_clicked)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.reject)
        self.open_button = QPushButton("Open")
        self.open_button.clicked.connect(self._on_open_clicked)
        self.open_button.hide()
        self.buttons = QWidget()
        row = QHBoxLayout(self.buttons)
        row.setContentsMargins(0, 0, 0, 0)
        row.addStretch(1)
        row.addWidget(self.cancel_button)
        row.addWidget(self.join_button)
        row.addWidget(self.open_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.stack, 1)
        layout.addWidget(self.buttons)
        self._on_code_text_changed()
        if code:
            self.code.setPlainText(code)
        self.code.setFocus()

    # ------------------------------------------------------------------ the code

    def _entered_code(self) -> str:
        text = self.code.toPlainText().strip()
        if is_link(text):
            try:
                return parse_link(text)
            except LinkError:
                return text  # the node says what is wrong with it
        return text

    def _on_code_text_changed(self) -> None:
        self.error.hide()
        direct = bool(HEX_ID.match(self._entered_code()))
        self.bootstrap.setVisible(direct)
        self.bootstrap_label.setVisible(direct)

    def _on_join_clicked(self) -> None:
        text = self.code.toPlainText().strip()
        if not text:
            show_error(self.error, "paste an invite code first", "invalid")
            return
        try:
            code = parse_link(text) if is_link(text) else text
        except LinkError as exc:
            show_error(self.error, str(exc), "invalid")
            return
        params: dict[str, Any] = {"community": code, "timeout": JOIN_TIMEOUT_S}
        if HEX_ID.match(code):
            addr = self.bootstrap.text().strip()
            if not addr:
                show_error(
                    self.error, "a community id needs the address of a member's node", "invalid"
                )
                return
            params["bootstrap"] = [addr]
        params["acknowledge"] = False  # nothing is written until the rules are accepted
        self.error.hide()
        self.stack.setCurrentIndex(self.PROGRESS)
        self.join_button.setEnabled(False)
        self.progress_label.setText("Connecting to the community's peers and syncing…")
        self.client.request("join", params, on_result=self._on_joined, on_error=self._on_failed)

    def _on_failed(self, message: str, code: str) -> None:
        self.stack.setCurrentIndex(self.CODE)
        self.join_button.setEnabled(True)
        show_error(self.error, message, code)

    # ------------------------------------------------------------------ after the join

    def _on_joined(self, result: dict[str, Any]) -> None:
        self.community_id = str(result.get("community_id", ""))
        was_known = self.community_id in self.known
        acknowledged = result.get("rules_acknowledged", True) is not False
        self.progress_label.setText("Reading the community's rules…")

        def shown(info: dict[str, Any]) -> None:
            self.community_name = str(info.get("name") or "the community")
            if was_known and acknowledged:
                self._show_member()
            elif acknowledged or not str(info.get("rules") or result.get("rules") or "").strip():
                # No rules to read. `rules accept` still writes what waited for
                # them (the profile), and is harmless when there is nothing to write.
                self._accept_rules()
            else:
                self._show_rules(info, result)

        def not_shown(message: str, code: str) -> None:
            self._on_failed(message, code)

        self.client.request(
            "community show",
            {"community": self.community_id},
            on_result=shown,
            on_error=not_shown,
        )

    def _show_rules(self, info: dict[str, Any], result: dict[str, Any]) -> None:
        rules = str(info.get("rules") or result.get("rules") or "")
        version = info.get("rules_version") or result.get("rules_version")
        self.rules_view.set_rules(self.community_name, rules, version)
        self.stack.setCurrentIndex(self.RULES)
        self.buttons.hide()
        self.rules_view.agree_button.setFocus()

    def _show_member(self) -> None:
        name = self.community_name
        self.member_label.setText(
            f"<b>You are already a member of {html.escape(name)}.</b><br>"
            "This invite is for a community you are in; nothing has changed."
        )
        self.stack.setCurrentIndex(self.MEMBER)
        self.join_button.hide()
        self.cancel_button.setText("Close")
        self.open_button.setText(f"Open {name}")
        self.open_button.show()
        self.open_button.setDefault(True)
        self.open_button.setFocus()

    def _on_open_clicked(self) -> None:
        self._finish()

    def _on_rules_view_agreed(self) -> None:
        self._accept_rules()

    def _accept_rules(self) -> None:
        self.client.request(
            "rules accept",
            {"community": self.community_id},
            on_result=lambda _r: self._finish(),
            on_error=self._on_accept_failed,
        )

    def _on_accept_failed(self, message: str, code: str) -> None:
        if self.stack.currentIndex() != self.RULES:
            self._on_failed(message, code)
        else:
            self.rules_view.show_failure(message, code)

    def _finish(self) -> None:
        self.joined.emit(self.community_id)
        self.accept()

    # ------------------------------------------------------------------ leaving

    def ask_leave(self) -> None:
        """Leave the community just joined, once the user confirmed it."""
        if self.leave_box is not None:
            return
        self.leave_box = confirm_leave(
            self, self.community_name, self._leave, back="Back to the rules"
        )
        self.leave_box.finished.connect(self._on_leave_box_finished)

    def _on_leave_box_finished(self, _result: int) -> None:
        self.leave_box = None

    def _leave(self) -> None:
        self.rules_view.set_busy(True)
        community = self.community_id

        def done(_result: dict[str, Any]) -> None:
            self.left.emit(community)
            super(JoinDialog, self).reject()

        self.client.request(
            "leave",
            {"community": community},
            on_result=done,
            on_error=self.rules_view.show_failure,
        )

    def reject(self) -> None:
        """Escape and the window's X: on the rules they ask to leave, as the Leave button does."""
        if self.stack.currentIndex() == self.RULES:
            self.ask_leave()
            return
        super().reject()


class RulesPage(QWidget):
    """The main window's page for a community whose rules this member has not accepted.

    Like a dialog it runs its own jobs: `load` (community show), then accept or
    leave (after asking); the app only decides when the page is shown.
    """

    loaded = Signal(str)  # community id: its rules are on the page
    accepted = Signal(str)  # community id
    left = Signal(str)  # community id
    failed = Signal(str)  # a readable message (the rules could not be read)

    def __init__(self, client: ControlClient, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.client = client
        self.community_id = ""
        self.view = RulesView()
        self.view.agreed.connect(self._on_view_agreed)
        self.view.leave_clicked.connect(self._on_view_leave_clicked)
        box = QFrame()
        box.setObjectName("card")
        box.setMaximumWidth(640)
        inner = QVBoxLayout(box)
        inner.addWidget(self.view)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(box, 3)
        row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addLayout(row, 1)

    def load(self, community_id: str, changed: bool) -> None:
        self.community_id = community_id
        intro = (
            "The rules changed since you last agreed to them. Accept them to see the "
            "community and take part again."
            if changed
            else ""
        )

        def done(info: dict[str, Any]) -> None:
            if community_id != self.community_id:
                return
            self.view.set_rules(
                str(info.get("name") or "this community"),
                str(info.get("rules") or ""),
                info.get("rules_version"),
                intro,
            )
            self.loaded.emit(community_id)
            self.view.agree_button.setFocus()

        self.client.request(
            "community show",
            {"community": community_id},
            on_result=done,
            on_error=lambda message, code: self.failed.emit(friendly_error(message, code)),
        )

    def _on_view_agreed(self) -> None:
        community = self.community_id
        self.client.request(
            "rules accept",
            {"community": community},
            on_result=lambda _r: self.accepted.emit(community),
            on_error=self.view.show_failure,
        )

    def _on_view_leave_clicked(self) -> None:
        community = self.community_id

        def leave() -> None:
            self.view.set_busy(True)
            self.client.request(
                "leave",
                {"community": community},
                on_result=lambda _r: self.left.emit(community),
                on_error=self.view.show_failure,
            )

        confirm_leave(self, self.view.name, leave)
