"""The dialogs a member opens from the chat page: create, new channel, invite,
settings, profile (reports are the moderation queue's page: ui/safety/queue.py).

Each opens window-modal, deletes itself when closed, and reports back through
the chat page or this object's signals; the app (app.py) decides what a new
community or a new name means for its stage and title.
"""

from __future__ import annotations

from typing import TypeVar

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QDialog

from p2pcommunity.ui.chat import ChatPage
from p2pcommunity.ui.client import ControlClient
from p2pcommunity.ui.dialogs import (
    CreateChannelDialog,
    CreateCommunityDialog,
    InviteDialog,
    ProfileDialog,
)
from p2pcommunity.ui.mainwindow import MainWindow
from p2pcommunity.ui.settings import CommunitySettingsDialog

D = TypeVar("D", bound=QDialog)


def show(dialog: D) -> D:
    """Open `dialog` window-modal, to be deleted once closed."""
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.open()
    return dialog


class CommunityDialogs(QObject):
    community_added = Signal(str)  # created here: the app selects it
    profile_saved = Signal(str)  # the new display name

    def __init__(self, client: ControlClient, window: MainWindow) -> None:
        super().__init__(window)
        self.client = client
        self.window = window
        self.chat: ChatPage = window.chat

    def open_create(self) -> CreateCommunityDialog:
        dialog = CreateCommunityDialog(self.client, self.window)
        dialog.created.connect(self.community_added.emit)
        return show(dialog)

    def open_channel_create(self, community_id: str) -> CreateChannelDialog:
        dialog = CreateChannelDialog(self.client, community_id, self.window)
        dialog.created.connect(
            lambda channel: self.chat.select_community(community_id, channel=channel)
        )
        return show(dialog)

    def open_invite(self, community_id: str, name: str) -> InviteDialog:
        return show(InviteDialog(self.client, community_id, name, self.window))

    def open_settings(self, community_id: str) -> CommunitySettingsDialog:
        dialog = CommunitySettingsDialog(self.client, community_id, self.window)
        dialog.changed.connect(lambda: self.chat.on_community_changed(community_id, "settings"))
        return show(dialog)

    def open_profile(self, name: str, peer_id: str) -> ProfileDialog:
        dialog = ProfileDialog(self.client, name, peer_id, self.window)
        dialog.saved.connect(self.profile_saved.emit)
        return show(dialog)
