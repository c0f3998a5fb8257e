"""The moderation queue page: what members reported and what waits for approval, in context.

Moderators and admins (the sidebar shows its entry to them only, with the counts
this page announces: `counts_changed`). The reports (`reports`, minus those this moderator
dismissed: `dismissed`) are counted per category at the top and listed with the
reported message; held and flagged posts (`pending`) are listed below. The
selected message is shown in context on the right: its thread as `thread`
answers it (with hidden posts: `include_hidden`), the message itself marked.
From the queue a moderator goes to the message in its channel (`post_wanted`:
the button, or Enter or a double click on a row), hides it, times its author
out or dismisses a report, and approves or rejects a held post. A reported
message that is gone (`thread` answers `not_found`) says "(deleted)" and can only
be dismissed; one already hidden says "(hidden)". Every act is one request; the
queue reloads after it, and whenever the community changes (another moderator's
dismissal or hide arrives as a sync event like any other).
"""

from __future__ import annotations

import html
from functools import partial
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QMenu,
    QPushButton,
    QSplitter,
    QTextBrowser,
    QTreeWidget,
    QVBoxLayout,
    QWidget,
)

from p2pcommunity.ui.actions import TIMEOUTS
from p2pcommunity.ui.client import ControlClient
from p2pcommunity.ui.dialogs import ask_text
from p2pcommunity.ui.safety.common import (
    CATEGORIES,
    Row,
    SafetyPage,
    add_row,
    items,
    local_time,
    row_of,
    select_first,
    tree,
)

LABELS = dict(CATEGORIES)


def _excerpt(text: str, limit: int = 90) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _key(kind: str, row: Row) -> str:
    if kind == "report":
        return f"{row.get('post', '')}/{row.get('reporter', '')}/{row.get('time', '')}"
    return str(row.get("id", ""))


_WAITING_WORDS = {
    ("hold", "probation"): "Held: new member",
    ("hold", "watched_word"): "Held: watched word",
    ("flag", "watched_word"): "Flagged: watched word",
}


def _why_waiting(post: Row) -> str:
    """The Why column of a post in `pending`: what holds or flags it."""
    waiting = post.get("waiting") or {}
    found = _WAITING_WORDS.get((str(waiting.get("action")), str(waiting.get("rule"))))
    if found is not None:
        return found
    return "Held for approval" if post.get("held") else "Flagged word"


class ModerationQueue(SafetyPage):
    counts_changed = Signal(dict)  # category -> open reports, and "held" -> awaiting approval
    post_wanted = Signal(dict)  # {"id", "channel", "author", "held"}: show it in its channel

    def __init__(self, client: ControlClient, parent: QWidget | None = None) -> None:
        super().__init__(
            client, "Moderation queue", "Reports and held messages, for moderators", parent
        )
        self.posts: dict[str, Row] = {}  # post id -> the post, once `thread` answered
        self.counts: dict[str, QLabel] = {}
        self.active: QTreeWidget | None = None  # the list whose row is current
        counts = QHBoxLayout()
        counts.setSpacing(6)
        for key, label in CATEGORIES:
            chip = QLabel(f"{label}: 0")
            chip.setStyleSheet(
                "padding: 3px 10px; border-radius: 10px; font-weight: 600;"
                "background: palette(midlight);"
            )
            chip.setAccessibleName(label)
            counts.addWidget(chip)
            self.counts[key] = chip
        counts.addStretch(1)
        refresh = QPushButton("Refresh")
        refresh.clicked.connect(self.reload)
        self.header.addWidget(refresh)
        self.reports = tree(["Category", "Message", "Reason", "Reported by", "Time"], "Reports")
        self.pending = tree(["Why", "Message", "Author", "Time"], "Awaiting approval")
        for view in (self.reports, self.pending):
            for column, width in enumerate((115, 230, 110, 90)):
                view.setColumnWidth(column, width)
            view.currentItemChanged.connect(partial(self._on_current_changed, view))
            view.itemActivated.connect(self.go_to_post)
        self.pending.setColumnWidth(0, 145)  # "Flagged: watched word" in full
        # Made before the context, which it sits above: the Tab order is the visual one.
        self.go_button = QPushButton("Go to message")
        self.go_button.setToolTip("Show the message in its channel (Enter)")
        self.go_button.clicked.connect(self.go_to_post)
        self.context = QTextBrowser()
        self.context.setAccessibleName("Message in context")
        self.context.setOpenLinks(False)
        self.hide_button = QPushButton("Hide message…")
        self.hide_button.clicked.connect(self.hide_post)
        self.timeout_button = QPushButton("Time out author")
        menu = QMenu(self.timeout_button)
        for label, duration in TIMEOUTS:
            menu.addAction(label, partial(self.time_out, duration, label))
        self.timeout_button.setMenu(menu)
        self.dismiss_button = QPushButton("Dismiss report")
        self.dismiss_button.clicked.connect(self.dismiss)
        self.approve_button = QPushButton("Approve")
        self.approve_button.clicked.connect(self.approve)
        self.reject_button = QPushButton("Reject…")
        self.reject_button.clicked.connect(self.reject_post)
        # Stacked, not side by side: in the centre of the window, beside the member
        # list, the lists need the width and the context a few lines of height.
        left = QVBoxLayout()
        left.setContentsMargins(0, 0, 0, 0)
        left.addWidget(QLabel("<b>Reports</b>"))
        left.addWidget(self.reports, 3)
        left.addWidget(QLabel("<b>Awaiting approval</b>"))
        left.addWidget(self.pending, 2)
        lists = QWidget()
        lists.setLayout(left)
        right = QVBoxLayout()
        right.setContentsMargins(0, 0, 0, 0)
        # Go to sits with the context it widens, not in the row of acts: that row
        # already fills the centre of an 800-pixel-wide window.
        context_header = QHBoxLayout()
        context_header.addWidget(QLabel("<b>In context</b>"))
        context_header.addStretch(1)
        context_header.addWidget(self.go_button)
        right.addLayout(context_header)
        right.addWidget(self.context, 1)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        for button in (
            self.hide_button,
            self.timeout_button,
            self.dismiss_button,
            self.approve_button,
            self.reject_button,
        ):
            buttons.addWidget(button)
        right.addLayout(buttons)
        side = QWidget()
        side.setLayout(right)
        split = QSplitter(Qt.Orientation.Vertical)
        split.setChildrenCollapsible(False)
        split.addWidget(lists)
        split.addWidget(side)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        self.body.addLayout(counts)
        self.body.addWidget(split, 1)
        self._update_buttons()

    # ------------------------------------------------------------------ loading

    def forget(self) -> None:
        self.posts.clear()
        self.reports.clear()
        self.pending.clear()
        self.active = None
        self._show_context()
        self._update_buttons()

    def reload(self) -> None:
        self.status.setText("Loading the queue…")
        self.ask("dismissed", {}, self._on_dismissed)

    def _on_dismissed(self, result: Row) -> None:
        dismissed: dict[str, str] = result.get("dismissed", {})
        self.ask("reports", {}, partial(self._on_reports, dismissed))

    def _on_reports(self, dismissed: dict[str, str], result: Row) -> None:
        reports = [
            r
            for r in result.get("reports", [])
            if r.get("time", "") > dismissed.get(r.get("post", ""), "")
        ]
        reports.sort(key=lambda r: r.get("time", ""), reverse=True)
        counts: dict[str, int] = {}
        for key, label in CATEGORIES:
            counts[key] = sum(r.get("category") == key for r in reports)
            self.counts[key].setText(f"{label}: {counts[key]}")
            self.counts[key].setAccessibleName(f"{label} reports: {counts[key]}")
        current = self._current_key()
        self.reports.clear()
        for report in reports:
            add_row(self.reports, self._report_texts(report), report)
        self.ask("pending", {}, lambda result: self._on_pending(counts, current, result))
        for post_id in dict.fromkeys(r["post"] for r in reports):
            self._fetch(post_id)

    def _report_texts(self, report: Row) -> list[str]:
        post = self.posts.get(report.get("post", ""))
        message = "…"
        if post is not None and post.get("gone"):
            message = "(deleted)"
        elif post is not None:
            message = f"{self.name(post.get('author'))}: {_excerpt(post.get('text', ''))}"
            if post.get("hidden"):
                message = "(hidden) " + message
        return [
            LABELS.get(report.get("category", ""), "Other"),
            message,
            report.get("reason", ""),
            self.name(report.get("reporter")),
            local_time(report.get("time")),
        ]

    def _current_key(self) -> tuple[str, str]:
        """What is selected, to select it again after a reload: (list, report or post id)."""
        kind, row, _post = self.current()
        return kind, _key(kind, row)

    def _on_pending(self, counts: dict[str, int], current: tuple[str, str], result: Row) -> None:
        self.pending.clear()
        posts = result.get("posts", [])
        for post in posts:
            self.posts[post["id"]] = post
            why = _why_waiting(post)
            add_row(
                self.pending,
                [
                    why,
                    _excerpt(post.get("text", "")),
                    self.name(post.get("author")),
                    local_time(post.get("time")),
                ],
                post,
            )
        n_reports, n_pending = self.reports.topLevelItemCount(), len(posts)
        self.status.setText(
            f"{n_reports} report{'s' * (n_reports != 1)}, "
            f"{n_pending} message{'s' * (n_pending != 1)} awaiting approval."
        )
        self._select_again(current)
        self.counts_changed.emit({**counts, "held": n_pending})
        self._update_buttons()

    def _select_again(self, current: tuple[str, str]) -> None:
        """After a reload: the same row as before if it is still there, else the first."""
        kind, key = current
        view = self.reports if kind == "report" else self.pending
        again = next((i for i in items(view) if kind and _key(kind, row_of(i)) == key), None)
        if again is not None:
            view.setCurrentItem(again)
            return
        for view in (self.reports, self.pending):
            if items(view):
                select_first(view)
                return
        self.active = None
        self._show_context()

    def _fetch(self, post_id: str) -> None:
        def done(result: Row) -> None:
            for post in result.get("posts", []):
                self.posts[post["id"]] = post  # fresh: another moderator may have hidden it
            self._refresh_report_rows(post_id)

        def gone(message: str, code: str) -> None:
            if code != "not_found":
                self.fail(message, code)  # the node could not say: it is not known to be gone
                return
            self.posts[post_id] = {"id": post_id, "text": "(deleted)", "gone": True}
            self._refresh_report_rows(post_id)

        self.request(
            "thread",
            {"community": self.community, "post": post_id, "include_hidden": True},
            done,
            gone,
        )

    def _refresh_report_rows(self, post_id: str) -> None:
        for item in items(self.reports):
            report = row_of(item)
            if report.get("post") == post_id:
                for column, text in enumerate(self._report_texts(report)):
                    item.setText(column, text)
                    item.setToolTip(column, text)
        self._show_context()
        self._update_buttons()

    # ------------------------------------------------------------------ selection

    def _on_current_changed(self, view: QTreeWidget, current: Any, _previous: Any) -> None:
        if current is not None:
            other = self.pending if view is self.reports else self.reports
            other.blockSignals(True)
            other.setCurrentIndex(other.rootIndex())
            other.clearSelection()
            other.blockSignals(False)
            self.active = view
        self._show_context()
        self._update_buttons()

    def current(self) -> tuple[str, Row, Row]:
        """("report" or "pending" or "", the row, the post it is about)."""
        view = self.active
        row = row_of(view.currentItem()) if view is not None else {}
        if not row:
            return "", {}, {}
        if view is self.reports:
            return "report", row, self.posts.get(row.get("post", ""), {})
        return "pending", row, row

    def _show_context(self) -> None:
        kind, _row, post = self.current()
        if not post:
            self.context.setHtml("<p><i>Select a report or a message.</i></p>")
            return
        if post.get("gone"):
            self.context.setHtml("<p><i>The message was deleted by its author.</i></p>")
            return
        root = post.get("reply_to") or post["id"]
        thread = [p for p in self.posts.values() if p["id"] == root or p.get("reply_to") == root]
        thread.sort(key=lambda p: (p["id"] != root, p.get("time", "")))
        parts = []
        for p in thread or [post]:
            mine = p["id"] == post["id"]
            style = "background:#fff3c4;color:#1c1c1c;" if mine else ""
            marks = " <i>(hidden)</i>" if p.get("hidden") else ""
            marks += " <i>(held)</i>" if p.get("held") else ""
            parts.append(
                f"<div style='padding:6px;margin:4px 0;{style}'>"
                f"<b>{html.escape(self.name(p.get('author')))}</b> "
                f"<span style='color:#777'>{html.escape(local_time(p.get('time')))}</span>"
                f"{marks}<br>{html.escape(p.get('text', '')).replace(chr(10), '<br>')}</div>"
            )
        if kind == "report" and post.get("reply_to") and post.get("reply_to") not in self.posts:
            self._fetch(post["reply_to"])
        self.context.setHtml("".join(parts))

    def _update_buttons(self, *_args: object) -> None:
        kind, _row, post = self.current()
        live = bool(post) and not post.get("gone")
        self.go_button.setEnabled(live and bool(post.get("channel")))
        self.hide_button.setEnabled(live and not post.get("hidden"))
        self.timeout_button.setEnabled(live and bool(post.get("author")))
        self.dismiss_button.setEnabled(kind == "report")
        self.approve_button.setEnabled(kind == "pending")
        self.reject_button.setEnabled(kind == "pending")

    # ------------------------------------------------------------------ acts

    def go_to_post(self, *_args: object) -> None:
        _kind, _row, post = self.current()
        if post and not post.get("gone") and post.get("channel"):
            wanted = {"id": post["id"], "channel": post["channel"], "author": post.get("author")}
            self.post_wanted.emit(wanted | {"held": bool(post.get("held"))})

    def hide_post(self) -> None:
        _kind, row, post = self.current()
        if not post:
            return
        ask_text(
            self,
            "Hide message",
            "Reason (shown in the moderation log):",
            lambda reason: self.job(
                "hide",
                {"post": post["id"], "reason": reason or None},
                "Message hidden.",
                self._forget_and_reload(post["id"]),
            ),
            text=row.get("reason", ""),
        )

    def time_out(self, duration: str, label: str) -> None:
        _kind, _row, post = self.current()
        author = post.get("author")
        if author:
            self.job(
                "timeout",
                {"peer": author, "duration": duration},
                f"{self.name(author)} is timed out for {label}.",
            )

    def dismiss(self) -> None:
        kind, row, _post = self.current()
        if kind == "report":
            self.job("dismiss", {"post": row["post"]}, "Report dismissed.", self.reload)

    def approve(self) -> None:
        kind, row, _post = self.current()
        if kind == "pending":
            self.job(
                "approve",
                {"post": row["id"]},
                "Message approved.",
                self._forget_and_reload(row["id"]),
            )

    def reject_post(self) -> None:
        kind, row, _post = self.current()
        if kind != "pending":
            return
        ask_text(
            self,
            "Reject message",
            "Reason (shown in the moderation log):",
            lambda reason: self.job(
                "reject",
                {"post": row["id"], "reason": reason or None},
                "Message rejected.",
                self._forget_and_reload(row["id"]),
            ),
        )

    def _forget_and_reload(self, post_id: str) -> Any:
        def then() -> None:
            self.posts.pop(post_id, None)
            self.reload()

        return then
