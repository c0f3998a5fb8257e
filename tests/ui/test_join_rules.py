"""Rules that hold, in the app (issue 13, item 1): a joiner sees the rules and nothing else of
the community until they agree; every way out of the rules asks, says what leaving deletes,
and then leaves or goes back; a member pasting an invite again is told they are in already;
a member whose rules changed gets the rules page instead of the chat. Two real apps and
nodes on 127.0.0.1; the joiner uses only keys and clicks."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication, QMenu, QMessageBox, QPushButton, QWidget
from shiboken6 import isValid

from p2pcommunity.ui.app import App
from p2pcommunity.ui.dialogs import InviteDialog
from p2pcommunity.ui.join import JoinDialog

from .conftest import start_with_name
from .test_app_flow import create_community, send, timeline_texts
from .test_two_apps import call

SYNC_MS = 40_000


def visible(kind: type) -> list[Any]:
    return [w for w in QApplication.topLevelWidgets() if isinstance(w, kind) and w.isVisible()]


def closed(widget: QWidget) -> bool:
    return not isValid(widget) or not widget.isVisible()  # dialogs delete themselves on close


def click(qtbot, widget: QWidget) -> None:
    qtbot.mouseClick(widget, Qt.MouseButton.LeftButton)


def make_invite(qtbot, alice: App, community: str, moderator: bool = False, uses: int = 1) -> str:
    """Alice's invite dialog: pick the role and uses by keyboard, click Create."""
    alice.dialogs.open_invite(community, "Climbing club")
    qtbot.waitUntil(lambda: bool(visible(InviteDialog)), timeout=5_000)
    dialog: InviteDialog = visible(InviteDialog)[0]
    if moderator:
        qtbot.keyClick(dialog.role, Qt.Key.Key_Down)
        assert dialog.role.currentText() == "moderator"
    if uses != 1:
        dialog.uses.selectAll()
        qtbot.keyClicks(dialog.uses, str(uses))
    click(qtbot, dialog.create_button)
    qtbot.waitUntil(lambda: bool(dialog.code.toPlainText()), timeout=10_000)
    code = dialog.code.toPlainText()
    click(qtbot, dialog.close_buttons.buttons()[0])
    return code


def paste_and_join(qtbot, bob: App, code: str) -> JoinDialog:
    bob.open_join()
    qtbot.waitUntil(lambda: bool(visible(JoinDialog)), timeout=5_000)
    dialog: JoinDialog = visible(JoinDialog)[0]
    QGuiApplication.clipboard().setText(code)
    click(qtbot, dialog.code)
    qtbot.keyClick(dialog.code, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
    assert dialog.code.toPlainText() == code
    qtbot.waitUntil(lambda: dialog.client.is_connected, timeout=5_000)
    click(qtbot, dialog.join_button)
    return dialog


def leave_box(qtbot) -> QMessageBox:
    qtbot.waitUntil(lambda: bool(visible(QMessageBox)), timeout=5_000)
    box: QMessageBox = visible(QMessageBox)[0]
    assert box.text() == "Leave Climbing club?"
    assert "deletes" in box.informativeText() and "from this device" in box.informativeText()
    return box


def box_button(box: QMessageBox, name: str) -> QPushButton:
    button = box.findChild(QPushButton, name)
    assert button is not None
    return button


def two_apps(qtbot, make_app) -> tuple[App, App, str]:
    alice: App = make_app("alice")
    bob: App = make_app("bob")
    start_with_name(qtbot, alice, "Alice")
    bob.window.show()
    start_with_name(qtbot, bob, "Bob")
    community = create_community(qtbot, alice, "Climbing club")
    call(qtbot, alice, "rules set", {"community": community, "text": "Be kind."})
    send(qtbot, alice, "members only")
    return alice, bob, community


def test_rules_hold_until_agreed_and_a_second_paste_says_already_a_member(qtbot, make_app) -> None:
    alice, bob, community = two_apps(qtbot, make_app)
    code = make_invite(qtbot, alice, community, moderator=True, uses=2)
    dialog = paste_and_join(qtbot, bob, code)
    qtbot.waitUntil(lambda: dialog.stack.currentIndex() == JoinDialog.RULES, timeout=SYNC_MS)
    assert "Be kind." in dialog.rules_view.rules.toPlainText()
    # nothing of the community behind the dialog, and the node refuses the rest
    # (a sync event may already have put the rules page behind the dialog: it shows
    # nothing of the community either)
    assert bob.stage in ("welcome", "rules") and bob.chat.communities.rowCount() == 0
    assert bob.window.pages.currentWidget() is not bob.chat
    refused = bob.client.request("read", {"community": community, "channel": "general"})
    qtbot.waitUntil(lambda: refused.done, timeout=5_000)
    assert refused.code == "rules_pending"

    # Escape asks, says what is deleted; "Back to the rules" goes back, nothing left
    qtbot.keyClick(dialog, Qt.Key.Key_Escape)
    box = leave_box(qtbot)
    click(qtbot, box_button(box, "confirmBack"))
    qtbot.waitUntil(lambda: closed(box), timeout=2_000)
    assert dialog.isVisible() and dialog.stack.currentIndex() == JoinDialog.RULES
    # the window's X does the same
    dialog.close()
    box = leave_box(qtbot)
    qtbot.keyClick(box, Qt.Key.Key_Escape)  # = back to the rules
    qtbot.waitUntil(lambda: closed(box), timeout=2_000)
    assert dialog.isVisible()
    assert call(qtbot, bob, "community list", {})["communities"][0]["rules_acknowledged"] is False

    # agreeing takes Bob in
    click(qtbot, dialog.rules_view.agree_button)
    qtbot.waitUntil(lambda: bob.stage == "chat" and bob.chat.community == community, timeout=10_000)
    qtbot.waitUntil(lambda: "members only" in timeline_texts(bob), timeout=SYNC_MS)

    # a moderator sees why "Invite people…" is greyed out
    qtbot.waitUntil(lambda: bob.chat.my_role == "moderator", timeout=SYNC_MS)
    click(qtbot, bob.chat.community_button)
    menu: QMenu = bob.chat.community_menu
    qtbot.waitUntil(menu.isVisible, timeout=2_000)
    invite = next(a for a in menu.actions() if a.text().startswith("Invite people"))
    assert not invite.isEnabled()
    assert "only admins can create invites" in invite.text().lower()
    assert invite.toolTip() == "Only admins can create invites"
    qtbot.keyClick(menu, Qt.Key.Key_Escape)

    # the same invite again: "already a member", Open, and no Leave anywhere
    again = paste_and_join(qtbot, bob, code)
    qtbot.waitUntil(lambda: again.stack.currentIndex() == JoinDialog.MEMBER, timeout=SYNC_MS)
    assert "already a member of Climbing club" in again.member_label.text()
    assert not again.rules_view.isVisible()
    assert not [b for b in again.findChildren(QPushButton) if b.isVisible() and "Leave" in b.text()]
    click(qtbot, again.open_button)
    qtbot.waitUntil(lambda: closed(again), timeout=5_000)
    assert bob.chat.community == community
    assert call(qtbot, bob, "community list", {})["communities"][0]["rules_acknowledged"] is True


def test_leaving_from_the_rules_asks_and_new_rules_gate_a_member(qtbot, make_app) -> None:
    alice, bob, community = two_apps(qtbot, make_app)

    # declining: Leave… asks, Leave deletes; Bob is back on the welcome page
    dialog = paste_and_join(qtbot, bob, make_invite(qtbot, alice, community))
    qtbot.waitUntil(lambda: dialog.stack.currentIndex() == JoinDialog.RULES, timeout=SYNC_MS)
    click(qtbot, dialog.rules_view.leave_button)
    box = leave_box(qtbot)
    click(qtbot, box_button(box, "confirmLeave"))
    qtbot.waitUntil(lambda: closed(dialog), timeout=10_000)
    assert call(qtbot, bob, "community list", {})["communities"] == []
    assert bob.stage == "welcome"

    # in again, agreeing this time
    dialog = paste_and_join(qtbot, bob, make_invite(qtbot, alice, community))
    qtbot.waitUntil(lambda: dialog.stack.currentIndex() == JoinDialog.RULES, timeout=SYNC_MS)
    click(qtbot, dialog.rules_view.agree_button)
    qtbot.waitUntil(lambda: bob.stage == "chat" and bob.chat.community == community, timeout=10_000)

    # the admin publishes new rules: Bob gets the rules page, not the chat
    call(qtbot, alice, "rules set", {"community": community, "text": "Be kind. No spoilers."})
    page = bob.window.rules_page
    qtbot.waitUntil(lambda: bob.stage == "rules", timeout=SYNC_MS)
    assert bob.window.pages.currentWidget() is page
    assert "No spoilers." in page.view.rules.toPlainText()
    assert "changed" in page.view.intro.text()
    assert bob.chat.communities.rowCount() == 0  # not listed while the rules wait
    assert "rules accept" not in bob.window.statusBar().currentMessage()  # no CLI hint
    # Leave… asks first; going back keeps Bob a member
    click(qtbot, page.view.leave_button)
    box = leave_box(qtbot)
    click(qtbot, box_button(box, "confirmBack"))
    qtbot.waitUntil(lambda: closed(box), timeout=2_000)
    assert bob.stage == "rules"
    click(qtbot, page.view.agree_button)
    qtbot.waitUntil(lambda: bob.stage == "chat" and bob.chat.community == community, timeout=10_000)
    qtbot.waitUntil(lambda: bool(bob.chat.channel), timeout=10_000)
    send(qtbot, bob, "agreed twice")
    qtbot.waitUntil(lambda: "agreed twice" in timeline_texts(alice), timeout=SYNC_MS)


def test_closing_the_dialog_while_it_syncs_ends_on_the_rules_not_half_in(qtbot, make_app) -> None:
    alice, bob, community = two_apps(qtbot, make_app)
    dialog = paste_and_join(qtbot, bob, make_invite(qtbot, alice, community))
    assert dialog.stack.currentIndex() == JoinDialog.PROGRESS
    qtbot.keyClick(dialog, Qt.Key.Key_Escape)  # gone at once: a join may take a minute
    qtbot.waitUntil(lambda: closed(dialog), timeout=2_000)
    # the node finishes the join it was asked for; the app shows its rules, nothing more
    qtbot.waitUntil(lambda: bob.stage == "rules", timeout=SYNC_MS)
    assert bob.window.pages.currentWidget() is bob.window.rules_page
    assert bob.chat.communities.rowCount() == 0
    click(qtbot, bob.window.rules_page.view.agree_button)
    qtbot.waitUntil(lambda: bob.stage == "chat" and bob.chat.community == community, timeout=10_000)
