"""Issue 16 in the app: a categorised report, the moderation queue, held posts, watched words.

Two apps, two real nodes on 127.0.0.1. Bob reports Alice's post as spam (it
folds for him), Alice watches a word with "hold", Bob's post with it is held
(his composer says so), and Alice works the queue, a page of the community
with its counts in the sidebar: counts per category, the post in context,
dismiss and approve; Escape goes back to the channel. Bob, a plain member, has
the moderation log page and no queue.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QDialog, QMenu, QWidget

from p2pcommunity.ui.app import App
from p2pcommunity.ui.models import ChannelRole
from p2pcommunity.ui.safety.errors import HELD_TEXT
from p2pcommunity.ui.safety.modlog import ModlogPage
from p2pcommunity.ui.safety.policy import PolicyDialog
from p2pcommunity.ui.safety.queue import ModerationQueue
from p2pcommunity.ui.safety.report import ReportDialog

from .test_app_flow import send, timeline_texts
from .test_two_apps import SYNC_MS, call, club_of_two


def community_dialog(app: App, text: str) -> QDialog:
    """Open a dialog from the community menu, as a click on its entry does."""
    menu = app.chat.community_menu
    app.chat.menus.fill_community_menu(menu)
    next(a for a in menu.actions() if a.text() == text).trigger()
    return app.chat.menus.safety.dialogs[-1]


SHIFT_CTRL = Qt.KeyboardModifier.ShiftModifier | Qt.KeyboardModifier.ControlModifier
NO_MODIFIER = Qt.KeyboardModifier.NoModifier


def press(qtbot, app: App, widget: QWidget, key: Qt.Key, modifiers=NO_MODIFIER) -> None:
    """A key as the user types it: into the active window, its shortcuts and all."""
    app.window.show()
    app.window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is app.window, timeout=5_000)
    QTest.keyClick(widget, key, modifiers)


def community_page(app: App, text: str) -> QWidget:
    """Show a page from the community menu, as a click on its entry does."""
    menu = app.chat.community_menu
    app.chat.menus.fill_community_menu(menu)
    next(a for a in menu.actions() if a.text() == text).trigger()
    page = app.chat.centre.currentWidget()
    assert page is not app.chat.knowledge
    return page


def post_action(qtbot, app: App, text: str, action: str) -> None:
    """Open the post's menu and choose `action` from it."""
    post = next(r for r in app.chat.timeline.rows() if r["text"] == text)
    before = set(app.chat.findChildren(QMenu))
    app.chat.menus.post_menu(post, app.chat.mapToGlobal(app.chat.rect().center()), False)
    menu = next(m for m in app.chat.findChildren(QMenu) if m not in before)
    qtbot.waitUntil(menu.isVisible, timeout=5_000)
    chosen = next(a for a in menu.actions() if a.text() == action)
    menu.close()
    chosen.trigger()


def row(app: App, text: str) -> dict[str, Any]:
    return next((r for r in app.chat.timeline.rows() if r["text"] == text), {})


def click_row(qtbot, app: App, text: str) -> None:
    view = app.chat.timeline_view
    source = app.chat.timeline.index(app.chat.timeline.row_of(row(app, text)["id"]))
    index = view.model().mapFromSource(source)  # the view shows the timeline through a proxy
    view.scrollTo(index)
    qtbot.mouseClick(
        view.viewport(), Qt.MouseButton.LeftButton, pos=view.visualRect(index).center()
    )


def collapsed(app: App, text: str) -> bool:
    model = app.chat.timeline
    index = model.index(model.row_of(row(app, text)["id"]))
    return app.chat.timeline_view.post_delegate.collapsed(index)


def send_and_see(qtbot, author: App, reader: App, text: str) -> None:
    """`author` sends `text` from the composer; it reaches `reader`'s timeline."""
    send(qtbot, author, text)
    qtbot.waitUntil(lambda: text in timeline_texts(reader), timeout=SYNC_MS)


def two_apps(qtbot, make_app) -> tuple[App, App, str]:
    alice, bob, community = club_of_two(qtbot, make_app)
    qtbot.waitUntil(lambda: bob.chat.my_role == "member" and bool(bob.chat.channel), timeout=10_000)
    return alice, bob, community


def test_report_with_category_then_work_the_queue(qtbot, make_app) -> None:
    alice, bob, community = two_apps(qtbot, make_app)
    ad = "Cheap ropes at example.com"
    send_and_see(qtbot, alice, bob, ad)

    # Bob reports it as spam from its menu; it folds for him, and a click shows it
    post_action(qtbot, bob, ad, "Report…")
    report = bob.chat.menus.safety.dialogs[-1]
    assert isinstance(report, ReportDialog)
    qtbot.mouseClick(report.choices["spam"], Qt.MouseButton.LeftButton)
    qtbot.keyClicks(report.reason, "an advert")
    qtbot.mouseClick(report.send_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: row(bob, ad).get("reported_by_me") is True, timeout=10_000)
    assert "Report sent" in bob.window.statusBar().currentMessage()
    assert collapsed(bob, ad) and not collapsed(alice, ad)
    click_row(qtbot, bob, ad)
    assert not collapsed(bob, ad)
    click_row(qtbot, bob, ad)
    assert collapsed(bob, ad)

    # Alice watches "raffle" with the action hold, from the safety settings
    settings = community_dialog(alice, "Safety settings…")
    assert isinstance(settings, PolicyDialog)
    qtbot.keyClicks(settings.word, "raffle")
    settings.action.setCurrentIndex(settings.action.findData("hold"))
    qtbot.mouseClick(settings.add_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: settings.words.topLevelItemCount() == 1, timeout=10_000)
    assert settings.words.topLevelItem(0).text(1) == "Hold for approval"
    settings.close()

    # Bob's post with the word is held: his composer says so; Alice gets it in her queue.
    # A channel made after the word tells when Bob's node has the log up to the word.
    call(qtbot, alice, "channel create", {"community": community, "name": "later"})
    qtbot.waitUntil(
        lambda: (
            "later"
            in [
                c["name"]
                for c in call(qtbot, bob, "channel list", {"community": community})["channels"]
            ]
        ),
        timeout=SYNC_MS,
    )
    raffle = "Join my RAFFLE tonight"
    send(qtbot, bob, raffle)
    composer = bob.chat.composer
    qtbot.waitUntil(lambda: composer.notice.text() == HELD_TEXT, timeout=10_000)
    assert composer.notice.isVisibleTo(composer)
    qtbot.waitUntil(lambda: row(bob, raffle).get("held") is True, timeout=10_000)

    # The queue's sidebar entry counts what waits, per category, before it is opened
    pages = alice.chat.safety_pages
    assert pages.queue_row.isVisibleTo(alice.chat) and alice.chat.centre.currentWidget() is not (
        pages.queue
    )
    qtbot.waitUntil(lambda: pages.queue_badge.text() == "2", timeout=SYNC_MS)
    assert pages.queue_counts.text() == "1 spam · 1 held"
    assert pages.queue_button.accessibleName() == "Moderation queue, 2 waiting: 1 spam, 1 held"

    queue = community_page(alice, "Moderation queue")
    assert isinstance(queue, ModerationQueue) and queue is pages.queue
    assert pages.queue_button.isChecked() and not alice.chat.channel_view.currentIndex().isValid()
    qtbot.waitUntil(
        lambda: queue.reports.topLevelItemCount() == 1 and queue.pending.topLevelItemCount() == 1,
        timeout=SYNC_MS,
    )
    assert queue.counts["spam"].text() == "Spam: 1"
    assert queue.counts["harassment"].text() == "Harassment: 0"
    # (the queue reloads on every sync event: its rows are asked for afresh each time)
    texts = lambda: [queue.reports.topLevelItem(0).text(c) for c in range(4)]  # noqa: E731
    qtbot.waitUntil(lambda: texts() == ["Spam", f"Alice: {ad}", "an advert", "Bob"], timeout=10_000)
    queue.reports.setCurrentItem(queue.reports.topLevelItem(0))
    qtbot.waitUntil(lambda: ad in queue.context.toPlainText(), timeout=10_000)
    assert queue.dismiss_button.isEnabled() and not queue.approve_button.isEnabled()

    qtbot.mouseClick(queue.dismiss_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: queue.reports.topLevelItemCount() == 0, timeout=10_000)
    assert queue.counts["spam"].text() == "Spam: 0"
    qtbot.waitUntil(lambda: pages.queue_badge.text() == "1", timeout=10_000)
    assert pages.queue_counts.text() == "1 held"

    held = queue.pending.topLevelItem(0)
    assert held.text(0) == "Held: watched word" and raffle in held.text(1)
    queue.pending.setCurrentItem(queue.pending.topLevelItem(0))
    assert queue.approve_button.isEnabled() and queue.reject_button.isEnabled()
    qtbot.mouseClick(queue.approve_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: queue.pending.topLevelItemCount() == 0, timeout=10_000)
    assert queue.status.text().startswith("0 reports")
    qtbot.waitUntil(pages.queue_badge.isHidden, timeout=10_000)
    assert pages.queue_counts.isHidden()
    qtbot.waitUntil(lambda: row(bob, raffle).get("held") is False, timeout=SYNC_MS)

    # Escape: back to the channel shown before, its row current again
    general = alice.chat.channel
    press(qtbot, alice, queue.reports, Qt.Key.Key_Escape)
    assert alice.chat.centre.currentWidget() is alice.chat.knowledge
    assert alice.chat.channel_view.currentIndex().data(ChannelRole.ID) == general
    assert not pages.queue_button.isChecked()


def test_the_pages_for_a_member_and_for_a_moderator(qtbot, make_app) -> None:
    alice, bob, community = two_apps(qtbot, make_app)
    qtbot.waitUntil(lambda: alice.chat.my_role == "owner", timeout=10_000)
    hidden = "Spam spam spam"
    send_and_see(qtbot, bob, alice, hidden)
    call(
        qtbot,
        alice,
        "hide",
        {"community": community, "post": row(alice, hidden)["id"], "reason": "spam"},
    )

    # Bob, a plain member: the log is in his sidebar, menus and View menu; the queue nowhere
    pages = bob.chat.safety_pages
    assert pages.modlog_button.isVisibleTo(bob.chat)
    assert not pages.queue_row.isVisibleTo(bob.chat) and not pages.queue_action.isVisible()
    menu = bob.chat.community_menu
    bob.chat.menus.fill_community_menu(menu)
    texts = [a.text() for a in menu.actions()]
    assert "Moderation log" in texts and "Moderation queue" not in texts
    pages.show_queue()  # its shortcut, say: nothing happens for a member
    assert bob.chat.centre.currentWidget() is bob.chat.knowledge

    # Ctrl+Shift+L (the View menu's action) opens the log page; the hide is there
    press(qtbot, bob, bob.window, Qt.Key.Key_L, SHIFT_CTRL)
    log = bob.chat.centre.currentWidget()
    assert isinstance(log, ModlogPage) and pages.modlog_button.isChecked()
    qtbot.waitUntil(lambda: "hid a message" in texts_of(log, 2), timeout=SYNC_MS)
    qtbot.waitUntil(lambda: "your message" in texts_of(log, 3), timeout=10_000)

    # Filters: by action, by member
    log.action_filter.setCurrentIndex(log.action_filter.findData("timeout"))
    assert texts_of(log, 2) == [] and log.status.text().startswith("0 of")
    log.action_filter.setCurrentIndex(log.action_filter.findData("hide"))
    assert texts_of(log, 2) == ["hid a message"]
    log.action_filter.setCurrentIndex(0)
    log.member_filter.setCurrentIndex(log.member_filter.findData(alice.peer_id))
    assert "hid a message" in texts_of(log, 2)
    log.member_filter.setCurrentIndex(log.member_filter.findText("you"))
    assert texts_of(log, 2) == ["hid a message"]  # the hidden message is Bob's
    log.view.setCurrentItem(log.view.topLevelItem(0))
    assert log.appeal_button.isEnabled()
    detail = log.detail.toPlainText()
    assert "Alice hid a message your message" in detail and "Reason: spam" in detail

    # Escape goes back to #general
    press(qtbot, bob, log.view, Qt.Key.Key_Escape)
    assert bob.chat.centre.currentWidget() is bob.chat.knowledge
    assert bob.chat.channel_view.currentIndex().isValid()

    # Alice, the owner: the queue's entry is hers, and Ctrl+Shift+R opens it
    assert alice.chat.safety_pages.queue_row.isVisibleTo(alice.chat)
    press(qtbot, alice, alice.window, Qt.Key.Key_R, SHIFT_CTRL)
    assert isinstance(alice.chat.centre.currentWidget(), ModerationQueue)

    # Bob made a moderator: the queue's entry appears for him, and its badge follows the
    # sync events (Alice's report reaches it while the page is not even open)
    call(
        qtbot, alice, "role set", {"community": community, "peer": bob.peer_id, "role": "moderator"}
    )
    qtbot.waitUntil(lambda: pages.queue_row.isVisibleTo(bob.chat), timeout=SYNC_MS)
    assert pages.queue_action.isVisible() and pages.queue_badge.isHidden()
    rude = "You all climb badly"
    send_and_see(qtbot, bob, alice, rude)
    params = {"post": row(alice, rude)["id"], "reason": "rude", "category": "harassment"}
    call(qtbot, alice, "report", {"community": community, **params})
    qtbot.waitUntil(lambda: pages.queue_badge.text() == "1", timeout=SYNC_MS)
    assert pages.queue_counts.text() == "1 harassment"
    assert bob.chat.centre.currentWidget() is bob.chat.knowledge  # nothing moved under him


def texts_of(page: ModlogPage, column: int) -> list[str]:
    view = page.view
    return [view.topLevelItem(i).text(column) for i in range(view.topLevelItemCount())]
