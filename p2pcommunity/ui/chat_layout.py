"""The chat page's widgets and how they sit and connect: rail, sidebar, timeline, panels.

Split from chat.py, which says what the page does; this builds it once, the
way a Designer `.ui` file would, and sets each widget as an attribute of the
page (`page.composer`, `page.timeline_view`, ...). Signals are connected here
to the page's public methods and `_on_<source>_<signal>` slots.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
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

from p2pcommunity.ui.composer import Composer
from p2pcommunity.ui.delegate import ChannelDelegate, CommunityDelegate
from p2pcommunity.ui.drafts import DraftStore
from p2pcommunity.ui.files.controller import FilesController
from p2pcommunity.ui.hover_toolbar import HoverToolbar
from p2pcommunity.ui.icons import icon_button
from p2pcommunity.ui.knowledge.pane import KnowledgePane
from p2pcommunity.ui.models import TimelineModel
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

if TYPE_CHECKING:
    from p2pcommunity.ui.chat import ChatPage


def build_chat_page(page: ChatPage) -> None:
    # far left: communities
    page.community_view = QListView()
    page.community_view.setObjectName("communityRail")
    page.community_view.setAccessibleName("Communities")
    page.community_view.setModel(page.communities)
    page.community_view.setItemDelegate(CommunityDelegate(page.community_view))
    page.community_view.setFixedWidth(72)
    page.community_view.setFrameShape(QFrame.Shape.NoFrame)
    page.community_view.selectionModel().currentChanged.connect(
        page._on_community_view_current_changed
    )
    add = QToolButton()
    add.setObjectName("addCommunity")
    add.setText("+")
    add.setToolTip("Create or join a community")
    add.setAccessibleName("Create or join a community")
    add.setFixedSize(44, 44)
    add_menu = QMenu(add)
    add_menu.addAction("Create a community…", page.create_wanted.emit)
    add_menu.addAction("Join with an invite code…", page.join_wanted.emit)
    add.setMenu(add_menu)
    add.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
    rail = QFrame()
    rail.setObjectName("rail")
    rail_layout = QVBoxLayout(rail)
    rail_layout.setContentsMargins(0, 8, 0, 8)
    rail_layout.addWidget(page.community_view, 1)
    rail_layout.addWidget(add, 0, Qt.AlignmentFlag.AlignHCenter)

    # sidebar: community header, channels, me
    page.community_button = QToolButton()
    page.community_button.setObjectName("communityHeader")
    page.community_button.setAccessibleName("Community menu")
    page.community_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
    page.community_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
    page.community_button.setSizePolicy(
        page.community_button.sizePolicy().horizontalPolicy().Expanding,
        page.community_button.sizePolicy().verticalPolicy(),
    )
    page.community_menu = QMenu(page.community_button)
    page.community_menu.aboutToShow.connect(
        lambda: page.menus.fill_community_menu(page.community_menu)
    )
    page.community_button.setMenu(page.community_menu)
    page.channel_view = QListView()
    page.channel_view.setObjectName("channels")
    page.channel_view.setAccessibleName("Channels")
    page.channel_view.setModel(page.channels)
    page.channel_view.setItemDelegate(ChannelDelegate(page.channel_view))
    page.channel_view.setFrameShape(QFrame.Shape.NoFrame)
    page.channel_view.setMouseTracking(True)
    page.channel_view.selectionModel().currentChanged.connect(page._on_channel_view_current_changed)
    channels_label = QLabel("CHANNELS")
    channels_label.setObjectName("sectionLabel")
    page.add_channel_button = QToolButton()
    page.add_channel_button.setObjectName("addChannel")
    page.add_channel_button.setText("+")
    page.add_channel_button.setAccessibleName("Create a channel")
    page.add_channel_button.setToolTip("Create a channel")
    page.add_channel_button.setAutoRaise(True)
    page.add_channel_button.hide()  # admins only: shown once the role is known
    page.add_channel_button.clicked.connect(lambda: page.channel_create_wanted.emit(page.community))
    channels_row = QHBoxLayout()
    channels_row.setContentsMargins(0, 0, 8, 0)
    channels_row.addWidget(channels_label, 1)
    channels_row.addWidget(page.add_channel_button)
    page.me_label = QLabel()
    page.me_label.setObjectName("meLabel")
    me_button = icon_button("edit", "Edit your profile")
    me_button.setObjectName("profileButton")
    me_button.clicked.connect(page.profile_wanted.emit)
    me_row = QHBoxLayout()
    me_row.setContentsMargins(12, 6, 8, 8)
    me_row.addWidget(page.me_label, 1)
    me_row.addWidget(me_button)
    sidebar = QFrame()
    sidebar.setObjectName("sidebar")
    sidebar.setMinimumWidth(200)
    side = QVBoxLayout(sidebar)
    side.setContentsMargins(0, 0, 0, 0)
    side.setSpacing(0)
    side.addWidget(page.community_button)
    side.addSpacing(8)
    side.addLayout(channels_row)
    side.addWidget(page.channel_view, 1)
    side.addLayout(me_row)

    # center: header, timeline, composer
    page.channel_title = QLabel()
    page.channel_title.setObjectName("channelTitle")
    page.channel_topic = QLabel()
    page.channel_topic.setObjectName("muted")
    search_button = icon_button("search", "Search", "Search (Ctrl+F)")
    search_button.clicked.connect(page.open_search)
    members_button = icon_button("members", "Members")
    members_button.clicked.connect(page.toggle_members)
    page.header_buttons = (search_button, members_button)
    for button in page.header_buttons:
        button.setObjectName("headerButton")
        button.setFixedSize(34, 30)
    header = QFrame()
    header.setObjectName("channelHeader")
    hl = QHBoxLayout(header)
    hl.setContentsMargins(16, 10, 10, 10)
    hl.addWidget(page.channel_title)
    hl.addWidget(page.channel_topic, 1)
    hl.addWidget(search_button)
    hl.addWidget(members_button)
    page.timeline_view = TimelineView(page.timeline)
    page.timeline_view.setObjectName("timeline")
    page.timeline_view.customContextMenuRequested.connect(page._on_timeline_view_context_menu)
    page.timeline_view.post_delegate.reaction_clicked.connect(page.react)
    page.timeline_view.reveal_failed.connect(page._on_timeline_view_reveal_failed)
    page.timeline_view.post_delegate.replies_clicked.connect(page.open_thread)
    page.timeline_view.doubleClicked.connect(
        lambda index: page.open_thread(index.data(TimelineModel.ROW_ROLE)["id"])
    )
    page.empty_label = QLabel("No messages yet. Say hello!")
    page.empty_label.setObjectName("muted")
    page.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
    page.composer = Composer()
    page.sending = Sending(page)
    page.composer.sent.connect(page.sending._on_composer_sent)
    page.composer.edited.connect(page.sending._on_composer_edited)
    page.composer.edit_last_requested.connect(page.sending._on_composer_edit_last_requested)
    page.composer.set_drafts(DraftStore.beside(page.settings, page))
    page.composer.timeout_ended.connect(page._refresh_info)
    center = QFrame()
    center.setObjectName("center")
    cl = QVBoxLayout(center)
    cl.setContentsMargins(0, 0, 0, 0)
    cl.setSpacing(0)
    cl.addWidget(header)
    page.timeline_stack = QStackedWidget()
    page.timeline_stack.addWidget(page.timeline_view)
    page.timeline_stack.addWidget(page.empty_label)
    cl.addWidget(page.timeline_stack, 1)
    cl.addWidget(page.composer)
    page.knowledge = KnowledgePane(page, center)  # forum, qa channels and the wiki
    side.insertWidget(1, page.knowledge.pages_entry)
    page.centre = CentreStack()  # the channels' pane, then the moderation log and queue
    page.centre.addWidget(page.knowledge)
    page.safety_pages = SafetyPages(
        page, page.centre, page.knowledge, page
    )  # issue 16: log and queue
    side.insertWidget(side.count() - 1, page.safety_pages.entries)  # above me_row
    page.knowledge.pages_shown.connect(page.safety_pages.leave)

    # right: members / thread / search
    page.members_panel = MembersPanel(page.members)
    page.members_panel.context_menu_requested.connect(
        page.menus.on_members_panel_context_menu_requested
    )
    page.thread_panel = ThreadPanel()
    page.thread_panel.composer.sent.connect(page.sending._on_thread_composer_sent)
    page.thread_panel.view.customContextMenuRequested.connect(page._on_thread_context_menu)
    page.thread_panel.view.post_delegate.reaction_clicked.connect(page.react)
    page.search_panel = SearchPanel()
    page.searcher = SearchController(page.client, page.search_panel, page)
    page.searcher.post_wanted.connect(page.jump_to_post)
    page.toolbars = (
        HoverToolbar(page.timeline_view),
        HoverToolbar(page.thread_panel.view, replies=False),
    )
    for toolbar in page.toolbars:
        toolbar.react_chosen.connect(page.react)
        toolbar.reply_clicked.connect(page._on_toolbar_reply_clicked)
        toolbar.unhide_clicked.connect(page.menus.unhide_post)
        toolbar.more_clicked.connect(page._on_toolbar_more_clicked)
    page.selectors = [
        TextSelector(v)
        for v in (page.timeline_view, page.thread_panel.view, page.search_panel.view)
    ]
    for view in (page.timeline_view, page.thread_panel.view, page.search_panel.view):
        view.post_delegate.link_refused.connect(page.status_message)  # "Not opened: ..."
    bar = page.toolbars[0]
    chain = (bar.react_button, bar.reply_button, bar.unhide_button, bar.more_button)
    QWidget.setTabOrder(page.timeline_view, chain[0])
    for before, after in itertools.pairwise(chain):
        QWidget.setTabOrder(before, after)
    QWidget.setTabOrder(chain[-1], page.composer.edit)
    page.side = QStackedWidget()
    page.side.setObjectName("sidePanel")
    page.side.setMinimumWidth(240)
    for panel in (page.members_panel, page.thread_panel, page.search_panel):
        page.side.addWidget(panel)
        panel.header.closed.connect(page.close_panel)

    page.splitter = QSplitter()
    page.splitter.setChildrenCollapsible(False)
    page.splitter.addWidget(sidebar)
    page.splitter.addWidget(page.centre)
    page.splitter.addWidget(page.side)
    page.splitter.setStretchFactor(1, 1)
    page.splitter.setSizes([240, 760, 280])
    layout = QHBoxLayout(page)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.setSpacing(0)
    layout.addWidget(rail)
    layout.addWidget(page.splitter, 1)
    page.switcher = ChannelSwitcher(page)
    page.files = FilesController(page)  # issue 15: attach, show, save
    page.switcher.chosen.connect(page.go_to)
