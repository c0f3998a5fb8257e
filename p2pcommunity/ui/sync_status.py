"""What the status bar says about peers and sync, kept true by asking the node.

The node announces `sync_progress` (a session opened, a session caught up)
but says nothing about names or counts, and a community just joined is not
in the app's lists yet. So every such event asks `status` at once: its answer
names the community and counts its members online, and the peer count moves
with it instead of waiting for the next poll. Between events a slow poll
notices peers that come and go.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QTimer

from p2pcommunity.ui.client import ControlClient
from p2pcommunity.ui.mainwindow import MainWindow

STATUS_POLL_MS = 3000


def members_phrase(count: int) -> str:
    return f"{count} member{'s' if count != 1 else ''}"


class SyncStatus(QObject):
    """Polls `status` and turns it and the sync events into the status bar's words."""

    def __init__(
        self,
        client: ControlClient,
        window: MainWindow,
        peers_changed: Callable[[], None],
        poll_ms: int = STATUS_POLL_MS,
    ) -> None:
        super().__init__(window)
        self.client = client
        self.window = window
        self._peers_changed = peers_changed
        self.peers: int | None = None
        self._syncing: set[str] = set()  # communities with a session that has not caught up
        self.timer = QTimer(self)
        self.timer.setInterval(poll_ms)
        self.timer.timeout.connect(self.poll)

    def start(self) -> None:
        self.timer.start()
        self.poll()

    def stop(self) -> None:
        self.timer.stop()

    def poll(self) -> None:
        self.client.request("status", {}, on_result=self._on_status)

    def on_sync_progressed(self, community_id: str, caught_up: bool) -> None:
        if caught_up:
            self._syncing.discard(community_id)
        else:
            self._syncing.add(community_id)
        self.client.request(
            "status",
            {},
            on_result=lambda result: self._on_status(result, (community_id, caught_up)),
        )

    def _on_status(self, result: dict[str, Any], event: tuple[str, bool] | None = None) -> None:
        peers = len(result.get("peers", []))
        self.window.set_peers(peers)
        if peers != self.peers:
            self.peers = peers
            self._peers_changed()
        rows = {str(r.get("id")): r for r in result.get("communities", [])}
        if event is not None:
            community_id, caught_up = event
            row = rows.get(community_id, {})
            # Before its log arrives a joiner's node knows a community by id only.
            name = str(row.get("name") or "the community you are joining")
            online = int(row.get("members_online") or 0)
            if not caught_up and community_id in self._syncing:
                # A session is open, so someone is there even if the log does not list
                # them as a member yet (the admitter, to a joiner).
                self.window.set_syncing(f"Syncing {name} with {members_phrase(max(1, online))}…")
            elif caught_up:
                self.window.set_synced(
                    f"{name} is up to date"
                    + (f" · {members_phrase(online)} online" if online else "")
                )
        self._show_waiting(rows)

    def _show_waiting(self, rows: dict[str, dict[str, Any]]) -> None:
        """The visible community: say so when no other member is there to sync with."""
        chat = self.window.chat
        row = rows.get(chat.community)
        alone = chat.members.rowCount() <= 1  # nobody else to wait for
        if row is None or alone or self._syncing or int(row.get("members_online") or 0):
            self.window.set_waiting("")
            return
        self.window.set_waiting(
            f"Waiting for a member of {row.get('name') or 'this community'} to come online"
        )
