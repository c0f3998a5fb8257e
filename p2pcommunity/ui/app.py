"""`p2pcommunity [--data-dir DIR]`: the desktop app's entry point and controller.

`App` owns the node process, the control connection, the window and the tray,
and walks the start-up states: connecting -> (first run: display name) ->
(no community yet: welcome) -> chat. Everything is driven by signals; the
only bounded wait is stopping the node we started, while quitting.

Settings (window geometry, last channel, the tray's keep-syncing choice) are
a `QSettings` INI file in the data dir, so two data dirs are two profiles.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QRectF, QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QIcon, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QApplication, QMenu, QSystemTrayIcon

from p2pcommunity import __version__
from p2pcommunity.ui.client import ControlClient, friendly_error
from p2pcommunity.ui.dbus_notify import Notifier
from p2pcommunity.ui.dialogs import CreateCommunityDialog, InviteDialog, JoinDialog, ProfileDialog
from p2pcommunity.ui.icons import load_emoji_font
from p2pcommunity.ui.mainwindow import MainWindow
from p2pcommunity.ui.node_process import DEFAULT_LISTEN, NodeProcess
from p2pcommunity.ui.reports import ReportsDialog
from p2pcommunity.ui.settings import CommunitySettingsDialog
from p2pcommunity.ui.theme import apply_theme
from p2pcommunity.ui.widgets import NotificationBanner

SETTINGS_FILE = "app.ini"
KEEP_SYNCING = "tray/keep_syncing"
STATUS_POLL_MS = 3000
RECONNECT_MS = 2000
LISTEN_ENV = "P2PCOMMUNITY_LISTEN"


def app_icon() -> QIcon:
    pixmap = QPixmap(128, 128)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor("#3e63dd"))
    painter.drawRoundedRect(QRectF(4, 4, 120, 120), 28, 28)
    painter.setBrush(QColor("#ffffff"))
    for x, y in ((40, 44), (88, 44), (64, 88)):
        painter.drawEllipse(QRectF(x - 13, y - 13, 26, 26))
    painter.setPen(QPen(QColor("#ffffff"), 6))
    painter.drawLine(40, 44, 88, 44)
    painter.drawLine(40, 44, 64, 88)
    painter.drawLine(88, 44, 64, 88)
    painter.end()
    return QIcon(pixmap)


class App(QObject):
    stage_changed = Signal(str)  # connecting, name, welcome, chat, failed
    quitting = Signal()

    def __init__(self, data_dir: Path, listen: list[str] | None = None) -> None:
        super().__init__()
        self.data_dir = data_dir.absolute()
        self.stage = ""
        self.settings = QSettings(
            str(self.data_dir / SETTINGS_FILE), QSettings.Format.IniFormat, self
        )
        self.node = NodeProcess(self.data_dir, listen)
        self.client = ControlClient(self)
        self.window = MainWindow(self.client, self.settings)
        self.window.setWindowIcon(app_icon())
        self.chat = self.window.chat
        self.peer_id = ""
        self.name = ""
        self.socket_path = ""
        self.pending_name = ""
        self._peers: int | None = None
        self._shut_down = False
        self._told_about_tray = False
        self._status_timer = QTimer(self)
        self._status_timer.setInterval(STATUS_POLL_MS)
        self._status_timer.timeout.connect(self._poll_status)
        self._reconnect_timer = QTimer(self)
        self._reconnect_timer.setSingleShot(True)
        self._reconnect_timer.setInterval(RECONNECT_MS)
        self._reconnect_timer.timeout.connect(self._on_reconnect_timer_timeout)
        self.node.ready.connect(self._on_node_ready)
        self.node.failed.connect(self._on_node_failed)
        self.client.connected.connect(self._on_client_connected)
        self.client.disconnected.connect(self._on_client_disconnected)
        self.client.community_changed.connect(self.chat.on_community_changed)
        self.client.sync_progressed.connect(self._on_client_sync_progressed)
        self.window.name_page.name_chosen.connect(self._on_name_chosen)
        self.window.welcome.create_clicked.connect(self.open_create)
        self.window.welcome.join_clicked.connect(self.open_join)
        self.window.connecting.retried.connect(self.start)
        self.window.close_requested.connect(self._on_window_close_requested)
        self.window.quit_requested.connect(self.quit)
        self.chat.create_wanted.connect(self.open_create)
        self.chat.join_wanted.connect(self.open_join)
        self.chat.invite_wanted.connect(self.open_invite)
        self.chat.settings_wanted.connect(self.open_settings)
        self.chat.reports_wanted.connect(self.open_reports)
        self.chat.profile_wanted.connect(self.open_profile)
        self.chat.communities_listed.connect(self._on_chat_communities_listed)
        self.chat.notification_wanted.connect(self._notify)
        self.notifications: list[tuple[str, str]] = []  # every notification asked for
        self.tray: QSystemTrayIcon | None = None
        self._build_tray()
        self.banner = NotificationBanner(self.window.pages)
        self.notifier = Notifier(
            self.window, self.banner, self.settings, lambda: self.tray, app_icon(), parent=self
        )

    # ------------------------------------------------------------------ stages

    def _set_stage(self, stage: str) -> None:
        self.stage = stage
        self.stage_changed.emit(stage)

    def start(self) -> None:
        has_identity = (self.data_dir / "identity.key").exists()
        if not has_identity and not self.node.running_elsewhere():
            self.window.show_name_page()
            self._set_stage("name")
            return
        self._start_node()

    def _start_node(self) -> None:
        running = self.node.running_elsewhere()
        self.window.show_connecting(
            "Connecting to your node…" if running else "Starting your node…"
        )
        self._set_stage("connecting")
        self.node.start()

    def _on_name_chosen(self, name: str) -> None:
        self.pending_name = name
        if self.client.is_connected:
            self._send_init()
        else:
            self._start_node()

    def _on_node_ready(self, socket_path: str) -> None:
        self.socket_path = socket_path
        self.client.connect_to(socket_path)

    def _on_node_failed(self, reason: str) -> None:
        self.window.show_failure(friendly_error(reason, ""))
        self._set_stage("failed")

    def _on_client_connected(self) -> None:
        self._reconnect_timer.stop()
        self.window.set_online(True)
        self.client.subscribe()
        self.client.request("whoami", {}, on_result=self._on_whoami, on_error=self._on_fatal)
        self._status_timer.start()
        self._poll_status()

    def _on_whoami(self, result: dict[str, Any]) -> None:
        self.peer_id = str(result.get("peer_id", ""))
        self.name = str(result.get("name") or "")
        if self.pending_name:
            self._send_init()
        elif not self.name:
            self.window.show_name_page()
            self._set_stage("name")
        else:
            self._after_identity()

    def _send_init(self) -> None:
        name, self.pending_name = self.pending_name, ""

        def done(result: dict[str, Any]) -> None:
            self.peer_id = str(result.get("peer_id", self.peer_id))
            self.name = str(result.get("name") or name)
            self._after_identity()

        def failed(message: str, code: str) -> None:
            self.window.show_name_page()
            self.window.name_page.error.setText(friendly_error(message, code))
            self.window.name_page.error.show()
            self._set_stage("name")

        self.client.request("init", {"name": name}, on_result=done, on_error=failed)

    def _after_identity(self) -> None:
        self.chat.set_identity(self.peer_id, self.name)
        self.window.setWindowTitle(f"p2pcommunity — {self.name}")
        if self.stage == "chat":
            self.chat.refresh_communities()
            return
        self.chat.refresh_communities()

    def _on_chat_communities_listed(self, count: int) -> None:
        if count == 0:
            if self.stage != "welcome":
                self.window.show_welcome(self.name)
                self._set_stage("welcome")
        elif self.stage != "chat":
            self.window.show_chat()
            self._set_stage("chat")

    def _on_fatal(self, message: str, code: str) -> None:
        self.window.show_failure(friendly_error(message, code))
        self._set_stage("failed")

    # ------------------------------------------------------------------ connection

    def _on_client_disconnected(self) -> None:
        if self._shut_down:
            return
        self._status_timer.stop()
        self.window.set_online(False)
        if self.stage in ("chat", "welcome"):
            self.window.flash("Lost the connection to the node; reconnecting…")
        self._reconnect_timer.start()

    def _on_reconnect_timer_timeout(self) -> None:
        if self._shut_down or self.client.is_connected:
            return
        if self.node.running_elsewhere():
            self.node.start()  # attaches
        else:
            self.node.restart()

    def _poll_status(self) -> None:
        def done(result: dict[str, Any]) -> None:
            peers = len(result.get("peers", []))
            self.window.set_peers(peers)
            if peers != self._peers:
                self._peers = peers
                self.chat.peers_changed()

        self.client.request("status", {}, on_result=done)

    def _on_client_sync_progressed(self, community_id: str, caught_up: bool) -> None:
        row = self.chat.communities.row_of(community_id)
        name = self.chat.communities.row_at(row).get("name", "") if row >= 0 else "A new community"
        self.window.set_syncing(name, caught_up)
        self.chat.on_community_changed(community_id, "sync")

    # ------------------------------------------------------------------ dialogs

    def open_create(self) -> None:
        dialog = CreateCommunityDialog(self.client, self.window)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.created.connect(self._on_community_added)
        dialog.open()

    def open_join(self) -> None:
        dialog = JoinDialog(self.socket_path, self.window)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.joined.connect(self._on_community_added)
        dialog.open()

    def _on_community_added(self, community_id: str) -> None:
        self.chat.refresh_communities(select=community_id)

    def open_invite(self, community_id: str, name: str) -> None:
        dialog = InviteDialog(self.client, community_id, name, self.window)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()

    def open_settings(self, community_id: str) -> None:
        dialog = CommunitySettingsDialog(self.client, community_id, self.window)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.changed.connect(lambda: self.chat.on_community_changed(community_id, "settings"))
        dialog.open()

    def open_reports(self, community_id: str) -> ReportsDialog:
        dialog = ReportsDialog(self.client, community_id, self.window)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.post_wanted.connect(self.chat.jump_to_post)
        dialog.changed.connect(lambda: self.chat.on_community_changed(community_id, "moderation"))
        dialog.open()
        return dialog

    def open_profile(self) -> None:
        dialog = ProfileDialog(self.client, self.name, self.peer_id, self.window)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.saved.connect(self._on_profile_saved)
        dialog.open()

    def _on_profile_saved(self, name: str) -> None:
        self.name = name
        self.chat.set_identity(self.peer_id, name)
        self.window.setWindowTitle(f"p2pcommunity — {name}")

    # ------------------------------------------------------------------ tray

    @property
    def keep_syncing(self) -> bool:
        return str(self.settings.value(KEEP_SYNCING, "false")).lower() == "true"

    def set_keep_syncing(self, on: bool) -> None:
        self.settings.setValue(KEEP_SYNCING, "true" if on else "false")

    def _build_tray(self) -> None:
        if not QSystemTrayIcon.isSystemTrayAvailable():
            return
        tray = QSystemTrayIcon(app_icon(), self)
        tray.setToolTip("p2pcommunity")
        menu = QMenu()
        menu.addAction("Show p2pcommunity", self.show_window)
        keep = menu.addAction("Keep syncing when the window is closed")
        keep.setCheckable(True)
        keep.setChecked(self.keep_syncing)
        keep.toggled.connect(self.set_keep_syncing)
        menu.addSeparator()
        menu.addAction("Quit", self.quit)
        tray.setContextMenu(menu)
        self._tray_menu = menu
        tray.activated.connect(self._on_tray_activated)
        tray.show()
        self.tray = tray

    def _on_tray_activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason == QSystemTrayIcon.ActivationReason.Trigger:
            self.show_window()

    def show_window(self) -> None:
        self.window.show()
        self.window.raise_()
        self.window.activateWindow()

    def _notify(self, title: str, text: str) -> None:
        self.notifications.append((title, text))
        self.notifier.notify(title, text)  # banner always; D-Bus, else tray, when not in front

    def _on_window_close_requested(self) -> None:
        if self.keep_syncing and self.tray is not None:
            self.window.hide()
            if not self._told_about_tray:
                self._told_about_tray = True
                self.tray.showMessage(
                    "Still syncing",
                    "p2pcommunity keeps syncing in the background. Quit from the tray icon.",
                    app_icon(),
                    5000,
                )
            return
        self.quit()

    # ------------------------------------------------------------------ quitting

    def shutdown(self) -> None:
        """Stop what we started (idempotent). The node stays if keep-syncing is on."""
        if self._shut_down:
            return
        self._shut_down = True
        self._status_timer.stop()
        self._reconnect_timer.stop()
        self.window.save_state()
        self.client.close()
        self.notifier.dbus.close()
        if self.keep_syncing:
            self.node.detach()
        else:
            self.node.stop()
        if self.tray is not None:
            self.tray.hide()

    def quit(self) -> None:
        self.quitting.emit()
        self.shutdown()
        self.window.allow_close = True
        self.window.close()
        app = QApplication.instance()
        if app is None:
            return
        if self.node.stopping:
            # The window is gone; the loop runs on until our node has exited.
            self.node.stopped.connect(lambda _exited: app.quit())
        else:
            app.quit()


def _parse(argv: list[str]) -> argparse.Namespace:
    from p2pcommunity.control.protocol import default_data_dir

    parser = argparse.ArgumentParser(prog="p2pcommunity", description="p2pcommunity desktop app")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--data-dir", type=Path, default=None, help="data directory")
    parser.add_argument("--listen", action="append", default=None, help=argparse.SUPPRESS)
    parser.add_argument(
        "--color-scheme",
        choices=["system", "light", "dark"],
        default="system",
        help=argparse.SUPPRESS,
    )
    args, _qt_args = parser.parse_known_args(argv)
    if args.data_dir is None:
        args.data_dir = default_data_dir()
    if args.listen is None:
        env = os.environ.get(LISTEN_ENV, "")
        args.listen = [a for a in env.split(",") if a] or [DEFAULT_LISTEN]
    return args


def main(argv: list[str] | None = None) -> int:
    args = _parse(sys.argv[1:] if argv is None else argv)
    qt_app = QApplication.instance() or QApplication([sys.argv[0]])
    assert isinstance(qt_app, QApplication)
    qt_app.setApplicationName("p2pcommunity")
    qt_app.setApplicationDisplayName("p2pcommunity")
    qt_app.setDesktopFileName("io.github.p2pcommunity.P2PCommunity")
    qt_app.setWindowIcon(app_icon())
    load_emoji_font()
    qt_app.setQuitOnLastWindowClosed(False)
    forced = {"light": False, "dark": True}.get(args.color_scheme)
    apply_theme(qt_app, forced)
    if forced is None:
        qt_app.styleHints().colorSchemeChanged.connect(lambda _s: apply_theme(qt_app))
    app = App(args.data_dir, args.listen)
    qt_app.aboutToQuit.connect(app.shutdown)
    # Let Python see SIGINT/SIGTERM while Qt's loop runs.
    signal.signal(signal.SIGINT, lambda *_: app.quit())
    signal.signal(signal.SIGTERM, lambda *_: app.quit())
    tick = QTimer()
    tick.start(300)
    tick.timeout.connect(lambda: None)
    app.window.show()
    app.start()
    return int(qt_app.exec())


if __name__ == "__main__":
    sys.exit(main())
