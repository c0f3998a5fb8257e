"""Moderation the members see: join and role notices, time-outs in words, hidden posts.

Driven on real apps and nodes; where a second member only needs to be listed,
it is a key Alice adds, whose profile never syncs.
"""

from __future__ import annotations

from PySide6.QtCore import QDateTime, QModelIndex, QPoint, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QMenu

from p2pcommunity.identity import create_identity
from p2pcommunity.ui.app import App
from p2pcommunity.ui.models import MemberRole, PostListModel, local_clock, status_text
from p2pcommunity.ui.widgets import PostListView

from .conftest import start_with_name
from .test_app_flow import send, timeline_texts
from .test_keyboard_focus import open_app
from .test_timeline_badges import join_directly
from .test_two_apps import SYNC_MS, call


def notices(app: App) -> list[str]:
    return [r["text"] for r in app.chat.timeline.rows() if r.get("kind") == "notice"]


def test_joins_and_roles_are_announced_in_general(qtbot, make_app, tmp_path) -> None:
    app, community, ids = open_app(qtbot, make_app, ("random",))
    send(qtbot, app, "hello")
    qtbot.waitUntil(lambda: timeline_texts(app) == ["hello"], timeout=10_000)
    assert notices(app) == []  # opening the app announces no one

    # a key added but not synced yet is no one to announce
    carol = create_identity(tmp_path / "carol").peer_id
    call(qtbot, app, "member add", {"community": community, "peer": carol})
    qtbot.waitUntil(lambda: app.chat.members.row_of(carol) >= 0, timeout=10_000)
    assert notices(app) == []

    bob: App = make_app("bob")
    start_with_name(qtbot, bob, "Bob")
    join_directly(qtbot, app, bob, community)
    qtbot.waitUntil(lambda: notices(app) == ["Bob joined"], timeout=SYNC_MS)
    call(qtbot, app, "role set", {"community": community, "peer": bob.peer_id, "role": "moderator"})
    qtbot.waitUntil(lambda: len(notices(app)) == 2, timeout=10_000)
    assert notices(app)[1] == "Bob is now a moderator"
    # Bob's app says it to him in his words
    qtbot.waitUntil(lambda: "You are now a moderator" in notices(bob), timeout=SYNC_MS)
    # a notice is a line of its own, kept by refreshes
    rows = app.chat.timeline.rows()
    assert [r.get("kind") for r in rows] == [None, "notice", "notice"]
    send(qtbot, app, "welcome")
    qtbot.waitUntil(lambda: "welcome" in timeline_texts(app), timeout=10_000)
    assert len(notices(app)) == 2

    # only in general: another channel has none, and general has them again after
    app.chat.go_to(community, ids["random"])
    qtbot.waitUntil(lambda: app.chat.timeline.channel == ids["random"], timeout=10_000)
    qtbot.waitUntil(lambda: not app.chat.timeline.loading, timeout=10_000)
    assert notices(app) == []
    app.chat.go_to(community, ids["general"])
    qtbot.waitUntil(lambda: "welcome" in timeline_texts(app), timeout=10_000)
    assert len(notices(app)) == 2


def test_a_timed_out_member_is_shown_in_words(qtbot, make_app, tmp_path) -> None:
    app, community, _ids = open_app(qtbot, make_app)
    carol = create_identity(tmp_path / "carol").peer_id
    call(qtbot, app, "member add", {"community": community, "peer": carol})
    call(qtbot, app, "timeout", {"community": community, "peer": carol, "duration": "1h"})
    members = app.chat.members

    def carol_row() -> QModelIndex:
        row = members.row_of(carol)
        return members.index(row) if row >= 0 else QModelIndex()

    qtbot.waitUntil(lambda: carol_row().data(MemberRole.STATUS) == "timed_out", timeout=10_000)
    # the node says when it ends (ms); the list says it in this machine's local time
    until = members.rows()[members.row_of(carol)]["timed_out_until"]
    assert isinstance(until, int)
    local = QDateTime.fromMSecsSinceEpoch(until).toLocalTime()
    clock = local.toString("HH:mm")
    if local.date() != QDateTime.currentDateTime().date():
        clock += local.toString(" 'on' d MMM")
    assert carol_row().data(MemberRole.STATUS_TEXT) == f"Timed out until {clock}"
    tooltip = carol_row().data(Qt.ItemDataRole.ToolTipRole)
    assert "timed_out" not in tooltip and "Timed out" in tooltip
    # with an end time (the member's own, from `community show`): local time
    row = {"peer_id": carol, "status": "timed_out", "timed_out_until": "2030-01-01T12:30:00.000Z"}
    assert status_text(row) == f"Timed out until {local_clock(row['timed_out_until'])}"
    assert ":30" in local_clock(row["timed_out_until"])


def hidden_view(qtbot, rows: list[dict], me: str) -> PostListView:
    """A post list as the timeline draws it, holding `rows`, seen by `me`."""
    view = PostListView()
    qtbot.addWidget(view)
    model = PostListModel(view)
    model.set_posts(rows)
    view.setModel(model)
    view.post_delegate.me = me
    return view


def test_hidden_posts_show_a_note_and_moderators_can_unhide(qtbot, make_app) -> None:
    app, community, _ids = open_app(qtbot, make_app)
    send(qtbot, app, "spam spam spam")
    qtbot.waitUntil(lambda: timeline_texts(app) == ["spam spam spam"], timeout=10_000)
    post = app.chat.timeline.rows()[0]
    call(qtbot, app, "hide", {"community": community, "post": post["id"], "reason": "spam"})
    # it stays in its author's (and here moderator's) timeline, flagged
    timeline = app.chat.timeline
    qtbot.waitUntil(lambda: timeline.rows()[0].get("hidden") is True, timeout=10_000)
    assert timeline_texts(app) == ["spam spam spam"]
    index = timeline.index(0)
    delegate = app.chat.timeline_view.post_delegate
    assert delegate.hidden_note(index) == "Hidden by a moderator (spam)"
    assert delegate.shown(index)[0] == "spam spam spam"  # the author still sees the text

    # a moderator who is not its author sees it collapsed to the note
    other = hidden_view(qtbot, [timeline.rows()[0]], "someone else")
    assert other.post_delegate.shown(other.model().index(0, 0))[0] == ""

    # the right-click menu and the toolbar offer Unhide, and no Reply or Edit
    view = app.chat.timeline_view
    rect = view.visualRect(view.model().index(0, 0))
    view.customContextMenuRequested.emit(rect.center())
    qtbot.waitUntil(lambda: isinstance(QApplication.activePopupWidget(), QMenu), timeout=5_000)
    menu = QApplication.activePopupWidget()
    texts = [a.text() for a in menu.actions()]
    assert "Unhide (moderation)" in texts and "Reply" not in texts and "Edit" not in texts
    menu.close()
    qtbot.waitUntil(lambda: QApplication.activePopupWidget() is None, timeout=5_000)
    bar = app.chat.toolbars[0]
    QTest.mouseMove(view.viewport(), rect.center())
    qtbot.waitUntil(bar.isVisible, timeout=5_000)
    assert bar.unhide_button.isVisible() and not bar.reply_button.isVisible()
    QTest.mouseClick(bar.unhide_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: timeline.rows()[0].get("hidden") is False, timeout=10_000)
    assert "shown again" in app.window.statusBar().currentMessage()
    QTest.mouseMove(view.viewport(), rect.center() + QPoint(0, 1))
    qtbot.waitUntil(lambda: bar.reply_button.isVisible(), timeout=5_000)
    assert not bar.unhide_button.isVisible()
