"""The chat page: communities, channels, the timeline, the composer and side panels.

It turns what the user does into control requests and the answers and
events into model updates. Requests are fire-and-forget with callbacks; a
failure shows the node's message in the status bar or a message box, never a
traceback. Refreshes after `community_changed` are coalesced by a short timer,
so a burst of synced changes costs one round of requests. The widgets are
built in chat_layout.py, sending from the composers is sending.py's, the
moderation log and queue pages are safety/pane.py's; the menus' actions
reach the page only through `ActionHost` (actions.py), the verbs below (`start_reply`, `start_edit`, ...).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QModelIndex, QPoint, QSettings, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QApplication,
    QWidget,
)

from p2pcommunity.ui.actions import MODERATORS, ChatActions
from p2pcommunity.ui.chat_layout import build_chat_page
from p2pcommunity.ui.client import ControlClient, friendly_error
from p2pcommunity.ui.models import (
    HIDDEN_TOO,
    ChannelListModel,
    ChannelRole,
    CommunityListModel,
    CommunityRole,
    MemberListModel,
    TimelineModel,
    short_peer,
)
from p2pcommunity.ui.notices import NoticeBook
from p2pcommunity.ui.notifier import MentionWatcher

if TYPE_CHECKING:
    from PySide6.QtWidgets import QLabel, QListView, QMenu, QSplitter, QStackedWidget, QToolButton

    from p2pcommunity.ui.composer import Composer
    from p2pcommunity.ui.files.controller import FilesController
    from p2pcommunity.ui.hover_toolbar import HoverToolbar
    from p2pcommunity.ui.knowledge.pane import KnowledgePane
    from p2pcommunity.ui.safety.pane import SafetyPages
    from p2pcommunity.ui.search import SearchController
    from p2pcommunity.ui.sending import Sending
    from p2pcommunity.ui.text_select import TextSelector
    from p2pcommunity.ui.widgets import (
        CentreStack,
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
    rules_pending = Signal(list)  # communities whose rules this member has yet to accept
    channel_create_wanted = Signal(str)  # community id
    create_wanted = Signal()
    join_wanted = Signal()
    invite_wanted = Signal(str, str)  # community id, name
    settings_wanted = Signal(str)  # community id
    profile_wanted = Signal()

    # built by chat_layout.build_chat_page
    community_view: QListView
    community_button: QToolButton
    community_menu: QMenu
    channel_view: QListView
    add_channel_button: QToolButton
    me_label: QLabel
    channel_title: QLabel
    channel_topic: QLabel
    header_buttons: tuple[QToolButton, QToolButton]
    timeline_view: TimelineView
    empty_label: QLabel
    composer: Composer
    timeline_stack: QStackedWidget
    members_panel: MembersPanel
    thread_panel: ThreadPanel
    search_panel: SearchPanel
    searcher: SearchController
    toolbars: tuple[HoverToolbar, HoverToolbar]
    selectors: list[TextSelector]
    side: QStackedWidget
    splitter: QSplitter
    switcher: ChannelSwitcher
    knowledge: KnowledgePane
    centre: CentreStack
    safety_pages: SafetyPages
    sending: Sending
    files: FilesController

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
        self.notice_book = NoticeBook()
        build_chat_page(self)
        self.timeline.loaded.connect(self._on_timeline_loaded)
        self.timeline.posts_arrived.connect(self._on_timeline_posts_arrived)
        self.timeline.load_failed.connect(self.report_error)

    # ------------------------------------------------------------------ identity, lists

    def set_identity(self, peer_id: str, name: str) -> None:
        self.me, self.my_name = peer_id, name
        self.watcher.me = peer_id
        self.timeline.me = peer_id
        for view in (self.timeline_view, self.thread_panel.view, self.search_panel.view):
            view.post_delegate.me = peer_id
        self.me_label.setText(
            f"<b>{name}</b><br><span style='font-size:small'>{short_peer(peer_id)}</span>"
        )

    def refresh_communities(self, select: str = "") -> None:
        def done(result: dict[str, Any]) -> None:
            rows = list(result.get("communities", []))
            # Until its rules are accepted nothing of a community is shown: the app
            # shows the rules instead (issue 13).
            self.rules_pending.emit([r for r in rows if r.get("rules_acknowledged") is False])
            rows = [r for r in rows if r.get("rules_acknowledged") is not False]
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
            self.searcher.clear()
            self.safety_pages.leave()  # the last community's log or queue
            if self.side.currentWidget() is not self.members_panel:
                self.side.setCurrentWidget(self.members_panel)
        self.searcher.community = community_id
        self._refresh_info()
        self._refresh_channels(select=channel)
        self._refresh_members()

    def _refresh_info(self) -> None:
        community = self.community

        def done(result: dict[str, Any]) -> None:
            if community != self.community:
                return
            self.info = result
            self.files.set_community_info(result)
            self.community_button.setText(f"{result.get('name', '')}  ▾")
            self.community_button.setToolTip(result.get("description") or "")
            for toolbar in self.toolbars:
                toolbar.moderator = self.my_role in MODERATORS
            for composer in (self.composer, self.thread_panel.composer):
                composer.set_timed_out(result.get("timed_out_until"))
            self.add_channel_button.setVisible(result.get("role") in ("owner", "admin"))
            self.safety_pages.set_role(self.my_role)

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
                rows = [
                    {**r, "unread": 0, "mentions": 0} if r["id"] == self.channel else r
                    for r in rows
                ]
            self.channels.set_rows(rows)
            self.searcher.set_channel_names({r["id"]: r.get("name", "") for r in rows})
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
                self._me_in(m) if m.get("peer_id") == self.me else m
                for m in result.get("members", [])
            ]
            self.members.set_rows(rows)
            for notice in self.notice_book.members_listed(community, rows, self.me):
                if self.timeline.channel == self._general():
                    self.timeline.add_notice(notice)
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

        def failed(message: str, code: str) -> None:
            if community == self.community:
                self.report_error(message, code)

        self.client.request(
            "member list", {"community": community}, on_result=done, on_error=failed
        )

    def _me_in(self, member: dict[str, Any]) -> dict[str, Any]:
        """My own row: online (I am here), with my timeout's end from `community show`."""
        until = self.info.get("timed_out_until")
        mine = {
            **member,
            "status": "timed_out" if member.get("status") == "timed_out" else "online",
        }
        return {**mine, "timed_out_until": until} if until else mine

    def _general(self) -> str:
        """Where notices go: the channel named general, else the first one."""
        rows = self.channels.rows()
        return next(
            (r["id"] for r in rows if r.get("name") == "general"), rows[0]["id"] if rows else ""
        )

    def _on_channel_view_current_changed(self, current: QModelIndex, _prev: QModelIndex) -> None:
        if current.isValid():
            self.select_channel(current.data(ChannelRole.ID))

    def select_channel(self, channel_id: str) -> None:
        shown = channel_id == self.channel and self.timeline.channel == channel_id
        if shown and not self.knowledge.showing_pages and not self.safety_pages.showing:
            return
        self.safety_pages.leave()
        self.channel = channel_id
        self.settings.setValue(f"channel/{self.community}", channel_id)
        row = self.channels.row_of(channel_id)
        info = self.channels.row_at(row) if row >= 0 else {}
        if self.knowledge.show_channel(info):
            self.mark_read()
            return  # a forum or qa channel: its topic list, not a timeline
        self.channel_title.setText(f"<b># {info.get('name', '')}</b>")
        self.channel_topic.setText(info.get("topic") or "")
        archived = bool(info.get("archived"))
        self.composer.setEnabled(not archived)
        self.composer.set_placeholder(
            "This channel is archived (read-only)"
            if archived
            else f"Message #{info.get('name', '')}"
        )
        # Qt repaints an empty box only when the placeholder appears or goes, not when
        # its text changes: without this the old channel's name stayed on screen.
        self.composer.edit.viewport().update()
        self.composer.set_draft_key(f"{self.community}/{channel_id}")
        self.composer.cancel_mode()
        self.timeline.load(self.community, channel_id)
        if channel_id == self._general():
            self.timeline.set_notices(self.notice_book.notices(self.community))

    def _on_timeline_loaded(self) -> None:
        self.timeline_stack.setCurrentIndex(0 if self.timeline.rowCount() else 1)
        self.mark_read()

    def mark_read(self) -> None:
        if self.community and self.channel:
            self.channels.set_unread(self.channel, 0)
            self.watcher.note_read(self.community, self.channel)
            self.client.request("mark read", {"community": self.community, "channel": self.channel})

    def go_to(self, community_id: str, channel_id: str) -> None:
        """Show a channel (the Ctrl+K switcher's choice); typing then goes to its composer."""
        # Once the switcher has closed: the window takes the activation back itself (no
        # window manager does under a bare X server) and the composer the keys.
        QTimer.singleShot(0, self._focus_composer)
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
        self.knowledge.refresh()
        self.safety_pages.refresh()
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

    def _focus_composer(self) -> None:
        self.window().activateWindow()
        self.composer.edit.setFocus(Qt.FocusReason.OtherFocusReason)

    # ------------------------------------------------------------------ ActionHost verbs

    def start_reply(self, post_id: str, author: str) -> None:
        self.composer.start_reply(post_id, author)

    def start_edit(self, post_id: str, text: str) -> None:
        self.composer.start_edit(post_id, text)

    def insert_mention(self, peer: str) -> None:
        """Type a mention of `peer` ("@Name" when the name is theirs alone: composer.py)."""
        self.composer.edit.insert_mention(peer)

    def reload_timeline(self) -> None:
        self.timeline.load(self.community, self.channel)
        if self.channel == self._general():
            self.timeline.set_notices(self.notice_book.notices(self.community))

    def _on_timeline_view_context_menu(self, pos: QPoint) -> None:
        view = self.timeline_view
        post = view.post_at(view.indexAt(pos))
        if post and not post.get("kind"):
            self.menus.post_menu(post, view.viewport().mapToGlobal(pos), False)

    def _on_thread_context_menu(self, pos: QPoint) -> None:
        view = self.thread_panel.view
        post = view.post_at(view.indexAt(pos))
        if post:
            self.menus.post_menu(post, view.viewport().mapToGlobal(pos), True)

    def _on_toolbar_reply_clicked(self, post: dict[str, Any]) -> None:
        author = (
            post.get("author_label")
            or post.get("author_name")
            or short_peer(post.get("author", ""))
        )
        self.start_reply(post["id"], author)

    def _on_toolbar_more_clicked(self, post: dict[str, Any], pos: QPoint) -> None:
        in_thread = self.sender() is self.toolbars[1]
        self.menus.post_menu(post, pos, in_thread)

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
            {"community": self.community, "post": post_id, **HIDDEN_TOO},
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
        self.searcher.search(query)

    def jump_to_post(self, post: dict[str, Any]) -> None:
        """Show a post of the current community: switch to its channel, page back to it."""
        channel = str(post.get("channel") or self.channel)
        if channel != self.channel:
            row = self.channels.row_of(channel)
            if row < 0:
                self.status_message.emit("That message's channel is not available.")
                return
            self.channel_view.setCurrentIndex(self.channels.index(row))
        if self.knowledge.open_post(post):
            return  # in a forum or qa channel: the post's topic page
        self.timeline_view.reveal_post(channel, post["id"])
        self.composer.edit.setFocus()

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
        if QApplication.activePopupWidget() is not None:
            # That Escape is the open menu's: it closes the menu, nothing else. (On X11
            # the window's shortcut sees the key before the popup does.)
            return False
        if self.safety_pages.showing:
            self.safety_pages.back()  # the moderation log or queue: back to the channel
            return True
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
