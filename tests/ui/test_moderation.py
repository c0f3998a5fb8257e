"""Reports reach the moderation queue and are handled there; search results jump to their post.

The queue page (ui/safety/queue.py) is the app's one place for reports: here, what a
member's report brings a moderator (the reporter's name, the reason, the message) and
what the moderator does from it (go to the message, hide it, time its author out), a
message deleted since it was reported, and a plain member the node refuses.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QMenu, QTreeWidgetItem

from p2pcommunity.ui.app import App
from p2pcommunity.ui.safety.common import items, row_of
from p2pcommunity.ui.safety.queue import ModerationQueue

from .conftest import answer_text, start_with_name
from .test_app_flow import create_community, send, timeline_texts
from .test_safety_queue import community_page
from .test_two_apps import SYNC_MS, call, club_before_join, join_as_member


def menu_texts(app: App) -> list[str]:
    menu = QMenu()
    app.chat.menus.fill_community_menu(menu)
    return [a.text() for a in menu.actions()]


def post_of(app: App, text: str) -> dict[str, Any]:
    return next(r for r in app.chat.timeline.rows() if r["text"] == text)


def report_item(queue: ModerationQueue, post_id: str) -> QTreeWidgetItem:
    return next(i for i in items(queue.reports) if row_of(i).get("post") == post_id)


def message_of(queue: ModerationQueue, post_id: str) -> str:
    found = [i for i in items(queue.reports) if row_of(i).get("post") == post_id]
    return found[0].text(1) if found else ""


def test_a_members_report_is_handled_from_the_queue(qtbot, make_app) -> None:
    alice, bob, community = club_before_join(qtbot, make_app)
    ad, rude = "Buy cheap ropes at example.com", "You all climb badly"
    send(qtbot, alice, ad)
    qtbot.waitUntil(lambda: len(timeline_texts(alice)) == 1, timeout=10_000)
    join_as_member(qtbot, alice, bob, community)
    qtbot.waitUntil(lambda: len(timeline_texts(bob)) == 1, timeout=SYNC_MS)
    qtbot.waitUntil(lambda: bob.chat.my_role == "member", timeout=10_000)
    send(qtbot, bob, rude)
    qtbot.waitUntil(lambda: rude in timeline_texts(alice), timeout=SYNC_MS)

    # Bob, a member, reports the ad from its menu; he has no queue, and no "Reports…"
    assert "Reports…" not in menu_texts(bob) and "Moderation queue" not in menu_texts(bob)
    ad_id, rude_id = post_of(bob, ad)["id"], post_of(bob, rude)["id"]
    report = bob.chat.menus.report_post(post_of(bob, ad))
    report.reason.setText("It is spam")
    report.send_button.click()
    qtbot.waitUntil(
        lambda: "Report sent" in bob.window.statusBar().currentMessage(), timeout=10_000
    )
    # the page asked for anyway (its shortcut has no entry for him): the node refuses
    refused = ModerationQueue(bob.client)
    qtbot.addWidget(refused)
    refused.show_for(community, bob.peer_id)
    qtbot.waitUntil(lambda: refused.status.text().startswith("Not allowed"), timeout=10_000)
    assert refused.reports.topLevelItemCount() == 0

    # Alice, the owner, reports Bob's message too and opens the queue from the community menu
    call(qtbot, alice, "report", {"community": community, "post": rude_id, "reason": "rude"})
    assert "Reports…" not in menu_texts(alice) and "Moderation queue" in menu_texts(alice)
    qtbot.waitUntil(
        lambda: len(call(qtbot, alice, "reports", {"community": community})["reports"]) == 2,
        timeout=SYNC_MS,
    )
    pages = alice.chat.safety_pages
    queue = community_page(alice, "Moderation queue")
    assert queue is pages.queue
    qtbot.waitUntil(lambda: message_of(queue, ad_id) == f"Alice: {ad}", timeout=SYNC_MS)
    texts = [report_item(queue, ad_id).text(c) for c in range(5)]
    assert texts[2:4] == ["It is spam", "Bob"] and texts[4]

    # Go to message: the queue gives the centre back, the ad is the timeline's current row
    queue.reports.setCurrentItem(report_item(queue, ad_id))
    assert queue.go_button.isEnabled()
    qtbot.mouseClick(queue.go_button, Qt.MouseButton.LeftButton)
    view = alice.chat.timeline_view
    qtbot.waitUntil(
        lambda: (view.post_at(view.currentIndex()) or {}).get("id") == ad_id, timeout=10_000
    )
    assert alice.chat.centre.currentWidget() is alice.chat.knowledge
    assert not pages.queue_button.isChecked()

    # Hide it from the queue: its row says so, and it leaves Bob's timeline
    queue = community_page(alice, "Moderation queue")
    qtbot.waitUntil(lambda: message_of(queue, ad_id) == f"Alice: {ad}", timeout=10_000)
    queue.reports.setCurrentItem(report_item(queue, ad_id))
    queue.hide_post()
    answer_text(qtbot, queue, "spam")
    qtbot.waitUntil(lambda: message_of(queue, ad_id) == f"(hidden) Alice: {ad}", timeout=10_000)
    queue.reports.setCurrentItem(report_item(queue, ad_id))
    assert not queue.hide_button.isEnabled() and queue.go_button.isEnabled()
    qtbot.waitUntil(lambda: ad not in timeline_texts(bob), timeout=SYNC_MS)

    # Time out the author of the rude message, from its report
    qtbot.waitUntil(lambda: message_of(queue, rude_id) == f"Bob: {rude}", timeout=10_000)
    queue.reports.setCurrentItem(report_item(queue, rude_id))
    assert queue.timeout_button.isEnabled()
    hour = next(a for a in queue.timeout_button.menu().actions() if a.text() == "1 hour")
    hour.trigger()
    qtbot.waitUntil(lambda: queue.status.text() == "Bob is timed out for 1 hour.", timeout=10_000)
    members = call(qtbot, alice, "member list", {"community": community})["members"]
    assert next(m for m in members if m["peer_id"] == bob.peer_id)["timed_out_until"]

    # Alice deletes her ad: its report says so, and dismissing it is all that is left
    call(qtbot, alice, "delete", {"community": community, "post": ad_id})
    qtbot.waitUntil(lambda: message_of(queue, ad_id) == "(deleted)", timeout=10_000)
    queue.reports.setCurrentItem(report_item(queue, ad_id))
    assert "deleted" in queue.context.toPlainText()
    for button in (queue.go_button, queue.hide_button, queue.timeout_button):
        assert not button.isEnabled()
    assert queue.dismiss_button.isEnabled()

    # Enter on a report's row goes to its message too
    queue.reports.setCurrentItem(report_item(queue, rude_id))
    QTest.keyClick(queue.reports, Qt.Key.Key_Return)
    qtbot.waitUntil(
        lambda: (view.post_at(view.currentIndex()) or {}).get("id") == rude_id, timeout=10_000
    )
    assert alice.chat.centre.currentWidget() is alice.chat.knowledge


def test_search_result_jumps_to_its_channel_and_pages_back(qtbot, make_app) -> None:
    app: App = make_app("alice")
    start_with_name(qtbot, app, "Alice")
    community = create_community(qtbot, app, "Climbing club")
    general = app.chat.channel
    call(qtbot, app, "post", {"community": community, "channel": general, "text": "the needle"})
    for i in range(14):
        call(qtbot, app, "post", {"community": community, "channel": general, "text": f"hay {i}"})
    random = call(qtbot, app, "channel create", {"community": community, "name": "random"})
    app.chat.timeline.page = 5  # the needle is three pages back
    app.chat.on_community_changed(community, "test")
    qtbot.waitUntil(lambda: app.chat.channels.rowCount() == 2, timeout=10_000)
    random_id = random["channel_id"]
    app.chat.go_to(community, random_id)
    qtbot.waitUntil(lambda: app.chat.channel == random_id, timeout=10_000)

    app.chat.open_search()
    app.chat.search_panel.field.setText("needle")
    app.chat.search_panel.field.returnPressed.emit()
    results = app.chat.search_panel.model
    qtbot.waitUntil(lambda: results.rowCount() == 1, timeout=10_000)
    hit = results.rows()[0]
    assert hit["channel"] == general
    app.chat.search_panel.view.activated.emit(results.index(0))

    view = app.chat.timeline_view

    def shown() -> bool:
        post = view.post_at(view.currentIndex())
        return app.chat.channel == general and bool(post) and post["id"] == hit["id"]

    qtbot.waitUntil(shown, timeout=10_000)
    assert app.chat.timeline.rowCount() >= 15
    assert view.visualRect(view.currentIndex()).intersects(view.viewport().rect())
