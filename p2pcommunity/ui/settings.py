"""Community settings for admins: general, rules, channels, invites, always-on nodes.

One tab per concern; each button sends one request and reports its answer in
the dialog's status line. Members who are not admins see the same dialog
read-only (the node would refuse their changes anyway), and where that
greys out a button a visible line says why. An empty list says what would
fill it and offers the button that does (the Invites tab: "Create invite…").
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QStackedWidget,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from p2pcommunity.ui.client import ControlClient, friendly_error
from p2pcommunity.ui.dialogs import ONLY_ADMINS_INVITE, CommunityDialog, InviteDialog, ask_text


class CommunitySettingsDialog(CommunityDialog):
    changed = Signal()

    def __init__(
        self, client: ControlClient, community: str, parent: QWidget | None = None
    ) -> None:
        super().__init__(client, community, "Community settings", parent)
        self.info: dict[str, Any] = {}
        self.resize(620, 480)
        self.tabs = QTabWidget()
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setObjectName("muted")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs)
        layout.addWidget(self.status)
        layout.addWidget(buttons)
        self._build_general()
        self._build_rules()
        self._build_channels()
        self._build_invites()
        self._build_nodes()
        self.reload()

    # ------------------------------------------------------------------ plumbing

    def _job(self, method: str, params: dict[str, Any], done_text: str) -> None:
        def done(_result: dict[str, Any]) -> None:
            self.status.setText(done_text)
            self.changed.emit()
            self.reload()

        def failed(message: str, code: str) -> None:
            self.status.setText(friendly_error(message, code))

        self.status.setText("Saving…")
        self.client.request(
            method, {"community": self.community, **params}, on_result=done, on_error=failed
        )

    def reload(self) -> None:
        self.client.request(
            "community show", {"community": self.community}, on_result=self._on_shown
        )
        self.client.request(
            "invite list",
            {"community": self.community},
            on_result=self._on_invites_listed,
            on_error=lambda m, c: self._on_invites_listed({}),
        )

    def _on_shown(self, info: dict[str, Any]) -> None:
        self.info = info
        admin = info.get("role") in ("owner", "admin")
        if not self.name.hasFocus():
            self.name.setText(info.get("name", ""))
        if not self.description.hasFocus():
            self.description.setText(info.get("description", ""))
        if not self.rules.hasFocus():
            self.rules.setPlainText(info.get("rules", "") or "")
        version = info.get("rules_version") or 0
        self.rules_version.setText(f"Version {version}" if version else "No rules yet")
        self.channels.clear()
        for ch in info.get("channels", []):
            label = f"# {ch.get('name')}" + ("   (archived)" if ch.get("archived") else "")
            item = QListWidgetItem(label)
            item.setData(Qt.ItemDataRole.UserRole, ch)
            self.channels.addItem(item)
        self.nodes.clear()
        for node in info.get("nodes", []):
            item = QListWidgetItem(f"{node.get('peer_id')}\n{node.get('addr')}")
            item.setData(Qt.ItemDataRole.UserRole, node)
            self.nodes.addItem(item)
        for widget in self._admin_only:
            widget.setEnabled(admin)
        self.invite_reason.setVisible(not admin)
        if not admin:
            self.status.setText("Only admins can change these settings.")

    # ------------------------------------------------------------------ tabs

    def _build_general(self) -> None:
        page = QWidget()
        form = QFormLayout(page)
        self.name = QLineEdit()
        self.description = QLineEdit()
        save = QPushButton("Save")
        save.clicked.connect(
            lambda: self._job(
                "community set",
                {"name": self.name.text().strip(), "description": self.description.text().strip()},
                "Saved.",
            )
        )
        form.addRow("Name", self.name)
        form.addRow("Description", self.description)
        form.addRow("", save)
        self._admin_only: list[QWidget] = [self.name, self.description, save]
        self.tabs.addTab(page, "General")

    def _build_rules(self) -> None:
        page = QWidget()
        layout = QVBoxLayout(page)
        self.rules_version = QLabel()
        self.rules_version.setObjectName("muted")
        self.rules = QPlainTextEdit()
        self.rules.setAccessibleName("Rules")
        self.rules.setPlaceholderText("Rules every new member reads and accepts when joining.")
        save = QPushButton("Publish rules")
        save.clicked.connect(
            lambda: self._job(
                "rules set", {"text": self.rules.toPlainText().strip()}, "Rules published."
            )
        )
        layout.addWidget(self.rules_version)
        layout.addWidget(self.rules, 1)
        layout.addWidget(save, 0, Qt.AlignmentFlag.AlignRight)
        self._admin_only += [self.rules, save]
        self.tabs.addTab(page, "Rules")

    def _selected(self, widget: QListWidget) -> dict[str, Any] | None:
        item = widget.currentItem()
        data: dict[str, Any] | None = None if item is None else item.data(Qt.ItemDataRole.UserRole)
        return data

    def _with_selected(
        self, widget: QListWidget, act: Callable[[dict[str, Any]], None]
    ) -> Callable[[], None]:
        """A button's slot: `act` on the row selected in `widget`, if any is."""

        def slot() -> None:
            row = self._selected(widget)
            if row:
                act(row)

        return slot

    def _build_channels(self) -> None:
        page = QWidget()
        layout = QVBoxLayout(page)
        self.channels = QListWidget()
        self.channels.setAccessibleName("Channels")
        create = QPushButton("New channel…")
        rename = QPushButton("Rename…")
        archive = QPushButton("Archive")
        create.clicked.connect(
            lambda: ask_text(
                self,
                "New channel",
                "Channel name:",
                lambda name: self._job("channel create", {"name": name}, f"#{name} created."),
            )
        )

        def do_rename(ch: dict[str, Any]) -> None:
            ask_text(
                self,
                "Rename channel",
                "New name:",
                lambda name: self._job(
                    "channel rename", {"channel": ch["id"], "name": name}, "Renamed."
                ),
                ch.get("name", ""),
            )

        def do_archive(ch: dict[str, Any]) -> None:
            self._job("channel archive", {"channel": ch["id"]}, f"#{ch.get('name')} archived.")

        rename.clicked.connect(self._with_selected(self.channels, do_rename))
        archive.clicked.connect(self._with_selected(self.channels, do_archive))
        row = QHBoxLayout()
        for b in (create, rename, archive):
            row.addWidget(b)
        row.addStretch(1)
        layout.addWidget(self.channels)
        layout.addLayout(row)
        self._admin_only += [create, rename, archive]
        self.tabs.addTab(page, "Channels")

    def _build_invites(self) -> None:
        page = QWidget()
        layout = QVBoxLayout(page)
        self.invites = QListWidget()
        self.invites.setAccessibleName("Invites")
        self.invites_empty = QLabel(
            "No invites yet. Create one and send its code or link to the people you want to let in."
        )
        self.invites_empty.setObjectName("invitesEmpty")
        self.invites_empty.setWordWrap(True)
        self.invites_empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.invites_stack = QStackedWidget()
        self.invites_stack.addWidget(self.invites_empty)
        self.invites_stack.addWidget(self.invites)
        self.create_invite = QPushButton("Create invite…")
        self.create_invite.setObjectName("createInvite")
        self.create_invite.clicked.connect(self._on_create_invite_clicked)
        self.invite_reason = QLabel(ONLY_ADMINS_INVITE + ".")
        self.invite_reason.setObjectName("muted")
        self.invite_reason.hide()
        revoke = QPushButton("Revoke")

        def do_revoke(invite: dict[str, Any]) -> None:
            self._job("invite revoke", {"invite_id": invite["invite_id"]}, "Invite revoked.")

        revoke.clicked.connect(self._with_selected(self.invites, do_revoke))
        row = QHBoxLayout()
        row.addWidget(self.invite_reason, 1)
        row.addStretch(0)
        row.addWidget(revoke)
        row.addWidget(self.create_invite)
        layout.addWidget(self.invites_stack, 1)
        layout.addLayout(row)
        self._admin_only += [revoke, self.create_invite]
        self.tabs.addTab(page, "Invites")

    def _on_create_invite_clicked(self) -> None:
        dialog = InviteDialog(self.client, self.community, self.info.get("name", ""), self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.created.connect(lambda _code: self.reload())
        dialog.open()
        self.invite_dialog = dialog

    def _on_invites_listed(self, result: dict[str, Any]) -> None:
        self.invites.clear()
        for inv in result.get("invites", []):
            state = "revoked" if inv.get("revoked") else f"{inv.get('uses_left')} use(s) left"
            item = QListWidgetItem(
                f"{inv.get('invite_id', '')[:12]}…  ·  {inv.get('role')}  ·  {state}  ·  "
                f"expires {inv.get('expires')}"
            )
            item.setData(Qt.ItemDataRole.UserRole, inv)
            self.invites.addItem(item)
        self.invites_stack.setCurrentWidget(
            self.invites if self.invites.count() else self.invites_empty
        )

    def _build_nodes(self) -> None:
        page = QWidget()
        layout = QVBoxLayout(page)
        hint = QLabel("Always-on nodes keep the community reachable when every member is offline.")
        hint.setWordWrap(True)
        hint.setObjectName("muted")
        self.nodes = QListWidget()
        self.nodes.setAccessibleName("Always-on nodes")
        self.node_peer = QLineEdit()
        self.node_peer.setPlaceholderText("Peer id (12D3Koo…)")
        self.node_addr = QLineEdit()
        self.node_addr.setPlaceholderText("/dns4/example.org/tcp/4001/p2p/12D3Koo…")
        add = QPushButton("Add node")
        add.clicked.connect(
            lambda: self._job(
                "node add",
                {"peer": self.node_peer.text().strip(), "multiaddr": self.node_addr.text().strip()},
                "Node added.",
            )
        )
        remove = QPushButton("Remove selected")

        def do_remove(node: dict[str, Any]) -> None:
            self._job("node remove", {"peer": node["peer_id"]}, "Node removed.")

        remove.clicked.connect(self._with_selected(self.nodes, do_remove))
        form = QFormLayout()
        form.addRow("Peer id", self.node_peer)
        form.addRow("Address", self.node_addr)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(remove)
        row.addWidget(add)
        layout.addWidget(hint)
        layout.addWidget(self.nodes)
        layout.addLayout(form)
        layout.addLayout(row)
        self._admin_only += [self.node_peer, self.node_addr, add, remove]
        self.tabs.addTab(page, "Always-on nodes")
