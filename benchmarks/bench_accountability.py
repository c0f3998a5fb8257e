"""Cost of the moderation log and of the context notes a read needs (issue 16).

Run once from a checkout root: `python benchmarks/bench_accountability.py [--ops N]`.
The modlog is read off the fold's counted ops on every call (no table), so what
matters is one `modlog` on a log of N moderation ops, and the notes lookup that
every `read` does (cached per fold, so a read after no new op costs a dict).
"""

from __future__ import annotations

import argparse
import itertools
import sys
import tempfile
import time
from pathlib import Path

from nacl.signing import SigningKey

sys.path.insert(0, str(Path.cwd()))

from benchmarks.benchlib import bench
from p2pcommunity.sync.peerid import peer_id_from_public_key
from p2pcommunity.sync.service import Service
from p2pcommunity.sync.storage.store import Store


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ops", type=int, default=1000)
    n = parser.parse_args().ops
    ticks = itertools.count(1_700_000_000_000, 1000)
    with tempfile.TemporaryDirectory() as tmp:
        admin = Service(Store(Path(tmp) / "a.sqlite3"), SigningKey.generate(), lambda: next(ticks))
        cid = admin.community_create("Bench")["community_id"]
        other = SigningKey.generate()
        admin.member_add(cid, peer_id_from_public_key(bytes(other.verify_key)))
        post = admin.post(cid, "general", "a post")["post_id"]
        for i in range(n // 2):
            admin.governance.hide(cid, post, f"r{i}", rule="rule 1")
            admin.governance.unhide(cid, post)
        admin.accountability.note(cid, post, "context")
        start = time.perf_counter()
        entries = admin.accountability.modlog(cid, limit=100)["entries"]
        modlog_ms = (time.perf_counter() - start) * 1000
        assert len(entries) == 100
        admin.read(cid, "general")
        start = time.perf_counter()
        for _ in range(50):
            admin.read(cid, "general")
        read_ms = (time.perf_counter() - start) * 1000 / 50
        bench(f"modlog_{n}_ops", modlog_ms, "ms", floor=200)
        bench(f"read_with_notes_{n}_ops", read_ms, "ms", floor=20)


if __name__ == "__main__":
    main()
