"""The composer in the real app, against real nodes: mentions by name, timeouts, drafts.

Each test drives the window by keys and clicks; the other member's actions
go through the control API, as another person's app would send them.
"""

from __future__ import annotations

from datetime import UTC, datetime

from PySide6.QtCore import Qt

from p2pcommunity.ui.app import App
from p2pcommunity.ui.composer import local_time_text, parse_until

from .conftest import start_with_name
from .test_app_flow import create_community, timeline_texts
from .test_two_apps import SYNC_MS, call, club_of_two


def click_channel(qtbot, app: App, name: str) -> None:
    chat = app.chat
    row = next(i for i, r in enumerate(chat.channels.rows()) if r.get("name") == name)
    rect = chat.channel_view.visualRect(chat.channels.index(row))
    qtbot.mouseClick(chat.channel_view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.waitUntil(
        lambda: chat.timeline.channel == chat.channels.row_at(row)["id"], timeout=10_000
    )


def test_a_completed_mention_is_a_name_and_notifies(qtbot, make_app) -> None:
    alice, bob, _community = club_of_two(qtbot, make_app)
    edit = bob.chat.composer.edit
    qtbot.waitUntil(lambda: bool(edit._mentions), timeout=SYNC_MS)  # member list arrived
    seen: list[tuple[str, str]] = []
    alice.chat.notification_wanted.connect(lambda title, text: seen.append((title, text)))

    bob.window.show()
    qtbot.waitExposed(bob.window)
    edit.setFocus()
    qtbot.keyClicks(edit, "@ali")
    popup = edit.completer.popup()
    qtbot.waitUntil(popup.isVisible, timeout=5_000)
    qtbot.keyClick(popup, Qt.Key.Key_Tab)
    qtbot.keyClicks(edit, "belay me?")
    assert edit.toPlainText() == "@Alice belay me?"
    qtbot.keyClick(edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: "@Alice belay me?" in timeline_texts(bob), timeout=10_000)
    qtbot.waitUntil(lambda: ("Bob mentioned you", "@Alice belay me?") in seen, timeout=SYNC_MS)


def test_a_timed_out_member_sees_until_when_and_can_post_again_after(qtbot, make_app) -> None:
    alice, bob, community = club_of_two(qtbot, make_app)
    composer = bob.chat.composer
    qtbot.waitUntil(lambda: composer.edit.isEnabled() and bool(bob.chat.channel), timeout=10_000)

    call(qtbot, alice, "timeout", {"community": community, "peer": bob.peer_id, "duration": "1h"})
    qtbot.waitUntil(lambda: composer.timed_out_until is not None, timeout=SYNC_MS)
    shown = call(qtbot, bob, "community show", {"community": community})
    until = parse_until(shown["timed_out_until"])
    assert until is not None and until > datetime.now(UTC)
    assert composer.notice.text() == f"You are timed out until {local_time_text(until)}"
    assert composer.notice.isVisibleTo(bob.window)
    assert "Z" not in composer.notice.text()  # local time, not the raw ISO string
    bob.window.show()
    qtbot.waitExposed(bob.window)
    composer.edit.setFocus()
    qtbot.keyClicks(composer.edit, "can I?")
    qtbot.keyClick(composer.edit, Qt.Key.Key_Return)
    assert composer.edit.toPlainText() == ""  # nothing went in
    assert not composer.send_button.isEnabled()

    call(qtbot, alice, "untimeout", {"community": community, "peer": bob.peer_id})
    qtbot.waitUntil(lambda: composer.edit.isEnabled(), timeout=SYNC_MS)
    assert not composer.notice.isVisibleTo(bob.window)
    composer.edit.setFocus()
    qtbot.keyClicks(composer.edit, "thanks")
    qtbot.keyClick(composer.edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: "thanks" in timeline_texts(bob), timeout=10_000)


def test_drafts_stay_with_their_channel_across_a_restart(qtbot, make_app) -> None:
    alice: App = make_app("alice")
    start_with_name(qtbot, alice, "Alice")
    community = create_community(qtbot, alice, "Climbing club")
    call(qtbot, alice, "channel create", {"community": community, "name": "random"})
    qtbot.waitUntil(lambda: alice.chat.channels.rowCount() == 2, timeout=10_000)
    alice.window.show()
    qtbot.waitExposed(alice.window)
    edit = alice.chat.composer.edit
    edit.setFocus()
    qtbot.keyClicks(edit, "a thought for general")
    click_channel(qtbot, alice, "random")
    assert edit.toPlainText() == ""
    edit.setFocus()
    qtbot.keyClicks(edit, "one for random")
    click_channel(qtbot, alice, "general")
    assert edit.toPlainText() == "a thought for general"
    assert alice.chat.composer.has_unsent_drafts() is False  # kept, so quitting loses nothing

    alice.shutdown()
    alice.window.close()
    qtbot.waitUntil(lambda: not alice.node.stopping, timeout=15_000)
    again: App = make_app("alice")  # the same data dir
    again.start()
    qtbot.waitUntil(lambda: again.stage == "chat" and bool(again.chat.channel), timeout=45_000)
    edit = again.chat.composer.edit
    qtbot.waitUntil(lambda: edit.toPlainText() == "a thought for general", timeout=10_000)
    again.window.show()
    qtbot.waitExposed(again.window)
    click_channel(qtbot, again, "random")
    assert edit.toPlainText() == "one for random"
