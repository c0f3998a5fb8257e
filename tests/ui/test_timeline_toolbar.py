"""The hover toolbar: over the message under the mouse, and the keyboard's current one.

Its buttons do what the right-click menu does: React, Reply, More… (that
very menu). Driven with mouse moves, clicks and keys on a real app and node.
"""

from __future__ import annotations

from PySide6.QtCore import QPoint, Qt, QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QMenu

from p2pcommunity.ui.app import App

from .test_app_flow import send, timeline_texts
from .test_keyboard_focus import open_app


def row_rect(app: App, row: int):
    view = app.chat.timeline_view
    return view.visualRect(view.model().index(row, 0))


def hover(qtbot, app: App, row: int) -> None:
    view = app.chat.timeline_view
    QTest.mouseMove(view.viewport(), row_rect(app, row).center())
    qtbot.waitUntil(lambda: app.chat.toolbars[0].isVisible(), timeout=5_000)


def toolbar_row(app: App) -> int:
    """The row the visible toolbar sits on."""
    bar = app.chat.toolbars[0]
    view = app.chat.timeline_view
    return view.indexAt(bar.geometry().center()).row()


def posted(qtbot, make_app, texts: list[str]) -> App:
    app, _community, _ids = open_app(qtbot, make_app)
    for text in texts:
        send(qtbot, app, text)
        qtbot.waitUntil(lambda t=text: t in timeline_texts(app), timeout=10_000)
    return app


def test_the_toolbar_follows_the_mouse_and_the_keyboard(qtbot, make_app) -> None:
    app = posted(qtbot, make_app, ["one", "two", "three"])
    bar = app.chat.toolbars[0]
    assert not bar.isVisible()
    hover(qtbot, app, 0)
    assert toolbar_row(app) == 0 and bar.post["text"] == "one"
    assert row_rect(app, 0).contains(bar.geometry().center())
    QTest.mouseMove(app.chat.timeline_view.viewport(), row_rect(app, 2).center())
    qtbot.waitUntil(lambda: bar.post.get("text") == "three", timeout=5_000)
    names = [b.accessibleName() for b in (bar.react_button, bar.reply_button, bar.more_button)]
    assert all(names) and [b.text() for b in (bar.react_button, bar.reply_button)] == [
        "React",
        "Reply",
    ]

    # the mouse leaves: the bar follows the keyboard's current message instead
    view = app.chat.timeline_view
    QTest.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=row_rect(app, 2).center())
    QTest.mouseMove(app.chat.composer.edit, QPoint(5, 5))
    qtbot.waitUntil(lambda: bar.post.get("text") == "three", timeout=5_000)
    QTest.keyClick(view, Qt.Key.Key_Up)
    qtbot.waitUntil(lambda: bar.post.get("text") == "two", timeout=5_000)
    assert toolbar_row(app) == 1
    # Tab from the list reaches the bar's buttons
    QTest.keyClick(view, Qt.Key.Key_Tab)
    assert QApplication.focusWidget() is bar.react_button
    assert bar.isVisible() and bar.post["text"] == "two"


def test_reply_and_react_from_the_toolbar(qtbot, make_app) -> None:
    app = posted(qtbot, make_app, ["climb on Sunday?"])
    bar = app.chat.toolbars[0]
    hover(qtbot, app, 0)
    post = app.chat.timeline.rows()[0]
    QTest.mouseClick(bar.reply_button, Qt.MouseButton.LeftButton)
    assert app.chat.composer.reply_to == post["id"]
    QTest.keyClicks(app.chat.composer.edit, "yes!")
    QTest.keyClick(app.chat.composer.edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: "yes!" in timeline_texts(app), timeout=10_000)
    reply = next(r for r in app.chat.timeline.rows() if r["text"] == "yes!")
    assert reply["reply_to"] == post["id"]

    # React opens the reactions; the first is a thumbs up
    hover(qtbot, app, 0)
    assert bar.post["id"] == post["id"]

    def choose() -> None:
        menu = QApplication.activePopupWidget()
        assert isinstance(menu, QMenu)
        QTest.keyClick(menu, Qt.Key.Key_Down)
        QTest.keyClick(menu, Qt.Key.Key_Return)

    QTimer.singleShot(300, choose)  # the button's menu runs its own loop until chosen
    QTest.mouseClick(bar.react_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(
        lambda: app.chat.timeline.rows()[0]["reactions"] == {"👍": [app.peer_id]}, timeout=10_000
    )


def test_more_opens_the_same_menu_as_a_right_click(qtbot, make_app) -> None:
    app = posted(qtbot, make_app, ["mine"])
    view = app.chat.timeline_view
    view.customContextMenuRequested.emit(row_rect(app, 0).center())
    qtbot.waitUntil(lambda: isinstance(QApplication.activePopupWidget(), QMenu), timeout=5_000)
    menu = QApplication.activePopupWidget()
    right_click = [a.text() for a in menu.actions()]
    menu.close()
    qtbot.waitUntil(lambda: QApplication.activePopupWidget() is None, timeout=5_000)
    assert "Edit" in right_click and "Reply" in right_click

    hover(qtbot, app, 0)
    QTest.mouseClick(app.chat.toolbars[0].more_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: isinstance(QApplication.activePopupWidget(), QMenu), timeout=5_000)
    menu = QApplication.activePopupWidget()
    assert [a.text() for a in menu.actions()] == right_click
    edit = next(a for a in menu.actions() if a.text() == "Edit")
    edit.trigger()
    assert app.chat.composer.editing == app.chat.timeline.rows()[0]["id"]
    menu.close()
