"""Join time: an invite code pasted -> the first page of #general readable.

Over loopback libp2p with real nodes in one process: the admin's community
holds `--posts` posts by a few members; the joiner's node is already running
(as the app's would be) and is handed only the invite code. The floor is the
same sync without the network: verifying and applying the same ops and
changes into a fresh store. Goal: join_s <= 2 s (Quiet reports 7-20 s).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import trio

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from p2pcommunity.datadir import now_ms
from p2pcommunity.joining import join
from p2pcommunity.sync.docs.apply import SignedChange
from p2pcommunity.sync.docs.memberdoc import DocRef
from p2pcommunity.sync.service import Service
from p2pcommunity.sync.storage.store import Store
from tests.net.harness import cluster


def floor_apply(admin: Service, cid: bytes, directory: Path) -> float:
    """Verify and apply the admin's whole community into a fresh store, no network."""
    from nacl.signing import SigningKey

    source = admin.community(cid.hex())
    ops = source.log.ops_in_order()
    batches = []
    for row in admin.store.docs_of(cid):
        items = [SignedChange(d, s) for _, _, d, s in admin.store.changes_after(row.doc_id, 0)]
        batches.append((DocRef(cid, row.owner, row.segment), items))
    store = Store(directory / "floor.sqlite3")
    try:
        fresh = Service(store, SigningKey.generate(), now_ms)
        started = time.perf_counter()
        community = fresh.take_up(cid)
        community.receive_ops(ops)
        for ref, items in batches:
            for start in range(0, len(items), 1000):
                community.receive_changes(ref, items[start : start + 1000], now_ms())
        fresh.read(cid.hex(), "general", 50)
        return time.perf_counter() - started
    finally:
        store.close()


async def measure(posts: int, runs: int) -> tuple[list[float], float]:
    times: list[float] = []
    async with cluster(2 + runs) as nodes:
        admin, member, joiners = nodes[0], nodes[1], nodes[2:]
        cid = admin.create_community([member])
        admin.service.governance.rules_set(cid.hex(), "Be kind.")
        member.service.node_support.take_up(cid)
        await member.connect(admin, cid)
        for i in range(posts):
            admin.post(cid, f"post number {i}: some words about gardening")
        for joiner in joiners:
            code = admin.service.governance.invite_create(cid.hex(), addrs=admin.addrs)["invite"]
            started = time.perf_counter()
            await join(joiner.node, code, [], 30.0)
            page = joiner.service.read(cid.hex(), "general", 50)["posts"]
            times.append(time.perf_counter() - started)
            assert len(page) == min(50, posts), len(page)
        with tempfile.TemporaryDirectory() as tmp:
            floor = floor_apply(admin.service, cid, Path(tmp))
    return times, floor


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--posts", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    times, floor = trio.run(measure, args.posts, args.runs)
    print(f"  join times: {', '.join(f'{t:.3f}' for t in times)} s ({args.posts} posts)")
    print(f"BENCH join_s {sorted(times)[len(times) // 2]:.3f} s floor={floor:.3f}")


if __name__ == "__main__":
    main()
