"""The moderation log page, for every member, and the appeal a member writes from it.

`modlog` lists every moderation act with its actor, target, reason, the rule it
cites and its time (shown in local time); the page filters it by action and by
member (as the moderator or the one acted on), and shows the selected entry in
full below. A member on whom an entry acted (a hide of their message, their
timeout, their role change) appeals it once from here: the text is sealed to
the admins by the node. The outcome comes back as an `appeal_uphold` /
`appeal_reverse` entry naming the member and the appeal; the node also lists
this member's appeals with their entries and outcomes (`my_appeals`, read
off the log), so the Appeal column holds wherever the
appeal was sent from, the CLI included (appeals.py also turns an outcome
into a notice).
"""

from __future__ import annotations

import html
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from p2pcommunity.ui.client import ControlClient, friendly_error
from p2pcommunity.ui.safety.common import (
    ACTION_WORDS,
    Row,
    SafetyPage,
    add_row,
    local_time,
    row_of,
    tree,
)

APPEALABLE = ("hide", "timeout", "role_set")
MAX_APPEAL = 2000
HIGHLIGHT = QColor(255, 214, 102, 90)
OUTCOME_WORDS = {None: "Sent", "uphold": "Upheld", "reverse": "Reversed"}
# The action filter's choices, in the order a member looks for them.
ACTION_FILTERS = (
    ("hide", "Hidden messages"),
    ("unhide", "Messages shown again"),
    ("timeout", "Timeouts"),
    ("untimeout", "Timeouts lifted"),
    ("member_remove", "Removals"),
    ("role_set", "Role changes"),
    ("note_set", "Context notes"),
    ("note_remove", "Context notes removed"),
    ("post_approve", "Approvals"),
    ("post_reject", "Rejections"),
    ("policy_set", "Policy changes"),
    ("appeal_uphold", "Appeals upheld"),
    ("appeal_reverse", "Appeals reversed"),
)
COLUMNS = ["Time", "Moderator", "Action", "Concerns", "Reason", "Rule", "Appeal"]


class ModlogPage(SafetyPage):
    def __init__(self, client: ControlClient, parent: QWidget | None = None):
        super().__init__(
            client,
            "Moderation log",
            "Every moderation act, newest first: everyone in the community sees the same log",
            parent,
        )
        self.entries: list[Row] = []
        self.my_appeals: list[Row] = []  # modlog's my_appeals: {"id", "entry", "outcome"}
        self.mine: set[str] = set()  # hidden posts that are mine (from `thread`)
        self.authors: dict[str, str] = {}  # hidden post -> its author (from `thread`)
        self.action_filter = QComboBox()
        self.action_filter.setAccessibleName("Filter by action")
        self.action_filter.addItem("All actions", "")
        for action, label in ACTION_FILTERS:
            self.action_filter.addItem(label, action)
        self.member_filter = QComboBox()
        self.member_filter.setAccessibleName("Filter by member")
        self.member_filter.addItem("All members", "")
        for box in (self.action_filter, self.member_filter):
            box.currentIndexChanged.connect(self._show_entries)
        refresh = QPushButton("Refresh")
        refresh.clicked.connect(self.reload)
        self.header.addWidget(refresh)
        filters = QHBoxLayout()
        filters.addWidget(QLabel("Show"))
        filters.addWidget(self.action_filter)
        by = QLabel("by or about")
        filters.addWidget(by)
        filters.addWidget(self.member_filter)
        filters.addStretch(1)
        self.view = tree(COLUMNS, "Moderation log entries")
        # The Action column takes what is left, so that every column shows beside the
        # member list on a laptop with no sideways scrolling; the detail below has it all.
        header = self.view.header()
        header.setStretchLastSection(False)
        for column, width in enumerate((128, 70, 0, 95, 100, 75, 70)):
            if width:
                self.view.setColumnWidth(column, width)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.view.currentItemChanged.connect(self._on_current_changed)
        self.detail = QTextBrowser()
        self.detail.setAccessibleName("The selected entry")
        self.detail.setOpenLinks(False)
        self.detail.setMaximumHeight(120)
        self.appeal_button = QPushButton("Appeal…")
        self.appeal_button.setAccessibleName("Appeal this act")
        self.appeal_button.clicked.connect(self.open_appeal)
        buttons = QHBoxLayout()
        buttons.addWidget(self.appeal_button)
        buttons.addStretch(1)
        self.body.addLayout(filters)
        self.body.addWidget(self.view, 1)
        self.body.addWidget(self.detail)
        self.body.addLayout(buttons)
        self._on_current_changed()

    def forget(self) -> None:
        self.entries = []
        self.my_appeals = []
        self.mine.clear()
        self.authors.clear()
        self.view.clear()
        self._on_current_changed()

    def reload(self) -> None:
        self.status.setText("Loading the moderation log…")
        self.ask("modlog", {"limit": 500}, self._on_modlog)

    def _on_modlog(self, result: Row) -> None:
        self.entries = list(result.get("entries", []))
        self.my_appeals = [a for a in result.get("my_appeals", []) if isinstance(a, dict)]
        for entry in self.entries:
            target = entry.get("target") or ""
            if entry.get("action") == "hide" and target and target not in self.authors:
                self._check_author(target)
        self._fill_member_filter()
        self._show_entries()

    def _fill_member_filter(self) -> None:
        box = self.member_filter
        chosen = box.currentData()
        peers = dict.fromkeys(self.names)
        for entry in self.entries:
            for peer in (entry.get("actor"), entry.get("target")):
                if isinstance(peer, str) and peer.startswith("12D3Koo"):
                    peers[peer] = None
        choices = sorted((("you" if p == self.me else self.name(p)), p) for p in peers if p)
        box.blockSignals(True)
        box.clear()
        box.addItem("All members", "")
        for label, peer in choices:
            box.addItem(label, peer)
        box.setCurrentIndex(max(0, box.findData(chosen)))
        box.blockSignals(False)

    def _matches(self, entry: Row) -> bool:
        action, member = self.action_filter.currentData(), self.member_filter.currentData()
        if action and entry.get("action") != action:
            return False
        if not member:
            return True
        target = entry.get("target") or ""
        return member in (entry.get("actor"), target, self.authors.get(target))

    def _show_entries(self, *_args: object) -> None:
        current = self.current().get("id")
        outcomes = self._outcomes()
        self.view.clear()
        shown = [e for e in self.entries if self._matches(e)]
        for entry in shown:
            item = add_row(self.view, self._texts(entry, outcomes), entry)
            if self._concerns_me(entry) and entry["action"].startswith("appeal_"):
                for column in range(self.view.columnCount()):
                    item.setBackground(column, QBrush(HIGHLIGHT))
            if entry.get("id") == current:
                self.view.setCurrentItem(item)
        total = len(self.entries)
        what = f"{total} entr{'ies' if total != 1 else 'y'}"
        self.status.setText(f"{what}." if len(shown) == total else f"{len(shown)} of {what} shown.")
        self._on_current_changed()

    # ------------------------------------------------------------------ what an entry says

    def _outcomes(self) -> dict[str, str]:
        """entry id -> "Sent", "Upheld" or "Reversed", for this member's appeals."""
        return {
            str(a.get("entry")): OUTCOME_WORDS.get(a.get("outcome"), "Sent")
            for a in self.my_appeals
        }

    def _action_words(self, entry: Row) -> str:
        action = str(entry.get("action", ""))
        words = ACTION_WORDS.get(action) or action
        detail = str(entry.get("detail") or "")
        if action == "timeout" and detail.startswith("until "):
            words += f" (until {local_time(detail.removeprefix('until '))})"
        elif detail and action in ("role_set", "policy_set"):
            words += f" ({detail})"
        if action.startswith("appeal_") and self._concerns_me(entry):
            words += " — your appeal"
        return words

    def _texts(self, entry: Row, outcomes: dict[str, str]) -> list[str]:
        return [
            local_time(entry.get("time")),
            self.name(entry.get("actor")),
            self._action_words(entry),
            self._target(entry),
            entry.get("reason") or "",
            entry.get("rule") or "",
            outcomes.get(str(entry.get("id")), ""),
        ]

    def _target(self, entry: Row) -> str:
        target = entry.get("target") or ""
        if target == self.me or target in self.mine:
            return "you" if target == self.me else "your message"
        if target.startswith("12D3Koo"):
            return self.name(target)
        if target in self.authors:
            return f"a message by {self.name(self.authors[target])}"
        return "a message" if target else ""

    def _concerns_me(self, entry: Row) -> bool:
        target = entry.get("target") or ""
        return bool(target) and (target == self.me or target in self.mine)

    def _check_author(self, post_id: str) -> None:
        def done(result: Row) -> None:
            post = next((p for p in result.get("posts", []) if p.get("id") == post_id), None)
            if post is None or not post.get("author"):
                return
            self.authors[post_id] = str(post["author"])
            if post["author"] == self.me:
                self.mine.add(post_id)
            self._show_entries()

        self.request(
            "thread",
            {"community": self.community, "post": post_id, "include_hidden": True},
            done,
            lambda _m, _c: None,  # deleted since: nothing to appeal about
        )

    # ------------------------------------------------------------------ selection, appeal

    def current(self) -> Row:
        return row_of(self.view.currentItem())

    def _on_current_changed(self, *_args: object) -> None:
        entry = self.current()
        outcome = self._outcomes().get(str(entry.get("id")), "")
        can = entry.get("action") in APPEALABLE and self._concerns_me(entry) and not outcome
        self.appeal_button.setEnabled(can)
        self.appeal_button.setToolTip(
            ""
            if can
            else "You have appealed this."
            if outcome
            else "You can appeal a hide, timeout or role change that concerned you."
        )
        self.detail.setHtml(self._detail(entry, outcome))

    def _detail(self, entry: Row, outcome: str) -> str:
        if not entry:
            return "<p><i>Select an entry to read it in full.</i></p>"
        lines = [
            f"<b>{html.escape(self.name(entry.get('actor')))}</b> "
            f"{html.escape(self._action_words(entry))} "
            f"<b>{html.escape(self._target(entry))}</b>"
            f" <span style='color:#777'>· {html.escape(local_time(entry.get('time')))}</span>",
            f"Reason: {html.escape(entry.get('reason') or 'none given')}",
            f"Rule cited: {html.escape(entry.get('rule') or 'none')}",
        ]
        if entry.get("action") == "note_set" and entry.get("detail"):
            lines.append(f"Note: {html.escape(str(entry['detail']))}")
        if outcome:
            lines.append(
                "Your appeal: "
                + {"Sent": "sent, waiting for the admins", "Upheld": "upheld: the act stands"}.get(
                    outcome, "reversed: the act is undone"
                )
            )
        return "<br>".join(lines)

    def open_appeal(self) -> AppealDialog | None:
        entry = self.current()
        if not self.appeal_button.isEnabled():
            return None
        what = self._action_words(entry)
        dialog = AppealDialog(self.client, self.community, entry, what, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.appealed.connect(lambda appeal: self._on_appeal_dialog_appealed(appeal, entry))
        dialog.open()
        return dialog

    def _on_appeal_dialog_appealed(self, appeal: str, entry: Row) -> None:
        # The next modlog says it too.
        self.my_appeals.append({"id": appeal, "entry": entry.get("id"), "outcome": None})
        self._show_entries()
        self.status.setText(
            "Appeal sent. Only the admins can read it; the outcome will appear here."
        )


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
