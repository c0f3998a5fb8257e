"""SQLite: the only module of sync/ that touches disk.

One file per data dir, WAL with synchronous=NORMAL (survives a killed
process; ARCHITECTURE §5.8), schema version in PRAGMA user_version as a
(major, minor) pair: migrations.py brings an older store up to date and a
newer major is refused, as qutebrowser's sql.py does. Every applied batch is
one transaction, committed before anything reports it as saved.

A full disk, another program's lock and a damaged file are the
environment's fault, not bugs: `environment_error` turns SQLite's errors
into `StoreUnavailable`s that say what was lost and what to do. A damaged
store is never repaired or recreated here; the user decides.

Replicated columns (ids, authors, texts, reactions, author times) are what
every peer with the same changes computes; local columns (first_seen_ms,
blocked) are this device's alone and are never synced.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

from p2pcommunity.sync.errors import (
    DatabaseLocked,
    DiskFull,
    StoreCorrupt,
    StoreIOError,
    StoreUnavailable,
)
from p2pcommunity.sync.storage import migrations
from p2pcommunity.sync.storage.blob_store import BLOB_SCHEMA, BlobStore
from p2pcommunity.sync.storage.knowledge_tables import KNOWLEDGE_SCHEMA, KnowledgeTables
from p2pcommunity.sync.storage.page_tables import PAGE_SCHEMA, PageTables
from p2pcommunity.sync.storage.personal_tables import PERSONAL_SCHEMA, PersonalTables
from p2pcommunity.sync.storage.read_model import (
    READ_MODEL_SCHEMA,
    PostRow,
    ReadModel,
    Visibility,
)
from p2pcommunity.sync.storage.safety_tables import SAFETY_SCHEMA, SafetyTables
from p2pcommunity.sync.storage.topic_stats import TOPIC_STATS_SCHEMA, TopicPage, create_triggers

SCHEMA_VERSION = migrations.CURRENT

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value BLOB);
CREATE TABLE schema_history (
    version INTEGER PRIMARY KEY,
    applied_ms INTEGER NOT NULL,
    how TEXT NOT NULL
);
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
CREATE TABLE reports (
    community_id BLOB NOT NULL,
    reporter BLOB NOT NULL,
    report_id TEXT NOT NULL,
    body BLOB NOT NULL,
    PRIMARY KEY (community_id, reporter, report_id)
) WITHOUT ROWID;
CREATE TABLE blocked (peer BLOB PRIMARY KEY);
CREATE TABLE known_peers (
    peer BLOB PRIMARY KEY,
    addrs TEXT NOT NULL,
    last_seen_ms INTEGER NOT NULL
);
"""
"""Today's DDL of the replicated and local tables (the read model's is in tables.py).
A change here needs its step in migrations.py: test_migrations compares the two."""

# SQLite's primary result codes (the low byte of `sqlite_errorcode`).
_SQLITE_PERM, _SQLITE_BUSY, _SQLITE_LOCKED, _SQLITE_READONLY = 3, 5, 6, 8
_SQLITE_IOERR, _SQLITE_CORRUPT, _SQLITE_FULL, _SQLITE_CANTOPEN = 10, 11, 13, 14
_SQLITE_NOTADB = 26


def environment_error(
    exc: BaseException, path: Path | str | None = None, lost: str = "Nothing was changed."
) -> StoreUnavailable | None:
    """The error to report for a failure of the store's file or disk, or None for
    anything else (a bug: let it be one).

    `lost` says what the failure cost; the default fits a read or a
    statement that SQLite rolled back by itself.
    """
    if not isinstance(exc, sqlite3.Error):
        return None
    code = getattr(exc, "sqlite_errorcode", None)
    primary = -1 if code is None else code & 0xFF
    where = str(path) if path is not None else "the store"
    if primary == _SQLITE_FULL:
        return DiskFull(
            f"the disk holding {where} is full. {lost} Everything saved before is intact. "
            "Free some disk space, then try again."
        )
    if primary in (_SQLITE_BUSY, _SQLITE_LOCKED):
        return DatabaseLocked(
            f"{where} is locked by another program writing to it. {lost} Nothing was lost. "
            "Close that program (a database browser, a backup tool), then try again."
        )
    if primary in (_SQLITE_CORRUPT, _SQLITE_NOTADB):
        return StoreCorrupt(
            f"{where} is damaged ({exc}). {lost} p2pcommunity will not repair, overwrite or "
            "recreate it. Stop the node and keep a copy of the file; `sqlite3 FILE .recover` "
            "may rescue most of it. A new data dir gets each community back from its "
            "members when you join again; what this device had not synced to anyone is "
            "only in the damaged file."
        )
    if primary in (_SQLITE_IOERR, _SQLITE_CANTOPEN, _SQLITE_READONLY, _SQLITE_PERM):
        return StoreIOError(
            f"cannot read or write {where} ({exc}). {lost} Check the disk and that the "
            "file and its directory are writable by you, then try again."
        )
    return None


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


class Store:
    def __init__(self, path: Path, busy_timeout: float = 5.0) -> None:
        """Open (or make) the store at `path`, bringing an older schema up to date.

        `busy_timeout`: how long a write waits for another program's lock
        before failing with `DatabaseLocked`.
        """
        self.path = path
        # Every command resolves its community among these (a query per post
        # otherwise); only add_community and delete_community change them.
        self._community_ids: tuple[bytes, ...] | None = None
        try:
            self.db = sqlite3.connect(
                path, isolation_level=None, check_same_thread=False, timeout=busy_timeout
            )
        except sqlite3.Error as exc:
            self._raise_failure(exc, "Nothing was changed.")
        try:
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            # A post dirties ~7 pages (its change, docs, posts and two indexes, one
            # keyed by a random id), so SQLite's default of a checkpoint per 1,000
            # WAL pages came every ~140 posts, and its fsyncs cost ~45 µs a post
            # here; per 4,000 pages (a WAL of up to 16 MB) ~33 µs. Commits are not
            # fsynced either way: what survives a killed process is unchanged.
            self.db.execute("PRAGMA wal_autocheckpoint=4000")
            self.db.execute("PRAGMA foreign_keys=ON")
            self.read_model = ReadModel(self.db, self.transaction)
            self.knowledge = KnowledgeTables(self.db)
            self.topics = TopicPage(self.db)
            self.pages = PageTables(self.db)
            self.blobs = BlobStore(self.db, self.transaction, path)  # issue 15
            self.safety = SafetyTables(self.db, self.read_model)
            self.personal = PersonalTables(self.db)  # issue 16, local only
            self._open_schema()
        except BaseException as exc:
            self.db.close()
            if isinstance(exc, sqlite3.Error):
                self._raise_failure(exc, "Nothing was changed.")
            raise

    def _open_schema(self) -> None:
        raw = self.db.execute("PRAGMA user_version").fetchone()[0]
        if raw == 0 or migrations.pending(self._stored_version(raw)):
            with self.transaction() as db:
                # Again under the write lock: another process may have got here first.
                raw = db.execute("PRAGMA user_version").fetchone()[0]
                now_ms = time.time_ns() // 1_000_000
                if raw == 0:
                    self._create(db, now_ms)
                else:
                    migrations.migrate(db, self._stored_version(raw), now_ms)

    def _stored_version(self, raw: int) -> migrations.Version:
        try:
            stored = migrations.decode(raw)
        except ValueError:
            raise StoreCorrupt(
                f"{self.path} has schema version {raw}, which no p2pcommunity release wrote: "
                "it is damaged or not a p2pcommunity store. Nothing was changed."
            ) from None
        migrations.check_openable(stored, self.path)
        return stored

    def _create(self, db: sqlite3.Connection, now_ms: int) -> None:
        if db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
            # A version of 0 with tables in it: a foreign file, or one whose header was
            # damaged. Making our schema over it would hide the damage.
            raise StoreCorrupt(
                f"{self.path} holds tables but no p2pcommunity schema version: it is damaged "
                "or not a p2pcommunity store. Nothing was changed; p2pcommunity will not "
                "overwrite it. Move it aside to start a new store there."
            )
        schema = _SCHEMA + READ_MODEL_SCHEMA + KNOWLEDGE_SCHEMA + TOPIC_STATS_SCHEMA + ";"
        schema += PAGE_SCHEMA + BLOB_SCHEMA + SAFETY_SCHEMA + PERSONAL_SCHEMA
        from p2pcommunity.sync.storage.page_tables import PAGE_SIZES_SCHEMA  # 1.8 (issue 14)

        schema += PAGE_SIZES_SCHEMA
        for statement in schema.split(";"):
            if statement.strip():
                db.execute(statement)
        create_triggers(db)
        migrations.stamp_fresh(db, now_ms)

    def schema_version(self) -> migrations.Version:
        return migrations.decode(self.db.execute("PRAGMA user_version").fetchone()[0])

    def _raise_failure(self, exc: sqlite3.Error, lost: str) -> NoReturn:
        """Raise what `exc` means for the user, or `exc` itself when it is a bug."""
        failure = environment_error(exc, self.path, lost)
        if failure is None:
            raise exc
        raise failure from exc

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; a failure of the file or disk inside it rolls it back
        and becomes a `StoreUnavailable` that says nothing of it was saved."""
        if self.db.in_transaction:  # nested: the outer transaction decides
            yield self.db
            return
        try:
            self.db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            self._raise_failure(exc, "Nothing was changed.")
        try:
            yield self.db
            self.db.execute("COMMIT")
        except BaseException as exc:
            if self.db.in_transaction:  # a failed COMMIT leaves it open, too
                # SQLite may have rolled back by itself (it does on some full-disk errors).
                with suppress(sqlite3.Error):
                    self.db.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):
                self._raise_failure(exc, "This change was not saved.")
            raise

    # -- meta ------------------------------------------------------------------

    def get_meta(self, key: str) -> bytes | None:
        row = self.db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return None if row is None else bytes(row[0])

    def set_meta(self, key: str, value: bytes) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    # -- communities and ops ---------------------------------------------------

    def add_community(self, community_id: bytes, joined_ms: int) -> None:
        self._community_ids = None
        self.db.execute(
            "INSERT OR IGNORE INTO communities VALUES (?, ?)", (community_id, joined_ms)
        )

    def community_ids(self) -> list[bytes]:
        ids = self._community_ids
        if ids is None:
            ids = tuple(
                r[0] for r in self.db.execute("SELECT id FROM communities ORDER BY joined_ms, id")
            )
            if not self.db.in_transaction:  # keep only what is committed: no rollback can undo it
                self._community_ids = ids
        return list(ids)

    def delete_community(self, community_id: bytes) -> None:
        self._community_ids = None
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
            for table in ("posts", "profiles", "addrs", "ops", "reports"):
                db.execute(f"DELETE FROM {table} WHERE community_id=?", (community_id,))
            db.execute("DELETE FROM docs WHERE community_id=?", (community_id,))
            self.pages.delete_community(community_id)
            db.execute("DELETE FROM communities WHERE id=?", (community_id,))

    def insert_op(self, community_id: bytes, op_hash: bytes, data: bytes, signature: bytes) -> None:
        self._insert_or_ignore("ops", (community_id, op_hash, data, signature))

    def ops(self, community_id: bytes) -> list[tuple[bytes, bytes]]:
        """(data, signature) in insertion order, which is causal: parents first."""
        return self._blob_pairs(
            "SELECT data, signature FROM ops WHERE community_id=? ORDER BY rowid", community_id
        )

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
        # Callers insert verified chains in seq order, so the last seq is the highest.
        self.db.execute("UPDATE docs SET max_seq=? WHERE doc_id=?", (changes[-1][0], doc_id))

    def insert_local_change(
        self,
        doc_id: bytes,
        seq: int,
        change_hash: bytes,
        data: bytes,
        signature: bytes,
        journal_pos: int,
    ) -> None:
        """A change of our own, with the journal position its read-model rows reach:
        the hot path of posting, so one UPDATE of docs instead of two."""
        self.db.execute(
            "INSERT INTO changes VALUES (?, ?, ?, ?, ?)",
            (doc_id, seq, change_hash, data, signature),
        )
        self.db.execute(
            "UPDATE docs SET max_seq=?, journal_pos=? WHERE doc_id=?", (seq, journal_pos, doc_id)
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

    def remember_peer(self, peer: bytes, addrs: Sequence[str], now_ms: int) -> None:
        """Last-known addresses of a peer we synced with: tried again after a restart."""
        with self.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO known_peers VALUES (?, ?, ?)",
                (peer, "\n".join(addrs), now_ms),
            )

    def recently_seen_peers(self, since_ms: int) -> dict[bytes, list[str]]:
        return {
            bytes(p): a.split("\n")
            for p, a in self.db.execute(
                "SELECT peer, addrs FROM known_peers WHERE last_seen_ms >= ?", (since_ms,)
            )
            if a
        }

    def add_report(self, community_id: bytes, reporter: bytes, report_id: str, body: bytes) -> None:
        """A sealed report as it arrived in the reporter's document (only moderators open it)."""
        self._insert_or_ignore("reports", (community_id, reporter, report_id, body))

    def reports(self, community_id: bytes) -> list[tuple[bytes, bytes]]:
        """(reporter, sealed body) of every report held for the community."""
        return self._blob_pairs(
            "SELECT reporter, body FROM reports WHERE community_id=?", community_id
        )

    def _blob_pairs(self, sql: str, community_id: bytes) -> list[tuple[bytes, bytes]]:
        return [(bytes(a), bytes(b)) for a, b in self.db.execute(sql, (community_id,))]

    def _insert_or_ignore(self, table: str, row: tuple[object, ...]) -> None:
        """A row that is its own identity (an op, a report): a copy already held is not an error."""
        marks = ", ".join("?" * len(row))
        self.db.execute(f"INSERT OR IGNORE INTO {table} VALUES ({marks})", row)

    def known_peers(self) -> dict[bytes, list[str]]:
        return {
            bytes(p): a.split("\n")
            for p, a in self.db.execute("SELECT peer, addrs FROM known_peers")
            if a
        }

    # -- local-only state ------------------------------------------------------

    def block(self, peer: bytes) -> None:
        self.db.execute("INSERT OR IGNORE INTO blocked VALUES (?)", (peer,))

    def unblock(self, peer: bytes) -> None:
        self.db.execute("DELETE FROM blocked WHERE peer=?", (peer,))

    def blocked(self) -> list[bytes]:
        return [bytes(r[0]) for r in self.db.execute("SELECT peer FROM blocked ORDER BY peer")]


__all__ = [
    "SCHEMA_VERSION",
    "DocRow",
    "PostRow",
    "Store",
    "Visibility",
    "environment_error",
]
