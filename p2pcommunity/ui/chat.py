"""The chat page: communities, channels, the timeline, the composer and side panels.

It turns what the user does into control requests and the answers and
events into model updates. Requests are fire-and-forget with callbacks; a
failure shows the node's message in the status bar or a message box, never a
traceback. Refreshes after `community_changed` are coalesced by a short timer,
so a burst of synced changes costs one round of requests.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QModelIndex, QSettings, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QListView,
    QMenu,
    QSplitter,
    QStackedWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from p2pcommunity.ui.actions import ChatActions
from p2pcommunity.ui.client import ControlClient, friendly_error
from p2pcommunity.ui.composer import Composer
from p2pcommunity.ui.delegate import ChannelDelegate, CommunityDelegate
from p2pcommunity.ui.drafts import DraftStore
from p2pcommunity.ui.icons import icon_button
from p2pcommunity.ui.models import (
    ChannelListModel,
    ChannelRole,
    CommunityListModel,
    CommunityRole,
    MemberListModel,
    TimelineModel,
    short_peer,
)
from p2pcommunity.ui.notifier import MentionWatcher
from p2pcommunity.ui.widgets import (
    ChannelSwitcher,
    MembersPanel,
    SearchPanel,
    ThreadPanel,
    TimelineView,
)


class ChatPage(QWidget):
    status_message = Signal(str)
    notification_wanted = Signal(str, str)  # title, text
    communities_listed = Signal(int)
    create_wanted = Signal()
    join_wanted = Signal()
    invite_wanted = Signal(str, str)  # community id, name
    settings_wanted = Signal(str)  # community id
    reports_wanted = Signal(str)  # community id
    profile_wanted = Signal()

    def __init__(
        self, client: ControlClient, settings: QSettings, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.client = client
        self.settings = settings
        self.me = ""
        self.my_name = ""
        self.community = ""
        self.channel = ""
        self.info: dict[str, Any] = {}
        self.communities = CommunityListModel(self)
        self.channels = ChannelListModel(self)
        self.members = MemberListModel(self)
        self.timeline = TimelineModel(client, self)
        self._refresh_timer = QTimer(self)
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.setInterval(150)
        self._refresh_timer.timeout.connect(self._refresh_current)
        self._dirty_other = False
        self.watcher = MentionWatcher(client, self)
        self.watcher.notification_wanted.connect(self.notification_wanted)
        self.watcher.unread_changed.connect(self._on_watcher_unread_changed)
        self.menus = ChatActions(self, self)
        self._build()
        self.timeline.loaded.connect(self._on_timeline_loaded)
        self.timeline.posts_arrived.connect(self._on_timeline_posts_arrived)
        self.timeline.load_failed.connect(self.report_error)

    # ------------------------------------------------------------------ layout

    def _build(self) -> None:
        # far left: communities
        self.community_view = QListView()
        self.community_view.setObjectName("communityRail")
        self.community_view.setAccessibleName("Communities")
        self.community_view.setModel(self.communities)
        self.community_view.setItemDelegate(CommunityDelegate(self.community_view))
        self.community_view.setFixedWidth(72)
        self.community_view.setFrameShape(QFrame.Shape.NoFrame)
        self.community_view.selectionModel().currentChanged.connect(
            self._on_community_view_current_changed
        )
        add = QToolButton()
        add.setObjectName("addCommunity")
        add.setText("+")
        add.setToolTip("Create or join a community")
        add.setAccessibleName("Create or join a community")
        add.setFixedSize(44, 44)
        add_menu = QMenu(add)
        add_menu.addAction("Create a community…", self.create_wanted.emit)
        add_menu.addAction("Join with an invite code…", self.join_wanted.emit)
        add.setMenu(add_menu)
        add.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        rail = QFrame()
        rail.setObjectName("rail")
        rail_layout = QVBoxLayout(rail)
        rail_layout.setContentsMargins(0, 8, 0, 8)
        rail_layout.addWidget(self.community_view, 1)
        rail_layout.addWidget(add, 0, Qt.AlignmentFlag.AlignHCenter)

        # sidebar: community header, channels, me
        self.community_button = QToolButton()
        self.community_button.setObjectName("communityHeader")
        self.community_button.setAccessibleName("Community menu")
        self.community_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.community_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.community_button.setSizePolicy(
            self.community_button.sizePolicy().horizontalPolicy().Expanding,
            self.community_button.sizePolicy().verticalPolicy(),
        )
        self.community_menu = QMenu(self.community_button)
        self.community_menu.aboutToShow.connect(
            lambda: self.menus.fill_community_menu(self.community_menu)
        )
        self.community_button.setMenu(self.community_menu)
        self.channel_view = QListView()
        self.channel_view.setObjectName("channels")
        self.channel_view.setAccessibleName("Channels")
        self.channel_view.setModel(self.channels)
        self.channel_view.setItemDelegate(ChannelDelegate(self.channel_view))
        self.channel_view.setFrameShape(QFrame.Shape.NoFrame)
        self.channel_view.setMouseTracking(True)
        self.channel_view.selectionModel().currentChanged.connect(
            self._on_channel_view_current_changed
        )
        channels_label = QLabel("CHANNELS")
        channels_label.setObjectName("sectionLabel")
        self.me_label = QLabel()
        self.me_label.setObjectName("meLabel")
        me_button = icon_button("edit", "Edit your profile")
        me_button.setObjectName("profileButton")
        me_button.clicked.connect(self.profile_wanted.emit)
        me_row = QHBoxLayout()
        me_row.setContentsMargins(12, 6, 8, 8)
        me_row.addWidget(self.me_label, 1)
        me_row.addWidget(me_button)
        sidebar = QFrame()
        sidebar.setObjectName("sidebar")
        sidebar.setMinimumWidth(200)
        side = QVBoxLayout(sidebar)
        side.setContentsMargins(0, 0, 0, 0)
        side.setSpacing(0)
        side.addWidget(self.community_button)
        side.addSpacing(8)
        side.addWidget(channels_label)
        side.addWidget(self.channel_view, 1)
        side.addLayout(me_row)

        # center: header, timeline, composer
        self.channel_title = QLabel()
        self.channel_title.setObjectName("channelTitle")
        self.channel_topic = QLabel()
        self.channel_topic.setObjectName("muted")
        search_button = icon_button("search", "Search", "Search (Ctrl+F)")
        search_button.clicked.connect(self.open_search)
        members_button = icon_button("members", "Members")
        members_button.clicked.connect(self.toggle_members)
        self.header_buttons = (search_button, members_button)
        for button in self.header_buttons:
            button.setObjectName("headerButton")
            button.setFixedSize(34, 30)
        header = QFrame()
        header.setObjectName("channelHeader")
        hl = QHBoxLayout(header)
        hl.setContentsMargins(16, 10, 10, 10)
        hl.addWidget(self.channel_title)
        hl.addWidget(self.channel_topic, 1)
        hl.addWidget(search_button)
        hl.addWidget(members_button)
        self.timeline_view = TimelineView(self.timeline)
        self.timeline_view.setObjectName("timeline")
        self.timeline_view.customContextMenuRequested.connect(self.menus.on_timeline_context_menu)
        self.timeline_view.post_delegate.reaction_clicked.connect(self.react)
        self.timeline_view.reveal_failed.connect(self._on_timeline_view_reveal_failed)
        self.timeline_view.post_delegate.replies_clicked.connect(self.open_thread)
        self.timeline_view.doubleClicked.connect(
            lambda index: self.open_thread(index.data(TimelineModel.ROW_ROLE)["id"])
        )
        self.empty_label = QLabel("No messages yet. Say hello!")
        self.empty_label.setObjectName("muted")
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.composer = Composer()
        self.composer.sent.connect(self.menus.on_composer_sent)
        self.composer.edited.connect(self.menus.on_composer_edited)
        self.composer.set_drafts(DraftStore.beside(self.settings, self))
        self.composer.timeout_ended.connect(self._refresh_info)
        center = QFrame()
        center.setObjectName("center")
        cl = QVBoxLayout(center)
        cl.setContentsMargins(0, 0, 0, 0)
        cl.setSpacing(0)
        cl.addWidget(header)
        self.timeline_stack = QStackedWidget()
        self.timeline_stack.addWidget(self.timeline_view)
        self.timeline_stack.addWidget(self.empty_label)
        cl.addWidget(self.timeline_stack, 1)
        cl.addWidget(self.composer)

        # right: members / thread / search
        self.members_panel = MembersPanel(self.members)
        self.members_panel.context_menu_requested.connect(
            self.menus.on_members_panel_context_menu_requested
        )
        self.thread_panel = ThreadPanel()
        self.thread_panel.composer.sent.connect(self.menus.on_thread_composer_sent)
        self.thread_panel.view.customContextMenuRequested.connect(self.menus.on_thread_context_menu)
        self.thread_panel.view.post_delegate.reaction_clicked.connect(self.react)
        self.search_panel = SearchPanel()
        self.search_panel.searched.connect(self.search)
        self.search_panel.result_activated.connect(self.jump_to_post)
        self.side = QStackedWidget()
        self.side.setObjectName("sidePanel")
        self.side.setMinimumWidth(240)
        for panel in (self.members_panel, self.thread_panel, self.search_panel):
            self.side.addWidget(panel)
            panel.header.closed.connect(self.close_panel)

        self.splitter = QSplitter()
        self.splitter.setChildrenCollapsible(False)
        self.splitter.addWidget(sidebar)
        self.splitter.addWidget(center)
        self.splitter.addWidget(self.side)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([240, 760, 280])
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(rail)
        layout.addWidget(self.splitter, 1)
        self.switcher = ChannelSwitcher(self)
        self.switcher.chosen.connect(self.go_to)

    # ------------------------------------------------------------------ identity, lists

    def set_identity(self, peer_id: str, name: str) -> None:
        self.me, self.my_name = peer_id, name
        self.watcher.me = peer_id
        self.timeline.me = peer_id
        self.timeline_view.post_delegate.me = peer_id
        self.thread_panel.view.post_delegate.me = peer_id
        self.me_label.setText(
            f"<b>{name}</b><br><span style='font-size:small'>{short_peer(peer_id)}</span>"
        )

    def refresh_communities(self, select: str = "") -> None:
        def done(result: dict[str, Any]) -> None:
            rows = list(result.get("communities", []))
            self.communities.set_rows(rows)
            self.communities_listed.emit(len(rows))
            for community in rows:
                self.watcher.prime(str(community.get("id", "")))
            target = select or self.community or str(self.settings.value("last_community", ""))
            row = self.communities.row_of(target) if target else -1
            if row < 0 and rows:
                row = 0
            if row >= 0:
                index = self.communities.index(row)
                if self.community_view.currentIndex() != index:
                    self.community_view.setCurrentIndex(index)
                elif select:
                    self.select_community(rows[row]["id"])

        self.client.request("community list", {}, on_result=done, on_error=self.report_error)

    def _on_community_view_current_changed(self, current: QModelIndex, _prev: QModelIndex) -> None:
        if current.isValid():
            self.select_community(current.data(CommunityRole.ID))

    def select_community(self, community_id: str, channel: str = "") -> None:
        changed = community_id != self.community
        self.community = community_id
        self.settings.setValue("last_community", community_id)
        if changed:
            self.channel = ""
            self.info = {}
            self.channels.clear()
            self.members.clear()
            self.timeline.set_posts([])
            self.composer.cancel_mode()
            if self.side.currentWidget() is not self.members_panel:
                self.side.setCurrentWidget(self.members_panel)
        self._refresh_info()
        self._refresh_channels(select=channel)
        self._refresh_members()

    def _refresh_info(self) -> None:
        community = self.community

        def done(result: dict[str, Any]) -> None:
            if community != self.community:
                return
            self.info = result
            self.community_button.setText(f"{result.get('name', '')}  ▾")
            self.community_button.setToolTip(result.get("description") or "")
            for composer in (self.composer, self.thread_panel.composer):
                composer.set_timed_out(result.get("timed_out_until"))

        self.client.request(
            "community show", {"community": community}, on_result=done, on_error=self.report_error
        )

    def _refresh_channels(self, select: str = "") -> None:
        community = self.community

        def done(result: dict[str, Any]) -> None:
            if community != self.community:
                return
            rows = list(result.get("channels", []))
            if self.channel:
                rows = [{**r, "unread": 0} if r["id"] == self.channel else r for r in rows]
            self.channels.set_rows(rows)
            target = select or self.channel or str(self.settings.value(f"channel/{community}", ""))
            row = self.channels.row_of(target) if target else -1
            if row < 0:
                row = next((i for i, r in enumerate(rows) if r.get("name") == "general"), 0)
            if rows and (select or not self.channel):
                self.channel_view.setCurrentIndex(self.channels.index(row))

        self.client.request(
            "channel list", {"community": community}, on_result=done, on_error=self.report_error
        )

    def _refresh_members(self) -> None:
        community = self.community

        def done(result: dict[str, Any]) -> None:
            if community != self.community:
                return
            rows = [
                {**m, "status": "online"} if m.get("peer_id") == self.me else m
                for m in result.get("members", [])
            ]
            self.members.set_rows(rows)
            names = self.members.names()
            for delegate in (
                self.timeline_view.post_delegate,
                self.thread_panel.view.post_delegate,
                self.search_panel.view.post_delegate,
            ):
                delegate.names = names
                delegate.invalidate()
            self.composer.edit.set_members({p: n for p, n in names.items() if p != self.me})
            self.timeline_view.viewport().update()

        self.client.request(
            "member list", {"community": community}, on_result=done, on_error=self.report_error
        )

    def _on_channel_view_current_changed(self, current: QModelIndex, _prev: QModelIndex) -> None:
        if current.isValid():
            self.select_channel(current.data(ChannelRole.ID))

    def select_channel(self, channel_id: str) -> None:
        if channel_id == self.channel and self.timeline.channel == channel_id:
            return
        self.channel = channel_id
        self.settings.setValue(f"channel/{self.community}", channel_id)
        row = self.channels.row_of(channel_id)
        info = self.channels.row_at(row) if row >= 0 else {}
        self.channel_title.setText(f"<b># {info.get('name', '')}</b>")
        self.channel_topic.setText(info.get("topic") or "")
        archived = bool(info.get("archived"))
        self.composer.setEnabled(not archived)
        self.composer.set_placeholder(
            "This channel is archived (read-only)"
            if archived
            else f"Message #{info.get('name', '')}"
        )
        self.composer.set_draft_key(f"{self.community}/{channel_id}")
        self.composer.cancel_mode()
        self.timeline.load(self.community, channel_id)

    def _on_timeline_loaded(self) -> None:
        self.timeline_stack.setCurrentIndex(0 if self.timeline.rowCount() else 1)
        self.mark_read()

    def mark_read(self) -> None:
        if self.community and self.channel:
            self.channels.set_unread(self.channel, 0)
            self.watcher.note_read(self.community, self.channel)
            self.client.request("mark read", {"community": self.community, "channel": self.channel})

    def go_to(self, community_id: str, channel_id: str) -> None:
        if community_id == self.community:
            row = self.channels.row_of(channel_id)
            if row >= 0:
                self.channel_view.setCurrentIndex(self.channels.index(row))
            return
        row = self.communities.row_of(community_id)
        if row >= 0:
            self.settings.setValue(f"channel/{community_id}", channel_id)
            self.community_view.setCurrentIndex(self.communities.index(row))

    # ------------------------------------------------------------------ events

    def on_community_changed(self, community_id: str, kind: str) -> None:
        self.watcher.on_community_changed(community_id, kind)
        if community_id != self.community:
            self._dirty_other = True
        self._refresh_timer.start()

    def _refresh_current(self) -> None:
        if self._dirty_other or self.communities.row_of(self.community) < 0:
            self._dirty_other = False
            self.refresh_communities()
        if not self.community:
            return
        self.timeline.refresh()
        self._refresh_info()
        self._refresh_channels()
        self._refresh_members()
        if self.side.currentWidget() is self.thread_panel and self.side.isVisible():
            self.open_thread(self.thread_panel.root_id)

    def _on_timeline_posts_arrived(self, posts: list[dict[str, Any]]) -> None:
        self.timeline_stack.setCurrentIndex(0)
        window = self.window()
        if window.isActiveWindow() and self.timeline_view.at_bottom:
            self.mark_read()
        self.watcher.note_mine(
            {r["id"] for r in self.timeline.rows() if r.get("author") == self.me}
        )
        for post in posts:
            self.watcher.consider(self.community, post)

    def _on_watcher_unread_changed(self, community_id: str, channel_id: str, unread: int) -> None:
        if community_id == self.community and channel_id != self.channel:
            self.channels.set_unread(channel_id, unread)

    def peers_changed(self) -> None:
        if self.community:
            self._refresh_members()

    # ------------------------------------------------------------------ posting

    def react(self, post_id: str, emoji: str) -> None:
        self.simple("react", {"post": post_id, "emoji": emoji})

    def simple(self, method: str, params: dict[str, Any], done_text: str = "") -> None:
        def done(_result: dict[str, Any]) -> None:
            if done_text:
                self.status_message.emit(done_text)
            self._refresh_timer.start()

        self.client.request(
            method,
            {"community": self.community, **params},
            on_result=done,
            on_error=self.report_error,
        )

    # ------------------------------------------------------------------ thread, search, panels

    def open_thread(self, post_id: str) -> None:
        if not post_id:
            return
        self.thread_panel.root_id = post_id

        def done(result: dict[str, Any]) -> None:
            self.thread_panel.model.set_posts(list(result.get("posts", [])))
            self.thread_panel.model.me = self.me

        self.client.request(
            "thread",
            {"community": self.community, "post": post_id},
            on_result=done,
            on_error=self.report_error,
        )
        self.side.setCurrentWidget(self.thread_panel)
        self.side.show()

    def open_search(self) -> None:
        self.side.setCurrentWidget(self.search_panel)
        self.side.show()
        self.search_panel.field.setFocus()
        self.search_panel.field.selectAll()

    def search(self, query: str) -> None:
        if not query or not self.community:
            return
        self.search_panel.status.setText("Searching…")

        def done(result: dict[str, Any]) -> None:
            posts = list(result.get("posts", []))
            self.search_panel.model.set_posts(posts)
            self.search_panel.status.setText(
                f"{len(posts)} result{'s' if len(posts) != 1 else ''}"
                if posts
                else "Nothing found."
            )

        def failed(message: str, code: str) -> None:
            self.search_panel.status.setText(friendly_error(message, code))

        self.client.request(
            "search",
            {"community": self.community, "query": query, "limit": 50},
            on_result=done,
            on_error=failed,
        )

    def jump_to_post(self, post: dict[str, Any]) -> None:
        """Show a post of the current community: switch to its channel, page back to it."""
        channel = str(post.get("channel") or self.channel)
        if channel != self.channel:
            row = self.channels.row_of(channel)
            if row < 0:
                self.status_message.emit("That message's channel is not available.")
                return
            self.channel_view.setCurrentIndex(self.channels.index(row))
        self.timeline_view.reveal_post(channel, post["id"])

    def _on_timeline_view_reveal_failed(self, _post_id: str) -> None:
        self.status_message.emit("That message is too far back to show here.")

    def toggle_members(self) -> None:
        if self.side.isVisible() and self.side.currentWidget() is self.members_panel:
            self.side.hide()
        else:
            self.side.setCurrentWidget(self.members_panel)
            self.side.show()

    def close_panel(self) -> bool:
        """Esc: cancel a reply/edit, else close the side panel. True if something closed."""
        if self.composer.reply_to or self.composer.editing:
            self.composer.cancel_mode()
            return True
        if self.side.isVisible() and self.side.currentWidget() is not self.members_panel:
            self.side.setCurrentWidget(self.members_panel)
            return True
        if self.side.isVisible():
            self.side.hide()
            return True
        return False

    def open_switcher(self) -> None:
        entries: list[tuple[str, str, str, str]] = []
        pending = [r for r in self.communities.rows()]
        if not pending:
            return
        self.switcher.set_entries([])
        self.switcher.open_fresh()

        for community in pending:
            cid, cname = community["id"], community.get("name", "")

            def done(result: dict[str, Any], cid: str = cid, cname: str = cname) -> None:
                for ch in result.get("channels", []):
                    if not ch.get("archived"):
                        entries.append((cid, cname, ch["id"], ch.get("name", "")))
                self.switcher.set_entries(entries)

            self.client.request("channel list", {"community": cid}, on_result=done)

    # ------------------------------------------------------------------ role

    @property
    def my_role(self) -> str:
        return str(self.info.get("role") or "member")

    # ------------------------------------------------------------------ errors

    def report_error(self, message: str, code: str) -> None:
        self.status_message.emit(friendly_error(message, code))
