"""Preferences: theme, notifications, LAN discovery, listen address, background syncing.

`Preferences` is typed access to the data dir's `app.ini` (the same `QSettings`
file as the window state, so two data dirs are two profiles); the dialog
edits a copy of the values and writes them only on Save, after checking
them, so a bad listen address changes nothing. The app applies what it can
at once (the theme, notifications, background syncing) and says which
choices wait for the node's next start (the network ones: the node reads its
flags when it starts).

LAN discovery starts the node with `run --mdns` (net/lan.py) the next time it
starts; a node that was already running (started by the CLI) keeps its own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from PySide6.QtCore import QSettings, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from p2pcommunity.ui.dialogs import error_label

THEME = "appearance/theme"
NOTIFICATIONS = "notifications/enabled"
LAN_DISCOVERY = "network/lan_discovery"
LISTEN = "network/listen"
KEEP_SYNCING = "tray/keep_syncing"
THEMES = (("Same as the system", "system"), ("Light", "light"), ("Dark", "dark"))
_ADDR = re.compile(r"^/(ip4|ip6|dns|dns4|dns6)/[^/\s]+/tcp/\d{1,5}$")


def _bool(value: object, default: bool) -> bool:
    if value is None:
        return default
    return str(value).lower() in ("true", "1", "yes", "on")


def parse_listen(text: str) -> list[str]:
    """Listen addresses from the field (comma or space separated); ValueError names a bad one."""
    addrs = [a for a in re.split(r"[,\s]+", text.strip()) if a]
    for addr in addrs:
        match = _ADDR.match(addr)
        if match is None or not 0 <= int(addr.rsplit("/", 1)[1]) <= 65535:
            raise ValueError(
                f"“{addr}” is not a listen address; write one like /ip4/0.0.0.0/tcp/4001"
            )
    return addrs


@dataclass(frozen=True)
class Choices:
    theme: str = "system"
    notifications: bool = True
    lan_discovery: bool = False
    listen: tuple[str, ...] = ()  # empty: the node's default
    keep_syncing: bool = False


class Preferences:
    def __init__(self, settings: QSettings) -> None:
        self.settings = settings

    def load(self) -> Choices:
        s = self.settings
        theme = str(s.value(THEME, "system"))
        try:
            listen = tuple(parse_listen(str(s.value(LISTEN, "") or "")))
        except ValueError:
            listen = ()  # edited by hand into something we cannot use: the default
        return Choices(
            theme=theme if theme in {v for _l, v in THEMES} else "system",
            notifications=_bool(s.value(NOTIFICATIONS), True),
            lan_discovery=_bool(s.value(LAN_DISCOVERY), False),
            listen=listen,
            keep_syncing=_bool(s.value(KEEP_SYNCING), False),
        )

    def save(self, choices: Choices) -> None:
        s = self.settings
        s.setValue(THEME, choices.theme)
        s.setValue(NOTIFICATIONS, "true" if choices.notifications else "false")
        s.setValue(LAN_DISCOVERY, "true" if choices.lan_discovery else "false")
        s.setValue(LISTEN, " ".join(choices.listen))
        s.setValue(KEEP_SYNCING, "true" if choices.keep_syncing else "false")
        s.sync()


def forced_dark(theme: str) -> bool | None:
    """`apply_theme`'s argument for a theme choice: None follows the system."""
    return {"light": False, "dark": True}.get(theme)


class PreferencesDialog(QDialog):
    saved = Signal(object, object)  # old Choices, new Choices

    def __init__(self, prefs: Preferences, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.prefs = prefs
        self.setWindowTitle("Preferences")
        self.setMinimumWidth(460)
        now = prefs.load()
        self.theme = QComboBox()
        self.theme.setObjectName("themeChoice")
        self.theme.setAccessibleName("Theme")
        for label, value in THEMES:
            self.theme.addItem(label, value)
        self.theme.setCurrentIndex(max(0, self.theme.findData(now.theme)))
        self.notifications = QCheckBox("Show a notification when someone mentions me")
        self.notifications.setChecked(now.notifications)
        self.keep_syncing = QCheckBox("Keep syncing in the background when the window is closed")
        self.keep_syncing.setChecked(now.keep_syncing)
        self.lan = QCheckBox("Find members on the local network (LAN discovery)")
        self.lan.setChecked(now.lan_discovery)
        lan_note = QLabel(
            "Announces this device's address on the local network (mDNS), so members "
            "nearby connect directly. Anyone on the network can see that it runs here."
        )
        lan_note.setObjectName("muted")
        lan_note.setWordWrap(True)
        self.listen = QLineEdit(" ".join(now.listen))
        self.listen.setObjectName("listenAddress")
        self.listen.setAccessibleName("Listen address")
        self.listen.setPlaceholderText("Automatic (/ip4/0.0.0.0/tcp/0)")
        self.error = error_label()
        self.listen.textChanged.connect(self.error.hide)
        network_note = QLabel("Network choices take effect the next time the node starts.")
        network_note.setObjectName("muted")
        network_note.setWordWrap(True)
        form = QFormLayout()
        form.addRow("Theme", self.theme)
        form.addRow("Notifications", self.notifications)
        form.addRow("Background", self.keep_syncing)
        form.addRow("LAN discovery", self.lan)
        form.addRow("", lan_note)
        form.addRow("Listen address", self.listen)
        form.addRow("", network_note)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.accepted.connect(self._on_save_clicked)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)
        self.theme.setFocus()

    def _on_save_clicked(self) -> None:
        try:
            listen = tuple(parse_listen(self.listen.text()))
        except ValueError as exc:
            self.error.setText(str(exc))
            self.error.show()
            self.listen.setFocus()
            return
        old = self.prefs.load()
        new = Choices(
            theme=str(self.theme.currentData()),
            notifications=self.notifications.isChecked(),
            lan_discovery=self.lan.isChecked(),
            listen=listen,
            keep_syncing=self.keep_syncing.isChecked(),
        )
        self.prefs.save(new)
        self.saved.emit(old, new)
        self.accept()
