"""A topic as a page: the question, the accepted answer first, then the replies.

Built from one `thread` answer (the node already lists a question's accepted
answer right after it); rebuilt whole on each refresh, which for a topic's
few dozen posts costs less than diffing. Each post is a `PostCard`: who and
when, the Markdown body, its `VoteBar`, and what this member may do with it
(accept or unaccept an answer: the question's author or a moderator; pin or
unpin: moderators). What a member may not do is shown disabled with the
reason as its tooltip, never silently missing, where the action is one they
would look for (voting on their own post). A post's files show under its text
(ui/files/strip.py); the reply box attaches like the chat composer.
"""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QKeyEvent, QPalette
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from p2pcommunity.ui.files.area import attachments_of
from p2pcommunity.ui.files.attach import AttachList
from p2pcommunity.ui.files.strip import AttachmentStrip
from p2pcommunity.ui.knowledge.markdown import MarkdownView
from p2pcommunity.ui.knowledge.session import Session
from p2pcommunity.ui.knowledge.widgets import named
from p2pcommunity.ui.models import local_clock

if TYPE_CHECKING:
    from p2pcommunity.ui.files.controller import FilesController

OWN_POST = "You cannot vote on your own post"
CARD_STYLE = (
    "QFrame#postCard { background: palette(base); border: 1px solid palette(mid);"
    " border-radius: 8px; }"
    " QLabel#voteTotal { font-weight: 600; font-size: 11pt; }"
)
SOLVED = "#18794e"
ACCEPTED_STYLE = CARD_STYLE.replace("1px solid palette(mid)", f"2px solid {SOLVED}") + (
    f" QLabel#acceptedMark {{ color: {SOLVED}; font-weight: 600; }}"
)


class VoteBar(QWidget):
    """▲ total ▼ for one post; pressing the pressed arrow again takes the vote back."""

    def __init__(self, session: Session, post: dict[str, Any], parent: QWidget | None = None):
        super().__init__(parent)
        self.session, self.post_id = session, str(post["id"])
        mine = int(post.get("my_vote") or 0)
        self.up = _arrow("▲", "Vote up", mine == 1)
        self.down = _arrow("▼", "Vote down", mine == -1)
        self.total = QLabel(str(post.get("votes", 0)))
        self.total.setObjectName("voteTotal")
        self.total.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.total.setAccessibleName("Votes")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        for widget in (self.up, self.total, self.down):
            layout.addWidget(widget, 0, Qt.AlignmentFlag.AlignHCenter)
        if post.get("author") == session.me:
            for button in (self.up, self.down):
                button.setEnabled(False)
                button.setToolTip(OWN_POST)
        self.up.clicked.connect(lambda: self._vote(self.up, "up"))
        self.down.clicked.connect(lambda: self._vote(self.down, "down"))

    def _vote(self, button: QToolButton, direction: str) -> None:
        # The click already toggled the button: checked now means "vote this way".
        self.up.setEnabled(False)
        self.down.setEnabled(False)
        self.session.write(
            "vote",
            {"post": self.post_id, "direction": direction if button.isChecked() else "clear"},
        )


def _arrow(text: str, name: str, checked: bool) -> QToolButton:
    button = QToolButton()
    button.setText(text)
    button.setAccessibleName(name)
    button.setToolTip(name)
    button.setCheckable(True)
    button.setChecked(checked)
    button.setAutoRaise(True)
    button.setFixedSize(30, 24)
    return button


class PostCard(QFrame):
    def __init__(
        self,
        session: Session,
        post: dict[str, Any],
        topic: dict[str, Any],
        qa: bool,
        parent: QWidget | None = None,
        files: FilesController | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("postCard")
        self.post = post
        is_topic = post["id"] == topic["id"]
        accepted = bool(post.get("accepted"))
        dark = self.palette().color(QPalette.ColorRole.Base).lightness() <= 128
        style = ACCEPTED_STYLE if accepted else CARD_STYLE
        # the theme's success green for dark palettes (theme.py): #18794e is unreadable there
        self.setStyleSheet(style.replace(SOLVED, "#3dd68c") if dark else style)
        self.votes = VoteBar(session, post)
        head = QHBoxLayout()
        who = QLabel(
            f"<b>{escape(post.get('author_label') or post.get('author_name') or '')}</b>"
            f" <span style='color:gray'>· {local_clock(post.get('time'))}"
            f"{' · edited' if post.get('edited') else ''}</span>"
        )
        head.addWidget(who, 1)
        if accepted:
            mark = QLabel("✓ Accepted answer")
            mark.setObjectName("acceptedMark")
            head.addWidget(mark)
        self.accept_button: QPushButton | None = None
        self.pin_button: QPushButton | None = None
        may_decide = session.moderator or topic.get("author") == session.me
        if qa and not is_topic and may_decide:
            self.accept_button = QPushButton("Unaccept" if accepted else "Accept answer")
            self.accept_button.setObjectName("acceptButton")
            self.accept_button.clicked.connect(
                lambda: (
                    session.write("unaccept", {"topic": topic["id"]}, "No accepted answer.")
                    if accepted
                    else session.write("accept", {"post": post["id"]}, "Answer accepted.")
                )
            )
            head.addWidget(self.accept_button)
        if is_topic and session.moderator:
            pinned = bool(post.get("pinned"))
            self.pin_button = QPushButton("Unpin" if pinned else "Pin")
            self.pin_button.setObjectName("pinButton")
            self.pin_button.clicked.connect(
                lambda: session.write(
                    "unpin" if pinned else "pin",
                    {"post": post["id"]},
                    "Unpinned." if pinned else "Pinned.",
                )
            )
            head.addWidget(self.pin_button)
        self.body = MarkdownView()
        self.body.setAccessibleName("Topic" if is_topic else "Reply")
        self.body.link_refused.connect(session.status_message)
        self.body.link_hovered.connect(session.status_message)
        self.body.set_markdown(str(post.get("text") or ""))
        column = QVBoxLayout()
        column.addLayout(head)
        if is_topic:
            title = QLabel(str(post.get("title") or ""))
            title.setTextFormat(Qt.TextFormat.PlainText)
            title.setObjectName("topicHeading")
            title.setWordWrap(True)
            title.setStyleSheet("font-size: 15pt; font-weight: 600;")
            title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            column.insertWidget(0, title)
            if post.get("tags"):
                tags = QLabel("  ".join(f"#{t}" for t in post["tags"]))
                tags.setTextFormat(Qt.TextFormat.PlainText)
                tags.setObjectName("muted")
                column.insertWidget(1, tags)
        column.addWidget(self.body)
        self.strip: AttachmentStrip | None = None
        if attachments_of(post):
            self.strip = AttachmentStrip(attachments_of(post), files)
            column.addWidget(self.strip)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 8, 12, 8)
        layout.addWidget(self.votes, 0, Qt.AlignmentFlag.AlignTop)
        layout.addLayout(column, 1)


class TopicPage(QWidget):
    back_wanted = Signal()

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session, self.topic_id, self.qa = session, "", False
        self.posts: list[dict[str, Any]] = []
        self.cards: list[PostCard] = []
        self.widgets: list[QWidget] = []
        self.files: FilesController | None = None
        back = QPushButton("← All topics")
        back.setObjectName("backButton")
        back.setFlat(True)
        back.clicked.connect(self.back_wanted.emit)
        self.crumb = QLabel()
        self.crumb.setTextFormat(Qt.TextFormat.PlainText)
        self.crumb.setObjectName("muted")
        header = QFrame()
        header.setObjectName("channelHeader")
        hl = QHBoxLayout(header)
        hl.setContentsMargins(8, 6, 10, 6)
        hl.addWidget(back)
        hl.addWidget(self.crumb, 1)
        self.inner = QWidget()
        self.inner.setObjectName("topicInner")
        self.cards_layout = QVBoxLayout(self.inner)
        self.cards_layout.setContentsMargins(16, 12, 16, 12)
        self.cards_layout.setSpacing(10)
        self.cards_layout.addStretch(1)
        self.scroll_area = QScrollArea()
        self.scroll_area.setWidgetResizable(True)
        self.scroll_area.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll_area.setWidget(self.inner)
        self.reply_edit = named(QPlainTextEdit(), "replyEdit", "Your reply")
        self.reply_edit.setPlaceholderText("Write a reply (Markdown; Ctrl+Enter to send)")
        self.reply_edit.setFixedHeight(84)
        self.reply_button = named(QPushButton("Post reply"), "replyButton")
        self.reply_button.clicked.connect(self.send_reply)
        self.reply_edit.installEventFilter(self)
        self.attach = AttachList(self)
        self.attach.watch(self.reply_edit)
        self.attach.watch_drops(self.scroll_area)
        self.attach.follow_uploads(session.client)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(header)
        layout.addWidget(self.scroll_area, 1)
        files = QVBoxLayout()
        files.setContentsMargins(16, 4, 16, 0)
        files.setSpacing(2)
        files.addWidget(self.attach.chips)
        files.addWidget(self.attach.error)
        layout.addLayout(files)
        composer = QHBoxLayout()
        layout.addLayout(composer)
        composer.setContentsMargins(16, 6, 16, 10)
        composer.addWidget(self.attach.button, 0, Qt.AlignmentFlag.AlignBottom)
        composer.addWidget(self.reply_edit, 1)
        composer.addWidget(self.reply_button, 0, Qt.AlignmentFlag.AlignBottom)

    def use_files(self, files: FilesController) -> None:
        """Attachments open and save through the chat page's files (their controller)."""
        self.files = files

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Ctrl+Enter in the reply box sends (a plain Enter is a new line of Markdown)."""
        if (
            watched is self.reply_edit
            and event.type() == QEvent.Type.KeyPress
            and isinstance(event, QKeyEvent)
            and event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter)
            and event.modifiers() & Qt.KeyboardModifier.ControlModifier
        ):
            self.send_reply()
            return True
        return super().eventFilter(watched, event)

    def open_topic(self, topic_id: str, qa: bool, channel_name: str) -> None:
        if topic_id != self.topic_id:
            self.reply_edit.clear()
            self.attach.clear()
            self._clear()
        self.topic_id, self.qa = topic_id, qa
        self.crumb.setText(f"# {channel_name}")
        self.refresh()

    def refresh(self) -> None:
        topic_id = self.topic_id
        if not topic_id:
            return

        def done(result: dict[str, Any]) -> None:
            if topic_id == self.topic_id:
                self._show(list(result.get("posts", [])))

        self.session.ask("thread", {"post": topic_id}, done)

    def _clear(self) -> None:
        for widget in self.widgets:
            widget.setParent(None)
            widget.deleteLater()
        self.widgets, self.cards = [], []

    def _show(self, posts: list[dict[str, Any]]) -> None:
        self._clear()
        self.posts = posts
        if not posts:
            return
        topic = posts[0]
        self.cards = [
            PostCard(self.session, post, topic, self.qa, self.inner, self.files) for post in posts
        ]
        self.widgets = list(self.cards)
        if len(posts) > 1:
            self.widgets.insert(1, _count_label(len(posts) - 1, self.qa))
        for n, widget in enumerate(self.widgets):
            self.cards_layout.insertWidget(n, widget)

    def send_reply(self) -> None:
        """Post the reply with its files (a reply may be files alone)."""
        text = self.reply_edit.toPlainText().strip()
        if not (text or self.attach.files) or not self.posts:
            return
        self.reply_button.setEnabled(False)
        self.attach.set_sending(True)

        def done(_result: dict[str, Any]) -> None:
            self.reply_button.setEnabled(True)
            self.attach.set_sending(False)
            self.reply_edit.clear()
            self.attach.accept_sent()
            self.session.changed.emit()

        def failed(message: str, code: str) -> None:
            self.reply_button.setEnabled(True)
            self.attach.set_sending(False)
            self.session.report_error(message, code)

        params = {"channel": self.posts[0].get("channel"), "text": text, "reply_to": self.topic_id}
        self.session.ask("post", params | self.attach.params(), done, failed)


def _count_label(count: int, qa: bool) -> QLabel:
    """The "3 answers" line between the question and its answers."""
    word = ("answer" if count == 1 else "answers") if qa else ("reply" if count == 1 else "replies")
    label = QLabel(f"{count} {word}".upper())
    label.setObjectName("sectionLabel")
    return label
