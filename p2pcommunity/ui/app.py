"""`p2pcommunity [--data-dir DIR]`: the desktop app's entry point and controller.

`App` owns the node process, the control connection, the window and the tray,
and walks the start-up states: connecting -> (first run: display name) ->
(no community yet: welcome) -> chat, with a detour to the rules page whenever
a community's rules wait for this member's agreement (then nothing of it is
shown: the node refuses everything else with `rules_pending` anyway, and such
an error sends the app back to the community list, which shows the rules).
Everything is driven by signals; the only bounded waits are stopping the
node we started, while quitting, and offering a link to an app already
running, before any window exists (links.py).

Settings (window geometry, last channel, preferences) are a `QSettings` INI
file in the data dir, so two data dirs are two profiles.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QSettings, Qt, QTimer, Signal
from PySide6.QtWidgets import QApplication, QMessageBox

from p2pcommunity import __version__
from p2pcommunity.ui.client import ControlClient, friendly_error
from p2pcommunity.ui.community_dialogs import CommunityDialogs, show
from p2pcommunity.ui.dbus_notify import Notifier
from p2pcommunity.ui.icons import load_emoji_font
from p2pcommunity.ui.join import JoinDialog
from p2pcommunity.ui.links import InstanceServer, LinkError, hand_to_running, parse_link
from p2pcommunity.ui.mainwindow import MainWindow
from p2pcommunity.ui.node_process import DEFAULT_LISTEN, NodeProcess
from p2pcommunity.ui.preferences import (
    KEEP_SYNCING,
    Choices,
    Preferences,
    PreferencesDialog,
    forced_dark,
)
from p2pcommunity.ui.sync_status import SyncStatus
from p2pcommunity.ui.theme import apply_theme
from p2pcommunity.ui.tray import Tray, app_icon
from p2pcommunity.ui.widgets import NotificationBanner

SETTINGS_FILE = "app.ini"
LICENCE = "MIT"
RECONNECT_MS = 2000
LISTEN_ENV = "P2PCOMMUNITY_LISTEN"


class App(QObject):
    stage_changed = Signal(str)  # connecting, name, welcome, chat, failed
    quitting = Signal()

    def __init__(
        self, data_dir: Path, listen: list[str] | None = None, theme: str | None = None
    ) -> None:
        """`listen` and `theme` given here (flags, tests) win over the preferences."""
        super().__init__()
        self.data_dir = data_dir.absolute()
        self.stage = ""
        self.settings = QSettings(
            str(self.data_dir / SETTINGS_FILE), QSettings.Format.IniFormat, self
        )
        self.prefs = Preferences(self.settings)
        self.listen_override = listen
        self.theme_override = theme
        self.node = NodeProcess(self.data_dir, self._listen(self.prefs.load()))
        self.node.mdns = self.prefs.load().lan_discovery
        self.client = ControlClient(self)
        self.window = MainWindow(self.client, self.settings)
        self.window.setWindowIcon(app_icon())
        self.chat = self.window.chat
        self.dialogs = CommunityDialogs(self.client, self.window)
        self.dialogs.community_added.connect(self._on_community_added)
        self.dialogs.profile_saved.connect(self._on_profile_saved)
        self.peer_id = ""
        self.name = ""
        self.socket_path = ""
        self.pending_name = ""
        self._shut_down = False
        self.sync_status = SyncStatus(self.client, self.window, self.chat.peers_changed)
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
        self.window.welcome.create_clicked.connect(self.dialogs.open_create)
        self.window.welcome.join_clicked.connect(self.open_join)
        self.window.connecting.retried.connect(self.start)
        self.window.close_requested.connect(self._on_window_close_requested)
        self.window.quit_requested.connect(self.request_quit)
        self.chat.create_wanted.connect(self.dialogs.open_create)
        self.chat.join_wanted.connect(self.open_join)
        self.chat.invite_wanted.connect(self.dialogs.open_invite)
        self.chat.settings_wanted.connect(self.dialogs.open_settings)
        self.chat.safety_pages.queue.post_wanted.connect(self._on_queue_post_wanted)
        self.chat.profile_wanted.connect(lambda: self.dialogs.open_profile(self.name, self.peer_id))
        self.chat.communities_listed.connect(self._on_chat_communities_listed)
        self.chat.rules_pending.connect(self._on_chat_rules_pending)
        self.chat.channel_create_wanted.connect(self.dialogs.open_channel_create)
        self.chat.notification_wanted.connect(self._notify)
        self.window.rules_page.loaded.connect(self._on_rules_page_loaded)
        self.window.rules_page.accepted.connect(self._on_rules_page_accepted)
        self.window.rules_page.left.connect(self._on_left)
        self.window.rules_page.failed.connect(self.window.flash)
        self.window.preferences_requested.connect(self.open_preferences)
        self.window.about_requested.connect(self.open_about)
        self.client.request_failed.connect(self._on_client_request_failed)
        self.pending_rules: list[dict[str, Any]] = []  # rows of `community list`
        self._acknowledged_seen: set[str] = set()
        self._pending_link = ""
        self._refresh_soon = QTimer(self)
        self._refresh_soon.setSingleShot(True)
        self._refresh_soon.setInterval(200)
        self._refresh_soon.timeout.connect(self.chat.refresh_communities)
        self.notifications: list[tuple[str, str]] = []  # every notification asked for
        self.tray = Tray(
            self.keep_syncing, self.show_window, self.set_keep_syncing, self.request_quit, self
        )
        self.banner = NotificationBanner(self.window.pages)
        self.notifier = Notifier(
            self.window, self.banner, self.settings, lambda: self.tray.icon, app_icon(), parent=self
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
        self.sync_status.start()

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
        self.chat.refresh_communities()

    def _on_chat_rules_pending(self, rows: list[dict[str, Any]]) -> None:
        self.pending_rules = rows

    def _on_queue_post_wanted(self, post: dict[str, Any]) -> None:
        # The queue lists the posts of members this device blocked (a moderator still
        # reviews them) but no timeline shows them: say so, and stay on the queue, which
        # shows the message in context, instead of paging back to "too far back".
        def go(result: dict[str, Any]) -> None:
            blocked = {str(b.get("peer")) for b in result.get("blocked", [])}
            if post.get("author") in blocked:
                what = "held message" if post.get("held") else "message"
                self.window.flash(
                    f"You blocked its author, so this {what} is not in your timeline; "
                    "the queue shows it in context."
                )
                return
            # Leave the queue first: the post may be in the channel shown before it, which
            # jump_to_post would not switch to (and so would not bring back to the centre).
            self.chat.safety_pages.back()
            self.chat.jump_to_post(post)

        self.client.request("block list", {}, on_result=go, on_error=lambda _m, _c: go({}))

    def _on_chat_communities_listed(self, count: int) -> None:
        self._acknowledged_seen.update(r["id"] for r in self.chat.communities.rows())
        if self.pending_rules:
            self._show_pending_rules(self.pending_rules[0])
        elif count == 0:
            if self.stage != "welcome":
                self.window.show_welcome(self.name)
                self._set_stage("welcome")
        elif self.stage != "chat":
            self.window.show_chat()
            self._set_stage("chat")
        if self._pending_link and self.stage in ("welcome", "chat", "rules"):
            url, self._pending_link = self._pending_link, ""
            self.open_link(url)

    # ------------------------------------------------------------------ rules

    def _show_pending_rules(self, row: dict[str, Any]) -> None:
        community = str(row.get("id", ""))
        page = self.window.rules_page
        if self.stage != "rules" or page.community_id != community:
            page.load(community, changed=community in self._acknowledged_seen)

    def _on_rules_page_loaded(self, community: str) -> None:
        if any(r.get("id") == community for r in self.pending_rules):  # still waiting
            self.window.show_rules()
            self._set_stage("rules")
            # What brought us here may have been a refusal flashed in the status bar
            # ("acknowledge the rules first"): the page says it better.
            self.window.statusBar().clearMessage()

    def _on_rules_page_accepted(self, community: str) -> None:
        self.window.flash("Welcome! You accepted the rules.")
        self._set_stage("accepted")  # so that the refresh shows the chat again
        self.chat.refresh_communities(select=community)

    def _on_left(self, community: str) -> None:
        if self.chat.community == community:
            self.chat.community = ""
            self.chat.channel = ""
        self.window.flash("You left the community; its data is deleted from this device.")
        self._set_stage("left")
        self.chat.refresh_communities()

    def _on_client_request_failed(self, _method: str, _message: str, code: str) -> None:
        # The rules changed under us: the list says whose, and the rules page shows them.
        if code == "rules_pending":
            self._refresh_soon.start()

    def _on_fatal(self, message: str, code: str) -> None:
        self.window.show_failure(friendly_error(message, code))
        self._set_stage("failed")

    # ------------------------------------------------------------------ connection

    def _on_client_disconnected(self) -> None:
        if self._shut_down:
            return
        self.sync_status.stop()
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

    def _on_client_sync_progressed(self, community_id: str, caught_up: bool) -> None:
        self.sync_status.on_sync_progressed(community_id, caught_up)
        self.chat.on_community_changed(community_id, "sync")

    # ------------------------------------------------------------------ dialogs

    def open_join(self, code: str = "") -> JoinDialog:
        known = {str(r.get("id")): True for r in self.chat.communities.rows()}
        known.update({str(r.get("id")): False for r in self.pending_rules})
        dialog = JoinDialog(self.socket_path, self.window, known=known, code=code)
        dialog.joined.connect(self._on_community_added)
        dialog.left.connect(self._on_left)
        # Closed while the node still syncs: if the join completes, the list shows its rules.
        dialog.rejected.connect(self._refresh_soon.start)
        return show(dialog)

    def open_link(self, url: str) -> None:
        """A `p2pcommunity://join/` link, from the command line or a second start."""
        self.show_window()
        try:
            code = parse_link(url)
        except LinkError as exc:
            self.window.flash(friendly_error(str(exc), "invalid"))
            return
        if self.stage not in ("welcome", "chat", "rules"):
            self._pending_link = url  # opened once the node answers
            return
        self.open_join(code)

    def serve_links(self) -> InstanceServer:
        """Take the links and "show yourself" that later starts on this data dir hand over."""
        server = InstanceServer(self.data_dir, self)
        server.link_received.connect(self.open_link)
        server.shown.connect(self.show_window)
        server.listen()
        return server

    def _on_community_added(self, community_id: str) -> None:
        if self.stage == "rules":
            self._set_stage("accepted")
        self.chat.refresh_communities(select=community_id)

    def _on_profile_saved(self, name: str) -> None:
        self.name = name
        self.chat.set_identity(self.peer_id, name)
        self.window.setWindowTitle(f"p2pcommunity — {name}")

    # ------------------------------------------------------------------ tray

    @property
    def keep_syncing(self) -> bool:
        return self.prefs.load().keep_syncing

    def set_keep_syncing(self, on: bool) -> None:
        self.settings.setValue(KEEP_SYNCING, "true" if on else "false")
        self.tray.show_keep_syncing(on)

    # ------------------------------------------------------------------ preferences

    def _listen(self, choices: Choices) -> list[str]:
        return list(self.listen_override or choices.listen or [DEFAULT_LISTEN])

    def apply_theme(self) -> None:
        app = QApplication.instance()
        if isinstance(app, QApplication):
            apply_theme(app, forced_dark(self.theme_override or self.prefs.load().theme))

    def on_system_scheme_changed(self) -> None:
        if forced_dark(self.theme_override or self.prefs.load().theme) is None:
            self.apply_theme()

    def open_preferences(self) -> PreferencesDialog:
        dialog = PreferencesDialog(self.prefs, self.window)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.saved.connect(self._on_preferences_saved)
        dialog.open()
        return dialog

    def _on_preferences_saved(self, old: Choices, new: Choices) -> None:
        self.apply_theme()
        self.set_keep_syncing(new.keep_syncing)
        self.node.listen = self._listen(new)
        self.node.mdns = new.lan_discovery
        if (old.listen, old.lan_discovery) != (new.listen, new.lan_discovery):
            self.window.flash("Saved. The network settings apply when the node next starts.")
        else:
            self.window.flash("Preferences saved.")

    def open_about(self) -> QMessageBox:
        return self.window.open_about(__version__, LICENCE, self.data_dir, app_icon())

    def show_window(self) -> None:
        self.window.show()
        self.window.raise_()
        self.window.activateWindow()

    def _notify(self, title: str, text: str) -> None:
        if not self.prefs.load().notifications:
            return  # turned off in the preferences
        self.notifications.append((title, text))
        self.notifier.notify(title, text)  # banner always; D-Bus, else tray, when not in front

    def _on_window_close_requested(self) -> None:
        if self.keep_syncing and self.tray.icon is not None:
            self.window.hide()
            self.tray.tell_still_syncing()
            return
        self.request_quit()

    # ------------------------------------------------------------------ quitting

    def request_quit(self) -> None:
        """Quit as the user asked (menu, tray, window): first ask if a draft would be lost."""
        where = self.window.unsent_drafts()
        if not where:
            self.quit()
            return
        self.show_window()
        self.window.ask_quit(where, self.quit)

    def shutdown(self) -> None:
        """Stop what we started (idempotent). The node stays if keep-syncing is on."""
        if self._shut_down:
            return
        self._shut_down = True
        self.sync_status.stop()
        self._reconnect_timer.stop()
        self.window.save_state()
        self.client.close()
        self.notifier.dbus.close()
        if self.keep_syncing:
            self.node.detach()
        else:
            self.node.stop()
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
    parser.add_argument(
        "url", nargs="?", default="", help="a p2pcommunity://join/… invite link to open"
    )
    parser.add_argument("--listen", action="append", default=None, help=argparse.SUPPRESS)
    parser.add_argument(
        "--color-scheme",
        choices=["system", "light", "dark"],
        default=None,
        help=argparse.SUPPRESS,
    )
    args, _qt_args = parser.parse_known_args(argv)
    if args.data_dir is None:
        args.data_dir = default_data_dir()
    if args.listen is None:
        env = os.environ.get(LISTEN_ENV, "")
        args.listen = [a for a in env.split(",") if a] or None
    return args


def main(argv: list[str] | None = None) -> int:
    args = _parse(sys.argv[1:] if argv is None else argv)
    qt_app = QApplication.instance() or QApplication([sys.argv[0]])
    assert isinstance(qt_app, QApplication)
    # One app per data dir: a second start (a clicked link) hands over and is done.
    if hand_to_running(args.data_dir, args.url):
        return 0
    qt_app.setApplicationName("p2pcommunity")
    qt_app.setApplicationDisplayName("p2pcommunity")
    qt_app.setDesktopFileName("io.github.p2pcommunity.P2PCommunity")
    qt_app.setWindowIcon(app_icon())
    load_emoji_font()
    qt_app.setQuitOnLastWindowClosed(False)
    app = App(args.data_dir, args.listen, args.color_scheme)
    app.apply_theme()
    qt_app.styleHints().colorSchemeChanged.connect(lambda _s: app.on_system_scheme_changed())
    server = app.serve_links()
    if args.url:
        app.open_link(args.url)
    qt_app.aboutToQuit.connect(app.shutdown)
    qt_app.aboutToQuit.connect(server.close)
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
