"""The moderation log and the moderation queue as pages of the community.

Both sit in the chat page's centre stack beside the channels' pane (the
timeline, a forum's topics, the wiki) and are reached from the sidebar, under
the channel list, from the community menu and from the View menu (Ctrl+Shift+L,
Ctrl+Shift+R). The log is every member's; the queue's entry exists only for
moderators and admins and carries the queue's counts, kept fresh by the same
`community_changed` events that refresh the timeline (a dismissal or hide by
another moderator arrives that way). While a page shows no channel is current;
choosing a channel, or Escape, goes back to the last one.
"""

from __future__ import annotations

from typing import Any, Protocol

from PySide6.QtCore import QModelIndex, QObject, QSettings, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListView,
    QPushButton,
    QSizePolicy,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from p2pcommunity.ui.actions import MODERATORS
from p2pcommunity.ui.client import ControlClient
from p2pcommunity.ui.icons import icon
from p2pcommunity.ui.safety.common import CATEGORIES, SafetyPage
from p2pcommunity.ui.safety.modlog import ModlogPage
from p2pcommunity.ui.safety.queue import ModerationQueue

ENTRY_STYLE = (
    "QPushButton { text-align: left; padding: 5px 10px; border: none; border-radius: 6px;"
    " background: transparent; }"
    " QPushButton:checked { background: palette(highlight); color: palette(highlighted-text); }"
)
BADGE_STYLE = (
    "QLabel { background: palette(highlight); color: palette(highlighted-text);"
    " border-radius: 9px; padding: 0 6px; font-weight: 600; }"
)


class PagesHost(Protocol):
    """What the pages need of the chat page."""

    client: ControlClient
    settings: QSettings
    community: str
    me: str
    channel: str
    channel_view: QListView

    @property
    def channels(self) -> Any: ...  # ChannelListModel: row_of, index
    @property
    def knowledge(self) -> Any: ...  # KnowledgePane: its Pages entry is unchecked here
    @property
    def composer(self) -> Any: ...
    @property
    def my_role(self) -> str: ...
    def reload_timeline(self) -> None: ...


def _entry_button(text: str, name: str, icon_name: str, tip: str) -> QPushButton:
    button = QPushButton(text)
    button.setObjectName(name)
    button.setAccessibleName(text)
    button.setToolTip(tip)
    button.setIcon(icon(icon_name))
    button.setCheckable(True)
    button.setFlat(True)
    button.setStyleSheet(ENTRY_STYLE)
    button.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
    return button


class SafetyPages(QObject):
    def __init__(
        self, host: PagesHost, centre: QStackedWidget, home: QWidget, parent: QObject | None = None
    ):
        """`home` is the page of `centre` that shows the channels (timeline, topics, wiki)."""
        super().__init__(parent)
        self.host = host
        self.centre = centre
        self.home = home
        self.modlog = ModlogPage(host.client)
        self.queue = ModerationQueue(host.client)
        for page in (self.modlog, self.queue):
            centre.addWidget(page)
            page.changed.connect(host.reload_timeline)
        self.queue.counts_changed.connect(self._on_queue_counts_changed)
        self.moderator = False
        self._loaded_for = ("", False)  # (community, moderator) the queue last loaded for
        self.modlog_button = _entry_button(
            "Moderation log", "modlogEntry", "page", "Every moderation act (Ctrl+Shift+L)"
        )
        self.modlog_button.clicked.connect(self.show_modlog)
        self.queue_button = _entry_button(
            "Moderation queue", "queueEntry", "members", "Reports and held messages (Ctrl+Shift+R)"
        )
        self.queue_button.clicked.connect(self.show_queue)
        self.queue_badge = QLabel()
        self.queue_badge.setStyleSheet(BADGE_STYLE)
        self.queue_badge.hide()
        self.queue_counts = QLabel()
        self.queue_counts.setObjectName("muted")
        self.queue_counts.setWordWrap(True)
        self.queue_counts.setContentsMargins(36, 0, 8, 0)
        self.queue_counts.hide()
        self.entries = QWidget()  # the sidebar's rows, under the channels
        section = QVBoxLayout(self.entries)
        section.setContentsMargins(0, 4, 0, 4)
        section.setSpacing(0)
        label = QLabel("MODERATION")  # in line with CHANNELS, the rows with the channels'
        label.setObjectName("sectionLabel")
        section.addWidget(label)
        rows = QVBoxLayout()
        rows.setContentsMargins(8, 0, 8, 0)
        rows.setSpacing(2)
        section.addLayout(rows)
        rows.addWidget(self.modlog_button)
        self.queue_row = QWidget()
        queue_rows = QVBoxLayout(self.queue_row)
        queue_rows.setContentsMargins(0, 0, 0, 0)
        queue_rows.setSpacing(0)
        line = QHBoxLayout()
        line.setContentsMargins(0, 0, 0, 0)
        line.addWidget(self.queue_button, 1)
        line.addWidget(self.queue_badge)
        queue_rows.addLayout(line)
        queue_rows.addWidget(self.queue_counts)
        rows.addWidget(self.queue_row)
        self.queue_row.hide()  # moderators only: shown once the role is known
        self.modlog_action = QAction("Moderation &log", self)
        self.modlog_action.setShortcut(QKeySequence("Ctrl+Shift+L"))
        self.modlog_action.triggered.connect(self.show_modlog)
        self.queue_action = QAction("Moderation &queue", self)
        self.queue_action.setShortcut(QKeySequence("Ctrl+Shift+R"))
        self.queue_action.triggered.connect(self.show_queue)
        self.queue_action.setVisible(False)

    # ------------------------------------------------------------------ showing

    @property
    def showing(self) -> SafetyPage | None:
        current = self.centre.currentWidget()
        return current if current in (self.modlog, self.queue) else None

    def show_modlog(self) -> None:
        self._show(self.modlog, self.modlog.view)

    def show_queue(self) -> None:
        if self.moderator:
            self._show(self.queue, self.queue.reports)

    def _show(self, page: SafetyPage, focus: QWidget) -> None:
        host = self.host
        if not host.community or not self.centre.isVisibleTo(self.centre.window()):
            return  # a shortcut while the window shows another page (welcome, rules)
        page.show_for(host.community, host.me)
        host.knowledge.pages_button.setChecked(False)
        # No channel is current while a page shows: choosing the last one again brings it back.
        host.channel_view.setCurrentIndex(QModelIndex())
        self.centre.setCurrentWidget(page)
        self.modlog_button.setChecked(page is self.modlog)
        self.queue_button.setChecked(page is self.queue)
        focus.setFocus(Qt.FocusReason.OtherFocusReason)

    def leave(self) -> None:
        """The channels' pane again (a channel or the wiki was chosen)."""
        self.centre.setCurrentWidget(self.home)
        self.modlog_button.setChecked(False)
        self.queue_button.setChecked(False)

    def back(self) -> None:
        """Escape on a page: the channel shown before it, with the keyboard in it."""
        host = self.host
        row = host.channels.row_of(host.channel) if host.channel else -1
        if row < 0:
            self.leave()
            return
        host.channel_view.setCurrentIndex(host.channels.index(row))  # select_channel leaves
        composer = host.composer
        (composer.edit if composer.isVisibleTo(self.home) else host.channel_view).setFocus()

    # ------------------------------------------------------------------ role, events

    def set_role(self, role: str) -> None:
        """The role in the current community is known: the queue's entry is moderators'."""
        self.moderator = role in MODERATORS
        self.queue_row.setVisible(self.moderator)
        self.queue_action.setVisible(self.moderator)
        if not self.moderator and self.showing is self.queue:
            self.back()
        key = (self.host.community, self.moderator)
        if key != self._loaded_for:
            self._loaded_for = key
            self._on_queue_counts_changed({})
            if self.moderator:
                self.queue.show_for(self.host.community, self.host.me)

    def refresh(self) -> None:
        """The community changed (a sync, an act here): what is on screen follows."""
        community = self.host.community
        if self.showing is self.modlog and self.modlog.community == community:
            self.modlog.reload()
        if self.moderator and self.queue.community == community:
            self.queue.reload()

    def _on_queue_counts_changed(self, counts: dict[str, int]) -> None:
        parts = [f"{counts.get(key, 0)} {label.lower()}" for key, label in CATEGORIES]
        parts.append(f"{counts.get('held', 0)} held")
        waiting = [p for p in parts if not p.startswith("0 ")]
        total = sum(counts.values())
        self.queue_badge.setText(str(total))
        self.queue_badge.setVisible(total > 0)
        self.queue_counts.setText(" · ".join(waiting))
        self.queue_counts.setVisible(bool(waiting))
        self.queue_button.setAccessibleName(
            f"Moderation queue, {total} waiting: {', '.join(waiting)}"
            if total
            else "Moderation queue, nothing waiting"
        )
