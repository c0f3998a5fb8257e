"""Keyboard and focus on the chat page: Ctrl+K, Up to edit, Escape in a menu, the placeholder.

Each test drives the window with key clicks and mouse clicks, as a person
does, on a real app with its real node.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QPoint, Qt
from PySide6.QtGui import QRegion
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QMenu

from p2pcommunity.ui.app import App

from .conftest import start_with_name
from .test_app_flow import create_community, send, timeline_texts
from .test_two_apps import call


def open_app(qtbot, make_app, channels: tuple[str, ...] = ()) -> tuple[App, str, dict[str, str]]:
    """Alice's app on a new community, shown and active; extra channels created."""
    app: App = make_app("alice")
    start_with_name(qtbot, app, "Alice")
    community = create_community(qtbot, app, "Climbing club")
    ids = {"general": app.chat.channel}
    for name in channels:
        ids[name] = call(qtbot, app, "channel create", {"community": community, "name": name})[
            "channel_id"
        ]
    if channels:
        app.chat.on_community_changed(community, "test")
        qtbot.waitUntil(lambda: app.chat.channels.rowCount() == len(ids), timeout=10_000)
    app.window.resize(1100, 700)
    app.window.show()
    app.window.activateWindow()
    edit = app.chat.composer.edit
    qtbot.waitUntil(lambda: edit.placeholderText() == "Message #general", timeout=10_000)
    # the create dialog has closed by now: the main window is the active one again
    app.window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is app.window, timeout=5_000)
    return app, community, ids


def switch_with_ctrl_k(qtbot, app: App, typed: str) -> None:
    QTest.keyClick(app.window, Qt.Key.Key_K, Qt.KeyboardModifier.ControlModifier)
    switcher = app.chat.switcher
    qtbot.waitUntil(lambda: switcher.isVisible(), timeout=10_000)
    qtbot.waitUntil(lambda: switcher.list.count() > 0, timeout=10_000)
    QTest.keyClicks(switcher.field, typed)
    QTest.keyClick(switcher.field, Qt.Key.Key_Return)


def test_after_ctrl_k_typing_goes_to_the_composer(qtbot, make_app) -> None:
    app, _community, ids = open_app(qtbot, make_app, ("random",))
    channels = app.chat.channel_view
    QTest.mouseClick(channels.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(20, 10))
    assert QApplication.focusWidget() is channels
    switch_with_ctrl_k(qtbot, app, "random")
    qtbot.waitUntil(lambda: app.chat.channel == ids["random"], timeout=10_000)
    # No one hands the window the focus back when the switcher closes (no window
    # manager here, as under a bare X server): the app must take it itself.
    qtbot.waitUntil(lambda: QApplication.focusWidget() is app.chat.composer.edit, timeout=5_000)
    QTest.keyClicks(QApplication.focusWidget(), "hi there")
    assert app.chat.composer.edit.toPlainText() == "hi there"


class PaintSpy(QObject):
    """The region a widget repainted since `reset`."""

    def __init__(self, widget) -> None:
        super().__init__(widget)
        self.region = QRegion()
        widget.installEventFilter(self)

    def reset(self) -> None:
        self.region = QRegion()

    def eventFilter(self, obj, event) -> bool:
        if event.type() == QEvent.Type.Paint:
            self.region = self.region.united(event.region())
        return False


def test_the_composer_shows_the_new_channels_name_after_a_switch(qtbot, make_app) -> None:
    app, _community, ids = open_app(qtbot, make_app, ("random",))
    edit = app.chat.composer.edit
    spy = PaintSpy(edit.viewport())
    qtbot.wait(50)
    spy.reset()
    switch_with_ctrl_k(qtbot, app, "random")
    qtbot.waitUntil(lambda: app.chat.channel == ids["random"], timeout=10_000)
    assert edit.placeholderText() == "Message #random"
    # The placeholder's text area must be painted again: Qt repaints only where
    # something changed, and the old name stayed on screen ("Message #general").
    placeholder = edit.viewport().rect().adjusted(4, 2, 0, 0)
    placeholder.setWidth(edit.fontMetrics().horizontalAdvance("Message #general"))
    placeholder.setHeight(edit.fontMetrics().height())
    qtbot.waitUntil(lambda: spy.region.contains(placeholder), timeout=5_000)

    # the same after a search result took us to another channel
    needle = {"community": app.chat.community, "channel": ids["general"], "text": "needle"}
    call(qtbot, app, "post", needle)
    app.chat.open_search()
    QTest.keyClicks(app.chat.search_panel.field, "needle")
    spy.reset()
    QTest.keyClick(app.chat.search_panel.field, Qt.Key.Key_Return)
    view = app.chat.search_panel.view
    qtbot.waitUntil(lambda: view.model().rowCount() == 1, timeout=10_000)
    view.scrollToTop()
    first = view.visualRect(view.model().index(0, 0))
    QTest.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=first.topLeft() + QPoint(4, 4))
    qtbot.waitUntil(lambda: app.chat.channel == ids["general"], timeout=10_000)
    assert edit.placeholderText() == "Message #general"
    qtbot.waitUntil(lambda: spy.region.contains(placeholder), timeout=5_000)


def test_up_in_an_empty_composer_edits_my_last_message(qtbot, make_app) -> None:
    app, _community, _ids = open_app(qtbot, make_app)
    send(qtbot, app, "first")
    qtbot.waitUntil(lambda: timeline_texts(app) == ["first"], timeout=10_000)
    send(qtbot, app, "secnod")
    qtbot.waitUntil(lambda: timeline_texts(app) == ["first", "secnod"], timeout=10_000)
    edit = app.chat.composer.edit
    QTest.mouseClick(edit.viewport(), Qt.MouseButton.LeftButton)
    QTest.keyClick(edit, Qt.Key.Key_Up)
    assert app.chat.composer.editing == app.chat.timeline.rows()[1]["id"]
    assert edit.toPlainText() == "secnod"
    for _ in range(len("secnod")):
        QTest.keyClick(edit, Qt.Key.Key_Backspace)
    QTest.keyClicks(edit, "second")
    QTest.keyClick(edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: timeline_texts(app) == ["first", "second"], timeout=10_000)
    assert app.chat.timeline.rows()[1]["edited"]
    # Up in a box with text moves the cursor, as always
    QTest.keyClicks(edit, "draft")
    QTest.keyClick(edit, Qt.Key.Key_Up)
    assert not app.chat.composer.editing and edit.toPlainText() == "draft"


def test_escape_in_a_menu_leaves_the_members_panel_open(qtbot, make_app) -> None:
    """A regression test: the double action was reported from a desktop session and
    does not reproduce here (offscreen nor Xvfb without a window manager), so this
    passes on the old code too. `close_panel` now ignores an Escape while a popup is
    open, whichever way the platform routes the key."""
    app, _community, _ids = open_app(qtbot, make_app)
    send(qtbot, app, "hello")
    qtbot.waitUntil(lambda: timeline_texts(app) == ["hello"], timeout=10_000)
    chat = app.chat
    assert chat.side.isVisible() and chat.side.currentWidget() is chat.members_panel
    view = chat.timeline_view
    rect = view.visualRect(view.model().index(0, 0))
    QTest.mouseClick(view.viewport(), Qt.MouseButton.RightButton, pos=rect.center())
    view.customContextMenuRequested.emit(rect.center())  # offscreen Qt sends no context event
    qtbot.waitUntil(lambda: isinstance(QApplication.activePopupWidget(), QMenu), timeout=5_000)
    # As the platform delivers it: to the popup's window, through the shortcut map.
    QTest.keyClick(QApplication.activePopupWidget().windowHandle(), Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: QApplication.activePopupWidget() is None, timeout=5_000)
    assert chat.side.isVisible() and chat.side.currentWidget() is chat.members_panel
    # with no menu open, Escape still closes the panel
    app.window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is app.window, timeout=5_000)
    QTest.keyClick(app.window.windowHandle(), Qt.Key.Key_Escape)
    assert not chat.side.isVisible()
