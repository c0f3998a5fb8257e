"""The message box: Enter sends, Shift+Enter breaks the line, `@` completes members.

`MessageEdit` is the text field with the mention completer; `Composer` wraps
it with a "replying to" / "editing" bar, a character counter, the timed-out
notice and a send button. Both report what the user did as signals; the chat
page turns them into requests. The composer keeps its own small state (the
draft per channel, the end of a timeout) because only it knows when the text
changes; everything it sends goes through the chat page.

Mentions are written as "@Display Name": the node resolves a name that
exactly one member has (ARCHITECTURE, issue 13 interface 4). Only when two
members share the chosen name does the completer fall back to "@<peer id>",
the one form that still reaches the person the user picked.
"""

from __future__ import annotations

from datetime import UTC, datetime

from PySide6.QtCore import QCoreApplication, QEvent, QStringListModel, Qt, QTimer, Signal
from PySide6.QtGui import QFontMetrics, QHideEvent, QKeyEvent, QTextCursor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCompleter,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from p2pcommunity.ui.drafts import DraftStore
from p2pcommunity.ui.icons import icon_button
from p2pcommunity.ui.models import short_peer

# The node refuses longer posts (sync/content.MAX_POST_CHARS; ui/ may not import sync/).
MAX_CHARS = 8000
COUNTER_FROM = 7000  # the counter appears here, well before the limit
MAX_TIMER_MS = 6 * 3600 * 1000  # a long timeout is re-checked, not timed in one go


class MessageEdit(QPlainTextEdit):
    """Enter sends, Shift+Enter breaks the line, `@` completes member names."""

    submitted = Signal(str)
    cancelled = Signal()
    edit_last_requested = Signal()  # Up in an empty box

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setTabChangesFocus(True)
        self._mentions: dict[str, str] = {}  # completer label -> peer id
        self._display: dict[str, str] = {}  # peer id -> display name
        self._name_count: dict[str, int] = {}  # lower-cased name -> members with it
        self._names = QStringListModel(self)
        self.completer = QCompleter(self._names, self)
        self.completer.setWidget(self)
        self.completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.completer.setFilterMode(Qt.MatchFlag.MatchContains)
        self.completer.setCompletionMode(QCompleter.CompletionMode.PopupCompletion)
        self.completer.activated.connect(self._on_completer_activated)
        self._popup().setAccessibleName("Members to mention")
        self.textChanged.connect(self._on_text_changed)
        self.document().documentLayout().documentSizeChanged.connect(self._fit)
        self._fit()

    def _popup(self) -> QAbstractItemView:
        popup = self.completer.popup()
        assert popup is not None
        return popup

    def set_members(self, names: dict[str, str]) -> None:
        """peer id -> display name (the members one may mention)."""
        self._display = dict(names)
        self._name_count = {}
        for name in names.values():
            key = name.strip().lower()
            self._name_count[key] = self._name_count.get(key, 0) + 1
        self._mentions = {f"{name}  ·  {short_peer(peer)}": peer for peer, name in names.items()}
        self._names.setStringList(sorted(self._mentions, key=str.lower))

    def mention_text(self, peer: str) -> str:
        """What to type to mention `peer`: "@Name", or "@<peer id>" if the name is shared."""
        name = self._display.get(peer, "").strip()
        if name and self._name_count.get(name.lower(), 0) == 1 and name != short_peer(peer):
            return f"@{name}"
        return f"@{peer}"

    def insert_mention(self, peer: str) -> None:
        """Insert a mention of `peer` at the cursor (the member list's "Mention")."""
        self.insertPlainText(f"{self.mention_text(peer)} ")
        self.setFocus()

    def _fit(self, *_args: object) -> None:
        lines = max(1, int(self.document().size().height()))
        shown = min(lines, 8)
        fm = QFontMetrics(self.font())
        margins = self.contentsMargins().top() + self.contentsMargins().bottom()
        doc = int(2 * self.document().documentMargin())
        self.setFixedHeight(shown * fm.lineSpacing() + margins + doc + 12)
        self.setVerticalScrollBarPolicy(
            Qt.ScrollBarPolicy.ScrollBarAsNeeded
            if lines > 8
            else Qt.ScrollBarPolicy.ScrollBarAlwaysOff
        )

    def _mention_prefix(self) -> str | None:
        """The text typed after the `@` being completed, or None when not completing.

        Names may contain spaces, so after a space the completion goes on
        while the typed text still starts some member's name.
        """
        cursor = self.textCursor()
        block = cursor.block().text()[: cursor.positionInBlock()]
        at = block.rfind("@")
        if at < 0 or (at > 0 and not block[at - 1].isspace()):
            return None
        typed = block[at + 1 :]
        if " " in typed or "\t" in typed:
            low = typed.lower()
            if not any(n.startswith(low) for n in self._name_count):
                return None
        return typed

    def _on_text_changed(self) -> None:
        prefix = self._mention_prefix()
        if prefix is None or not self._mentions:
            self._popup().hide()
            return
        self.completer.setCompletionPrefix(prefix)
        if self.completer.completionCount() == 0:
            self._popup().hide()
            return
        rect = self.cursorRect()
        rect.setWidth(320)
        self.completer.complete(rect)
        self._popup().setCurrentIndex(self.completer.completionModel().index(0, 0))

    def _on_completer_activated(self, label: str) -> None:
        peer = self._mentions.get(label)
        prefix = self._mention_prefix()
        if peer is None or prefix is None:
            return
        cursor = self.textCursor()
        cursor.movePosition(
            QTextCursor.MoveOperation.Left, QTextCursor.MoveMode.KeepAnchor, len(prefix) + 1
        )
        cursor.insertText(f"{self.mention_text(peer)} ")
        self.setTextCursor(cursor)

    def event(self, event: QEvent) -> bool:
        # Tab moves focus before keyPressEvent sees it; while names are offered it picks one.
        if (
            isinstance(event, QKeyEvent)
            and event.type() == QEvent.Type.KeyPress
            and event.key() == Qt.Key.Key_Tab
            and self._popup().isVisible()
        ):
            self._on_completer_activated(self._popup().currentIndex().data() or "")
            self._popup().hide()
            return True
        return super().event(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        popup = self._popup()
        if popup.isVisible() and event.key() in (
            Qt.Key.Key_Enter,
            Qt.Key.Key_Return,
            Qt.Key.Key_Tab,
            Qt.Key.Key_Escape,
        ):
            if event.key() in (Qt.Key.Key_Tab,):
                self._on_completer_activated(popup.currentIndex().data() or "")
                popup.hide()
                return
            event.ignore()
            return
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            if event.modifiers() & Qt.KeyboardModifier.ShiftModifier:
                self.insertPlainText("\n")
                return
            text = self.toPlainText().strip()
            if text:
                self.submitted.emit(text)
            return
        if event.key() == Qt.Key.Key_Escape:
            self.cancelled.emit()
        if (
            event.key() == Qt.Key.Key_Up
            and event.modifiers() == Qt.KeyboardModifier.NoModifier
            and not self.toPlainText()
        ):
            self.edit_last_requested.emit()
            return
        super().keyPressEvent(event)


def parse_until(value: object) -> datetime | None:
    """An ISO 8601 instant from the node ("…Z"), aware; None for null or garbage."""
    if not isinstance(value, str) or not value:
        return None
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def local_time_text(when: datetime, now: datetime | None = None) -> str:
    """ "14:30" today, "Thu 3 Dec, 14:30" another day: in the user's local time."""
    local = when.astimezone()
    today = (now or datetime.now(UTC)).astimezone().date()
    clock = f"{local:%H:%M}"
    return clock if local.date() == today else f"{local:%a} {local.day} {local:%b}, {clock}"


class Composer(QFrame):
    """The message box with a mode bar, a counter, the timed-out notice and a send button."""

    sent = Signal(str, str)  # text, reply_to post id ("" for none)
    edited = Signal(str, str)  # post id, new text
    edit_last_requested = Signal()  # Up in an empty box: edit my last message
    timeout_ended = Signal()  # the member's timeout is over: the box is open again

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("composer")
        self.reply_to = ""
        self.editing = ""
        self.timed_out_until: datetime | None = None
        self.drafts: DraftStore | None = None
        self.draft_key = ""
        self._stash = ""  # the draft put aside while an old message is edited
        self.bar = QWidget()
        bar_layout = QHBoxLayout(self.bar)
        bar_layout.setContentsMargins(8, 2, 4, 2)
        self.bar_label = QLabel()
        self.bar_label.setObjectName("muted")
        close = icon_button("close", "Cancel", "Cancel (Esc)")
        close.clicked.connect(self.cancel_mode)
        bar_layout.addWidget(self.bar_label, 1)
        bar_layout.addWidget(close)
        self.bar.hide()
        self.notice = QLabel()
        self.notice.setObjectName("composerNotice")
        self.notice.setWordWrap(True)
        self.notice.hide()
        self.edit = MessageEdit()
        self.edit.setObjectName("messageEdit")
        self.edit.setAccessibleName("Message")
        self.edit.submitted.connect(self._on_edit_submitted)
        self.edit.cancelled.connect(self.cancel_mode)
        self.edit.edit_last_requested.connect(self.edit_last_requested)
        self.edit.textChanged.connect(self._on_edit_text_changed)
        self.counter = QLabel()
        self.counter.setObjectName("counter")
        self.counter.setAccessibleName("Characters used")
        self.counter.hide()
        self.send_button = QPushButton("Send")
        self.send_button.setDefault(False)
        self.send_button.clicked.connect(
            lambda: self._on_edit_submitted(self.edit.toPlainText().strip())
        )
        self._timeout_timer = QTimer(self)
        self._timeout_timer.setSingleShot(True)
        self._timeout_timer.timeout.connect(self._on_timeout_timer_timeout)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.edit, 1)
        row.addWidget(self.send_button, 0, Qt.AlignmentFlag.AlignVCenter)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 6, 12, 10)
        layout.setSpacing(2)
        layout.addWidget(self.bar)
        layout.addWidget(self.notice)
        layout.addLayout(row)
        layout.addWidget(self.counter, 0, Qt.AlignmentFlag.AlignRight)
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.flush_draft)

    # ------------------------------------------------------------------ modes

    def set_placeholder(self, text: str) -> None:
        self.edit.setPlaceholderText(text)
        self.edit.setAccessibleName(text or "Message")

    def start_reply(self, post_id: str, author: str) -> None:
        self.cancel_mode()
        self.reply_to = post_id
        self.bar_label.setText(f"Replying to <b>{_escape(author)}</b>")
        self.bar.show()
        self.edit.setFocus()

    def start_edit(self, post_id: str, text: str) -> None:
        self.cancel_mode()
        self._stash = self.edit.toPlainText()
        self.editing = post_id
        self.bar_label.setText("Editing your message")
        self.bar.show()
        self.edit.setPlainText(text)
        self.edit.moveCursor(QTextCursor.MoveOperation.End)
        self.edit.setFocus()

    def cancel_mode(self) -> None:
        self._end_mode()

    def _end_mode(self) -> bool:
        """Back to plain sending; an edit gives the box its stashed draft back (True)."""
        was_editing = bool(self.editing)
        self.reply_to = self.editing = ""
        self.bar.hide()
        if was_editing:
            self._restore_stash()
        return was_editing

    def _restore_stash(self) -> None:
        stash, self._stash = self._stash, ""
        self.edit.setPlainText(stash)
        self.edit.moveCursor(QTextCursor.MoveOperation.End)

    def _on_edit_submitted(self, text: str) -> None:
        if not text or self.timed_out_until is not None or len(text) > MAX_CHARS:
            return
        if self.editing:
            self.edited.emit(self.editing, text)
        else:
            self.sent.emit(text, self.reply_to)

    def accept_sent(self) -> None:
        """The node took the message (or the edit): clear the box."""
        if not self._end_mode():
            self.edit.clear()

    # ------------------------------------------------------------------ counter

    def _on_edit_text_changed(self) -> None:
        self._update_counter()
        if self.drafts is not None and not self.editing:
            self.drafts.set(self.draft_key, self.edit.toPlainText())

    def _update_counter(self) -> None:
        n = len(self.edit.toPlainText().strip())
        over = n > MAX_CHARS
        self.counter.setVisible(n >= COUNTER_FROM)
        self.counter.setText(
            f"{n:,} / {MAX_CHARS:,}" + (f" — {n - MAX_CHARS:,} too many" if over else "")
        )
        self.counter.setAccessibleDescription(
            f"Shorten the message by {n - MAX_CHARS:,} characters to send it" if over else ""
        )
        if self.counter.property("over") != over:
            self.counter.setProperty("over", over)
            style = self.counter.style()
            style.unpolish(self.counter)
            style.polish(self.counter)
        self.send_button.setEnabled(not over and self.timed_out_until is None)

    # ------------------------------------------------------------------ timeout

    def set_timed_out(self, until: object, now: datetime | None = None) -> None:
        """`community show`'s `timed_out_until` (ISO 8601 or None): close the box until then."""
        when = parse_until(until)
        now = now or datetime.now(UTC)
        if when is not None and when <= now:
            when = None
        if when == self.timed_out_until:
            return
        ended = self.timed_out_until is not None and when is None
        self.timed_out_until = when
        self._timeout_timer.stop()
        if when is None:
            self.notice.hide()
            self.notice.setText("")
            self.edit.setReadOnly(False)
            self.edit.setEnabled(True)
        else:
            text = f"You are timed out until {local_time_text(when, now)}"
            self.notice.setText(text)
            self.notice.setAccessibleName(text)
            self.notice.show()
            self.edit.setEnabled(False)
            ms = int((when - now).total_seconds() * 1000) + 500
            self._timeout_timer.start(max(500, min(ms, MAX_TIMER_MS)))
        self._update_counter()
        if ended:
            self.timeout_ended.emit()

    def _on_timeout_timer_timeout(self) -> None:
        if self.timed_out_until is None:
            return
        if self.timed_out_until <= datetime.now(UTC):
            self.set_timed_out(None)
        else:
            self.set_timed_out(self.timed_out_until.isoformat())

    # ------------------------------------------------------------------ drafts

    def set_drafts(self, store: DraftStore) -> None:
        self.drafts = store

    def set_draft_key(self, key: str) -> None:
        """Show the draft of `key` ("community/channel"), keeping the current one."""
        if key == self.draft_key:
            return
        if self.editing:
            self.cancel_mode()
        if self.drafts is not None:
            self.drafts.set(self.draft_key, self.edit.toPlainText())
            self.drafts.flush()
        self.draft_key = key
        self.edit.setPlainText(self.drafts.get(key) if self.drafts is not None else "")
        self.edit.moveCursor(QTextCursor.MoveOperation.End)

    def has_unsent_drafts(self) -> bool:
        """True if quitting now would lose typed text (for the quit confirmation).

        With a draft store (the main composer) the text of every channel is
        kept across restarts, so only a half-done edit of a sent message
        would be lost; without one (the thread composer) any typed text.
        """
        if self.editing:
            return True
        return self.drafts is None and bool(self.edit.toPlainText().strip())

    def saved_drafts(self) -> list[str]:
        """The keys ("community/channel") whose unsent text is kept for the next start."""
        self.flush_draft()
        return self.drafts.keys_with_text() if self.drafts is not None else []

    def flush_draft(self) -> None:
        if self.drafts is not None:
            if not self.editing:
                self.drafts.set(self.draft_key, self.edit.toPlainText())
            self.drafts.flush()

    def hideEvent(self, event: QHideEvent) -> None:
        self.flush_draft()  # the window closing: save now, not after the save delay
        super().hideEvent(event)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
