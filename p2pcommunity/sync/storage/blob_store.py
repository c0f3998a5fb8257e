"""Blob chunks on disk, and the tables that say which blobs and posts hold them.

Chunk files live in a content-addressed tree inside the data dir,
`blobs/<last two letters of the CID>/<CID>`, one file per distinct chunk:
the same bytes attached twice, or shared by two files, are stored once.
Files are never held whole in memory: a chunk (256 KiB) at a time is
written or read. A write is crash-safe: a temp file in the same directory,
fsync, rename, fsync of the directory; so a chunk file that exists is
complete, and after a crash a transfer resumes from the files it finds
(each re-verified against its CID before it counts).

SQLite holds the metadata: `blobs` (one row per root CID: its manifest,
whether it is our own, when it was last used, whether every chunk is
here), `blob_chunks` (which chunk of which blob, and whether we have it)
and `post_attachments` (the refs posts carry, a read model derived from the
member documents by projection; a wiki page's files are there too, under
the holder id `page_holder(page id)`, refreshed with each page change). The tables' DDL is BLOB_SCHEMA; the
migration to 1.4 makes the same tables in an older store.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

from p2pcommunity.sync.blobs import cid as cids
from p2pcommunity.sync.blobs.manifest import Manifest, Ref

BLOB_SCHEMA = """
CREATE TABLE blobs (
    root BLOB PRIMARY KEY,
    manifest BLOB NOT NULL,
    size INTEGER NOT NULL,
    own INTEGER NOT NULL DEFAULT 0,
    last_used_ms INTEGER NOT NULL,
    complete INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE blob_chunks (
    root BLOB NOT NULL,
    idx INTEGER NOT NULL,
    cid BLOB NOT NULL,
    size INTEGER NOT NULL,
    have INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (root, idx)
) WITHOUT ROWID;
CREATE INDEX blob_chunks_cid ON blob_chunks (cid);
CREATE TABLE post_attachments (
    post_id TEXT NOT NULL,
    idx INTEGER NOT NULL,
    community_id BLOB NOT NULL,
    root BLOB NOT NULL,
    name TEXT NOT NULL,
    size INTEGER NOT NULL,
    mime TEXT NOT NULL,
    width INTEGER,
    height INTEGER,
    thumb BLOB,
    PRIMARY KEY (post_id, idx)
) WITHOUT ROWID;
CREATE INDEX post_attachments_root ON post_attachments (root);
"""

Transaction = Callable[[], AbstractContextManager[sqlite3.Connection]]
PAGE_HOLDER = "page:"  # post ids are 32 hex digits (post_id_for): never this prefix


def page_holder(page_id: bytes) -> str:
    """The `post_attachments.post_id` under which a wiki page's files are listed."""
    return PAGE_HOLDER + page_id.hex()


@dataclass(frozen=True)
class BlobRow:
    root: bytes
    manifest: bytes
    size: int
    own: bool
    last_used_ms: int
    complete: bool


class BlobStore:
    def __init__(self, db: sqlite3.Connection, transaction: Transaction, store_path: Path) -> None:
        self.db = db
        self.transaction = transaction
        self.root_dir = Path(store_path).parent / "blobs"

    # -- chunk files -------------------------------------------------------------

    def chunk_path(self, chunk: bytes) -> Path:
        text = cids.to_text(chunk)
        return self.root_dir / text[-2:] / text

    def write_chunk(self, chunk: bytes, data: bytes) -> None:
        """Store `data` as the file of `chunk` (the caller verified it): temp, fsync, rename."""
        path = self.chunk_path(chunk)
        if path.exists():
            return
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".part-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    def read_chunk(self, chunk: bytes) -> bytes | None:
        try:
            return self.chunk_path(chunk).read_bytes()
        except OSError:
            return None

    def verified_chunk(self, chunk: bytes) -> bytes | None:
        """The chunk's file if it holds what `chunk` names (a damaged file is removed)."""
        data = self.read_chunk(chunk)
        if data is None:
            return None
        if not cids.matches(chunk, data):
            with contextlib.suppress(OSError):
                self.chunk_path(chunk).unlink()
            return None
        return data

    def _remove_chunk_file(self, chunk: bytes) -> None:
        with contextlib.suppress(OSError):
            self.chunk_path(chunk).unlink()

    # -- blobs -------------------------------------------------------------------

    def add_blob(self, manifest: Manifest, own: bool, now_ms: int) -> None:
        """Record a blob and its chunk list (chunks not yet had), or mark an existing one."""
        root = manifest.ref.root
        with self.transaction() as db:
            db.execute(
                "INSERT INTO blobs (root, manifest, size, own, last_used_ms) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (root) DO UPDATE SET own = max(own, excluded.own),"
                " last_used_ms = excluded.last_used_ms",
                (root, manifest.raw, manifest.ref.size, int(own), now_ms),
            )
            db.executemany(
                "INSERT OR IGNORE INTO blob_chunks (root, idx, cid, size) VALUES (?, ?, ?, ?)",
                [(root, i, c, manifest.chunk_length(i)) for i, c in enumerate(manifest.chunks)],
            )

    def blob(self, root: bytes) -> BlobRow | None:
        row = self.db.execute(
            "SELECT root, manifest, size, own, last_used_ms, complete FROM blobs WHERE root = ?",
            (root,),
        ).fetchone()
        return (
            None
            if row is None
            else BlobRow(row[0], row[1], row[2], bool(row[3]), row[4], bool(row[5]))
        )

    def chunk_id(self, root: bytes, index: int) -> bytes | None:
        row = self.db.execute(
            "SELECT cid FROM blob_chunks WHERE root = ? AND idx = ? AND have = 1", (root, index)
        ).fetchone()
        return None if row is None else bytes(row[0])

    def missing(self, root: bytes) -> list[tuple[int, bytes]]:
        """(index, cid) of the chunks of `root` we do not have, in order."""
        return [
            (i, bytes(c))
            for i, c in self.db.execute(
                "SELECT idx, cid FROM blob_chunks WHERE root = ? AND have = 0 ORDER BY idx",
                (root,),
            )
        ]

    def mark_had(self, root: bytes, indexes: Sequence[int]) -> None:
        with self.transaction() as db:
            db.executemany(
                "UPDATE blob_chunks SET have = 1 WHERE root = ? AND idx = ?",
                [(root, i) for i in indexes],
            )
            left = db.execute(
                "SELECT count(*) FROM blob_chunks WHERE root = ? AND have = 0", (root,)
            ).fetchone()[0]
            if left == 0:
                db.execute("UPDATE blobs SET complete = 1 WHERE root = ?", (root,))

    def touch(self, root: bytes, now_ms: int) -> None:
        with self.transaction() as db:
            db.execute("UPDATE blobs SET last_used_ms = ? WHERE root = ?", (now_ms, root))

    def chunks_in_order(self, root: bytes) -> Iterator[bytes]:
        for (chunk,) in self.db.execute(
            "SELECT cid FROM blob_chunks WHERE root = ? ORDER BY idx", (root,)
        ).fetchall():
            yield bytes(chunk)

    def remove_blob(self, root: bytes) -> None:
        """Forget a blob and delete the chunk files no other blob holds."""
        with self.transaction() as db:
            chunks = [
                bytes(c)
                for (c,) in db.execute("SELECT cid FROM blob_chunks WHERE root = ?", (root,))
            ]
            db.execute("DELETE FROM blob_chunks WHERE root = ?", (root,))
            db.execute("DELETE FROM blobs WHERE root = ?", (root,))
            marks = ",".join("?" * len(chunks))
            kept = (
                {
                    bytes(c)
                    for (c,) in db.execute(
                        f"SELECT cid FROM blob_chunks WHERE cid IN ({marks})", chunks
                    )
                }
                if chunks
                else set()
            )
        for chunk in set(chunks) - kept:
            self._remove_chunk_file(chunk)

    def usage(self) -> tuple[int, int]:
        """(bytes of chunk files held, blobs known)."""
        used = self.db.execute(
            "SELECT coalesce(sum(size), 0) FROM"
            " (SELECT cid, max(size) AS size FROM blob_chunks WHERE have = 1 GROUP BY cid)"
        ).fetchone()[0]
        count = self.db.execute("SELECT count(*) FROM blobs").fetchone()[0]
        return int(used), int(count)

    def eviction_order(self) -> list[tuple[bytes, int]]:
        """(root, size) of others' blobs, least recently used first: what a quota may drop."""
        return [
            (bytes(r), s)
            for r, s in self.db.execute(
                "SELECT root, size FROM blobs WHERE own = 0 ORDER BY last_used_ms, root"
            )
        ]

    def roots(self) -> list[bytes]:
        return [bytes(r) for (r,) in self.db.execute("SELECT root FROM blobs")]

    # -- refs carried by posts (a read model) ------------------------------------

    def add_refs(self, community_id: bytes, post_id: str, refs: Sequence[Ref]) -> None:
        with self.transaction() as db:
            db.executemany(
                "INSERT OR REPLACE INTO post_attachments VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (post_id, i, community_id, r.root, r.name, r.size, r.mime, r.width, r.height,
                     r.thumb)
                    for i, r in enumerate(refs)
                ],
            )  # fmt: skip

    def replace_refs(self, community_id: bytes, holder: str, refs: Sequence[Ref]) -> None:
        """A holder's refs are now exactly `refs` (a page after each of its changes)."""
        with self.transaction() as db:
            db.execute("DELETE FROM post_attachments WHERE post_id = ?", (holder,))
        if refs:
            self.add_refs(community_id, holder, refs)

    def refs_of(self, post_ids: Sequence[str]) -> dict[str, list[Ref]]:
        out: dict[str, list[Ref]] = {}
        if not post_ids:
            return out
        marks = ",".join("?" * len(post_ids))
        for post_id, root, name, size, mime, w, h, th in self.db.execute(
            "SELECT post_id, root, name, size, mime, width, height, thumb FROM post_attachments"
            f" WHERE post_id IN ({marks}) ORDER BY post_id, idx",
            list(post_ids),
        ):
            out.setdefault(post_id, []).append(Ref(bytes(root), name, size, mime, w, h, th))
        return out

    def posts_with(self, community_id: bytes, root: bytes) -> list[tuple[str, Ref]]:
        """The posts of `community_id` that attach `root`, with their refs."""
        return [
            (p, Ref(bytes(r), n, s, m, w, h, t))
            for p, r, n, s, m, w, h, t in self.db.execute(
                "SELECT post_id, root, name, size, mime, width, height, thumb"
                " FROM post_attachments WHERE community_id = ? AND root = ?",
                (community_id, root),
            )
        ]

    def community_roots(self, community_id: bytes) -> list[bytes]:
        return [
            bytes(r)
            for (r,) in self.db.execute(
                "SELECT DISTINCT root FROM post_attachments WHERE community_id = ?",
                (community_id,),
            )
        ]

    def communities_of(self, root: bytes) -> list[bytes]:
        return [
            bytes(c)
            for (c,) in self.db.execute(
                "SELECT DISTINCT community_id FROM post_attachments WHERE root = ?", (root,)
            )
        ]

    def forget_community(self, community_id: bytes) -> None:
        with self.transaction() as db:
            db.execute("DELETE FROM post_attachments WHERE community_id = ?", (community_id,))
