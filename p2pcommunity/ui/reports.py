"""The reports viewer for moderators: what members reported, and what to do about it.

`reports` answers the sealed reports this node can open (moderators and up;
others get `forbidden`). The dialog lists them newest first with the
reporter's name (from `member list`) and fetches each reported post with
`thread`: a post that is gone answers `not_found` (deleted), one a moderator
hid is missing from the answer (hidden). From a row the moderator can go to
the post, hide it, or time its author out; each is one request whose answer
shows in the dialog's status line.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import IntEnum
from functools import partial
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    Qt,
    Signal,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMenu,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from p2pcommunity.ui.actions import TIMEOUTS
from p2pcommunity.ui.client import ControlClient, friendly_error
from p2pcommunity.ui.delegate import format_time
from p2pcommunity.ui.dialogs import CommunityDialog, ask_text
from p2pcommunity.ui.models import AnyIndex, parse_time, short_peer

Row = dict[str, Any]

# what is known of a reported post
LOADING, SHOWN, HIDDEN, DELETED = "loading", "shown", "hidden", "deleted"
POST_TEXT = {LOADING: "…", HIDDEN: "(hidden by a moderator)", DELETED: "(deleted)"}


class ReportColumn(IntEnum):
    TIME = 0
    REPORTER = 1
    REASON = 2
    POST = 3


HEADERS = {
    ReportColumn.TIME: "Time",
    ReportColumn.REPORTER: "Reported by",
    ReportColumn.REASON: "Reason",
    ReportColumn.POST: "Message",
}


class ReportsModel(QAbstractTableModel):
    """One row per report; the post's state and text fill in as `thread` answers."""

    ROW_ROLE = int(Qt.ItemDataRole.UserRole) + 1

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._rows: list[Row] = []
        self.names: dict[str, str] = {}

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(ReportColumn)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return HEADERS.get(ReportColumn(section)) if 0 <= section < len(HEADERS) else None
        return None

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        row = self._rows[index.row()]
        if role == self.ROW_ROLE:
            return row
        if role not in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return None
        column = index.column()
        if column == ReportColumn.TIME:
            return format_time(parse_time(row.get("time")))
        if column == ReportColumn.REPORTER:
            peer = row.get("reporter", "")
            return self.names.get(peer) or short_peer(peer)
        if column == ReportColumn.REASON:
            return row.get("reason", "")
        if column == ReportColumn.POST:
            state = row.get("state", LOADING)
            if state != SHOWN:
                return POST_TEXT[state]
            author = row.get("author_name") or short_peer(row.get("author", ""))
            return f"{author}: {row.get('text', '')}"
        return None

    def set_reports(self, reports: list[Row]) -> None:
        if self._rows:
            self.beginRemoveRows(QModelIndex(), 0, len(self._rows) - 1)
            self._rows = []
            self.endRemoveRows()
        if reports:
            self.beginInsertRows(QModelIndex(), 0, len(reports) - 1)
            self._rows = [{**r, "state": LOADING} for r in reports]
            self.endInsertRows()

    def set_names(self, names: dict[str, str]) -> None:
        self.names = names
        if self._rows:
            column = ReportColumn.REPORTER
            self.dataChanged.emit(self.index(0, column), self.index(len(self._rows) - 1, column))

    def set_post(self, post_id: str, state: str, post: Row | None = None) -> None:
        """What `thread` said about `post_id`, for every report of it."""
        extra = {}
        if post is not None:
            extra = {k: post.get(k) for k in ("text", "author", "author_name", "channel")}
        for i, row in enumerate(self._rows):
            if row.get("post") == post_id:
                self._rows[i] = {**row, **extra, "state": state}
                index = self.index(i, ReportColumn.POST)
                self.dataChanged.emit(index, index)

    def row_at(self, i: int) -> Row:
        return dict(self._rows[i]) if 0 <= i < len(self._rows) else {}

    def rows(self) -> list[Row]:
        return [dict(r) for r in self._rows]


class ReportsDialog(CommunityDialog):
    post_wanted = Signal(dict)  # {"id", "channel"}: show this post in the timeline
    changed = Signal()  # a post was hidden or an author timed out

    def __init__(
        self, client: ControlClient, community: str, parent: QWidget | None = None
    ) -> None:
        super().__init__(client, community, "Reports", parent)
        self.resize(760, 420)
        self.model = ReportsModel(self)
        self.view = QTableView()
        self.view.setAccessibleName("Reports")
        self.view.setModel(self.model)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.view.setWordWrap(True)
        self.view.verticalHeader().hide()
        header = self.view.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(ReportColumn.REASON, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(ReportColumn.POST, QHeaderView.ResizeMode.Stretch)
        self.view.selectionModel().currentRowChanged.connect(self._update_buttons)
        self.view.doubleClicked.connect(self.go_to_post)
        self.empty = QLabel("No reports. Members can report a message from its menu.")
        self.empty.setObjectName("muted")
        self.empty.hide()
        self.status = QLabel()
        self.status.setObjectName("muted")
        self.status.setWordWrap(True)
        self.go_button = QPushButton("Go to post")
        self.go_button.clicked.connect(self.go_to_post)
        self.hide_button = QPushButton("Hide post…")
        self.hide_button.clicked.connect(self.hide_post)
        self.timeout_button = QPushButton("Time out author")
        timeouts = QMenu(self.timeout_button)
        for label, duration in TIMEOUTS:
            timeouts.addAction(label, partial(self.time_out_author, duration, label))
        self.timeout_button.setMenu(timeouts)
        refresh = QPushButton("Refresh")
        refresh.clicked.connect(self.reload)
        actions = QHBoxLayout()
        for button in (self.go_button, self.hide_button, self.timeout_button):
            actions.addWidget(button)
        actions.addStretch(1)
        actions.addWidget(refresh)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.empty)
        layout.addLayout(actions)
        layout.addWidget(self.status)
        layout.addWidget(buttons)
        self._update_buttons()
        self.reload()

    # ------------------------------------------------------------------ loading

    def reload(self) -> None:
        self.status.setText("Loading reports…")
        self.client.request(
            "reports",
            {"community": self.community},
            on_result=self._on_reports,
            on_error=self._fail,
        )
        self.client.request(
            "member list", {"community": self.community}, on_result=self._on_members
        )

    def _on_reports(self, result: dict[str, Any]) -> None:
        reports = sorted(result.get("reports", []), key=lambda r: r.get("time", ""), reverse=True)
        self.model.set_reports(reports)
        self.empty.setVisible(not reports)
        self.status.setText(f"{len(reports)} report{'s' if len(reports) != 1 else ''}.")
        if reports:
            self.view.setCurrentIndex(self.model.index(0, 0))
        for post_id in dict.fromkeys(r["post"] for r in reports):
            self.client.request(
                "thread",
                {"community": self.community, "post": post_id},
                on_result=partial(self._on_thread, post_id),
                on_error=partial(self._on_thread_failed, post_id),
            )
        self._update_buttons()

    def _on_members(self, result: dict[str, Any]) -> None:
        self.model.set_names({m["peer_id"]: m.get("name") or "" for m in result.get("members", [])})

    def _on_thread(self, post_id: str, result: dict[str, Any]) -> None:
        root = next((p for p in result.get("posts", []) if p.get("id") == post_id), None)
        self.model.set_post(post_id, SHOWN if root else HIDDEN, root)
        self._update_buttons()

    def _on_thread_failed(self, post_id: str, message: str, code: str) -> None:
        if code == "not_found":
            self.model.set_post(post_id, DELETED)
        else:
            self.status.setText(friendly_error(message, code))
        self._update_buttons()

    def _fail(self, message: str, code: str) -> None:
        self.status.setText(friendly_error(message, code))

    # ------------------------------------------------------------------ actions

    def current(self) -> dict[str, Any]:
        return self.model.row_at(self.view.currentIndex().row())

    def _update_buttons(self, *_args: object) -> None:
        row = self.current()
        shown = row.get("state") == SHOWN
        self.go_button.setEnabled(shown)
        self.hide_button.setEnabled(shown)
        self.timeout_button.setEnabled(bool(row.get("author")))

    def go_to_post(self, *_args: object) -> None:
        row = self.current()
        if row.get("state") != SHOWN:
            return
        self.post_wanted.emit({"id": row["post"], "channel": row.get("channel") or ""})
        self.accept()

    def hide_post(self) -> None:
        row = self.current()
        if row.get("state") != SHOWN:
            return
        ask_text(
            self,
            "Hide message",
            "Reason (shown to moderators):",
            lambda reason: self._job(
                "hide",
                {"post": row["post"], "reason": reason or None},
                "Message hidden.",
                lambda: self.model.set_post(row["post"], HIDDEN),
            ),
            text=row.get("reason", ""),
        )

    def time_out_author(self, duration: str, label: str) -> None:
        row = self.current()
        author = row.get("author")
        if not author:
            return
        name = row.get("author_name") or short_peer(author)
        self._job(
            "timeout",
            {"peer": author, "duration": duration},
            f"{name} is timed out for {label}.",
        )

    def _job(
        self,
        method: str,
        params: dict[str, Any],
        done_text: str,
        then: Callable[[], None] | None = None,
    ) -> None:
        def done(_result: dict[str, Any]) -> None:
            self.status.setText(done_text)
            if then is not None:
                then()
            self._update_buttons()
            self.changed.emit()

        self.status.setText("Working…")
        self.client.request(
            method, {"community": self.community, **params}, on_result=done, on_error=self._fail
        )
