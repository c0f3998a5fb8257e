"""Local write and open/read benchmarks (ARCHITECTURE §4), each next to a floor.

    python benchmarks/bench_local.py                 # full run, a few minutes
    python benchmarks/bench_local.py --posts 2000 --authors 10 --per-author 200

1. posts/s: one member writes `--posts` posts through `Service.post` (sign +
   Automerge + SQLite + read model) into a fresh store, segment rollover
   included. The floor does the least the same work needs, on the same
   document sizes: sign the change, a raw Automerge transaction with the
   layout of `SegmentDoc.write_post` (one map put of a CBOR value + one
   journal insert, a new document every SEGMENT_MAX_CHANGES changes), a raw
   SQLite insert of the change bytes (one commit per post, WAL,
   synchronous=NORMAL). The two run interleaved in chunks so that both see
   the same machine noise.
2. open + read: a store holding `--authors` x `--per-author` posts, built by
   applying each author's signed changes with `Community.receive_changes`
   (the real read models); a fresh process then times `Store(path)` +
   `Service(...)` + `read(community, "general", 50)`. Floor: a raw sqlite3
   connect + the same SELECT.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from automerge.core import ROOT, Document, ObjType, ScalarType
from nacl.signing import SigningKey

from p2pcommunity.sync.crypto import CHANGE_TAG, canonical_cbor, sign
from p2pcommunity.sync.docs import memberdoc
from p2pcommunity.sync.docs.apply import SignedChange
from p2pcommunity.sync.docs.memberdoc import DocRef, PostRecord, SegmentDoc, new_local_id
from p2pcommunity.sync.peerid import peer_id_from_public_key
from p2pcommunity.sync.service import Service
from p2pcommunity.sync.storage.store import Store

START_MS = 1_700_000_000_000
CHUNK = 500


def _text(i: int) -> str:
    return f"post number {i}: the quick brown fox jumps over the lazy dog"


# -- 1. posts per second ------------------------------------------------------


class RawWriter:
    """The floor: raw sign + raw Automerge + raw SQLite, same bytes and document sizes."""

    def __init__(self, path: Path, key: SigningKey, community_id: bytes, channel_id: bytes):
        self.key = key
        self.owner = bytes(key.verify_key)
        self.community_id = community_id
        self.channel_id = channel_id
        self.db = sqlite3.connect(path, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute(
            "CREATE TABLE changes (doc_id BLOB NOT NULL, seq INTEGER NOT NULL, hash BLOB NOT NULL,"
            " data BLOB NOT NULL, signature BLOB NOT NULL, PRIMARY KEY (doc_id, seq))"
            " WITHOUT ROWID"
        )
        self.segment = -1
        self.count = 0
        self._roll()

    def _roll(self) -> None:
        self.segment += 1
        self.doc_id = memberdoc.segment_doc_id(self.community_id, self.owner, self.segment)
        self.doc = Document(actor_id=self.owner)
        self.posts_obj: bytes | None = None
        self.journal: bytes | None = None
        self.journal_len = 0
        self.in_segment = 0

    def post(self, text: str, ms: int) -> None:
        if self.in_segment >= memberdoc.SEGMENT_MAX_CHANGES:
            self._roll()
        local_id = new_local_id()
        body = canonical_cbor({"ch": self.channel_id, "text": text, "re": None, "mn": [], "ms": ms})
        with self.doc.transaction() as tx:
            if self.journal is None:  # the first change creates the maps, as write_post does
                tx.put(ROOT, "schema", ScalarType.Uint, memberdoc.SCHEMA_VERSION)
                for key in memberdoc._MAPS:
                    obj = tx.put_object(ROOT, key, ObjType.Map)
                    if key == memberdoc.POSTS:
                        self.posts_obj = obj
                self.journal = tx.put_object(ROOT, memberdoc.JOURNAL, ObjType.List)
            tx.put(self.posts_obj, local_id, ScalarType.Bytes, body)
            tx.insert(self.journal, self.journal_len, ScalarType.Str, f"p:{local_id}")
        self.journal_len += 1
        change = self.doc.get_last_local_change()
        signature = sign(self.key, CHANGE_TAG, self.doc_id, change.hash)
        self.db.execute("BEGIN IMMEDIATE")
        self.db.execute(
            "INSERT INTO changes VALUES (?, ?, ?, ?, ?)",
            (self.doc_id, change.seq, change.hash, change.raw_bytes, signature),
        )
        self.db.execute("COMMIT")
        self.in_segment += 1
        self.count += 1


def bench_posts(n: int, tmp: Path) -> dict[str, float]:
    key = SigningKey.generate()
    clock = itertools.count(START_MS)
    store = Store(tmp / "posts.sqlite3")
    service = Service(store, key, lambda: next(clock))
    community_ref = service.community_create("bench")["community_id"]
    community = service.community(community_ref)
    channel_id = Service.channel_id(community.state, "general")
    raw = RawWriter(tmp / "floor.sqlite3", key, community.id, channel_id)
    raw_clock = itertools.count(START_MS)

    ours_s = floor_s = 0.0
    done = 0
    windows = []
    while done < n:
        size = min(CHUNK, n - done)
        t0 = time.perf_counter()
        for i in range(done, done + size):
            service.post(community_ref, "general", _text(i))
        t1 = time.perf_counter()
        for i in range(done, done + size):
            raw.post(_text(i), next(raw_clock))
        t2 = time.perf_counter()
        ours_s += t1 - t0
        floor_s += t2 - t1
        windows.append((done + size, size / (t1 - t0), size / (t2 - t1)))
        done += size
    service.close()
    assert store.db.execute("SELECT COUNT(*) FROM posts").fetchone()[0] == n
    store.close()
    raw.db.close()
    step = max(1, len(windows) // 8)
    for upto, ours, floor in windows[step - 1 :: step]:
        print(f"  after {upto:6d} posts: {ours:7.0f} posts/s  floor {floor:7.0f} posts/s")
    return {"posts_per_s": n / ours_s, "floor": n / floor_s}


# -- 2. open a big store and read the newest page ------------------------------


def build_store(path: Path, authors: int, per_author: int, batch: int) -> None:
    owner_key = SigningKey.generate()
    clock = itertools.count(START_MS)
    store = Store(path)
    service = Service(store, owner_key, lambda: next(clock))
    community_ref = service.community_create("big")["community_id"]
    keys = [SigningKey.generate() for _ in range(authors)]
    for key in keys:
        service.member_add(community_ref, peer_id_from_public_key(bytes(key.verify_key)))
    community = service.community(community_ref)
    channel_id = Service.channel_id(community.state, "general")

    make_s = apply_s = 0.0
    for a, key in enumerate(keys):
        owner = bytes(key.verify_key)
        # The author's own device: real SegmentDoc writes, real signatures.
        t0 = time.perf_counter()
        segments: list[tuple[DocRef, list[SignedChange]]] = []
        for i in range(per_author):
            if i % memberdoc.SEGMENT_MAX_CHANGES == 0:
                ref = DocRef(community.id, owner, len(segments))
                doc = SegmentDoc.new(ref)
                segments.append((ref, []))
            # Authors interleave in time, as a busy channel does.
            record = PostRecord(
                new_local_id(), channel_id, _text(i), None, (), START_MS + i * authors + a
            )
            change = doc.write_post(record)
            segments[-1][1].append(
                SignedChange(change.raw_bytes, sign(key, CHANGE_TAG, ref.doc_id, change.hash))
            )
        t1 = time.perf_counter()
        for ref, items in segments:
            for start in range(0, len(items), batch):
                community.receive_changes(ref, items[start : start + batch], next(clock))
        apply_s += time.perf_counter() - t1
        make_s += t1 - t0
    service.close()
    store.close()
    total = authors * per_author
    print(
        f"  built {total} posts by {authors} authors: authoring {make_s:.1f} s, "
        f"receive_changes {apply_s:.1f} s ({total / apply_s:.0f} changes/s applied)"
    )


_OPEN_READ = """
import json, sys, time
t0 = time.perf_counter()
from nacl.signing import SigningKey
from p2pcommunity.sync.service import Service
from p2pcommunity.sync.storage.store import Store
t1 = time.perf_counter()
store = Store(__import__("pathlib").Path(sys.argv[1]))
service = Service(store, SigningKey.generate(), lambda: 0)
ref = store.community_ids()[0].hex()
posts = service.read(ref, "general", 50)["posts"]
t2 = time.perf_counter()
assert len(posts) == 50, len(posts)
print(json.dumps({"import_s": t1 - t0, "open_read_s": t2 - t1, "newest": posts[-1]["text"]}))
"""

_FLOOR = """
import json, sqlite3, sys, time
t0 = time.perf_counter()
db = sqlite3.connect(sys.argv[1])
community_id, channel_id = db.execute(
    "SELECT community_id, channel_id FROM posts LIMIT 1").fetchone()
rows = db.execute(
    "SELECT id, community_id, channel_id, author, local_id, segment, text, reply_to, mentions, "
    "author_ms, edited, deleted, first_seen_ms FROM posts WHERE community_id=? AND channel_id=? "
    "AND deleted=0 ORDER BY author_ms DESC, id DESC LIMIT 50", (community_id, channel_id)).fetchall()
t1 = time.perf_counter()
assert len(rows) == 50
print(json.dumps({"open_read_s": t1 - t0}))
"""


def _run(snippet: str, path: Path) -> dict[str, float]:
    root = str(Path(__file__).resolve().parent.parent)
    env = dict(os.environ, PYTHONPATH=root)
    out = subprocess.run(
        [sys.executable, "-c", snippet, str(path)],
        check=True,
        capture_output=True,
        text=True,
        env=env,
        cwd=root,
    )
    result: dict[str, float] = json.loads(out.stdout)
    return result


def bench_open_read(
    tmp: Path, authors: int, per_author: int, batch: int, runs: int
) -> dict[str, float]:
    path = tmp / "big.sqlite3"
    build_store(path, authors, per_author, batch)
    ours = [_run(_OPEN_READ, path) for _ in range(runs)]
    floors = [_run(_FLOOR, path) for _ in range(runs)]
    best = min(ours, key=lambda r: r["open_read_s"])
    return {
        "open_read_s": best["open_read_s"],
        "import_s": min(r["import_s"] for r in ours),
        "floor": min(r["open_read_s"] for r in floors),
        "size_mb": path.stat().st_size / 1e6,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=20_000)
    parser.add_argument("--authors", type=int, default=50)
    parser.add_argument("--per-author", type=int, default=2_000)
    parser.add_argument("--batch", type=int, default=500, help="changes per receive batch")
    parser.add_argument("--runs", type=int, default=5, help="fresh processes per open timing")
    parser.add_argument("--skip-posts", action="store_true")
    parser.add_argument("--skip-open", action="store_true")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="p2pc-bench-") as name:
        tmp = Path(name)
        if not args.skip_posts:
            print(f"posts/s: {args.posts} posts by one member through Service.post")
            posts = bench_posts(args.posts, tmp)
            ratio = posts["posts_per_s"] / posts["floor"]
            print(f"  {ratio:.0%} of the floor")
            print(
                f"BENCH posts_per_s {posts['posts_per_s']:.0f} posts/s floor={posts['floor']:.0f}"
            )
        if not args.skip_open:
            total = args.authors * args.per_author
            print(f"open+read: {total} posts by {args.authors} authors")
            opened = bench_open_read(tmp, args.authors, args.per_author, args.batch, args.runs)
            print(
                f"  store {opened['size_mb']:.0f} MB; imports {opened['import_s']:.3f} s "
                "(not counted)"
            )
            print(f"BENCH open_read_s {opened['open_read_s']:.3f} s floor={opened['floor']:.3f}")


if __name__ == "__main__":
    main()
