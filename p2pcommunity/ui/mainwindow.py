"""The window: a stack of pages (connecting, name, welcome, chat) and a status bar.

The window shows state; the `App` controller (app.py) decides which page is
current. Shortcuts live here: Ctrl+K switches channel, Ctrl+F searches, Esc
closes panels. Geometry and splitter sizes are saved in the data dir's
settings when the window closes.
"""

from __future__ import annotations

from PySide6.QtCore import QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import QLabel, QMainWindow, QProgressBar, QStackedWidget, QWidget

from p2pcommunity.ui.chat import ChatPage
from p2pcommunity.ui.client import ControlClient
from p2pcommunity.ui.onboarding import ConnectingPage, NamePage, WelcomePage


class MainWindow(QMainWindow):
    close_requested = Signal()  # the user closed the window (the app decides: hide or quit)
    quit_requested = Signal()

    def __init__(
        self, client: ControlClient, settings: QSettings, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.settings = settings
        self.setWindowTitle("p2pcommunity")
        self.setMinimumSize(900, 560)
        self.connecting = ConnectingPage()
        self.name_page = NamePage()
        self.welcome = WelcomePage()
        self.chat = ChatPage(client, settings)
        self.pages = QStackedWidget()
        for page in (self.connecting, self.name_page, self.welcome, self.chat):
            self.pages.addWidget(page)
        self.setCentralWidget(self.pages)
        self._build_status_bar()
        self._build_menus()
        self.chat.status_message.connect(self.flash)
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
        bar.addPermanentWidget(self.sync_label)
        bar.addPermanentWidget(self.sync_progress)
        bar.addPermanentWidget(self.offline_label)
        bar.addPermanentWidget(self.peers_label)
        self._sync_hide = QTimer(self)
        self._sync_hide.setSingleShot(True)
        self._sync_hide.setInterval(2500)
        self._sync_hide.timeout.connect(self._on_sync_hide_timeout)

    def _build_menus(self) -> None:
        menu = self.menuBar().addMenu("&Community")
        self.create_action = menu.addAction("&Create a community…")
        self.join_action = menu.addAction("&Join with an invite code…")
        menu.addSeparator()
        self.profile_action = menu.addAction("Edit your &profile…")
        menu.addSeparator()
        quit_action = menu.addAction("&Quit")
        quit_action.setShortcut(QKeySequence.StandardKey.Quit)
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
        self.addAction(escape)
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

    def set_syncing(self, name: str, caught_up: bool) -> None:
        if caught_up:
            self.sync_label.setText(f"{name} is up to date")
            self.sync_progress.hide()
            self._sync_hide.start()
        else:
            self._sync_hide.stop()
            self.sync_label.setText(f"Syncing {name}…")
            self.sync_progress.show()

    def _on_sync_hide_timeout(self) -> None:
        self.sync_label.setText("")

    # ------------------------------------------------------------------ closing

    def save_state(self) -> None:
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/splitter", self.chat.splitter.saveState())
        self.settings.sync()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.save_state()
        if self.allow_close:
            event.accept()
            return
        event.ignore()
        self.close_requested.emit()
