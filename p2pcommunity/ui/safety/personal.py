"""Personal safety: words and channels muted on this device, never synced.

Muted posts stay in the timeline collapsed to one line (click to show them)
and never notify; a muted channel is dimmed in the sidebar, with no badge. The
dialog also lists the members blocked on this device, to unblock them. The
node keeps the lists (`mute add|remove|list`, `channel mute|unmute`, `block
list`) and marks posts `"muted"`, so the CLI and the app agree.
"""

from __future__ import annotations

from functools import partial

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QWidget,
)

from p2pcommunity.ui.client import ControlClient
from p2pcommunity.ui.models import short_peer
from p2pcommunity.ui.safety.common import Row, SafetyDialog


class MuteDialog(SafetyDialog):
    def __init__(
        self, client: ControlClient, community: str, parent: QWidget | None = None
    ) -> None:
        super().__init__(client, community, "Mute words and channels", parent)
        self.resize(480, 600)
        self.words = QListWidget()
        self.words.setAccessibleName("Muted words")
        self.words.currentItemChanged.connect(self._update)
        self.word = QLineEdit()
        self.word.setPlaceholderText("A word or a short phrase")
        self.word.setAccessibleName("Word to mute")
        self.word.returnPressed.connect(self.add_word)
        add = QPushButton("Mute")
        add.clicked.connect(self.add_word)
        self.remove_button = QPushButton("Unmute word")
        self.remove_button.clicked.connect(self.remove_word)
        adding = QHBoxLayout()
        adding.addWidget(self.word, 1)
        adding.addWidget(add)
        self.channel_box = QWidget()
        self.channel_layout = QHBoxLayout(self.channel_box)
        self.channel_layout.setContentsMargins(0, 0, 0, 0)
        self.channel_checks: dict[str, QCheckBox] = {}
        info = QLabel(
            "Only on this computer: nobody in the community can see what you mute. "
            "Muted messages are folded away and never notify you."
        )
        info.setWordWrap(True)
        info.setObjectName("muted")
        self.body.addWidget(QLabel("<b>Muted words</b> (in every community)"))
        self.body.addWidget(self.words, 1)
        self.body.addWidget(self.remove_button)
        self.body.addLayout(adding)
        self.body.addWidget(QLabel("<b>Muted channels</b> (this community)"))
        self.body.addWidget(self.channel_box)
        self.blocked = QListWidget()
        self.blocked.setAccessibleName("Blocked members")
        self.blocked.currentItemChanged.connect(self._update)
        self.unblock_button = QPushButton("Unblock")
        self.unblock_button.clicked.connect(self.unblock)
        self.body.addWidget(QLabel("<b>Blocked members</b> (in every community)"))
        self.body.addWidget(self.blocked, 1)
        self.body.addWidget(self.unblock_button)
        self.body.addWidget(info)
        self._update()
        self.reload()

    def reload(self) -> None:
        self.ask("channel list", {}, self._on_channels)

    def _on_channels(self, result: Row) -> None:
        channels = result.get("channels", [])

        def mutes(listed: Row) -> None:
            self.words.clear()
            self.words.addItems(listed.get("words", []))
            muted = {c["id"] for c in listed.get("channels", [])}
            if set(self.channel_checks) != {c["id"] for c in channels}:
                self._build_checks(channels)
            for channel_id, check in self.channel_checks.items():
                check.blockSignals(True)  # what the node says, not a click
                check.setChecked(channel_id in muted)
                check.blockSignals(False)
            self._update()

        self.request("mute list", {"community": self.community}, mutes)
        self.request("block list", {}, self._on_blocked)

    def _on_blocked(self, result: Row) -> None:
        self.blocked.clear()
        for member in result.get("blocked", []):
            peer = member["peer"]
            name = member.get("name") or ""
            item = QListWidgetItem(f"{name}  ({short_peer(peer)})" if name else short_peer(peer))
            item.setData(Qt.ItemDataRole.UserRole, peer)
            item.setToolTip(peer)
            self.blocked.addItem(item)
        self._update()

    def _build_checks(self, channels: list[Row]) -> None:
        while self.channel_layout.count():
            item = self.channel_layout.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.deleteLater()
        self.channel_checks = {}
        for channel in channels:
            check = QCheckBox(f"#{channel['name']}")
            check.toggled.connect(partial(self.set_channel, channel["id"], channel["name"]))
            self.channel_layout.addWidget(check)
            self.channel_checks[channel["id"]] = check
        self.channel_layout.addStretch(1)

    def _update(self, *_args: object) -> None:
        self.remove_button.setEnabled(self.words.currentItem() is not None)
        self.unblock_button.setEnabled(self.blocked.currentItem() is not None)

    def add_word(self) -> None:
        word = self.word.text().strip()
        if word:
            self._local("mute add", {"word": word}, f"Muted “{word}”.")
            self.word.clear()

    def remove_word(self) -> None:
        item = self.words.currentItem()
        if item is not None:
            self._local("mute remove", {"word": item.text()}, f"Unmuted “{item.text()}”.")

    def unblock(self) -> None:
        item = self.blocked.currentItem()
        if item is not None:
            peer = item.data(Qt.ItemDataRole.UserRole)
            self._local("unblock", {"peer": peer}, f"Unblocked {item.text()}.")

    def set_channel(self, channel: str, name: str, on: bool) -> None:
        method = "channel mute" if on else "channel unmute"
        self.job(method, {"channel": channel}, f"#{name} {'muted' if on else 'unmuted'}.")

    def _local(self, method: str, params: Row, done_text: str) -> None:
        """A mute command that names no community."""

        def done(_result: Row) -> None:
            self.status.setText(done_text)
            self.changed.emit()
            self.reload()

        self.request(method, params, done)
