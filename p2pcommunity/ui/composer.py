"""The message box: Enter sends, Shift+Enter breaks the line, `@` completes members.

`MessageEdit` is the text field with the mention completer; `Composer` wraps
it with a "replying to" / "editing" bar and a send button. Both report what
the user did as signals; the chat page turns them into requests.
"""

from __future__ import annotations

from PySide6.QtCore import QStringListModel, Qt, Signal
from PySide6.QtGui import QFontMetrics, QKeyEvent, QTextCursor
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

from p2pcommunity.ui.icons import icon_button
from p2pcommunity.ui.models import short_peer


class MessageEdit(QPlainTextEdit):
    """Enter sends, Shift+Enter breaks the line, `@` completes member names."""

    submitted = Signal(str)
    cancelled = Signal()
    edit_last_requested = Signal()  # Up in an empty box

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setTabChangesFocus(True)
        self._mentions: dict[str, str] = {}
        self._names = QStringListModel(self)
        self.completer = QCompleter(self._names, self)
        self.completer.setWidget(self)
        self.completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.completer.setFilterMode(Qt.MatchFlag.MatchContains)
        self.completer.setCompletionMode(QCompleter.CompletionMode.PopupCompletion)
        self.completer.activated.connect(self._on_completer_activated)
        self.textChanged.connect(self._on_text_changed)
        self.document().documentLayout().documentSizeChanged.connect(self._fit)
        self._fit()

    def _popup(self) -> QAbstractItemView:
        popup = self.completer.popup()
        assert popup is not None
        return popup

    def set_members(self, names: dict[str, str]) -> None:
        """peer id -> display name."""
        self._mentions = {f"{name}  ·  {short_peer(peer)}": peer for peer, name in names.items()}
        self._names.setStringList(sorted(self._mentions, key=str.lower))

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
        cursor = self.textCursor()
        block = cursor.block().text()[: cursor.positionInBlock()]
        word = block.split(" ")[-1] if block else ""
        return word[1:] if word.startswith("@") and "\n" not in word else None

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
        cursor.insertText(f"@{peer} ")
        self.setTextCursor(cursor)

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


class Composer(QFrame):
    """The message box with a "replying to" / "editing" bar and a send button."""

    sent = Signal(str, str)  # text, reply_to post id ("" for none)
    edited = Signal(str, str)  # post id, new text
    edit_last_requested = Signal()  # Up in an empty box: edit my last message

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("composer")
        self.reply_to = ""
        self.editing = ""
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
        self.edit = MessageEdit()
        self.edit.setObjectName("messageEdit")
        self.edit.submitted.connect(self._on_edit_submitted)
        self.edit.cancelled.connect(self.cancel_mode)
        self.edit.edit_last_requested.connect(self.edit_last_requested)
        self.send_button = QPushButton("Send")
        self.send_button.setDefault(False)
        self.send_button.clicked.connect(
            lambda: self._on_edit_submitted(self.edit.toPlainText().strip())
        )
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.edit, 1)
        row.addWidget(self.send_button, 0, Qt.AlignmentFlag.AlignVCenter)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 6, 12, 10)
        layout.setSpacing(2)
        layout.addWidget(self.bar)
        layout.addLayout(row)

    def set_placeholder(self, text: str) -> None:
        self.edit.setPlaceholderText(text)

    def start_reply(self, post_id: str, author: str) -> None:
        self.cancel_mode()
        self.reply_to = post_id
        self.bar_label.setText(f"Replying to <b>{_escape(author)}</b>")
        self.bar.show()
        self.edit.setFocus()

    def start_edit(self, post_id: str, text: str) -> None:
        self.cancel_mode()
        self.editing = post_id
        self.bar_label.setText("Editing your message")
        self.bar.show()
        self.edit.setPlainText(text)
        self.edit.moveCursor(QTextCursor.MoveOperation.End)
        self.edit.setFocus()

    def cancel_mode(self) -> None:
        if self.editing:
            self.edit.clear()
        self.reply_to = self.editing = ""
        self.bar.hide()

    def _on_edit_submitted(self, text: str) -> None:
        if not text:
            return
        if self.editing:
            self.edited.emit(self.editing, text)
        else:
            self.sent.emit(text, self.reply_to)

    def accept_sent(self) -> None:
        """The node took the message: clear the box."""
        self.edit.clear()
        self.reply_to = self.editing = ""
        self.bar.hide()


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
