"""A crash at any moment loses nothing reported as saved (ARCHITECTURE §5.8).

A child process writes posts in a loop and prints each post id right after
`post()` returned; the parent kills it with SIGKILL at random moments, then
reopens the store and checks that every reported post is there, that the
document chain reloads from SQLite intact, that SQLite is not corrupt, and
that writing goes on without equivocation.
"""

from __future__ import annotations

import os
import random
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from nacl.signing import SigningKey

from p2pcommunity.sync import community as community_module
from p2pcommunity.sync.community import Community
from p2pcommunity.sync.docs import memberdoc
from p2pcommunity.sync.docs.apply import SignedChange, verify_batch
from p2pcommunity.sync.docs.memberdoc import DocRef
from p2pcommunity.sync.service import Service
from p2pcommunity.sync.storage.store import Store

ROOT = Path(__file__).resolve().parents[2]

_CHILD = """
import itertools, sys, time
from pathlib import Path
from nacl.signing import SigningKey
from p2pcommunity.sync.docs import memberdoc
memberdoc.SEGMENT_MAX_CHANGES = int(sys.argv[3])
from p2pcommunity.sync import community as community_module
community_module.SEGMENT_MAX_CHANGES = memberdoc.SEGMENT_MAX_CHANGES
from p2pcommunity.sync.service import Service
from p2pcommunity.sync.storage.store import Store

store = Store(Path(sys.argv[1]))
service = Service(store, SigningKey(bytes.fromhex(sys.argv[2])), lambda: time.time_ns() // 10**6)
ref = store.community_ids()[0].hex()
print("ready", flush=True)
for i in itertools.count():
    post_id = service.post(ref, "general", f"post {i} " + "x" * (i % 300))["post_id"]
    print(post_id, flush=True)
"""

SEGMENT = 40  # small segments, so that kills also land around rollovers


def _segments(store: Store, community: Community, owner: bytes) -> list[DocRef]:
    return [DocRef(community.id, owner, row.segment) for row in store.docs_of(community.id, owner)]


def _check_chain(store: Store, community: Community, owner: bytes) -> int:
    """Reload every segment from SQLite alone and verify its signed chain; returns posts."""
    total = 0
    for ref in _segments(store, community, owner):
        community.forget(ref.doc_id)
        row = store.doc(ref.doc_id)
        assert row is not None
        stored = store.changes_after(ref.doc_id, 0)
        assert [seq for seq, *_ in stored] == list(range(1, row.max_seq + 1))
        batch = verify_batch(
            ref, [SignedChange(data, sig) for _, _, data, sig in stored], 0, lambda seq: None
        )
        assert len(batch.changes) == row.max_seq
        segment = community.segment(ref)
        assert segment.journal_length() == row.max_seq == row.journal_pos
        total += segment.journal_length()
    return total


def _run_child(
    data: Path, key: SigningKey, deadline: float, rng: random.Random
) -> tuple[list[str], int]:
    """Start a writer, kill it at a random moment; returns the ids it reported saved."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(data), bytes(key).hex(), str(SEGMENT)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=ROOT,
    )
    reported: list[str] = []
    try:
        assert child.stdout is not None
        fd = child.stdout.fileno()
        buffer = b""
        ready = False
        kill_at: float | None = None
        while True:
            now = time.monotonic()
            if kill_at is not None and now >= kill_at:
                break
            if now > deadline:
                break
            readable, _, _ = select.select([fd], [], [], 0.005)
            if not readable:
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                raise AssertionError(f"writer died: {child.stderr.read()!r}")  # type: ignore[union-attr]
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            for line in lines:
                if line == b"ready":
                    ready = True
                    kill_at = time.monotonic() + rng.uniform(0.2, 1.2)
                else:
                    reported.append(line.decode())
        assert ready, "the writer never started"
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=10)
        # Lines the child wrote before it died were reported as saved too.
        rest = os.read(fd, 1 << 20)
        while rest:
            buffer += rest
            rest = os.read(fd, 1 << 20)
        reported.extend(line.decode() for line in buffer.split(b"\n")[:-1])
        return reported, child.returncode
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(timeout=10)
        for stream in (child.stdout, child.stderr):
            if stream is not None:
                stream.close()


def test_killed_writer_loses_nothing_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(memberdoc, "SEGMENT_MAX_CHANGES", SEGMENT)
    monkeypatch.setattr(community_module, "SEGMENT_MAX_CHANGES", SEGMENT)
    rng = random.Random(os.urandom(8))
    key = SigningKey.generate()
    me = bytes(key.verify_key)
    path = tmp_path / "store.sqlite3"
    store = Store(path)
    service = Service(store, key, lambda: time.time_ns() // 10**6)
    community_ref = service.community_create("crash")["community_id"]
    service.close()
    store.close()

    deadline = time.monotonic() + 15
    saved: list[str] = []
    for _ in range(3):
        reported, returncode = _run_child(path, key, deadline, rng)
        assert returncode == -signal.SIGKILL
        saved.extend(reported)

        store = Store(path)
        try:
            service = Service(store, key, lambda: time.time_ns() // 10**6)
            community = service.community(community_ref)
            ids = {r[0] for r in store.db.execute("SELECT id FROM posts WHERE author=?", (me,))}
            missing = [post_id for post_id in saved if post_id not in ids]
            assert not missing, f"{len(missing)} posts reported saved were lost"
            assert store.db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
            assert _check_chain(store, community, me) == len(ids)
        finally:
            store.close()
    assert saved, "no post was ever reported saved"

    # Writing continues: the next seq follows the last stored one, no equivocation.
    store = Store(path)
    try:
        service = Service(store, key, lambda: time.time_ns() // 10**6)
        community = service.community(community_ref)
        before = store.docs_of(community.id, me)[-1]
        post_id = service.post(community_ref, "general", "after the crashes")["post_id"]
        after = store.docs_of(community.id, me)[-1]
        if after.segment == before.segment:
            assert after.max_seq == before.max_seq + 1
        else:
            assert (after.segment, after.max_seq) == (before.segment + 1, 1)
        newest = service.read(community_ref, "general", 1)["posts"]
        assert [p["id"] for p in newest] == [post_id]
        total = store.db.execute("SELECT COUNT(*) FROM posts").fetchone()[0]
        assert _check_chain(store, community, me) == total
        assert total >= len(saved) + 1
        assert store.db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    finally:
        store.close()
