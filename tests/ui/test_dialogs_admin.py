"""An admin's everyday dialogs against a real node (issue 13, items 3 and 6): the "+" beside
CHANNELS, the Invites tab's Create and empty state, and an invite dialog that fits an
800-pixel-high screen and copies a `p2pcommunity://join/` link. Clicks and keys only."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication, QWidget

from p2pcommunity.ui.app import App
from p2pcommunity.ui.dialogs import CreateChannelDialog, InviteDialog
from p2pcommunity.ui.links import parse_link
from p2pcommunity.ui.settings import CommunitySettingsDialog

from .conftest import start_with_name
from .test_app_flow import create_community


def visible(kind: type) -> list[QWidget]:
    return [w for w in QApplication.topLevelWidgets() if isinstance(w, kind) and w.isVisible()]


def click(qtbot, widget: QWidget) -> None:
    qtbot.mouseClick(widget, Qt.MouseButton.LeftButton)


def test_admin_creates_a_channel_and_an_invite_from_where_they_look(qtbot, make_app) -> None:
    alice: App = make_app("alice")
    alice.window.show()
    start_with_name(qtbot, alice, "Alice")
    community = create_community(qtbot, alice, "Climbing club")

    # "+" beside CHANNELS, for the owner; a small dialog; Enter creates; the channel opens
    plus = alice.chat.add_channel_button
    qtbot.waitUntil(plus.isVisible, timeout=10_000)
    assert plus.accessibleName() == "Create a channel"
    click(qtbot, plus)
    qtbot.waitUntil(lambda: bool(visible(CreateChannelDialog)), timeout=5_000)
    dialog = visible(CreateChannelDialog)[0]
    qtbot.waitUntil(lambda: QApplication.focusWidget() is dialog.name, timeout=2_000)
    qtbot.keyClicks(dialog.name, "bouldering")
    qtbot.keyClick(dialog.name, Qt.Key.Key_Return)
    qtbot.waitUntil(
        lambda: sorted(r["name"] for r in alice.chat.channels.rows()) == ["bouldering", "general"],
        timeout=10_000,
    )
    qtbot.waitUntil(
        lambda: (
            alice.chat.channel
            == next(r["id"] for r in alice.chat.channels.rows() if r["name"] == "bouldering")
        ),
        timeout=10_000,
    )

    # the Invites tab: empty, says so, and offers Create
    alice.dialogs.open_settings(community)
    qtbot.waitUntil(lambda: bool(visible(CommunitySettingsDialog)), timeout=5_000)
    settings = visible(CommunitySettingsDialog)[0]
    assert isinstance(settings, CommunitySettingsDialog)
    tab_bar = settings.tabs.tabBar()
    invites_tab = next(
        i for i in range(settings.tabs.count()) if settings.tabs.tabText(i) == "Invites"
    )
    qtbot.mouseClick(tab_bar, Qt.MouseButton.LeftButton, pos=tab_bar.tabRect(invites_tab).center())
    qtbot.waitUntil(settings.invites_empty.isVisible, timeout=5_000)
    assert "No invites yet" in settings.invites_empty.text()
    qtbot.waitUntil(settings.create_invite.isEnabled, timeout=5_000)
    assert not settings.invite_reason.isVisible()
    click(qtbot, settings.create_invite)
    qtbot.waitUntil(lambda: bool(visible(InviteDialog)), timeout=5_000)
    invite = visible(InviteDialog)[0]
    assert isinstance(invite, InviteDialog)
    click(qtbot, invite.create_button)
    qtbot.waitUntil(lambda: bool(invite.code.toPlainText()), timeout=10_000)
    code = invite.code.toPlainText()

    # it fits a screen 800 pixels high, Close in reach; the link carries the code
    qtbot.waitUntil(lambda: invite.height() <= 800 - 60, timeout=2_000)
    assert invite.frameGeometry().height() <= 800
    close = invite.close_buttons.buttons()[0]
    assert close.isVisible()
    assert invite.rect().contains(close.mapTo(invite, close.rect().bottomRight()))
    click(qtbot, invite.copy_link_button)
    assert parse_link(QGuiApplication.clipboard().text()) == code
    assert invite.copy_link_button.text() == "Link copied ✓"

    # back in the settings, the invite is listed instead of the empty state
    qtbot.waitUntil(lambda: settings.invites.count() == 1, timeout=10_000)
    assert settings.invites.isVisible() and not settings.invites_empty.isVisible()
    click(qtbot, close)
    qtbot.waitUntil(lambda: not invite.isVisible(), timeout=2_000)
