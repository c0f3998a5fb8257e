"""SQLite tables of wiki pages (issue 14): their signed changes and a derived row each.

`page_changes` is replicated data (what peers send and we serve), one row per
(page, actor, seq), in arrival order (`rowid`), which is a causal order: a
change is stored only once its deps are. `pages` is derived (text, updated
time, a snapshot to open a long page quickly) and can be rebuilt from the
changes. `page_sizes` (1.8) is derived too: the characters each change added
and removed against its deps (page_diff.py), kept once measured; a row of a
change later cut is never read again (the history lists stored changes).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

PAGE_SCHEMA = """
CREATE TABLE page_changes (
    page_id BLOB NOT NULL,
    community_id BLOB NOT NULL,
    actor BLOB NOT NULL,
    seq INTEGER NOT NULL,
    hash BLOB NOT NULL,
    data BLOB NOT NULL,
    signature BLOB NOT NULL,
    PRIMARY KEY (page_id, actor, seq)
);
CREATE INDEX page_changes_hash ON page_changes (page_id, hash);
CREATE TABLE pages (
    page_id BLOB PRIMARY KEY,
    community_id BLOB NOT NULL,
    text TEXT NOT NULL,
    updated_ms INTEGER NOT NULL,
    snapshot BLOB,
    snapshot_changes INTEGER NOT NULL DEFAULT 0,
    heads BLOB
);
"""

PAGE_SIZES_SCHEMA = """
CREATE TABLE page_sizes (
    page_id BLOB NOT NULL,
    hash BLOB NOT NULL,
    community_id BLOB NOT NULL,
    added INTEGER NOT NULL,
    removed INTEGER NOT NULL,
    PRIMARY KEY (page_id, hash)
) WITHOUT ROWID;
"""

ChangeRow = tuple[bytes, int, bytes, bytes, bytes]  # actor, seq, hash, data, signature


_UPSERT_PAGE = (
    "INSERT INTO pages (page_id, community_id, text, updated_ms, heads) VALUES (?, ?, ?, ?, ?) "
    "ON CONFLICT (page_id) DO UPDATE SET text=excluded.text, updated_ms=excluded.updated_ms, "
    "heads=excluded.heads"
)


class PageTables:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def max_seqs(self, page_id: bytes) -> dict[bytes, int]:
        rows = self.db.execute(
            "SELECT actor, max(seq) FROM page_changes WHERE page_id=? GROUP BY actor", (page_id,)
        )
        return {bytes(a): s for a, s in rows}

    def hash_at(self, page_id: bytes, actor: bytes, seq: int) -> bytes | None:
        row = self.db.execute(
            "SELECT hash FROM page_changes WHERE page_id=? AND actor=? AND seq=?",
            (page_id, actor, seq),
        ).fetchone()
        return None if row is None else bytes(row[0])

    def has_hash(self, page_id: bytes, change_hash: bytes) -> bool:
        return (
            self.db.execute(
                "SELECT 1 FROM page_changes WHERE page_id=? AND hash=?", (page_id, change_hash)
            ).fetchone()
            is not None
        )

    def insert(self, page_id: bytes, community_id: bytes, rows: Sequence[ChangeRow]) -> None:
        self.db.executemany(
            "INSERT INTO page_changes VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(page_id, community_id, a, s, h, d, g) for a, s, h, d, g in rows],
        )

    def changes(self, page_id: bytes, after: int = 0) -> list[ChangeRow]:
        """The page's changes in arrival (causal) order, skipping the first `after`."""
        rows = self.db.execute(
            "SELECT actor, seq, hash, data, signature FROM page_changes WHERE page_id=? "
            "ORDER BY rowid LIMIT -1 OFFSET ?",
            (page_id, after),
        )
        return [(bytes(a), s, bytes(h), bytes(d), bytes(g)) for a, s, h, d, g in rows]

    def changes_beyond(self, page_id: bytes, known: dict[bytes, int]) -> list[ChangeRow]:
        """The page's changes a peer that holds `known` ({actor: seq}) lacks, in arrival
        (causal) order: O(what it lacks), where `changes` reads the whole history."""
        found: list[tuple[int, ChangeRow]] = []
        for actor, top in self.max_seqs(page_id).items():
            if top <= known.get(actor, 0):
                continue
            rows = self.db.execute(
                "SELECT rowid, seq, hash, data, signature FROM page_changes "
                "WHERE page_id=? AND actor=? AND seq>?",
                (page_id, actor, known.get(actor, 0)),
            )
            found.extend((r, (actor, s, bytes(h), bytes(d), bytes(g))) for r, s, h, d, g in rows)
        found.sort(key=lambda item: item[0])
        return [row for _, row in found]

    def held_change(self, page_id: bytes, change_hash: bytes) -> tuple[bytes, int] | None:
        """(actor, seq) of a change we hold, by its hash."""
        row = self.db.execute(
            "SELECT actor, seq FROM page_changes WHERE page_id=? AND hash=?",
            (page_id, change_hash),
        ).fetchone()
        return None if row is None else (bytes(row[0]), int(row[1]))

    def count(self, page_id: bytes) -> int:
        row = self.db.execute(
            "SELECT count(*) FROM page_changes WHERE page_id=?", (page_id,)
        ).fetchone()
        return int(row[0])

    def cut(self, page_id: bytes, actor: bytes, keep_seq: int) -> int:
        """Drop `actor`'s changes beyond `keep_seq`; how many went."""
        cursor = self.db.execute(
            "DELETE FROM page_changes WHERE page_id=? AND actor=? AND seq>?",
            (page_id, actor, keep_seq),
        )
        return cursor.rowcount

    def set_row(
        self,
        page_id: bytes,
        community_id: bytes,
        text: str,
        updated_ms: int,
        heads: Sequence[bytes],
    ) -> None:
        """The page's text and heads after the changes just stored (32 bytes a head)."""
        row = (page_id, community_id, text, updated_ms, b"".join(sorted(heads)))
        self.db.execute(_UPSERT_PAGE, row)

    def shown(self, page_id: bytes) -> tuple[str, list[bytes]] | None:
        """(text, heads) as stored; None for a row written before 1.7 kept heads."""
        got = self.db.execute(
            "SELECT text, heads FROM pages WHERE page_id=?", (page_id,)
        ).fetchone()
        if got is None or got[1] is None:
            return None
        raw = bytes(got[1])
        return got[0], [raw[i : i + 32] for i in range(0, len(raw), 32)]

    def row(self, page_id: bytes) -> tuple[str, int, bytes | None, int] | None:
        got = self.db.execute(
            "SELECT text, updated_ms, snapshot, snapshot_changes FROM pages WHERE page_id=?",
            (page_id,),
        ).fetchone()
        if got is None:
            return None
        snapshot = None if got[2] is None else bytes(got[2])
        return got[0], got[1], snapshot, got[3]

    def set_snapshot(self, page_id: bytes, snapshot: bytes | None, changes: int) -> None:
        self.db.execute(
            "UPDATE pages SET snapshot=?, snapshot_changes=? WHERE page_id=?",
            (snapshot, changes, page_id),
        )

    def updated(self, community_id: bytes) -> dict[bytes, int]:
        rows = self.db.execute(
            "SELECT page_id, updated_ms FROM pages WHERE community_id=?", (community_id,)
        )
        return {bytes(p): ms for p, ms in rows}

    def sizes(self, page_id: bytes) -> dict[bytes, tuple[int, int]]:
        """Change hash -> (added, removed) characters, for the changes measured so far."""
        rows = self.db.execute(
            "SELECT hash, added, removed FROM page_sizes WHERE page_id=?", (page_id,)
        )
        return {bytes(h): (a, r) for h, a, r in rows}

    def set_sizes(
        self, page_id: bytes, community_id: bytes, rows: Sequence[tuple[bytes, int, int]]
    ) -> None:
        self.db.executemany(
            "INSERT OR IGNORE INTO page_sizes VALUES (?, ?, ?, ?, ?)",
            [(page_id, h, community_id, a, r) for h, a, r in rows],
        )

    def delete_community(self, community_id: bytes) -> None:
        self.db.execute("DELETE FROM page_sizes WHERE community_id=?", (community_id,))
        self.db.execute("DELETE FROM page_changes WHERE community_id=?", (community_id,))
        self.db.execute("DELETE FROM pages WHERE community_id=?", (community_id,))
