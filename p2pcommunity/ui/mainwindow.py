"""The window: a stack of pages (connecting, name, welcome, rules, chat) and a status bar.

The window shows state; the `App` controller (app.py) decides which page is
current and answers the menu's requests (preferences, about, quit), which
the window only announces as signals. Shortcuts live here: Ctrl+K switches
channel, Ctrl+F searches, Esc closes panels (and leaves the moderation pages),
Ctrl+Shift+L and Ctrl+Shift+R open the moderation log and queue (their actions
are safety/pane.py's), Ctrl+, opens the preferences.
Geometry and splitter sizes are saved in the data dir's settings when the
window closes.

The minimum size fits an 800x600 screen with its window frame; the rules
page is a page of its own, so while it shows nothing of the chat does.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QIcon, QKeySequence, QResizeEvent
from PySide6.QtWidgets import (
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QStackedWidget,
    QWidget,
)

from p2pcommunity.ui.chat import ChatPage
from p2pcommunity.ui.client import ControlClient
from p2pcommunity.ui.join import RulesPage
from p2pcommunity.ui.onboarding import ConnectingPage, NamePage, WelcomePage

NARROW = 1000  # below this width the member list starts closed


class MainWindow(QMainWindow):
    close_requested = Signal()  # the user closed the window (the app decides: hide or quit)
    quit_requested = Signal()  # Quit in the menu (the app asks first if a draft is unsent)
    preferences_requested = Signal()
    about_requested = Signal()

    MINIMUM = (720, 500)  # an 800x600 screen, less its panels and the window's frame

    def __init__(
        self, client: ControlClient, settings: QSettings, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.settings = settings
        self.setWindowTitle("p2pcommunity")
        self.setMinimumSize(*self.MINIMUM)
        self.connecting = ConnectingPage()
        self.name_page = NamePage()
        self.welcome = WelcomePage()
        self.rules_page = RulesPage(client)
        self.chat = ChatPage(client, settings)
        self.pages = QStackedWidget()
        for page in (self.connecting, self.name_page, self.welcome, self.rules_page, self.chat):
            self.pages.addWidget(page)
        self.setCentralWidget(self.pages)
        self._build_status_bar()
        self._build_menus()
        self.chat.status_message.connect(self.flash)
        self._narrow = False
        # The side lists size their rows to the view's width; a horizontal scroll bar
        # only ever appears when that width is tight (800x600) and then hides a row.
        for view in (self.chat.channel_view, self.chat.members_panel.view):
            view.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.allow_close = False
        geometry = settings.value("window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            self.resize(1280, 800)
        sizes = settings.value("window/splitter")
        if sizes is not None:
            self.chat.splitter.restoreState(sizes)

    # ------------------------------------------------------------------ chrome

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.offline_label = QLabel("● Offline")
        self.offline_label.setObjectName("error")  # the theme's AA red, not a fixed one
        self.offline_label.setStyleSheet("padding: 0 8px;")
        self.offline_label.hide()
        self.sync_label = QLabel("")
        self.sync_progress = QProgressBar()
        self.sync_progress.setRange(0, 0)
        self.sync_progress.setFixedWidth(120)
        self.sync_progress.setFixedHeight(10)
        self.sync_progress.setTextVisible(False)
        self.sync_progress.hide()
        self.peers_label = QLabel("")
        self.peers_label.setObjectName("muted")
        bar.addPermanentWidget(self.chat.files.indicator)
        bar.addPermanentWidget(self.sync_label)
        bar.addPermanentWidget(self.sync_progress)
        bar.addPermanentWidget(self.offline_label)
        bar.addPermanentWidget(self.peers_label)
        self._sync_hide = QTimer(self)
        self._sync_hide.setSingleShot(True)
        self._sync_hide.setInterval(2500)
        self._sync_hide.timeout.connect(self._on_sync_hide_timeout)
        self._waiting = ""

    def _build_menus(self) -> None:
        menu = self.menuBar().addMenu("&Community")
        self.create_action = menu.addAction("&Create a community…")
        self.join_action = menu.addAction("&Join with an invite code…")
        menu.addSeparator()
        self.profile_action = menu.addAction("Edit your &profile…")
        menu.addSeparator()
        self.preferences_action = menu.addAction("P&references…")
        self.preferences_action.setShortcut(QKeySequence("Ctrl+,"))
        self.preferences_action.setMenuRole(QAction.MenuRole.PreferencesRole)
        self.preferences_action.triggered.connect(self.preferences_requested.emit)
        menu.addSeparator()
        quit_action = menu.addAction("&Quit")
        # Not every platform theme binds StandardKey.Quit (Xvfb, offscreen): Ctrl+Q then.
        quit_keys = QKeySequence.keyBindings(QKeySequence.StandardKey.Quit)
        quit_action.setShortcuts(quit_keys or [QKeySequence("Ctrl+Q")])
        quit_action.triggered.connect(self.quit_requested.emit)
        view = self.menuBar().addMenu("&View")
        switch = QAction("Switch &channel…", self)
        switch.setShortcut(QKeySequence("Ctrl+K"))
        switch.triggered.connect(self._on_switch_triggered)
        search = QAction("&Search…", self)
        search.setShortcut(QKeySequence.StandardKey.Find)
        search.triggered.connect(self._on_search_triggered)
        members = QAction("&Members", self)
        members.setShortcut(QKeySequence("Ctrl+M"))
        members.triggered.connect(self.chat.toggle_members)
        escape = QAction("Close panel", self)
        escape.setShortcut(QKeySequence(Qt.Key.Key_Escape))
        escape.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        escape.triggered.connect(self.chat.close_panel)
        for action in (switch, search, members):
            view.addAction(action)
        view.addSeparator()
        pages = self.chat.safety_pages  # the queue's entry shows for moderators only
        for action in (pages.modlog_action, pages.queue_action):
            view.addAction(action)
        self.addAction(escape)
        help_menu = self.menuBar().addMenu("&Help")
        self.about_action = help_menu.addAction("&About p2pcommunity")
        self.about_action.setMenuRole(QAction.MenuRole.AboutRole)
        self.about_action.triggered.connect(self.about_requested.emit)
        self.create_action.triggered.connect(self.chat.create_wanted.emit)
        self.join_action.triggered.connect(self.chat.join_wanted.emit)
        self.profile_action.triggered.connect(self.chat.profile_wanted.emit)

    def _on_switch_triggered(self) -> None:
        if self.pages.currentWidget() is self.chat:
            self.chat.open_switcher()

    def _on_search_triggered(self) -> None:
        if self.pages.currentWidget() is self.chat:
            self.chat.open_search()

    # ------------------------------------------------------------------ pages

    def show_connecting(self, title: str) -> None:
        self.connecting.show_progress(title)
        self.pages.setCurrentWidget(self.connecting)

    def show_failure(self, message: str) -> None:
        self.connecting.show_failure(message)
        self.pages.setCurrentWidget(self.connecting)

    def show_name_page(self) -> None:
        self.name_page.reset()
        self.pages.setCurrentWidget(self.name_page)
        self.name_page.name.setFocus()

    def show_welcome(self, name: str) -> None:
        self.welcome.set_name(name)
        self.pages.setCurrentWidget(self.welcome)

    def show_rules(self) -> None:
        self.pages.setCurrentWidget(self.rules_page)
        self.rules_page.view.agree_button.setFocus()

    def show_chat(self) -> None:
        self.pages.setCurrentWidget(self.chat)
        self.chat.composer.edit.setFocus()

    # ------------------------------------------------------------------ status

    def flash(self, message: str) -> None:
        self.statusBar().showMessage(message, 8000)

    def set_online(self, online: bool) -> None:
        self.offline_label.setVisible(not online)
        if not online:
            self.peers_label.setText("")

    def set_peers(self, count: int) -> None:
        self.peers_label.setText(
            "No peers connected"
            if count == 0
            else f"{count} peer{'s' if count != 1 else ''} connected"
        )
        self.peers_label.setStyleSheet("padding: 0 8px;")

    def set_syncing(self, text: str) -> None:
        self._sync_hide.stop()
        self.sync_label.setText(text)
        self.sync_progress.show()

    def set_synced(self, text: str) -> None:
        self.sync_label.setText(text)
        self.sync_progress.hide()
        self._sync_hide.start()

    def set_waiting(self, text: str) -> None:
        """A lasting state ("waiting for a member…"), shown whenever no sync is."""
        self._waiting = text
        if self.sync_progress.isHidden() and not self._sync_hide.isActive():
            self.sync_label.setText(text)

    def _on_sync_hide_timeout(self) -> None:
        self.sync_label.setText(self._waiting)

    # ------------------------------------------------------------------ closing

    def unsent_drafts(self) -> list[str]:
        """Where text is typed but not sent ("#general", "a thread"): lost if the app quits.

        A composer that keeps its drafts itself says so with `has_unsent_drafts()`.
        """
        where = []
        row = self.chat.channels.row_of(self.chat.channel) if self.chat.channel else -1
        channel = self.chat.channels.row_at(row).get("name", "") if row >= 0 else ""
        for composer, label in (
            (self.chat.composer, f"#{channel}" if channel else ""),
            (self.chat.thread_panel.composer, "a thread"),
        ):
            ask = getattr(composer, "has_unsent_drafts", None)
            pending = ask() if callable(ask) else bool(composer.edit.toPlainText().strip())
            if pending:
                where.append(label or "the message box")
        return where

    def ask_quit(self, where: list[str], quit_: Callable[[], None]) -> QMessageBox:
        """Ask before an unsent draft is lost; `quit_()` only if the user says so."""
        box = QMessageBox(self)
        box.setIcon(QMessageBox.Icon.Question)
        box.setWindowTitle("Quit p2pcommunity")
        box.setText("Quit with an unsent message?")
        box.setInformativeText(
            f"What you typed in {' and '.join(where)} has not been sent, and quitting loses it."
        )
        quit_button = box.addButton("Quit anyway", QMessageBox.ButtonRole.DestructiveRole)
        quit_button.setObjectName("quitAnyway")
        stay = box.addButton("Keep writing", QMessageBox.ButtonRole.RejectRole)
        box.setDefaultButton(stay)
        box.setEscapeButton(stay)

        def finished(_result: int) -> None:
            box.deleteLater()  # not WA_DeleteOnClose: see dialogs.confirm_leave
            if box.clickedButton() is quit_button:
                quit_()

        box.finished.connect(finished)
        box.open()
        return box

    def open_about(self, version: str, licence: str, data_dir: Path, icon: QIcon) -> QMessageBox:
        box = QMessageBox(self)
        box.setWindowTitle("About p2pcommunity")
        box.setIconPixmap(icon.pixmap(64, 64))
        box.setText(f"<b>p2pcommunity {version}</b>")
        box.setInformativeText(
            "Invite-only communities with no central server: everything lives on the "
            f"members' own machines.<br><br>Licence: {licence}<br>"
            f"Data directory: {html.escape(str(data_dir))}"
        )
        box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        box.setStandardButtons(QMessageBox.StandardButton.Close)
        box.finished.connect(box.deleteLater)
        box.open()
        return box

    def save_state(self) -> None:
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/splitter", self.chat.splitter.saveState())
        self.settings.sync()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        narrow = self.width() < NARROW
        if (
            narrow
            and not self._narrow
            and self.chat.side.currentWidget() is self.chat.members_panel
        ):
            # Room for the messages first: the member list opens again with its button.
            self.chat.side.hide()
        self._narrow = narrow

    def closeEvent(self, event: QCloseEvent) -> None:
        self.save_state()
        if self.allow_close:
            event.accept()
            return
        event.ignore()
        self.close_requested.emit()
