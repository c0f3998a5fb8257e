"""Issue 14: a concurrent page edit reaches 5 nodes over loopback in <= 1 s p99.

Five real nodes (py-libp2p hosts on 127.0.0.1, Noise, Yamux) on a seeded
random connected mesh (benchmesh.py), one community, one page. Each round two
different nodes edit the page before either sees the other's change (two
places of one text); the latency of an edit is from its write to the moment
the last of the five nodes holds it, found by polling every node's page
changes every POLL_S (so figures carry up to that much of polling). The
floor is a post's propagation on the same mesh in the same run, what the
page path adds to the member-document path.

    PYTHONPATH=. python benchmarks/bench_page_mesh.py [--rounds N]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

import trio

sys.path.insert(0, str(Path.cwd()))

from benchmarks.benchlib import bench, percentile
from benchmarks.benchmesh import community_on_mesh, random_mesh
from tests.net.harness import HarnessNode, cluster, wait_all

NODES = 5
POLL_S = 0.002
ROUND_TIMEOUT_S = 30.0


def _count(node: HarnessNode, page: bytes) -> int:
    return node.store.pages.count(page)


async def _until_everywhere(nodes: list[HarnessNode], page: bytes, count: int) -> float:
    """Seconds (perf_counter) at which every node holds `count` changes of the page."""
    with trio.fail_after(ROUND_TIMEOUT_S):
        while not all(_count(n, page) >= count for n in nodes):
            await trio.sleep(POLL_S)
    return time.perf_counter()


async def _post_floor(nodes: list[HarnessNode], cid: bytes, rounds: int) -> float:
    """Median seconds for a post to reach every node (the member-document path)."""
    times = []
    for i in range(rounds):
        author = nodes[i % len(nodes)]
        post_id = author.service.post(cid.hex(), "general", f"floor {i}")["post_id"]
        start = time.perf_counter()
        with trio.fail_after(ROUND_TIMEOUT_S):
            while not all(n.store.read_model.post(post_id) is not None for n in nodes):
                await trio.sleep(POLL_S)
        times.append(time.perf_counter() - start)
    return percentile(times, 50)


async def main(args: argparse.Namespace) -> None:
    rnd = random.Random(args.seed)
    async with cluster(NODES) as nodes:
        cid = await community_on_mesh(nodes, random_mesh(NODES, rnd))
        ref = cid.hex()
        text = "".join(f"line {i}\n" for i in range(40))
        page_hex = nodes[0].service.pages.create(ref, "Guide", text)["page_id"]
        page = bytes.fromhex(page_hex)
        await wait_all(nodes, lambda n: _count(n, page) >= 1, ROUND_TIMEOUT_S)
        latencies: list[float] = []
        for r in range(args.rounds):
            a, b = rnd.sample(range(NODES), 2)
            held = _count(nodes[0], page)
            start = time.perf_counter()
            # Both write before the mesh can carry either change: concurrent edits.
            current = nodes[a].service.pages.show(ref, page_hex)["text"]
            nodes[a].service.pages.edit(ref, page_hex, text=f"A{r}\n" + current)
            nodes[b].service.pages.edit(ref, page_hex, append=f"B{r}\n")
            done = await _until_everywhere(nodes, page, held + 2)
            latencies.append(done - start)
        texts = {n.service.pages.show(ref, page_hex)["text"] for n in nodes}
        assert len(texts) == 1, "the nodes' page texts differ"
        floor = await _post_floor(nodes, cid, 20)
    bench(
        f"page_edit_reaches_{NODES}_nodes_p99",
        1000 * percentile(latencies, 99),
        "ms",
        1000 * floor,
    )
    bench(
        f"page_edit_reaches_{NODES}_nodes_p50",
        1000 * percentile(latencies, 50),
        "ms",
        1000 * floor,
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--seed", type=int, default=14)
    trio.run(main, parser.parse_args())
