"""An always-on node under load: 20 communities, 100 connected peers, N seconds of posts.

All 101 nodes are in-process libp2p hosts on loopback (tests/net/harness.py)
in one trio loop, so the CPU and RSS figures are the whole process's: the
server plus the 100 peers. Each peer is a member of one community (5 per
community) and holds one session, with the server only; every post a peer
makes reaches the other four members of its community through the server.

    BENCH node_cpu_s            CPU seconds (user+sys) during the traffic window
    BENCH node_peak_rss_mb      peak RSS of the process
    BENCH node_changes_relayed_per_s  changes the server forwarded that peers applied, per second
"""

from __future__ import annotations

import argparse
import contextlib
import random
import resource
import sys
import time
from pathlib import Path

import trio

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.net.harness import HarnessNode, cluster, wait_until


def _changes_applied(node: HarnessNode) -> float:
    value = node.node.metrics.registry.get_sample_value("p2pcommunity_changes_applied_total")
    return value or 0.0


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def run(communities: int, peers: int, seconds: float, rate: float) -> None:
    setup_started = time.perf_counter()
    async with cluster(1 + peers) as nodes:
        server, members = nodes[0], nodes[1:]
        groups: list[list[HarnessNode]] = [[] for _ in range(communities)]
        for i, member in enumerate(members):
            groups[i % communities].append(member)
        cids = [server.create_community(group, name=f"c{i}") for i, group in enumerate(groups)]
        for cid, group in zip(cids, groups, strict=True):
            for member in group:
                await member.connect(server, cid)
        print(
            f"  setup: {communities} communities, {len(server.host.connected_peers())} peers "
            f"connected, {len(server.node.runners)} sessions in {time.perf_counter() - setup_started:.1f} s"
        )
        rng = random.Random(1)
        before_peers = sum(_changes_applied(m) for m in members)
        before_server = _changes_applied(server)
        cpu0, wall0 = _cpu(), time.perf_counter()
        posts = 0
        deadline = trio.current_time() + seconds
        interval = 1.0 / rate
        next_at = trio.current_time()
        while trio.current_time() < deadline:
            index = rng.randrange(len(members))
            member = members[index]
            member.post(cids[index % communities], f"load {posts}")
            posts += 1
            next_at += interval
            await trio.sleep(max(0.0, next_at - trio.current_time()))
        # Let the last posts land (bounded), then measure.
        expected = (len(members) // communities - 1) * posts
        with contextlib.suppress(trio.TooSlowError):
            await wait_until(
                lambda: sum(_changes_applied(m) for m in members) - before_peers >= expected,
                timeout=30,
            )
        wall = time.perf_counter() - wall0
        cpu = _cpu() - cpu0
        relayed = sum(_changes_applied(m) for m in members) - before_peers
        received = _changes_applied(server) - before_server
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            f"  {posts} posts in {seconds:g} s ({posts / seconds:.1f}/s offered); server applied "
            f"{received:.0f}; peers applied {relayed:.0f} of {expected} relayed changes; "
            f"window {wall:.1f} s"
        )
        print(f"BENCH node_cpu_s {cpu:.1f} s window={wall:.1f}s processes=1 (server+{peers} peers)")
        print(f"BENCH node_peak_rss_mb {peak_mb:.0f} MB")
        print(
            f"BENCH node_changes_relayed_per_s {relayed / wall:.1f} changes/s "
            f"delivered={relayed:.0f}/{expected}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--communities", type=int, default=20)
    parser.add_argument("--peers", type=int, default=100)
    parser.add_argument("--rate", type=float, default=20.0, help="posts per second, all peers")
    args = parser.parse_args()
    trio.run(run, args.communities, args.peers, args.seconds, args.rate)


if __name__ == "__main__":
    main()
