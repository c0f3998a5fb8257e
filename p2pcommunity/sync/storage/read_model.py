"""The read-model tables: posts, reactions, profiles, addresses (search: post_search.py).

Kept apart from store.py, which owns the replicated data (ops, changes);
everything here can be rebuilt from that data. The rules for out-of-order
arrival live here too: a member's later segment is later in time, so a
value from a lower segment never overwrites one from a higher segment, and
an edit or deletion that arrives before its post waits in pending_updates.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from p2pcommunity.sync.storage.post_search import PostSearch

READ_MODEL_SCHEMA = """
CREATE TABLE posts (
    id TEXT PRIMARY KEY,
    community_id BLOB NOT NULL,
    channel_id BLOB NOT NULL,
    author BLOB NOT NULL,
    local_id TEXT NOT NULL,
    segment INTEGER NOT NULL,
    text TEXT NOT NULL,
    reply_to TEXT,
    mentions BLOB NOT NULL,
    author_ms INTEGER NOT NULL,
    edited INTEGER NOT NULL DEFAULT 0,
    edit_segment INTEGER NOT NULL DEFAULT -1,
    deleted INTEGER NOT NULL DEFAULT 0,
    first_seen_ms INTEGER NOT NULL,
    journal_index INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX posts_timeline ON posts (community_id, channel_id, deleted, author_ms, id);
CREATE INDEX posts_replies ON posts (reply_to) WHERE reply_to IS NOT NULL;
CREATE TABLE reactions (
    post_id TEXT NOT NULL,
    reactor BLOB NOT NULL,
    emoji TEXT NOT NULL,
    segment INTEGER NOT NULL,
    active INTEGER NOT NULL,
    PRIMARY KEY (post_id, reactor, emoji)
) WITHOUT ROWID;
CREATE TABLE profiles (
    community_id BLOB NOT NULL,
    member BLOB NOT NULL,
    name TEXT,
    bio TEXT,
    segment INTEGER NOT NULL,
    PRIMARY KEY (community_id, member)
) WITHOUT ROWID;
CREATE TABLE addrs (
    community_id BLOB NOT NULL,
    member BLOB NOT NULL,
    addrs TEXT NOT NULL,
    segment INTEGER NOT NULL,
    PRIMARY KEY (community_id, member)
) WITHOUT ROWID;
CREATE TABLE pending_updates (
    post_id TEXT NOT NULL,
    author BLOB NOT NULL,
    text TEXT,
    text_segment INTEGER NOT NULL DEFAULT -1,
    deleted INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (post_id, author)
) WITHOUT ROWID;
CREATE TABLE read_markers (
    community_id BLOB NOT NULL,
    channel_id BLOB NOT NULL,
    last_read_ms INTEGER NOT NULL,
    PRIMARY KEY (community_id, channel_id)
) WITHOUT ROWID;
CREATE VIRTUAL TABLE posts_fts USING fts5 (text);
"""
"""Today's DDL of the read-model tables, next to their queries. A change here
needs its step in migrations.py: test_migrations compares the two."""


@dataclass(frozen=True)
class PostRow:
    id: str
    community_id: bytes
    channel_id: bytes
    author: bytes
    local_id: str
    segment: int
    text: str
    reply_to: str | None
    mentions: bytes
    author_ms: int
    edited: bool
    deleted: bool
    first_seen_ms: int
    journal_index: int = 0


@dataclass(frozen=True)
class Visibility:
    """What moderation hides from reads: hidden posts, and posts of timed-out members
    dated before the timeout's end that lie outside the heads it recorded.

    `timeouts` holds (author, until_ms, {segment: journal entries within the heads}).
    """

    hidden: frozenset[str] = frozenset()
    timeouts: tuple[tuple[bytes, int, tuple[tuple[int, int], ...]], ...] = ()
    hidden_shown_to: bytes | None = None
    """An author who still sees their own hidden posts (flagged: `read` says why)."""

    def sql(self, prefix: str = "") -> tuple[str, list[Any]]:
        """The WHERE clauses (each starting with AND) for columns named `prefix` + name."""
        clauses: list[str] = []
        args: list[Any] = []
        if self.hidden:
            listed = f"{prefix}id NOT IN ({','.join('?' * len(self.hidden))})"
            if self.hidden_shown_to is not None:
                clauses.append(f"({listed} OR {prefix}author = ?)")
                args += [*sorted(self.hidden), self.hidden_shown_to]
            else:
                clauses.append(listed)
                args += sorted(self.hidden)
        for author, until_ms, within in self.timeouts:
            inside = (
                " OR ".join(f"({prefix}segment = ? AND {prefix}journal_index < ?)" for _ in within)
                or "0"
            )
            clauses.append(f"NOT ({prefix}author = ? AND {prefix}author_ms < ? AND NOT ({inside}))")
            args += [author, until_ms]
            for segment, limit in within:
                args += [segment, limit]
        return "".join(f" AND {c}" for c in clauses), args


# Ids per `IN (...)` list: far below SQLite's limit on bound parameters.
_IN_CHUNK = 500

_POST_COLUMNS = (
    "id, community_id, channel_id, author, local_id, segment, text, reply_to, mentions, "
    "author_ms, edited, deleted, first_seen_ms, journal_index"
)


def _post(row: tuple[Any, ...]) -> PostRow:
    return PostRow(
        row[0],
        bytes(row[1]),
        bytes(row[2]),
        bytes(row[3]),
        row[4],
        row[5],
        row[6],
        row[7],
        bytes(row[8]),
        row[9],
        bool(row[10]),
        bool(row[11]),
        row[12],
        row[13],
    )


def _post_values(row: PostRow) -> tuple[Any, ...]:
    """A post's values in the order of _POST_COLUMNS."""
    return (
        row.id,
        row.community_id,
        row.channel_id,
        row.author,
        row.local_id,
        row.segment,
        row.text,
        row.reply_to,
        row.mentions,
        row.author_ms,
        int(row.edited),
        int(row.deleted),
        row.first_seen_ms,
        row.journal_index,
    )


class ReadModel:
    """The read-model tables of one store: its connection, and the store's transactions
    (SQLite has one writer, so the replicated data and the rows projected from it share
    them: a batch and its rows are saved together or not at all)."""

    def __init__(
        self,
        db: sqlite3.Connection,
        transaction: Callable[[], AbstractContextManager[sqlite3.Connection]],
    ) -> None:
        self.db = db
        self.transaction = transaction
        self.search_index = PostSearch(db, transaction)
        # Which authors' post rows were written, and when (a count of such writes):
        # the safety verdicts recompute only those authors (safety_tables.py). A
        # write rolled back later leaves a mark too, which costs one recompute.
        self.post_writes = 0
        self.posts_touched: dict[bytes, int] = {}
        # The same for writes that change rows already there (edits, deletions, a
        # rebuild): after those an author's verdicts cannot just be carried on.
        self.posts_rewritten: dict[bytes, int] = {}

    # -- read models -----------------------------------------------------------

    def touch(self, author: bytes, rewrite: bool = True) -> None:
        """Mark `author`'s post rows as changed (also after a rollback of a write);
        `rewrite` False: only rows added."""
        self.post_writes += 1
        self.posts_touched[author] = self.post_writes
        if rewrite:
            self.posts_rewritten[author] = self.post_writes

    def upsert_post(self, row: PostRow, fresh: bool = False) -> None:
        """Add a post unless held: its original record never changes (edits go through
        edit_post). `fresh`: its id was just made on this device, so no edit or
        deletion can be waiting for it in pending_updates."""
        self.touch(row.author, rewrite=False)
        cursor = self.db.execute(
            f"INSERT INTO posts ({_POST_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?) "
            "ON CONFLICT (id) DO NOTHING",
            _post_values(row),
        )
        # Indexed for search later, in bulk: see post_search.py.
        if cursor.rowcount == 0 or fresh:
            return
        pending = self.db.execute(
            "SELECT text, text_segment, deleted FROM pending_updates WHERE post_id=? AND author=?",
            (row.id, row.author),
        ).fetchone()
        if pending is not None:
            self.db.execute(
                "DELETE FROM pending_updates WHERE post_id=? AND author=?", (row.id, row.author)
            )
            text, text_segment, deleted = pending
            if text is not None:
                self.edit_post(row.id, row.author, text, text_segment)
            if deleted:
                self.delete_post(row.id, row.author, text_segment)

    def insert_posts(self, rows: Sequence[PostRow]) -> None:
        """Add posts not held yet, in a few statements however many there are.

        A post's original record never changes (edits go through `edit_post`):
        a row for an id we hold, or a second row for an id in `rows`, is
        skipped. An edit or deletion that arrived before its post is applied
        once the post is in.
        """
        for author in {row.author for row in rows}:
            self.touch(author, rewrite=False)
        fresh: dict[str, PostRow] = {}
        for start in range(0, len(rows), _IN_CHUNK):
            chunk = rows[start : start + _IN_CHUNK]
            held = {
                r[0]
                for r in self.db.execute(
                    f"SELECT id FROM posts WHERE id IN ({','.join('?' * len(chunk))})",
                    [row.id for row in chunk],
                )
            }
            for row in chunk:
                if row.id not in held and row.id not in fresh:
                    fresh[row.id] = row
        if not fresh:
            return
        # Indexed for search later, in bulk: see post_search.py.
        self.db.executemany(
            f"INSERT INTO posts ({_POST_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            [_post_values(row) for row in fresh.values()],
        )
        ids = list(fresh)
        for start in range(0, len(ids), _IN_CHUNK):
            some = ids[start : start + _IN_CHUNK]
            pending = self.db.execute(
                "SELECT post_id, author, text, text_segment, deleted FROM pending_updates "
                f"WHERE post_id IN ({','.join('?' * len(some))})",
                some,
            ).fetchall()
            for post_id, author, text, text_segment, deleted in pending:
                if bytes(author) != fresh[post_id].author:
                    continue  # someone else's edit of this id: never applies
                self.db.execute(
                    "DELETE FROM pending_updates WHERE post_id=? AND author=?", (post_id, author)
                )
                if text is not None:
                    self.edit_post(post_id, bytes(author), text, text_segment)
                if deleted:
                    self.delete_post(post_id, bytes(author), text_segment)

    def post(self, post_id: str) -> PostRow | None:
        row = self.db.execute(
            f"SELECT {_POST_COLUMNS} FROM posts WHERE id=?", (post_id,)
        ).fetchone()
        return None if row is None else _post(row)

    def posts_by_prefix(self, community_id: bytes, prefix: str) -> list[str]:
        return [
            r[0]
            for r in self.db.execute(
                "SELECT id FROM posts WHERE community_id=? AND id >= ? AND id < ? LIMIT 2",
                (community_id, prefix, prefix + "\x7f"),
            )
        ]

    def edit_post(self, post_id: str, author: bytes, text: str, segment: int) -> None:
        """Latest edit wins: a later segment of the single writer is later in time."""
        self.touch(author)
        row = self.db.execute(
            "SELECT rowid, edit_segment, deleted FROM posts WHERE id=? AND author=?",
            (post_id, author),
        ).fetchone()
        if row is None:
            self._remember_edit(post_id, author, text, segment)
            return
        if row[1] > segment:
            return
        rowid, _, deleted = row
        self.db.execute(
            "UPDATE posts SET text=?, edited=1, edit_segment=? WHERE rowid=?",
            (text, segment, rowid),
        )
        if not deleted:
            self.search_index.reindex(rowid)

    def _remember_edit(self, post_id: str, author: bytes, text: str, segment: int) -> None:
        """An edit whose post (in an earlier segment) has not arrived yet; the latest wins."""
        self.db.execute(
            "INSERT INTO pending_updates (post_id, author, text, text_segment) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (post_id, author) DO UPDATE SET text=excluded.text, "
            "text_segment=excluded.text_segment WHERE excluded.text_segment >= text_segment",
            (post_id, author, text, segment),
        )

    def _remember_delete(self, post_id: str, author: bytes) -> None:
        """A deletion whose post has not arrived yet; deletion is final."""
        self.db.execute(
            "INSERT INTO pending_updates (post_id, author, deleted) VALUES (?, ?, 1) "
            "ON CONFLICT (post_id, author) DO UPDATE SET deleted=1",
            (post_id, author),
        )

    def delete_post(self, post_id: str, author: bytes, segment: int) -> None:
        self.touch(author)
        row = self.db.execute(
            "SELECT rowid, deleted FROM posts WHERE id=? AND author=?", (post_id, author)
        ).fetchone()
        if row is None:
            self._remember_delete(post_id, author)
            return
        if row[1]:
            return
        self.db.execute("UPDATE posts SET deleted=1 WHERE rowid=?", (row[0],))
        if row[0] <= self.search_index.indexed_upto():
            self.search_index.unindex([row[0]])

    def set_reaction(
        self, post_id: str, reactor: bytes, emoji: str, on: bool, segment: int
    ) -> None:
        """A later segment of the reactor wins; an earlier one arriving late changes nothing."""
        held = self.db.execute(
            "SELECT segment FROM reactions WHERE post_id=? AND reactor=? AND emoji=?",
            (post_id, reactor, emoji),
        ).fetchone()
        if held is None or held[0] <= segment:
            self.db.execute(
                "INSERT OR REPLACE INTO reactions VALUES (?, ?, ?, ?, ?)",
                (post_id, reactor, emoji, segment, int(on)),
            )

    def reactions(self, post_ids: Sequence[str]) -> dict[str, dict[str, list[bytes]]]:
        result: dict[str, dict[str, list[bytes]]] = {}
        if not post_ids:
            return result
        marks = ",".join("?" * len(post_ids))
        for post_id, reactor, emoji in self.db.execute(
            f"SELECT post_id, reactor, emoji FROM reactions WHERE post_id IN ({marks}) "
            "AND active=1 ORDER BY post_id, emoji, reactor",
            tuple(post_ids),
        ):
            result.setdefault(post_id, {}).setdefault(emoji, []).append(bytes(reactor))
        return result

    def timeline(
        self,
        community_id: bytes,
        channel_id: bytes,
        limit: int,
        hidden_authors: Sequence[bytes] = (),
        before: tuple[int, str] | None = None,
        visibility: Visibility = Visibility(),
    ) -> list[PostRow]:
        """The newest `limit` visible posts of a channel older than `before`, oldest first."""
        marks = ",".join("?" * len(hidden_authors))
        exclude = f"AND author NOT IN ({marks})" if hidden_authors else ""
        page = "AND (author_ms, id) < (?, ?)" if before else ""
        moderated, moderated_args = visibility.sql()
        rows = self.db.execute(
            f"SELECT {_POST_COLUMNS} FROM posts WHERE community_id=? AND channel_id=? "
            f"AND deleted=0 {exclude} {page}{moderated} ORDER BY author_ms DESC, id DESC LIMIT ?",
            (community_id, channel_id, *hidden_authors, *(before or ()), *moderated_args, limit),
        ).fetchall()
        return [_post(r) for r in reversed(rows)]

    def visible(self, rows: Sequence[PostRow], visibility: Visibility) -> list[PostRow]:
        """`rows` minus what `visibility` hides (for reads not done by timeline)."""
        if not rows or (not visibility.hidden and not visibility.timeouts):
            return list(rows)
        moderated, args = visibility.sql()
        marks = ",".join("?" * len(rows))
        keep = {
            r[0]
            for r in self.db.execute(
                f"SELECT id FROM posts WHERE id IN ({marks}){moderated}",
                (*[r.id for r in rows], *args),
            )
        }
        return [r for r in rows if r.id in keep]

    def clear_member_rows(self, community_id: bytes, member: bytes) -> None:
        """Drop every read-model row a member's documents produced, to rebuild them."""
        self.touch(member)
        self.db.execute(
            "DELETE FROM reactions WHERE reactor=? AND post_id IN "
            "(SELECT id FROM posts WHERE community_id=?)",
            (member, community_id),
        )
        rowids = self.db.execute(
            "SELECT rowid FROM posts WHERE community_id=? AND author=?", (community_id, member)
        ).fetchall()
        self.search_index.unindex(r for (r,) in rowids)
        self.db.execute(
            "DELETE FROM posts WHERE community_id=? AND author=?", (community_id, member)
        )
        self.db.execute("DELETE FROM pending_updates WHERE author=?", (member,))
        for table in ("profiles", "addrs"):
            self.db.execute(
                f"DELETE FROM {table} WHERE community_id=? AND member=?", (community_id, member)
            )
        self.db.execute(
            "DELETE FROM reports WHERE community_id=? AND reporter=?", (community_id, member)
        )

    def replies(self, post_id: str) -> list[PostRow]:
        rows = self.db.execute(
            f"SELECT {_POST_COLUMNS} FROM posts WHERE reply_to=? AND deleted=0 "
            "ORDER BY author_ms, id LIMIT 1000",
            (post_id,),
        ).fetchall()
        return [_post(r) for r in rows]

    def reply_counts(self, post_ids: Sequence[str]) -> dict[str, int]:
        if not post_ids:
            return {}
        marks = ",".join("?" * len(post_ids))
        return dict(
            self.db.execute(
                f"SELECT reply_to, COUNT(*) FROM posts WHERE reply_to IN ({marks}) AND deleted=0 "
                "GROUP BY reply_to",
                tuple(post_ids),
            ).fetchall()
        )

    def mark_read(self, community_id: bytes, channel_id: bytes, now_ms: int) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO read_markers VALUES (?, ?, ?)",
                (community_id, channel_id, now_ms),
            )

    def unread_counts(
        self,
        community_id: bytes,
        me: bytes,
        blocked: Sequence[bytes] = (),
        visibility: Visibility = Visibility(),
    ) -> dict[bytes, tuple[int, int]]:
        """channel -> (unread, unread mentioning `me`): posts by others this member can
        see (not blocked, not hidden by moderation) first seen after the channel was
        last read. Local only. A mention is found as `me`'s 32 bytes inside the stored
        CBOR list of mentioned keys (no other field of that list is 32 bytes long)."""
        marks = ",".join("?" * len(blocked))
        exclude = f"AND p.author NOT IN ({marks}) " if blocked else ""
        moderated, moderated_args = visibility.sql(prefix="p.")
        return {
            bytes(channel): (count, mentions)
            for channel, count, mentions in self.db.execute(
                "SELECT p.channel_id, COUNT(*), SUM(instr(p.mentions, ?) > 0) "
                "FROM posts p LEFT JOIN read_markers m "
                "ON m.community_id = p.community_id AND m.channel_id = p.channel_id "
                "WHERE p.community_id=? AND p.deleted=0 AND p.author != ? "
                f"AND p.first_seen_ms > COALESCE(m.last_read_ms, 0) {exclude}{moderated} "
                "GROUP BY p.channel_id",
                (me, community_id, me, *blocked, *moderated_args),
            )
        }

    def search(self, community_id: bytes, query: str, limit: int = 50) -> list[PostRow]:
        self.search_index.index_pending()
        rows = self.db.execute(
            f"SELECT {', '.join('p.' + c.strip() for c in _POST_COLUMNS.split(','))} "
            "FROM posts_fts JOIN posts p ON p.rowid = posts_fts.rowid "
            "WHERE posts_fts MATCH ? AND p.community_id=? AND p.deleted=0 "
            "ORDER BY rank LIMIT ?",
            (query, community_id, limit),
        ).fetchall()
        return [_post(r) for r in rows]

    def set_profile(
        self, community_id: bytes, member: bytes, profile: dict[str, str], segment: int
    ) -> None:
        held = self.db.execute(
            "SELECT segment FROM profiles WHERE community_id=? AND member=?", (community_id, member)
        ).fetchone()
        if held is not None and held[0] > segment:
            return
        self.db.execute(
            "INSERT OR REPLACE INTO profiles VALUES (?, ?, ?, ?, ?)",
            (community_id, member, profile.get("name"), profile.get("bio"), segment),
        )

    def profiles(self, community_id: bytes) -> dict[bytes, tuple[str | None, str | None]]:
        return {
            bytes(m): (n, b)
            for m, n, b in self.db.execute(
                "SELECT member, name, bio FROM profiles WHERE community_id=?", (community_id,)
            )
        }

    def set_addrs(self, community_id: bytes, member: bytes, addrs: str, segment: int) -> None:
        held = self.db.execute(
            "SELECT segment FROM addrs WHERE community_id=? AND member=?", (community_id, member)
        ).fetchone()
        if held is None or held[0] <= segment:
            self.db.execute(
                "INSERT OR REPLACE INTO addrs VALUES (?, ?, ?, ?)",
                (community_id, member, addrs, segment),
            )

    def member_addrs(self, community_id: bytes) -> dict[bytes, str]:
        return {
            bytes(m): a
            for m, a in self.db.execute(
                "SELECT member, addrs FROM addrs WHERE community_id=?", (community_id,)
            )
        }
