"""Issue 16 in the app: a context note under a post, the moderation log, an appeal and its outcome.

Alice (owner) notes Bob's post, then hides it from the queue page; Bob finds
the act on the moderation log page, appeals it; Alice reverses it from the
appeals list; Bob is told, his post is back for everyone, and his log shows
the outcome on the entry he appealed.
"""

from __future__ import annotations

from PySide6.QtCore import Qt

from p2pcommunity.ui.safety.appeals import AppealsDialog
from p2pcommunity.ui.safety.modlog import AppealDialog, ModlogPage
from p2pcommunity.ui.safety.queue import ModerationQueue
from p2pcommunity.ui.safety.report import ReportDialog

from .conftest import answer_text
from .test_safety_queue import (
    community_dialog,
    community_page,
    post_action,
    row,
    send_and_see,
    texts_of,
    two_apps,
)
from .test_two_apps import SYNC_MS, call


def test_note_hide_appeal_and_reverse(qtbot, make_app) -> None:
    alice, bob, community = two_apps(qtbot, make_app)
    claim = "The moon is made of cheese"
    send_and_see(qtbot, bob, alice, claim)

    # A context note, from the post's menu: everyone sees it under the post
    post_action(qtbot, alice, claim, "Add context note…")
    answer_text(qtbot, alice.chat, "Samples brought back since 1969 are rock.")
    qtbot.waitUntil(
        lambda: (row(bob, claim).get("note") or "").startswith("Samples"), timeout=SYNC_MS
    )
    delegate = bob.chat.timeline_view.post_delegate
    assert delegate.marks.note_height(row(bob, claim), bob.chat.font(), 500) > 0

    # Alice reports it herself and hides it from the queue, citing a reason
    post_action(qtbot, alice, claim, "Report…")
    report = alice.chat.menus.safety.dialogs[-1]
    assert isinstance(report, ReportDialog)
    qtbot.mouseClick(report.choices["misinformation"], Qt.MouseButton.LeftButton)
    qtbot.mouseClick(report.send_button, Qt.MouseButton.LeftButton)
    queue = community_page(alice, "Moderation queue")
    assert isinstance(queue, ModerationQueue)
    qtbot.waitUntil(lambda: queue.reports.topLevelItemCount() == 1, timeout=10_000)
    assert queue.counts["misinformation"].text() == "Misinformation: 1"
    queue.reports.setCurrentItem(queue.reports.topLevelItem(0))
    qtbot.waitUntil(queue.hide_button.isEnabled, timeout=10_000)
    qtbot.mouseClick(queue.hide_button, Qt.MouseButton.LeftButton)
    answer_text(qtbot, queue, "false claim")
    qtbot.waitUntil(lambda: queue.status.text().startswith("1 report"), timeout=10_000)
    qtbot.waitUntil(lambda: row(bob, claim).get("hidden") is True, timeout=SYNC_MS)

    # Bob, on the moderation log page: the hide concerns his message, so he may appeal it
    log = community_page(bob, "Moderation log")
    assert isinstance(log, ModlogPage)
    qtbot.waitUntil(lambda: "your message" in texts_of(log, 3), timeout=10_000)

    def entry(action: str):  # the page reloads on sync events: rows are found afresh
        view = log.view
        found = (view.topLevelItem(i) for i in range(view.topLevelItemCount()))
        return next(item for item in found if item.text(2) == action)

    hide = entry("hid a message")
    assert hide.text(1) == "Alice" and hide.text(4) == "false claim" and hide.text(0)
    assert not entry("added a context note").text(4)
    log.view.setCurrentItem(entry("added a context note"))
    assert not log.appeal_button.isEnabled()
    assert "Note: Samples brought back" in log.detail.toPlainText()
    log.view.setCurrentItem(entry("hid a message"))
    assert log.appeal_button.isEnabled()
    qtbot.mouseClick(log.appeal_button, Qt.MouseButton.LeftButton)
    appeal = log.findChild(AppealDialog)
    assert appeal is not None and not appeal.send_button.isEnabled()
    qtbot.keyClicks(appeal.text, "It was a joke, and the note already answers it.")
    qtbot.mouseClick(appeal.send_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: log.status.text().startswith("Appeal sent"), timeout=10_000)
    assert entry("hid a message").text(6) == "Sent"
    log.view.setCurrentItem(entry("hid a message"))
    assert not log.appeal_button.isEnabled()  # once

    # Alice reverses it from the appeals list
    qtbot.waitUntil(
        lambda: bool(call(qtbot, alice, "appeals", {"community": community})["appeals"]),
        timeout=SYNC_MS,
    )
    appeals = community_dialog(alice, "Appeals…")
    assert isinstance(appeals, AppealsDialog)
    qtbot.waitUntil(lambda: appeals.view.topLevelItemCount() == 1, timeout=10_000)
    item = appeals.view.topLevelItem(0)
    assert item.text(1) == "Bob" and item.text(2) == "Open" and "joke" in item.text(3)
    assert "hide by Alice" in appeals.detail.toPlainText()
    qtbot.mouseClick(appeals.reverse_button, Qt.MouseButton.LeftButton)
    answer_text(qtbot, appeals, "Fair: the note is enough.")
    qtbot.waitUntil(lambda: appeals.view.topLevelItem(0).text(2) == "Reversed", timeout=10_000)
    assert not appeals.reverse_button.isEnabled()

    # Bob is told, and his post is back
    watcher = bob.chat.menus.safety.outcomes
    qtbot.waitUntil(lambda: bool(watcher.notices), timeout=SYNC_MS)
    assert "accepted" in watcher.notices[0] and "the note is enough" in watcher.notices[0]
    assert ("Appeal decided", watcher.notices[0]) in bob.notifications
    qtbot.waitUntil(lambda: row(bob, claim).get("hidden") is False, timeout=SYNC_MS)
    # His log page, still open, followed the sync: the outcome, and on the entry he appealed
    qtbot.waitUntil(lambda: "showed a message again" in texts_of(log, 2), timeout=10_000)
    assert any(
        t.startswith("reversed on appeal") and t.endswith("your appeal") for t in texts_of(log, 2)
    )
    assert entry("hid a message").text(6) == "Reversed"
    log.view.setCurrentItem(entry("hid a message"))
    assert "Your appeal: reversed" in log.detail.toPlainText()
    watcher.check(community)  # checked again: said once only
    qtbot.wait(500)
    assert len(watcher.notices) == 1


def test_an_appeal_sent_from_the_cli_shows_on_the_log_page(qtbot, make_app) -> None:
    """The Appeal column comes from the node (`modlog`'s `my_appeals`), not from the
    app that sent the appeal: one sent through the command line shows too."""
    alice, bob, community = two_apps(qtbot, make_app)
    claim = "Chalk is bad for you"
    send_and_see(qtbot, bob, alice, claim)
    post = row(alice, claim)["id"]
    call(qtbot, alice, "hide", {"community": community, "post": post, "reason": "unsourced"})
    qtbot.waitUntil(lambda: row(bob, claim).get("hidden") is True, timeout=SYNC_MS)
    log = call(qtbot, bob, "modlog", {"community": community})
    hide = next(e for e in log["entries"] if e["action"] == "hide")
    assert log["my_appeals"] == []
    call(qtbot, bob, "appeal", {"community": community, "entry": hide["id"], "text": "sourced"})

    log = community_page(bob, "Moderation log")
    assert isinstance(log, ModlogPage)

    def appeal_column() -> str:
        view = log.view
        items = (view.topLevelItem(i) for i in range(view.topLevelItemCount()))
        return next((item.text(6) for item in items if item.text(2) == "hid a message"), "")

    qtbot.waitUntil(lambda: appeal_column() == "Sent", timeout=10_000)
    log.view.setCurrentItem(log.view.topLevelItem(0))
    assert not log.appeal_button.isEnabled()  # once
