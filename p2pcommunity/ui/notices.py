"""Timeline notices: "Bob joined", "Carol is now a moderator", derived on the app's side.

The node has no "member joined" event or post; what the app already receives
is the `member list` answer it asks for after every `community_changed`. So
the notices come from comparing each answer with the one before for the same
community: a peer id that was not listed joined; a role that changed was
given. The first answer for a community after the app starts (or switches to
it) is only the baseline, so opening the app does not announce everyone.
Notices live in this book for the session only, keyed by community, and the
chat page shows them in that community's `general` channel as rows of kind
"notice" (`TimelineModel.set_notices`, which keeps them through refreshes).
"""

from __future__ import annotations

from itertools import count
from typing import Any

from PySide6.QtCore import QDateTime, Qt

from p2pcommunity.ui.models import short_peer

Row = dict[str, Any]
ROLE_WORDS = {"admin": "an admin", "moderator": "a moderator", "member": "a member"}


def member_notices(before: list[Row], after: list[Row], me: str) -> list[str]:
    """What changed between two `member list` answers of one community, in words."""
    old = {str(m.get("peer_id")): m for m in before}
    out: list[str] = []
    for member in after:
        peer = str(member.get("peer_id", ""))
        name = "You" if peer == me else _name(member)
        was = old.get(peer)
        if member.get("status") == "removed":
            if was is not None and was.get("status") != "removed":
                out.append(f"{name} {'were' if peer == me else 'was'} removed")
            continue
        if was is None or not _named(was):
            # A key an admin added is listed before its owner has synced a profile:
            # "·3xv6gB joined" would announce a key, not a person. The join is told
            # once the member has a name, which is when they have actually synced.
            if peer != me and _named(member):
                out.append(f"{name} joined")
            continue
        role = str(member.get("role") or "member")
        if role != (was.get("role") or "member") and role in ROLE_WORDS:
            out.append(f"{name} {'are' if peer == me else 'is'} now {ROLE_WORDS[role]}")
    return out


def _named(member: Row) -> bool:
    return bool(str(member.get("name") or "").strip())


def _name(member: Row) -> str:
    return str(member.get("label") or member.get("name") or short_peer(member.get("peer_id", "")))


class NoticeBook:
    """Each community's last member list and the notices derived so far (session only)."""

    def __init__(self) -> None:
        self._members: dict[str, list[Row]] = {}
        self._notices: dict[str, list[Row]] = {}
        self._ids = count(1)

    def members_listed(self, community: str, members: list[Row], me: str) -> list[Row]:
        """Record an answer; returns the new notice rows (none for a baseline)."""
        before = self._members.get(community)
        self._members[community] = list(members)
        if before is None:
            return []
        now = QDateTime.currentDateTimeUtc().toString(Qt.DateFormat.ISODateWithMs)
        rows = [
            {"id": f"notice:{next(self._ids)}", "kind": "notice", "time": now, "text": text}
            for text in member_notices(before, members, me)
        ]
        self._notices.setdefault(community, []).extend(rows)
        return rows

    def notices(self, community: str) -> list[Row]:
        return list(self._notices.get(community, []))
