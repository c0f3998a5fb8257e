"""Where knowledge meets the chat page: the centre of the window, and the Pages entry.

`KnowledgePane` is a stack in the centre of the chat page: the chat centre
(header, timeline, composer) as its first page, then a forum or Q&A channel's
topic list, a topic, and the wiki. The chat page asks it, when a channel is
chosen, whether it shows that channel (`show_channel`: forum and qa channels,
yes), and calls `refresh` when the community changed; that is the whole hook.
It reads the chat page only through `ChatHost`, so it depends on nothing of
how the chat page is built.
"""

from __future__ import annotations

from typing import Any, Protocol

from PySide6.QtCore import QModelIndex, QSize, Qt, Signal, SignalInstance
from PySide6.QtWidgets import (
    QHBoxLayout,
    QListView,
    QPushButton,
    QSizePolicy,
    QStackedWidget,
    QWidget,
)

from p2pcommunity.ui.client import ControlClient
from p2pcommunity.ui.icons import icon
from p2pcommunity.ui.knowledge.dialogs import NewPageDialog, NewTopicDialog
from p2pcommunity.ui.knowledge.history import HistoryWindow
from p2pcommunity.ui.knowledge.pages import PagesPane
from p2pcommunity.ui.knowledge.session import Session
from p2pcommunity.ui.knowledge.tags import TagsDialog
from p2pcommunity.ui.knowledge.topic_list import TopicList
from p2pcommunity.ui.knowledge.topic_page import TopicPage
from p2pcommunity.ui.knowledge.widgets import named

KNOWLEDGE_KINDS = frozenset({"forum", "qa"})


class _Names(Protocol):
    def names(self) -> dict[str, str]: ...


class ChatHost(Protocol):
    """What the pane needs of the chat page."""

    client: ControlClient
    community: str
    me: str
    channel_view: QListView
    status_message: SignalInstance

    @property
    def members(self) -> _Names: ...

    @property
    def my_role(self) -> str: ...


class KnowledgePane(QStackedWidget):
    pages_shown = Signal()

    def __init__(self, host: ChatHost, chat_centre: QWidget, parent: QWidget | None = None):
        super().__init__(parent)
        self.host = host
        self.session = Session(host.client, self)
        self.session.names = lambda: host.members.names()
        self.session.status_message.connect(host.status_message)
        self.session.changed.connect(self.refresh)
        self.channel: dict[str, Any] = {}
        self.chat_centre = chat_centre
        self.topics = TopicList(self.session)
        self.topic = TopicPage(self.session)
        self.pages = PagesPane(self.session)
        for widget in (chat_centre, self.topics, self.topic, self.pages):
            self.addWidget(widget)
        self.currentChanged.connect(lambda _: self.updateGeometry())
        for signal, slot in (
            (self.topics.topic_opened, self.open_topic),
            (self.topics.new_topic_wanted, self.open_new_topic),
            (self.topics.tags_wanted, self.open_tags),
            (self.topic.back_wanted, self._on_topic_back_wanted),
            (self.pages.new_page_wanted, self.open_new_page),
            (self.pages.view.history_wanted, self.open_history),
        ):
            signal.connect(slot)
        self.pages_button = named(
            QPushButton(), "pagesEntry", "Pages", "The community's wiki: guides, FAQs, resources"
        )
        self.pages_button.setText("Pages")
        # An icon, not "📄": an emoji is an empty box where no colour emoji font is.
        self.pages_button.setIcon(icon("page"))
        self.pages_button.setCheckable(True)
        self.pages_button.setFlat(True)
        self.pages_button.setStyleSheet(
            "QPushButton { text-align: left; padding: 5px 10px; border: none; border-radius: 6px;"
            " background: transparent; }"
            " QPushButton:checked { background: palette(highlight);"
            " color: palette(highlighted-text); }"
        )
        self.pages_button.clicked.connect(self.show_pages)
        self.pages_button.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.pages_entry = QWidget()  # the sidebar's row: inset like the channel rows
        row = QHBoxLayout(self.pages_entry)
        row.setContentsMargins(8, 4, 8, 0)
        row.addWidget(self.pages_button)

    def minimumSizeHint(self) -> QSize:
        """The shown page's, not the widest page's (a stack's default): the wiki's two
        columns must not make a chat window wider than a small screen."""
        current = self.currentWidget()
        return current.minimumSizeHint() if current is not None else super().minimumSizeHint()

    def _sync(self) -> None:
        """Who and where, from the chat page, before anything is asked or shown."""
        self.session.community = self.host.community
        self.session.me = self.host.me
        self.session.role = self.host.my_role

    @property
    def showing_pages(self) -> bool:
        return self.currentWidget() is self.pages

    def show_channel(self, channel: dict[str, Any]) -> bool:
        """Show a channel; True when it is this pane's (forum, qa), False: the timeline's."""
        self.pages_button.setChecked(False)
        self._sync()
        if channel.get("kind") not in KNOWLEDGE_KINDS:
            self.channel = {}
            self.setCurrentWidget(self.chat_centre)
            return False
        if channel.get("id") != self.channel.get("id") or self.currentWidget() is not self.topic:
            self.setCurrentWidget(self.topics)
        self.channel = channel
        self.topics.show_channel(channel)
        return True

    def show_pages(self) -> None:
        self._sync()
        self.pages_button.setChecked(True)
        # No channel is current while the wiki shows: choosing the last one again brings it back.
        self.host.channel_view.setCurrentIndex(QModelIndex())
        self.setCurrentWidget(self.pages)
        self.pages.refresh()
        self.pages_shown.emit()

    def refresh(self) -> None:
        self._sync()
        if self.currentWidget() is self.topics:
            self.topics.refresh()
        elif self.currentWidget() is self.topic:
            self.topic.refresh()
        elif self.showing_pages:
            self.pages.refresh()

    def open_topic(self, topic_id: str) -> None:
        if not topic_id:
            return
        self._sync()
        self.topic.open_topic(topic_id, self.topics.qa, str(self.channel.get("name", "")))
        self.setCurrentWidget(self.topic)

    def open_post(self, post: dict[str, Any]) -> bool:
        """A search result of the shown forum or qa channel: open its topic. False: not ours."""
        if not self.channel or post.get("channel") != self.channel.get("id"):
            return False
        self.open_topic(str(post.get("reply_to") or post.get("id") or ""))
        return True

    def _on_topic_back_wanted(self) -> None:
        self.setCurrentWidget(self.topics)
        self.topics.refresh()

    # ------------------------------------------------------------------ dialogs

    def open_new_topic(self) -> None:
        channel = dict(self.channel)

        def with_tags(result: dict[str, Any]) -> None:
            tags = [str(t) for t in result.get("tags", [])]
            # The file size limit is known before the dialog opens, so no pick escapes it.
            self.session.ask("community show", {}, lambda info: with_limit(tags, info))

        def with_limit(tags: list[str], info: dict[str, Any]) -> None:
            dialog = NewTopicDialog(
                self.session.client,
                self.session.community,
                str(channel.get("id", "")),
                tags,
                channel.get("kind") == "qa",
                self.window(),
            )
            dialog.attach.set_limit_from(info)
            dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            dialog.created.connect(self._on_topic_created)
            dialog.open()

        self.session.ask("tag list", {}, with_tags)

    def _on_topic_created(self, topic_id: str) -> None:
        self.topics.refresh()
        self.open_topic(topic_id)

    def open_tags(self) -> TagsDialog:
        dialog = TagsDialog(self.session.client, self.session.community, self.window())
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.changed.connect(self.topics.refresh)
        dialog.show()
        return dialog

    def open_new_page(self) -> None:
        dialog = NewPageDialog(
            self.session.client, self.session.community, self.session.moderator, self.window()
        )
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.created.connect(lambda page_id: self.pages.refresh(select=page_id))
        dialog.open()

    def open_history(self, page_id: str, title: str) -> HistoryWindow:
        window = HistoryWindow(self.session, page_id, title, self.window())
        window.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        window.reverted.connect(lambda: self.pages.view.show_page(page_id))
        window.show()
        return window
