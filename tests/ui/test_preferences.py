"""Preferences, Help -> About, the quit question and the 800x600 window (issue 13, items 6
and 9). No node is needed: these are the app's own; every step is a key or a click."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QApplication, QDialogButtonBox, QMenu, QMessageBox, QWidget

from p2pcommunity.ui.app import App
from p2pcommunity.ui.preferences import Preferences, PreferencesDialog
from p2pcommunity.ui.theme import DARK, LIGHT


def make(qtbot, tmp_path: Path) -> App:
    app = App(tmp_path / "alice", ["/ip4/127.0.0.1/tcp/0"], None)
    qtbot.addWidget(app.window)
    app.window.show()
    qtbot.waitExposed(app.window)
    app.window.activateWindow()
    qtbot.waitUntil(app.window.isActiveWindow, timeout=2_000)
    return app


def shortcut(qtbot, app: App, key: Qt.Key) -> None:
    """Ctrl+key in the main window, as a person presses it once the window has the focus."""
    app.window.activateWindow()
    qtbot.waitUntil(app.window.isActiveWindow, timeout=2_000)
    qtbot.keyClick(app.window, key, Qt.KeyboardModifier.ControlModifier)


def open_dialog(qtbot, kind: type) -> QWidget:
    found: list[QWidget] = []

    def visible() -> bool:
        found[:] = [
            w for w in QApplication.topLevelWidgets() if isinstance(w, kind) and w.isVisible()
        ]
        return bool(found)

    qtbot.waitUntil(visible, timeout=3_000)
    return found[0]


def window_color() -> str:
    return QApplication.palette().color(QPalette.ColorRole.Window).name()


def test_preferences_pick_dark_live_and_keep_it(qtbot, tmp_path: Path) -> None:
    app = make(qtbot, tmp_path)
    app.apply_theme()
    shortcut(qtbot, app, Qt.Key.Key_Comma)
    dialog = open_dialog(qtbot, PreferencesDialog)
    assert isinstance(dialog, PreferencesDialog)
    qtbot.waitUntil(lambda: QApplication.focusWidget() is dialog.theme, timeout=2_000)
    # "Same as the system" -> Light -> Dark, by keyboard
    qtbot.keyClick(dialog.theme, Qt.Key.Key_Down)
    qtbot.keyClick(dialog.theme, Qt.Key.Key_Down)
    assert dialog.theme.currentData() == "dark"
    qtbot.mouseClick(dialog.notifications, Qt.MouseButton.LeftButton, pos=QPoint(8, 8))
    assert not dialog.notifications.isChecked()
    save = dialog.buttons.button(QDialogButtonBox.StandardButton.Save)
    qtbot.mouseClick(save, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=2_000)
    assert window_color() == DARK["window"]  # applied at once
    # notifications off: asked for, not shown
    app.chat.notification_wanted.emit("Bob mentioned you", "hi @Alice")
    assert app.notifications == []
    # kept in the data dir for the next start
    again = Preferences(app.settings).load()
    assert (again.theme, again.notifications) == ("dark", False)

    # and back to light
    shortcut(qtbot, app, Qt.Key.Key_Comma)
    dialog = open_dialog(qtbot, PreferencesDialog)
    qtbot.keyClick(dialog.theme, Qt.Key.Key_Up)
    qtbot.mouseClick(
        dialog.buttons.button(QDialogButtonBox.StandardButton.Save), Qt.MouseButton.LeftButton
    )
    qtbot.waitUntil(lambda: window_color() == LIGHT["window"], timeout=2_000)


def test_a_bad_listen_address_is_refused_and_changes_nothing(qtbot, tmp_path: Path) -> None:
    app = make(qtbot, tmp_path)
    shortcut(qtbot, app, Qt.Key.Key_Comma)
    dialog = open_dialog(qtbot, PreferencesDialog)
    assert isinstance(dialog, PreferencesDialog)
    qtbot.mouseClick(dialog.listen, Qt.MouseButton.LeftButton)
    qtbot.keyClicks(dialog.listen, "localhost:4001")
    save = dialog.buttons.button(QDialogButtonBox.StandardButton.Save)
    qtbot.mouseClick(save, Qt.MouseButton.LeftButton)
    assert dialog.isVisible()
    assert dialog.error.isVisibleTo(dialog) and "localhost:4001" in dialog.error.text()
    assert Preferences(app.settings).load().listen == ()
    # fixed: saved, and the node takes it at its next start
    dialog.listen.selectAll()
    qtbot.keyClicks(dialog.listen, "/ip4/127.0.0.1/tcp/4001")
    assert not dialog.error.isVisibleTo(dialog)
    qtbot.mouseClick(save, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=2_000)
    assert Preferences(app.settings).load().listen == ("/ip4/127.0.0.1/tcp/4001",)


def click_menu(qtbot, app: App, title: str, item: str) -> None:
    bar = app.window.menuBar()
    action = next(a for a in bar.actions() if a.text().replace("&", "") == title)
    qtbot.mouseClick(bar, Qt.MouseButton.LeftButton, pos=bar.actionGeometry(action).center())
    menu = action.menu()
    assert isinstance(menu, QMenu)
    qtbot.waitUntil(menu.isVisible, timeout=2_000)
    entry = next(a for a in menu.actions() if a.text().replace("&", "") == item)
    qtbot.mouseClick(menu, Qt.MouseButton.LeftButton, pos=menu.actionGeometry(entry).center())


def test_help_about_names_version_licence_and_data_dir(qtbot, tmp_path: Path) -> None:
    from p2pcommunity import __version__

    app = make(qtbot, tmp_path)
    click_menu(qtbot, app, "Help", "About p2pcommunity")
    box = open_dialog(qtbot, QMessageBox)
    assert isinstance(box, QMessageBox)
    text = box.text() + box.informativeText()
    assert __version__ in text and "MIT" in text and str(app.data_dir) in text
    qtbot.keyClick(box, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not box.isVisible(), timeout=2_000)


def test_quit_keeps_a_typed_message_as_a_draft_without_asking(qtbot, tmp_path: Path) -> None:
    """Drafts are kept per channel across restarts (ui/drafts.py), so quitting loses
    nothing and asks nothing; an edit in progress, which is not kept, does ask
    (tests/ui/test_composer.py covers `has_unsent_drafts` for it)."""
    app = make(qtbot, tmp_path)
    quit_asked: list[bool] = []
    app.quitting.connect(lambda: quit_asked.append(True))
    app.window.show_chat()
    qtbot.keyClicks(app.chat.composer.edit, "half a thought")
    shortcut(qtbot, app, Qt.Key.Key_Q)
    qtbot.waitUntil(lambda: quit_asked == [True], timeout=2_000)


def test_quit_does_not_ask_with_nothing_typed(qtbot, tmp_path: Path) -> None:
    app = make(qtbot, tmp_path)
    quit_asked: list[bool] = []
    app.quitting.connect(lambda: quit_asked.append(True))
    app.window.show_chat()
    shortcut(qtbot, app, Qt.Key.Key_Q)
    qtbot.waitUntil(lambda: quit_asked == [True], timeout=2_000)


def test_the_window_fits_an_800x600_screen(qtbot, tmp_path: Path) -> None:
    app = make(qtbot, tmp_path)
    app.window.show_chat()
    app.window.resize(800, 600)
    qtbot.waitUntil(lambda: app.window.width() == 800, timeout=2_000)
    assert app.window.height() == 600
    hint = app.window.minimumSizeHint()
    assert hint.width() <= 800 and hint.height() <= 600
    minimum = app.window.minimumSize()
    assert minimum.width() <= 760 and minimum.height() <= 540  # and room for the frame
    # the messages get the room: the member list starts closed, and its button opens it
    assert not app.chat.side.isVisible()
    members_button = app.chat.header_buttons[1]
    qtbot.mouseClick(members_button, Qt.MouseButton.LeftButton)
    assert app.chat.side.isVisible() and app.chat.side.currentWidget() is app.chat.members_panel


def test_lan_discovery_is_offered_and_reaches_the_nodes_next_start(qtbot, tmp_path: Path) -> None:
    app = make(qtbot, tmp_path)
    assert "--mdns" not in app.node.run_args()
    shortcut(qtbot, app, Qt.Key.Key_Comma)
    dialog = open_dialog(qtbot, PreferencesDialog)
    assert isinstance(dialog, PreferencesDialog)
    assert dialog.lan.isEnabled() and not dialog.lan.isChecked()
    qtbot.mouseClick(dialog.lan, Qt.MouseButton.LeftButton, pos=QPoint(8, 8))
    assert dialog.lan.isChecked()
    save = dialog.buttons.button(QDialogButtonBox.StandardButton.Save)
    qtbot.mouseClick(save, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=2_000)
    assert Preferences(app.settings).load().lan_discovery
    assert app.node.run_args()[-1] == "--mdns"
    assert "next starts" in app.window.statusBar().currentMessage()
    # and a new start of the app (same data dir) passes it too
    again = App(tmp_path / "alice", ["/ip4/127.0.0.1/tcp/0"], None)
    qtbot.addWidget(again.window)
    assert "--mdns" in again.node.run_args()
