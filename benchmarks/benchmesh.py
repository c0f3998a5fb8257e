"""Meshes of harness nodes for bench_sync.py's propagation and sustained figures.

`random_mesh` draws a seeded connected graph of degree <= MAX_DEGREE,
`community_on_mesh` puts one community on it, and `Tracker` stamps when each
post's change reached every node.
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import trio

from tests.net.harness import HarnessNode

MAX_DEGREE = 6


def random_mesh(n: int, rnd: random.Random, target_degree: int = 3) -> list[tuple[int, int]]:
    """A connected graph: a random tree, then random edges up to `target_degree` (<= 6)."""
    degree = [0] * n
    edges: set[tuple[int, int]] = set()

    def add(a: int, b: int) -> None:
        edges.add((min(a, b), max(a, b)))
        degree[a] += 1
        degree[b] += 1

    for i in range(1, n):
        choices = [j for j in range(i) if degree[j] < MAX_DEGREE]
        add(i, rnd.choice(choices))
    for i in rnd.sample(range(n), n):
        while degree[i] < target_degree:
            choices = [
                j
                for j in range(n)
                if j != i and degree[j] < MAX_DEGREE and (min(i, j), max(i, j)) not in edges
            ]
            if not choices:
                break
            add(i, rnd.choice(choices))
    assert max(degree) <= MAX_DEGREE
    return sorted(edges)


def diameter(n: int, edges: Sequence[tuple[int, int]]) -> int:
    neighbours: dict[int, list[int]] = {i: [] for i in range(n)}
    for a, b in edges:
        neighbours[a].append(b)
        neighbours[b].append(a)
    longest = 0
    for start in range(n):
        seen = {start: 0}
        frontier = [start]
        while frontier:
            nxt = []
            for u in frontier:
                for v in neighbours[u]:
                    if v not in seen:
                        seen[v] = seen[u] + 1
                        nxt.append(v)
            frontier = nxt
        assert len(seen) == n, "not connected"
        longest = max(longest, max(seen.values()))
    return longest


async def community_on_mesh(nodes: list[HarnessNode], edges: Sequence[tuple[int, int]]) -> bytes:
    """Node 0 owns a community of everyone; the log is copied in, then every edge syncs."""
    cid = nodes[0].create_community(members=nodes[1:])
    ops = list(nodes[0].community(cid).log.ops_in_order())
    for node in nodes[1:]:
        node.community(cid).receive_ops(ops)
    with trio.fail_after(120):
        async with trio.open_nursery() as nursery:
            for a, b in edges:
                nursery.start_soon(lambda a=a, b=b: nodes[b].connect(nodes[a], cid))
    return cid


@dataclass
class Tracker:
    """When each post's change reached each node, from the nodes' change notifications.

    O(new changes) per notification: per node, the seq seen so far of each
    document; per post, the number of nodes still missing it.
    """

    nodes: list[HarnessNode]
    cid: bytes
    # (author key, segment, seq) -> [post time, number of nodes still missing it]
    pending: dict[tuple[bytes, int, int], list[Any]] = field(default_factory=dict)
    seen: list[dict[tuple[bytes, int], int]] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    done: trio.Event = field(default_factory=trio.Event)

    def install(self) -> None:
        self.seen = [{} for _ in self.nodes]
        for index, h in enumerate(self.nodes):
            h.node.notify = lambda method, params, index=index: self.changed(index, method)

    def post(self, index: int, text: str) -> tuple[bytes, int, int]:
        h = self.nodes[index]
        # Registered before posting: `Service.post` notifies synchronously.
        ref = h.community(self.cid).current_ref(h.pk)
        row = h.store.doc(ref.doc_id)
        key = (h.pk, ref.segment, (row.max_seq if row is not None else 0) + 1)
        self.done = trio.Event()
        self.pending[key] = [time.perf_counter(), len(self.nodes)]
        h.service.post(self.cid.hex(), "general", text)
        row = h.store.doc(ref.doc_id)
        assert row is not None and row.max_seq == key[2], "the post went elsewhere"
        return key

    def changed(self, index: int, method: str) -> None:
        if method != "community_changed" or not self.pending:
            return
        seen = self.seen[index]
        now = time.perf_counter()
        for row in self.nodes[index].store.docs_of(self.cid):
            doc = (row.owner, row.segment)
            for seq in range(seen.get(doc, 0) + 1, row.max_seq + 1):
                entry = self.pending.get((row.owner, row.segment, seq))
                if entry is not None:
                    entry[1] -= 1
                    if entry[1] == 0:
                        self.latencies.append(now - entry[0])
                        del self.pending[(row.owner, row.segment, seq)]
            seen[doc] = max(seen.get(doc, 0), row.max_seq)
        if not self.pending:
            self.done.set()
