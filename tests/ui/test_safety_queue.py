"""Issue 16 in the app: a categorised report, the moderation queue, held posts, watched words.

Two apps, two real nodes on 127.0.0.1. Bob reports Alice's post as spam (it
folds for him), Alice watches a word with "hold", Bob's post with it is held
(his composer says so), and Alice works the queue: counts per category, the
post in context, dismiss and approve.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QMenu

from p2pcommunity.ui.app import App
from p2pcommunity.ui.safety.errors import HELD_TEXT
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

    queue = community_dialog(alice, "Moderation queue…")
    assert isinstance(queue, ModerationQueue)
    qtbot.waitUntil(
        lambda: queue.reports.topLevelItemCount() == 1 and queue.pending.topLevelItemCount() == 1,
        timeout=SYNC_MS,
    )
    assert queue.counts["spam"].text() == "Spam: 1"
    assert queue.counts["harassment"].text() == "Harassment: 0"
    first = queue.reports.topLevelItem(0)
    assert first.text(0) == "Spam" and first.text(2) == "an advert"
    qtbot.waitUntil(
        lambda: first.text(1) == f"Alice: {ad}" and first.text(3) == "Bob", timeout=10_000
    )
    queue.reports.setCurrentItem(first)
    qtbot.waitUntil(lambda: ad in queue.context.toPlainText(), timeout=10_000)
    assert queue.dismiss_button.isEnabled() and not queue.approve_button.isEnabled()

    qtbot.mouseClick(queue.dismiss_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: queue.reports.topLevelItemCount() == 0, timeout=10_000)
    assert queue.counts["spam"].text() == "Spam: 0"

    held = queue.pending.topLevelItem(0)
    assert held.text(0) == "Held for approval" and raffle in held.text(1)
    queue.pending.setCurrentItem(held)
    assert queue.approve_button.isEnabled() and queue.reject_button.isEnabled()
    qtbot.mouseClick(queue.approve_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: queue.pending.topLevelItemCount() == 0, timeout=10_000)
    assert queue.status.text().startswith("0 reports")
    qtbot.waitUntil(lambda: row(bob, raffle).get("held") is False, timeout=SYNC_MS)
