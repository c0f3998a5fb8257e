"""Appeals: the admins' list to uphold or reverse, and the member's notice of the outcome.

`appeals` (admins) lists each appeal with its opened text and outcome; an admin
upholds or reverses it with a note (`appeal resolve`): reversing undoes the act
on every peer. The member is told by `OutcomeWatcher`, which reads the
moderation log when the community changes and announces each new
`appeal_uphold` / `appeal_reverse` entry that names them, once per entry
(the outcomes already shown are remembered in the app's settings, so a restart does not repeat them).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from PySide6.QtCore import QObject, QSettings, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QTextBrowser, QWidget

from p2pcommunity.ui.client import ControlClient
from p2pcommunity.ui.dialogs import ask_text
from p2pcommunity.ui.safety.common import (
    Row,
    SafetyDialog,
    add_row,
    local_time,
    row_of,
    select_first,
    tree,
)

OUTCOMES = {None: "Open", "uphold": "Upheld", "reverse": "Reversed"}
SEEN_KEY = "safety/seen_outcomes"


class AppealsDialog(SafetyDialog):
    def __init__(
        self, client: ControlClient, community: str, parent: QWidget | None = None
    ) -> None:
        super().__init__(client, community, "Appeals", parent)
        self.resize(860, 460)
        self.entries: dict[str, Row] = {}
        self.view = tree(["Time", "Member", "Outcome", "Appeal"], "Appeals")
        for column, width in enumerate((130, 120, 90)):
            self.view.setColumnWidth(column, width)
        self.view.currentItemChanged.connect(self._on_current_changed)
        self.detail = QTextBrowser()
        self.detail.setAccessibleName("Appeal and the act it is about")
        self.uphold_button = QPushButton("Uphold…")
        self.uphold_button.clicked.connect(partial(self.resolve, "uphold"))
        self.reverse_button = QPushButton("Reverse (undo the act)…")
        self.reverse_button.clicked.connect(partial(self.resolve, "reverse"))
        buttons = QHBoxLayout()
        buttons.addWidget(self.uphold_button)
        buttons.addWidget(self.reverse_button)
        buttons.addStretch(1)
        self.body.addWidget(
            QLabel("Members' appeals of moderation acts. Only admins can read them.")
        )
        self.body.addWidget(self.view, 2)
        self.body.addWidget(self.detail, 1)
        self.body.addLayout(buttons)
        self._on_current_changed()
        self.load_names(self.reload)

    def reload(self) -> None:
        self.status.setText("Loading appeals…")

        def entries(result: Row) -> None:
            self.entries = {e["id"]: e for e in result.get("entries", [])}
            self.ask("appeals", {}, self._on_appeals)

        self.ask("modlog", {"limit": 1000}, entries)

    def _on_appeals(self, result: Row) -> None:
        self.view.clear()
        appeals = sorted(result.get("appeals", []), key=lambda a: a.get("time", ""), reverse=True)
        for appeal in appeals:
            text = appeal.get("text") or "(sealed before you were an admin)"
            add_row(
                self.view,
                [
                    local_time(appeal.get("time")),
                    self.name(appeal.get("member")),
                    OUTCOMES.get(appeal.get("outcome"), str(appeal.get("outcome"))),
                    text,
                ],
                appeal,
            )
        open_ = sum(a.get("outcome") is None for a in appeals)
        self.status.setText(f"{len(appeals)} appeal{'s' * (len(appeals) != 1)}, {open_} open.")
        if appeals:
            select_first(self.view)

    def current(self) -> Row:
        return row_of(self.view.currentItem())

    def _on_current_changed(self, *_args: object) -> None:
        appeal = self.current()
        is_open = bool(appeal) and appeal.get("outcome") is None
        self.uphold_button.setEnabled(is_open)
        self.reverse_button.setEnabled(is_open)
        if not appeal:
            self.detail.setPlainText("")
            return
        entry = self.entries.get(appeal.get("entry", ""), {})
        act = entry.get("action", "an act").replace("_", " ")
        lines = [
            f"{self.name(appeal.get('member'))} appeals: {act} by "
            f"{self.name(entry.get('actor'))} on {local_time(entry.get('time'))}",
            f"Reason given: {entry.get('reason') or '—'}   Rule: {entry.get('rule') or '—'}",
            "",
            appeal.get("text") or "(sealed before you were an admin)",
        ]
        self.detail.setPlainText("\n".join(lines))

    def resolve(self, outcome: str) -> None:
        appeal = self.current()
        if not appeal or appeal.get("outcome") is not None:
            return
        verb = "Uphold" if outcome == "uphold" else "Reverse"
        ask_text(
            self,
            f"{verb} appeal",
            "A note for the member (shown in the moderation log):",
            lambda note: self.job(
                "appeal resolve",
                {"appeal": appeal["id"], "outcome": outcome, "note": note or None},
                "Appeal upheld." if outcome == "uphold" else "Appeal reversed: the act is undone.",
                self.reload,
            ),
        )


class OutcomeWatcher(QObject):
    """Tells the member when an admin decided one of their appeals."""

    outcome_announced = Signal(str, str)  # title, text

    def __init__(
        self,
        client: ControlClient,
        settings: QSettings,
        me: Callable[[], str],
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.client = client
        self.settings = settings
        self.me = me
        self.notices: list[str] = []
        self._asked: set[str] = set()  # communities with a modlog request in flight

    def _seen(self) -> set[str]:
        raw = self.settings.value(SEEN_KEY, "")
        return {s for s in str(raw or "").split(",") if s}

    def check(self, community: str, name: str = "") -> None:
        if not community or community in self._asked or not self.me():
            return
        self._asked.add(community)

        def done(result: Row) -> None:
            self._asked.discard(community)
            seen = self._seen()
            fresh = [
                e
                for e in result.get("entries", [])
                if e.get("action") in ("appeal_uphold", "appeal_reverse")
                and e.get("target") == self.me()
                and e.get("id") not in seen
            ]
            for entry in reversed(fresh):  # oldest first
                self._announce(entry, name)
            if fresh:
                seen.update(e["id"] for e in fresh)
                self.settings.setValue(SEEN_KEY, ",".join(sorted(seen)))

        def failed(_message: str, _code: str) -> None:
            self._asked.discard(community)

        self.client.request(
            "modlog", {"community": community, "limit": 100}, on_result=done, on_error=failed
        )

    def _announce(self, entry: Row, community_name: str) -> None:
        where = f" in {community_name}" if community_name else ""
        if entry["action"] == "appeal_reverse":
            text = f"Your appeal{where} was accepted: the moderation act is undone."
        else:
            text = f"Your appeal{where} was reviewed: the moderation act stands."
        if entry.get("reason"):
            text += f" The admin wrote: {entry['reason']}"
        self.notices.append(text)
        self.outcome_announced.emit("Appeal decided", text)
