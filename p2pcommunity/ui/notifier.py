"""Mention and reply notifications for every channel of every community.

On `community_changed` the watcher waits a short while (so a burst of synced
changes costs one round of requests per community), asks the node for the
community's `channel list`, and for each channel whose unread count grew reads
its newest posts. A post by someone else that mentions me, or that replies to
one of my posts, asks for a notification once per post id. The first look at a
community only records its unread counts, so old mentions do not flood the
tray at start-up.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from p2pcommunity.ui.client import ControlClient
from p2pcommunity.ui.models import short_peer

COALESCE_MS = 300
READ_LIMIT = 20


class MentionWatcher(QObject):
    notification_wanted = Signal(str, str)  # title, text
    unread_changed = Signal(str, str, int)  # community id, channel id, unread count

    def __init__(self, client: ControlClient, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.client = client
        self.me = ""
        self._unread: dict[tuple[str, str], int] = {}
        self._known: set[str] = set()  # communities whose unread counts are recorded
        self._timers: dict[str, QTimer] = {}
        self._busy: set[str] = set()
        self._again: set[str] = set()
        self._notified: set[str] = set()
        self._mine: set[str] = set()

    # ------------------------------------------------------------------ inputs

    def prime(self, community_id: str) -> None:
        """Record a community's unread counts without notifying, if not done yet."""
        if community_id and community_id not in self._known and community_id not in self._busy:
            self._check(community_id)

    def on_community_changed(self, community_id: str, _kind: str) -> None:
        if not community_id:
            return
        timer = self._timers.get(community_id)
        if timer is None:
            timer = QTimer(self)
            timer.setSingleShot(True)
            timer.setInterval(COALESCE_MS)
            timer.timeout.connect(lambda c=community_id: self._check(c))
            self._timers[community_id] = timer
        timer.start()

    def note_read(self, community_id: str, channel_id: str) -> None:
        """The user has seen this channel: its unread count is back to zero."""
        self._unread[(community_id, channel_id)] = 0

    def note_mine(self, post_ids: set[str]) -> None:
        self._mine |= post_ids

    # ------------------------------------------------------------------ checking

    def _check(self, community: str) -> None:
        if community in self._busy:
            self._again.add(community)
            return
        self._busy.add(community)
        first = community not in self._known

        def done(result: dict[str, Any]) -> None:
            self._known.add(community)
            for channel in result.get("channels", []):
                cid = str(channel.get("id", ""))
                unread = int(channel.get("unread") or 0)
                key = (community, cid)
                before = self._unread.get(key, 0)
                self._unread[key] = unread
                if first:
                    continue
                if unread != before:
                    self.unread_changed.emit(community, cid, unread)
                if unread > before:
                    self._read(community, cid, min(unread, READ_LIMIT))
            finish()

        def finish(*_args: Any) -> None:
            self._busy.discard(community)
            if community in self._again:
                self._again.discard(community)
                self.on_community_changed(community, "again")

        self.client.request(
            "channel list", {"community": community}, on_result=done, on_error=finish
        )

    def _read(self, community: str, channel: str, limit: int) -> None:
        def done(result: dict[str, Any]) -> None:
            posts = list(result.get("posts", []))
            self.note_mine({str(p["id"]) for p in posts if p.get("author") == self.me})
            for post in posts:
                self.consider(community, post)

        self.client.request(
            "read", {"community": community, "channel": channel, "limit": limit}, on_result=done
        )

    def consider(self, community: str, post: dict[str, Any]) -> None:
        """Notify about `post` if it mentions or replies to me and is new to us."""
        post_id = str(post.get("id", ""))
        if not post_id or post_id in self._notified or not self.me or post.get("muted"):
            return  # a muted word or channel (issue 16) never notifies
        if post.get("author") == self.me:
            self._mine.add(post_id)
            return
        if post.get("mentions_me"):
            self._emit(post, "mentioned you")
            return
        reply_to = post.get("reply_to")
        if not reply_to:
            return
        if reply_to in self._mine:
            self._emit(post, "replied to you")
            return

        def done(result: dict[str, Any]) -> None:
            posts = result.get("posts") or []
            if posts and posts[0].get("author") == self.me:
                self._mine.add(str(reply_to))
                self._emit(post, "replied to you")

        self.client.request("thread", {"community": community, "post": reply_to}, on_result=done)

    def _emit(self, post: dict[str, Any], what: str) -> None:
        post_id = str(post.get("id", ""))
        if post_id in self._notified:
            return
        self._notified.add(post_id)
        name = post.get("author_name") or short_peer(post.get("author", ""))
        self.notification_wanted.emit(f"{name} {what}", str(post.get("text", ""))[:200])
