"""SQLite: the only module of sync/ that touches disk.

One file per data dir, WAL with synchronous=NORMAL (survives a killed
process; ARCHITECTURE §5.8), schema version in PRAGMA user_version (refuse a
newer major version, as qutebrowser's sql.py does). Every applied batch is
one transaction, committed before anything reports it as saved.

Replicated columns (ids, authors, texts, reactions, author times) are what
every peer with the same changes computes; local columns (first_seen_ms,
blocked) are this device's alone and are never synced.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from p2pcommunity.sync.errors import DomainError

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value BLOB);
CREATE TABLE communities (
    id BLOB PRIMARY KEY,
    joined_ms INTEGER NOT NULL
);
CREATE TABLE ops (
    community_id BLOB NOT NULL,
    hash BLOB NOT NULL,
    data BLOB NOT NULL,
    signature BLOB NOT NULL,
    PRIMARY KEY (community_id, hash)
);
CREATE TABLE docs (
    doc_id BLOB PRIMARY KEY,
    community_id BLOB NOT NULL,
    owner BLOB NOT NULL,
    segment INTEGER NOT NULL,
    max_seq INTEGER NOT NULL DEFAULT 0,
    journal_pos INTEGER NOT NULL DEFAULT 0,
    snapshot BLOB,
    snapshot_seq INTEGER NOT NULL DEFAULT 0,
    UNIQUE (community_id, owner, segment)
);
CREATE TABLE changes (
    doc_id BLOB NOT NULL,
    seq INTEGER NOT NULL,
    hash BLOB NOT NULL,
    data BLOB NOT NULL,
    signature BLOB NOT NULL,
    PRIMARY KEY (doc_id, seq)
) WITHOUT ROWID;
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
    first_seen_ms INTEGER NOT NULL
);
CREATE INDEX posts_timeline ON posts (community_id, channel_id, deleted, author_ms, id);
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
    deleted INTEGER NOT NULL DEFAULT 0,
    segment INTEGER NOT NULL,
    PRIMARY KEY (post_id, author)
) WITHOUT ROWID;
CREATE TABLE blocked (peer BLOB PRIMARY KEY);
CREATE VIRTUAL TABLE posts_fts USING fts5 (text);
"""


class StoreError(DomainError):
    code = "invalid"


@dataclass(frozen=True)
class DocRow:
    doc_id: bytes
    community_id: bytes
    owner: bytes
    segment: int
    max_seq: int
    journal_pos: int
    snapshot: bytes | None
    snapshot_seq: int


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


_POST_COLUMNS = (
    "id, community_id, channel_id, author, local_id, segment, text, reply_to, mentions, "
    "author_ms, edited, deleted, first_seen_ms"
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
    )


class Store:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("PRAGMA foreign_keys=ON")
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        if version == 0:
            with self.transaction():
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        self.db.execute(statement)
                self.db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        elif version > SCHEMA_VERSION:
            self.db.close()
            raise StoreError(
                f"{path} was written by a newer p2pcommunity (schema {version}); upgrade to open it"
            )

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        if self.db.in_transaction:  # nested: the outer transaction decides
            yield self.db
            return
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # -- meta ------------------------------------------------------------------

    def get_meta(self, key: str) -> bytes | None:
        row = self.db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return None if row is None else bytes(row[0])

    def set_meta(self, key: str, value: bytes) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    # -- communities and ops ---------------------------------------------------

    def add_community(self, community_id: bytes, joined_ms: int) -> None:
        self.db.execute(
            "INSERT OR IGNORE INTO communities VALUES (?, ?)", (community_id, joined_ms)
        )

    def community_ids(self) -> list[bytes]:
        return [r[0] for r in self.db.execute("SELECT id FROM communities ORDER BY joined_ms, id")]

    def delete_community(self, community_id: bytes) -> None:
        with self.transaction() as db:
            post_rowids = db.execute(
                "SELECT rowid FROM posts WHERE community_id=?", (community_id,)
            ).fetchall()
            db.executemany("DELETE FROM posts_fts WHERE rowid=?", post_rowids)
            db.execute(
                "DELETE FROM reactions WHERE post_id IN (SELECT id FROM posts WHERE community_id=?)",
                (community_id,),
            )
            db.execute(
                "DELETE FROM changes WHERE doc_id IN (SELECT doc_id FROM docs WHERE community_id=?)",
                (community_id,),
            )
            db.execute(
                "DELETE FROM pending_updates WHERE author IN "
                "(SELECT owner FROM docs WHERE community_id=?)",
                (community_id,),
            )
            for table in ("posts", "profiles", "addrs", "ops"):
                db.execute(f"DELETE FROM {table} WHERE community_id=?", (community_id,))
            db.execute("DELETE FROM docs WHERE community_id=?", (community_id,))
            db.execute("DELETE FROM communities WHERE id=?", (community_id,))

    def insert_op(self, community_id: bytes, op_hash: bytes, data: bytes, signature: bytes) -> None:
        self.db.execute(
            "INSERT OR IGNORE INTO ops VALUES (?, ?, ?, ?)",
            (community_id, op_hash, data, signature),
        )

    def ops(self, community_id: bytes) -> list[tuple[bytes, bytes]]:
        """(data, signature) in insertion order, which is causal: parents first."""
        return [
            (bytes(d), bytes(s))
            for d, s in self.db.execute(
                "SELECT data, signature FROM ops WHERE community_id=? ORDER BY rowid",
                (community_id,),
            )
        ]

    # -- documents and changes -------------------------------------------------

    def ensure_doc(self, doc_id: bytes, community_id: bytes, owner: bytes, segment: int) -> None:
        self.db.execute(
            "INSERT OR IGNORE INTO docs (doc_id, community_id, owner, segment) VALUES (?, ?, ?, ?)",
            (doc_id, community_id, owner, segment),
        )

    def doc(self, doc_id: bytes) -> DocRow | None:
        row = self.db.execute(
            "SELECT doc_id, community_id, owner, segment, max_seq, journal_pos, snapshot, "
            "snapshot_seq FROM docs WHERE doc_id=?",
            (doc_id,),
        ).fetchone()
        return None if row is None else DocRow(*row)

    def docs_of(self, community_id: bytes, owner: bytes | None = None) -> list[DocRow]:
        query = (
            "SELECT doc_id, community_id, owner, segment, max_seq, journal_pos, snapshot, "
            "snapshot_seq FROM docs WHERE community_id=?"
        )
        args: tuple[bytes, ...] = (community_id,)
        if owner is not None:
            query += " AND owner=?"
            args += (owner,)
        return [DocRow(*r) for r in self.db.execute(query + " ORDER BY owner, segment", args)]

    def change_hash(self, doc_id: bytes, seq: int) -> bytes | None:
        row = self.db.execute(
            "SELECT hash FROM changes WHERE doc_id=? AND seq=?", (doc_id, seq)
        ).fetchone()
        return None if row is None else bytes(row[0])

    def insert_changes(
        self, doc_id: bytes, changes: Sequence[tuple[int, bytes, bytes, bytes]]
    ) -> None:
        """(seq, hash, raw bytes, signature) rows; advances the doc's max_seq."""
        self.db.executemany(
            "INSERT INTO changes VALUES (?, ?, ?, ?, ?)",
            [(doc_id, seq, h, data, sig) for seq, h, data, sig in changes],
        )
        self.db.execute(
            "UPDATE docs SET max_seq=(SELECT MAX(seq) FROM changes WHERE doc_id=?) WHERE doc_id=?",
            (doc_id, doc_id),
        )

    def changes_after(
        self, doc_id: bytes, seq: int, limit: int = -1
    ) -> list[tuple[int, bytes, bytes, bytes]]:
        return [
            (s, bytes(h), bytes(d), bytes(g))
            for s, h, d, g in self.db.execute(
                "SELECT seq, hash, data, signature FROM changes WHERE doc_id=? AND seq>? "
                "ORDER BY seq LIMIT ?",
                (doc_id, seq, limit),
            )
        ]

    def set_journal_pos(self, doc_id: bytes, position: int) -> None:
        self.db.execute("UPDATE docs SET journal_pos=? WHERE doc_id=?", (position, doc_id))

    def set_snapshot(self, doc_id: bytes, snapshot: bytes, seq: int) -> None:
        self.db.execute(
            "UPDATE docs SET snapshot=?, snapshot_seq=? WHERE doc_id=?", (snapshot, seq, doc_id)
        )

    def truncate_doc(self, doc_id: bytes, keep_seq: int) -> None:
        """Drop changes after `keep_seq` (a removal's recorded heads); read models rebuild."""
        self.db.execute("DELETE FROM changes WHERE doc_id=? AND seq>?", (doc_id, keep_seq))
        self.db.execute(
            "UPDATE docs SET max_seq=?, journal_pos=0, snapshot=NULL, snapshot_seq=0 "
            "WHERE doc_id=?",
            (keep_seq, doc_id),
        )

    # -- read models -----------------------------------------------------------

    def upsert_post(self, row: PostRow) -> None:
        old = self.db.execute("SELECT rowid FROM posts WHERE id=?", (row.id,)).fetchone()
        if old is not None:
            return  # a post's original record never changes; edits go through set_post_text
        cursor = self.db.execute(
            f"INSERT INTO posts ({_POST_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
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
            ),
        )
        self.db.execute(
            "INSERT INTO posts_fts (rowid, text) VALUES (?, ?)", (cursor.lastrowid, row.text)
        )
        pending = self.db.execute(
            "SELECT text, deleted, segment FROM pending_updates WHERE post_id=? AND author=?",
            (row.id, row.author),
        ).fetchone()
        if pending is not None:
            self.db.execute(
                "DELETE FROM pending_updates WHERE post_id=? AND author=?", (row.id, row.author)
            )
            text, deleted, segment = pending
            if text is not None:
                self.edit_post(row.id, row.author, text, segment)
            if deleted:
                self.delete_post(row.id, row.author, segment)

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
        row = self.db.execute(
            "SELECT rowid, edit_segment, deleted FROM posts WHERE id=? AND author=?",
            (post_id, author),
        ).fetchone()
        if row is None:
            self._remember_update(post_id, author, text, False, segment)
            return
        if row[1] > segment:
            return
        rowid, _, deleted = row
        self.db.execute(
            "UPDATE posts SET text=?, edited=1, edit_segment=? WHERE rowid=?",
            (text, segment, rowid),
        )
        if not deleted:
            self.db.execute("DELETE FROM posts_fts WHERE rowid=?", (rowid,))
            self.db.execute("INSERT INTO posts_fts (rowid, text) VALUES (?, ?)", (rowid, text))

    def _remember_update(
        self, post_id: str, author: bytes, text: str | None, deleted: bool, segment: int
    ) -> None:
        """An edit or deletion whose post (in an earlier segment) has not arrived yet."""
        held = self.db.execute(
            "SELECT text, deleted, segment FROM pending_updates WHERE post_id=? AND author=?",
            (post_id, author),
        ).fetchone()
        if held is not None:
            held_text, held_deleted, held_segment = held
            if text is None or held_segment > segment:
                text = held_text
            deleted = deleted or bool(held_deleted)
            segment = max(segment, held_segment)
        self.db.execute(
            "INSERT OR REPLACE INTO pending_updates VALUES (?, ?, ?, ?, ?)",
            (post_id, author, text, int(deleted), segment),
        )

    def delete_post(self, post_id: str, author: bytes, segment: int) -> None:
        row = self.db.execute(
            "SELECT rowid, deleted FROM posts WHERE id=? AND author=?", (post_id, author)
        ).fetchone()
        if row is None:
            self._remember_update(post_id, author, None, True, segment)
            return
        if row[1]:
            return
        self.db.execute("UPDATE posts SET deleted=1 WHERE rowid=?", (row[0],))
        self.db.execute("DELETE FROM posts_fts WHERE rowid=?", (row[0],))

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
    ) -> list[PostRow]:
        """The newest `limit` visible posts of a channel, oldest first."""
        marks = ",".join("?" * len(hidden_authors))
        exclude = f"AND author NOT IN ({marks})" if hidden_authors else ""
        rows = self.db.execute(
            f"SELECT {_POST_COLUMNS} FROM posts WHERE community_id=? AND channel_id=? "
            f"AND deleted=0 {exclude} ORDER BY author_ms DESC, id DESC LIMIT ?",
            (community_id, channel_id, *hidden_authors, limit),
        ).fetchall()
        return [_post(r) for r in reversed(rows)]

    def search(self, community_id: bytes, query: str, limit: int = 50) -> list[PostRow]:
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

    # -- local-only state ------------------------------------------------------

    def block(self, peer: bytes) -> None:
        self.db.execute("INSERT OR IGNORE INTO blocked VALUES (?)", (peer,))

    def unblock(self, peer: bytes) -> None:
        self.db.execute("DELETE FROM blocked WHERE peer=?", (peer,))

    def blocked(self) -> list[bytes]:
        return [bytes(r[0]) for r in self.db.execute("SELECT peer FROM blocked ORDER BY peer")]
