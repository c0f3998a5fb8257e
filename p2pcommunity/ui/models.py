"""Qt item models over what the node answers (qutebrowser's downloads model).

Each model is a list of plain dict rows as the control API returns them,
changed only with begin/end insert/remove rows and `dataChanged` for exactly
the rows touched; roles are `IntEnum`s from `UserRole`. The models translate
answers and events into row changes: they own no connection; the timeline
model holds the `ControlClient` only to ask for its own pages.

The timeline pages *backwards*: `canFetchMore`/`fetchMore` ask `read` for the
posts before the oldest one held and insert them at row 0. Qt's views call
`fetchMore` when the *last* row is visible, which in a chat view is always,
so the view shows the model through `NoAutoFetchProxy` and asks for older
pages itself when scrolled to the top.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any, ClassVar

from PySide6.QtCore import (
    QAbstractListModel,
    QByteArray,
    QDateTime,
    QIdentityProxyModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    QTimeZone,
    Signal,
)

from p2pcommunity.ui.client import ControlClient
from p2pcommunity.ui.compat import make_singletons_immortal

make_singletons_immortal()

Row = dict[str, Any]
AnyIndex = QModelIndex | QPersistentModelIndex
PAGE = 50
# The timeline asks for hidden posts too: the node then answers them to moderators (to
# unhide them) and to their author, flagged `hidden`; a post never silently vanishes.
HIDDEN_TOO = {"include_hidden": True}
_USER = int(Qt.ItemDataRole.UserRole)


class RowsModel(QAbstractListModel):
    """A list of dict rows keyed by `KEY`, updated by minimal diffs."""

    KEY = "id"
    Role: type[IntEnum]
    ROLE_FIELDS: ClassVar[dict[int, str]] = {}
    DISPLAY_FIELD = "name"

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._rows: list[Row] = []

    # -- Qt interface ----------------------------------------------------------

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def roleNames(self) -> dict[int, QByteArray]:
        names = {int(r): QByteArray(r.name.lower().encode()) for r in self.Role}
        names[int(Qt.ItemDataRole.DisplayRole)] = QByteArray(b"display")
        return names

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        row = self._rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return str(row.get(self.DISPLAY_FIELD, ""))
        if role == Qt.ItemDataRole.ToolTipRole:
            return self.tooltip(row)
        role = int(role)
        if role == self.ROW_ROLE:
            return row
        field = self.ROLE_FIELDS.get(role)
        return None if field is None else row.get(field)

    ROW_ROLE = _USER + 99

    def tooltip(self, row: Row) -> str | None:
        return None

    # -- access ----------------------------------------------------------------

    def rows(self) -> list[Row]:
        return list(self._rows)

    def row_of(self, key: str) -> int:
        for i, row in enumerate(self._rows):
            if row.get(self.KEY) == key:
                return i
        return -1

    def row_at(self, i: int) -> Row:
        return self._rows[i]

    # -- updates ---------------------------------------------------------------

    def clear(self) -> None:
        if self._rows:
            self.beginRemoveRows(QModelIndex(), 0, len(self._rows) - 1)
            self._rows = []
            self.endRemoveRows()

    def set_rows(self, rows: list[Row]) -> None:
        """Become `rows` with removals, insertions and `dataChanged` for changed rows."""
        new_keys = [r.get(self.KEY) for r in rows]
        wanted = set(new_keys)
        for i in range(len(self._rows) - 1, -1, -1):
            if self._rows[i].get(self.KEY) not in wanted:
                self.beginRemoveRows(QModelIndex(), i, i)
                del self._rows[i]
                self.endRemoveRows()
        held = {r.get(self.KEY) for r in self._rows}
        kept_order = [k for k in new_keys if k in held]
        if kept_order != [r.get(self.KEY) for r in self._rows]:
            self.beginResetModel()
            self._rows = list(rows)
            self.endResetModel()
            return
        for i, row in enumerate(rows):
            if i < len(self._rows) and self._rows[i].get(self.KEY) == row.get(self.KEY):
                if self._rows[i] != row:
                    self._rows[i] = row
                    self.dataChanged.emit(self.index(i), self.index(i))
            else:
                self.beginInsertRows(QModelIndex(), i, i)
                self._rows.insert(i, row)
                self.endInsertRows()


def row_fields(roles: type[IntEnum], **renamed: str | None) -> dict[int, str]:
    """Which row field each role reads: its own name in lower case ("AUTHOR_NAME" ->
    "author_name"), another where `renamed` says, none where it says None (the
    model computes that role itself)."""
    fields = {int(r): renamed.get(r.name, r.name.lower()) for r in roles}
    return {role: field for role, field in fields.items() if field is not None}


# ------------------------------------------------------------------ communities


class CommunityRole(IntEnum):
    ID = _USER + 1
    NAME = _USER + 2
    MY_ROLE = _USER + 3
    MEMBERS = _USER + 4
    UNREAD = _USER + 5


class CommunityListModel(RowsModel):
    Role = CommunityRole
    ROLE_FIELDS: ClassVar[dict[int, str]] = row_fields(CommunityRole, MY_ROLE="role")

    def tooltip(self, row: Row) -> str:
        return f"{row.get('name', '')} · {row.get('members', 0)} members · you: {row.get('role')}"


# ------------------------------------------------------------------ channels


class ChannelRole(IntEnum):
    ID = _USER + 1
    NAME = _USER + 2
    TOPIC = _USER + 3
    ARCHIVED = _USER + 4
    UNREAD = _USER + 5
    MENTIONS = _USER + 6
    """Unread posts that mention me (the node counts them: `channel list`'s `mentions`)."""
    KIND = _USER + 7
    """"chat", "forum" or "qa" (issue 14): the sidebar marks forum and Q&A channels."""
    MUTED = _USER + 8
    """Muted on this device (`channel list`'s `muted`): dimmed, no badge."""


class ChannelListModel(RowsModel):
    Role = ChannelRole
    ROLE_FIELDS: ClassVar[dict[int, str]] = row_fields(ChannelRole)

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if (
            role == Qt.ItemDataRole.AccessibleTextRole
            and index.isValid()
            and index.row() < len(self._rows)
        ):
            # what the badge shows, for a screen reader
            row = self._rows[index.row()]
            muted = ", muted" if row.get("muted") else ""
            return f"#{row.get('name', '')}{muted}{unread_text(row)}"
        return super().data(index, role)

    def tooltip(self, row: Row) -> str | None:
        muted = ", muted on this computer" if row.get("muted") else ""
        return (str(row.get("topic") or "") + muted + unread_text(row)).strip(" ,") or None

    def set_unread(self, channel_id: str, unread: int, mentions: int | None = None) -> None:
        i = self.row_of(channel_id)
        if i < 0:
            return
        row = {**self._rows[i], "unread": unread}
        if mentions is not None or not unread:
            row["mentions"] = mentions or 0
        if row != self._rows[i]:
            self._rows[i] = row
            self.dataChanged.emit(
                self.index(i), self.index(i), [int(ChannelRole.UNREAD), int(ChannelRole.MENTIONS)]
            )


def unread_text(row: Row) -> str:
    """ ", 3 unread, 1 mention" (or ""): the channel badge in words."""
    unread, mentions = int(row.get("unread") or 0), int(row.get("mentions") or 0)
    out = f", {unread} unread" if unread else ""
    if mentions:
        out += f", {mentions} mention{'s' if mentions != 1 else ''}"
    return out


# ------------------------------------------------------------------ members


class MemberRole(IntEnum):
    PEER_ID = _USER + 1
    NAME = _USER + 2
    ROLE = _USER + 3
    STATUS = _USER + 4
    STATUS_TEXT = _USER + 5
    """The status in words, e.g. "Timed out until 14:30" (local time): never a raw code."""


class MemberListModel(RowsModel):
    KEY = "peer_id"
    Role = MemberRole
    ROLE_FIELDS: ClassVar[dict[int, str]] = row_fields(MemberRole, STATUS_TEXT=None)

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if index.isValid() and index.row() < len(self._rows):
            row = self._rows[index.row()]
            if role == Qt.ItemDataRole.DisplayRole:
                # The label carries a short id when the name is shared or role-like.
                return row.get("label") or row.get("name") or short_peer(row.get("peer_id", ""))
            if role == MemberRole.STATUS_TEXT:
                return status_text(row)
        return super().data(index, role)

    def tooltip(self, row: Row) -> str:
        return f"{row.get('peer_id')}\n{row.get('role')} · {status_text(row)}"

    def names(self) -> dict[str, str]:
        return {
            r["peer_id"]: r.get("label") or r.get("name") or short_peer(r["peer_id"])
            for r in self._rows
        }


STATUS_WORDS = {"online": "Online", "offline": "Offline", "removed": "Removed"}


def local_clock(value: str | int | None) -> str:
    """An ISO 8601 UTC time, or ms since the epoch, as local "14:30" ("14:30 on 3 Dec"
    when not today)."""
    if isinstance(value, int) and not isinstance(value, bool):
        dt = QDateTime.fromMSecsSinceEpoch(value, QTimeZone.utc())
    else:
        dt = parse_time(value if isinstance(value, str) else None)
    if not dt.isValid():
        return ""
    local = dt.toLocalTime()
    if local.date() == QDateTime.currentDateTime().date():
        return local.toString("HH:mm")
    return local.toString("HH:mm 'on' d MMM")


def status_text(member: Row) -> str:
    """A member's status for people: the node's codes ("timed_out") never show raw."""
    status = str(member.get("status") or "offline")
    if status == "timed_out":
        until = local_clock(member.get("timed_out_until"))
        return f"Timed out until {until}" if until else "Timed out"
    return STATUS_WORDS.get(status, status.replace("_", " ").capitalize())


def short_peer(peer_id: str) -> str:
    return f"{peer_id[:6]}…{peer_id[-4:]}" if len(peer_id) > 12 else peer_id


# ------------------------------------------------------------------ posts


class PostRole(IntEnum):
    ID = _USER + 1
    AUTHOR = _USER + 2
    AUTHOR_NAME = _USER + 3
    TIME = _USER + 4
    TEXT = _USER + 5
    REPLY_TO = _USER + 6
    REACTIONS = _USER + 7
    EDITED = _USER + 8
    REPLIES = _USER + 9
    MENTIONS_ME = _USER + 10
    IS_MINE = _USER + 11
    CONTINUED = _USER + 12
    """Same author as the row above, within five minutes: drawn without a header."""
    KIND = _USER + 13
    """"post", or "notice" for a line the app adds itself ("Bob joined"; notices.py)."""
    HIDDEN = _USER + 14
    """A moderator hid it: only its author and moderators still get it from the node."""
    HIDDEN_REASON = _USER + 15
    CHANNEL_NAME = _USER + 16


GROUP_MS = 5 * 60 * 1000


def parse_time(value: str | None) -> QDateTime:
    dt = QDateTime.fromString(value or "", Qt.DateFormat.ISODateWithMs)
    dt.setTimeZone(dt.timeZone())  # keep UTC; the delegate converts to local time
    return dt


class PostListModel(RowsModel):
    """Posts, oldest first, as `read`, `thread` and `search` return them."""

    Role = PostRole
    ROLE_FIELDS: ClassVar[dict[int, str]] = row_fields(
        PostRole, TIME=None, TEXT=None, IS_MINE=None, CONTINUED=None, KIND=None
    )
    DISPLAY_FIELD = "text"

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.me = ""
        self.group = True

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if index.isValid() and 0 <= index.row() < len(self._rows):
            row = self._rows[index.row()]
            if role == PostRole.TIME:
                return parse_time(row.get("time"))
            if role == PostRole.TEXT:
                return row.get("text", "")
            if role == PostRole.IS_MINE:
                return bool(self.me) and row.get("author") == self.me
            if role == PostRole.CONTINUED:
                return self._continued(index.row())
            if role == PostRole.KIND:
                return row.get("kind") or "post"
            if role == PostRole.AUTHOR_NAME:
                # author_label: the name with a short id when it could pass for another's.
                label = row.get("author_label") or row.get("author_name")
                return label or short_peer(row.get("author", ""))
        return super().data(index, role)

    def _continued(self, i: int) -> bool:
        if not self.group or i == 0:
            return False
        this, above = self._rows[i], self._rows[i - 1]
        if this.get("kind") or above.get("kind") or this.get("hidden") or above.get("hidden"):
            return False  # notices and hidden posts stand alone
        if this.get("author") != above.get("author") or this.get("reply_to"):
            return False
        t1, t0 = parse_time(this.get("time")), parse_time(above.get("time"))
        return 0 <= t0.msecsTo(t1) < GROUP_MS

    def tooltip(self, row: Row) -> str:
        return parse_time(row.get("time")).toLocalTime().toString("dddd d MMMM yyyy, HH:mm:ss")

    def set_posts(self, posts: list[Row]) -> None:
        self.beginResetModel()
        self._rows = list(posts)
        self.endResetModel()


def _key(post: Row) -> tuple[str, str]:
    return (str(post.get("time", "")), str(post.get("id", "")))


class TimelineModel(PostListModel):
    """One channel's posts: the newest page first, older pages on demand."""

    loaded = Signal()  # the first page of a channel is in
    older_loaded = Signal(int)  # rows inserted at the top
    posts_arrived = Signal(list)  # posts new to this model after a refresh
    load_failed = Signal(str, str)

    def __init__(self, client: ControlClient, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._client = client
        self.community = ""
        self.channel = ""
        self.page = PAGE
        self._has_older = False
        self._loading = False
        self._refreshing = False
        self._refresh_again = False
        self._generation = 0
        self._notices: list[Row] = []

    @property
    def loading(self) -> bool:
        """A first page or an older page is on its way."""
        return self._loading

    def load(self, community: str, channel: str) -> None:
        self._generation += 1
        self.community, self.channel = community, channel
        self._notices = []  # the page hands this channel's own with set_notices
        self._has_older = False
        self._loading = True
        self._refreshing = False
        self.set_posts([])
        gen = self._generation
        self._client.request(
            "read",
            {"community": community, "channel": channel, "limit": self.page, **HIDDEN_TOO},
            on_result=lambda r: self._on_first_page(gen, r),
            on_error=lambda m, c: self._on_failed(gen, m, c),
        )

    def _on_first_page(self, gen: int, result: dict[str, Any]) -> None:
        if gen != self._generation:
            return
        posts = list(result.get("posts", []))
        self._loading = False
        self._has_older = len(posts) >= self.page
        self.set_posts(self._with_notices(posts))
        self.loaded.emit()

    def _on_failed(self, gen: int, message: str, code: str) -> None:
        if gen != self._generation:
            return
        self._loading = False
        self._refreshing = False
        self.load_failed.emit(message, code)

    # -- notices ---------------------------------------------------------------

    def set_notices(self, notices: list[Row]) -> None:
        """The app's own lines for this channel (rows with `kind` "notice"), kept through
        refreshes: the node never answers them, so `merge` must not remove them."""
        self._notices = sorted(notices, key=_key)
        if not self._loading:
            self.set_posts(self._with_notices([r for r in self._rows if not r.get("kind")]))

    def add_notice(self, notice: Row) -> None:
        self._notices.append(notice)
        if self._loading:
            return
        at = len(self._rows)
        while at > 0 and _key(self._rows[at - 1]) > _key(notice):
            at -= 1
        self.beginInsertRows(QModelIndex(), at, at)
        self._rows.insert(at, notice)
        self.endInsertRows()

    def _with_notices(self, posts: list[Row]) -> list[Row]:
        return sorted([*posts, *self._notices], key=_key) if self._notices else posts

    # -- paging back -----------------------------------------------------------

    def canFetchMore(self, parent: AnyIndex = QModelIndex()) -> bool:  # noqa: B008
        return not parent.isValid() and self._has_older and not self._loading and bool(self._rows)

    def fetchMore(self, parent: AnyIndex = QModelIndex()) -> None:  # noqa: B008
        if not self.canFetchMore(parent):
            return
        self._loading = True
        gen = self._generation
        self._client.request(
            "read",
            {
                "community": self.community,
                "channel": self.channel,
                "limit": self.page,
                "before": next((r["id"] for r in self._rows if not r.get("kind")), ""),
                **HIDDEN_TOO,
            },
            on_result=lambda r: self._on_older_page(gen, r),
            on_error=lambda m, c: self._on_failed(gen, m, c),
        )

    def _on_older_page(self, gen: int, result: dict[str, Any]) -> None:
        if gen != self._generation:
            return
        self._loading = False
        held = {r["id"] for r in self._rows}
        posts = [p for p in result.get("posts", []) if p.get("id") not in held]
        self._has_older = len(result.get("posts", [])) >= self.page
        if posts:
            self.beginInsertRows(QModelIndex(), 0, len(posts) - 1)
            self._rows[0:0] = posts
            self.endInsertRows()
            if len(self._rows) > len(posts):
                # the former first row may now continue the group above it
                i = len(posts)
                self.dataChanged.emit(self.index(i), self.index(i))
        self.older_loaded.emit(len(posts))

    # -- live updates ----------------------------------------------------------

    def refresh(self) -> None:
        """Merge the newest page: new posts in, edits updated, deleted/hidden out."""
        if not self.channel or self._loading:
            return
        if self._refreshing:
            self._refresh_again = True
            return
        self._refreshing = True
        gen = self._generation
        self._client.request(
            "read",
            {
                "community": self.community,
                "channel": self.channel,
                "limit": self.page,
                **HIDDEN_TOO,
            },
            on_result=lambda r: self._on_refreshed(gen, r),
            on_error=lambda m, c: self._on_failed(gen, m, c),
        )

    def _on_refreshed(self, gen: int, result: dict[str, Any]) -> None:
        if gen != self._generation:
            return
        self._refreshing = False
        posts = list(result.get("posts", []))
        arrived = self.merge(posts, full_page=len(posts) >= self.page)
        if arrived:
            self.posts_arrived.emit(arrived)
        if self._refresh_again:
            self._refresh_again = False
            self.refresh()

    def merge(self, page: list[Row], full_page: bool) -> list[Row]:
        """Merge the newest page (oldest first); returns the posts that were not held."""
        if full_page and self._rows and page and _key(page[0]) > _key(self._rows[-1]):
            # a gap: more new posts than one page; start over from the newest
            held = {r["id"] for r in self._rows}
            self.set_posts(self._with_notices(page))
            self._has_older = True
            return [p for p in page if p["id"] not in held]
        floor = _key(page[0]) if (full_page and page) else ("", "")
        by_id = {p["id"]: p for p in page}
        for i in range(len(self._rows) - 1, -1, -1):
            row = self._rows[i]
            if _key(row) >= floor and row["id"] not in by_id and not row.get("kind"):
                self.beginRemoveRows(QModelIndex(), i, i)
                del self._rows[i]
                self.endRemoveRows()
        arrived: list[Row] = []
        positions = {r["id"]: i for i, r in enumerate(self._rows)}
        for post in page:
            held_at = positions.get(post["id"])
            if held_at is not None:
                if self._rows[held_at] != post:
                    self._rows[held_at] = post
                    self.dataChanged.emit(self.index(held_at), self.index(held_at))
                continue
            at = len(self._rows)
            while at > 0 and _key(self._rows[at - 1]) > _key(post):
                at -= 1
            self.beginInsertRows(QModelIndex(), at, at)
            self._rows.insert(at, post)
            self.endInsertRows()
            positions = {r["id"]: j for j, r in enumerate(self._rows)}
            arrived.append(post)
        return arrived


class NoAutoFetchProxy(QIdentityProxyModel):
    """Hides `canFetchMore` from a view, which pages back only when scrolled to the top."""

    def canFetchMore(self, parent: AnyIndex = QModelIndex()) -> bool:  # noqa: B008
        return False
