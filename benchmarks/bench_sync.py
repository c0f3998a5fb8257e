"""Network sync benchmarks (ARCHITECTURE §4, §6), each next to a floor from the same run.

    python benchmarks/bench_sync.py             # full sizes
    python benchmarks/bench_sync.py --quick     # small sizes, ~1 minute
    python benchmarks/bench_sync.py --only cold --profile   # cProfile of the cold sync

Every node is a real node (`tests/net/harness.py`: libp2p TCP + Noise + Yamux
on 127.0.0.1, `Node`, `Service` over its own SQLite store), all in ONE
process and one `trio.run`: on this machine they share one GIL, so the
figures include every node's CPU, the sender's as much as the receivers'.

1. cold sync: an owner's store holds `--posts` posts by `--authors` members
   (each author writes with its own `Service`, then the owner takes the
   signed changes in with `Community.receive_changes`). A member added with
   `member_add`, with an empty store, takes the community up and opens one
   session to the owner: wall time until its session reports CaughtUp (all
   posts in its store, checked). Bytes on the wire: every byte of the sync
   stream in both directions at the frame level (length prefixes + CBOR
   frames), counted by wrapping the joiner's `PeerStream`; Noise and Yamux
   overhead not included. Floor: the same ops and signed changes, verified
   and applied into a fresh store with `Community.receive_ops` and
   `Community.receive_changes` (batches of 1000), no network, with the same
   parallelism as the node: a `SignatureWorker` process (started inside the
   timing, as the joiner's is) verifies the batches READ_AHEAD frames ahead
   of the one being applied, and the loop thread verifies slices of later
   ones while it waits (see `cold_floor`), so the ratio compares like with
   like. The owner's store is search-indexed before the clock starts, as a
   running owner's would be.
2. propagation: `--mesh-nodes` nodes in a seeded random connected mesh
   (degree <= 6), `--props` posts, one at a time, each from a random node:
   time from just before `Service.post` until the post's change is in every
   node's store (checked on each node's `community_changed` notification).
   Floor: the same frame bytes flooded over the same mesh on raw libp2p
   streams between the same hosts (each node forwards the first copy it sees
   to all its other neighbours), timed the same way, interleaved with the
   real posts so that both see the same noise.
3. sustained: `--sustained-nodes` nodes in a mesh, `--rate` posts/s from
   random nodes for `--sustained-seconds`, then up to `--drain` seconds for
   the rest to arrive: posts delivered to every node, latency p50/p99, RSS
   of this process at the start and at the end.

Each figure ends with one line `BENCH <name> <value> <unit> floor=<value>`.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import os
import pstats
import random
import sqlite3
import struct
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import trio
from benchlib import bench, percentile, rss_mb
from benchmesh import Tracker, community_on_mesh, diameter, random_mesh

from p2pcommunity.datadir import now_ms
from p2pcommunity.identity import DeviceIdentity
from p2pcommunity.net.framing import FrameReader, write_frame
from p2pcommunity.net.node import READ_AHEAD
from p2pcommunity.net.stream import DEFAULT_RECEIVE_SIZE, PeerStream
from p2pcommunity.net.verifier import SignatureWorker
from p2pcommunity.sync.community import Community
from p2pcommunity.sync.docs.apply import MAX_BATCH_CHANGES, SignedChange
from p2pcommunity.sync.docs.memberdoc import DocRef
from p2pcommunity.sync.log.community_log import SignedOp
from p2pcommunity.sync.protocol.frames import ChangesFrame, encode_frame
from p2pcommunity.sync.service import Service
from p2pcommunity.sync.storage.store import Store
from tests.net.harness import HarnessNode, cluster, wait_caught_up

FLOOD_PROTOCOL = "/p2pcommunity/bench-flood/1.0.0"


def text_of(i: int) -> str:
    return f"post number {i}: the quick brown fox jumps over the lazy dog"


# -- 1. cold sync ---------------------------------------------------------------


@dataclass
class Dataset:
    cid: bytes
    owner: DeviceIdentity
    owner_dir: Path  # holds store.sqlite3 with everything
    ops: list[SignedOp]
    docs: list[tuple[DocRef, list[SignedChange]]]
    posts: int


def build_dataset(directory: Path, posts: int, authors: int) -> Dataset:
    """The owner's store with `posts` posts by `authors` members (fast path, no network)."""
    started = time.perf_counter()
    owner = DeviceIdentity.generate()
    owner_dir = directory / "owner"
    owner_dir.mkdir()
    store = Store(owner_dir / "store.sqlite3")
    service = Service(store, owner.signing_key, now_ms)
    cid = bytes.fromhex(service.community_create("Bench")["community_id"])
    keys = [DeviceIdentity.generate() for _ in range(authors)]
    for key in keys:
        service.member_add(cid.hex(), key.peer_id)
    community = service.community(cid.hex())
    ops = list(community.log.ops_in_order())
    per_author = [posts // authors + (1 if i < posts % authors else 0) for i in range(authors)]
    docs: list[tuple[DocRef, list[SignedChange]]] = []
    n = 0
    for key, count in zip(keys, per_author, strict=True):
        with tempfile.TemporaryDirectory(dir=directory) as author_dir:
            author_store = Store(Path(author_dir) / "store.sqlite3")
            author = Service(author_store, key.signing_key, now_ms)
            author.take_up(cid).receive_ops(ops)
            for _ in range(count):
                author.post(cid.hex(), "general", text_of(n))
                n += 1
            for row in author_store.docs_of(cid, key.public_key):
                ref = DocRef(cid, key.public_key, row.segment)
                items = [
                    SignedChange(data, sig)
                    for _, _, data, sig in author_store.changes_after(row.doc_id, 0)
                ]
                docs.append((ref, items))
            author.close()
            author_store.close()
    authored = time.perf_counter()
    for ref, items in docs:
        for start in range(0, len(items), MAX_BATCH_CHANGES):
            community.receive_changes(ref, items[start : start + MAX_BATCH_CHANGES], now_ms())
    # As a running owner node would have (when idle, after its syncs): otherwise the
    # owner indexes all 10k posts when its session catches up, inside the timing.
    store.read_model.search_index.index_pending()
    service.close()
    store.close()
    print(
        f"  dataset: {posts} posts by {authors} authors; authoring {authored - started:.1f} s, "
        f"owner receive_changes {time.perf_counter() - authored:.1f} s",
        flush=True,
    )
    return Dataset(cid, owner, owner_dir, ops, docs, posts)


def count_posts(path: Path, cid: bytes) -> int:
    db = sqlite3.connect(path)
    try:
        (count,) = db.execute("SELECT count(*) FROM posts WHERE community_id=?", (cid,)).fetchone()
        return int(count)
    finally:
        db.close()


def cold_floor(directory: Path, data: Dataset) -> float:
    """Verify + apply the same ops and changes into a fresh store, no network.

    The same parallelism as a node's session: the batches, as the frames a
    peer sends (encoded before the clock starts), go to a `SignatureWorker`
    READ_AHEAD frames ahead, and each batch is applied once `ready` says so.
    """
    frames = [
        (ref, batch, encode_frame(ChangesFrame(ref.owner, ref.segment, tuple(batch))))
        for ref, items in data.docs
        for batch in (
            items[start : start + MAX_BATCH_CHANGES]
            for start in range(0, len(items), MAX_BATCH_CHANGES)
        )
    ]
    with tempfile.TemporaryDirectory(dir=directory) as fresh:
        store = Store(Path(fresh) / "store.sqlite3")
        try:
            gc.collect()
            elapsed = trio.run(_floor, store, data, frames)
            assert count_posts(Path(fresh) / "store.sqlite3", data.cid) == data.posts
        finally:
            store.close()
    return elapsed


async def _floor(
    store: Store, data: Dataset, frames: list[tuple[DocRef, list[SignedChange], bytes]]
) -> float:
    async with trio.open_nursery() as nursery:
        verifier = SignatureWorker(lambda: nursery)
        started = time.perf_counter()
        with store.transaction():
            store.add_community(data.cid, now_ms())
        community = Community.load(store, data.cid)
        community.receive_ops(data.ops)
        ahead = 0
        for index, (ref, batch, frame) in enumerate(frames):
            for _, _, later in frames[ahead : index + READ_AHEAD]:
                verifier.prefetch(community, later)
            ahead = max(ahead, index + READ_AHEAD)
            await verifier.ready(frame)
            community.receive_changes(ref, batch, now_ms())
        elapsed = time.perf_counter() - started
        nursery.cancel_scope.cancel()
    return elapsed


class CountingStream:
    """A `PeerStream` that counts the bytes through it (frame level)."""

    def __init__(self, inner: PeerStream) -> None:
        self.inner = inner
        self.sent = 0
        self.received = 0

    @property
    def remote_peer_id(self) -> str:
        return self.inner.remote_peer_id

    async def send_all(self, data: bytes) -> None:
        self.sent += len(data)
        await self.inner.send_all(data)

    async def receive_some(self, max_bytes: int = DEFAULT_RECEIVE_SIZE) -> bytes:
        data = await self.inner.receive_some(max_bytes)
        self.received += len(data)
        return data

    async def close(self) -> None:
        await self.inner.close()


async def cold_network(data: Dataset) -> tuple[float, int, int]:
    joiner = DeviceIdentity.generate()
    service = Service(Store(data.owner_dir / "store.sqlite3"), data.owner.signing_key, now_ms)
    service.member_add(data.cid.hex(), joiner.peer_id)
    service.close()
    service.store.close()
    async with cluster(2, [data.owner, joiner], dirs=[data.owner_dir, None]) as (owner, new):
        streams: list[CountingStream] = []
        open_stream = new.host.open_stream

        async def counting_open_stream(peer_id: str, addrs: list[str], protocol: str) -> Any:
            stream = CountingStream(await open_stream(peer_id, addrs, protocol))
            streams.append(stream)
            return stream

        new.host.open_stream = counting_open_stream  # type: ignore[method-assign]
        gc.collect()
        with trio.fail_after(600):
            started = time.perf_counter()
            community = new.service.node_support.take_up(data.cid)
            runner = await new.node.open_session(owner.peer_id, owner.addrs, community)
            await wait_caught_up(runner)
            elapsed = time.perf_counter() - started
        got = count_posts(new.path, data.cid)
        assert got == data.posts, f"the joiner has {got} of {data.posts} posts"
        (stream,) = streams
        return elapsed, stream.sent, stream.received


def run_cold(args: argparse.Namespace) -> None:
    print(f"cold sync: {args.posts} posts by {args.authors} authors", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-sync-") as tmp:
        directory = Path(tmp)
        data = build_dataset(directory, args.posts, args.authors)
        floor = cold_floor(directory, data)
        profiler = cProfile.Profile() if args.profile else None
        if profiler:
            profiler.enable()
        elapsed, sent, received = trio.run(cold_network, data)
        if profiler:
            profiler.disable()
        payload = sum(len(c.data) + len(c.signature) for _, items in data.docs for c in items)
        payload += sum(len(op.data) + len(op.signature) for op in data.ops)
        print(
            f"  wire (frame level): joiner sent {sent} B, received {received} B; "
            f"signed ops + changes themselves: {payload} B "
            f"({received / payload:.3f}x)",
            flush=True,
        )
        print(
            f"  network {elapsed:.2f} s vs floor {floor:.2f} s: {elapsed / floor:.2f}x "
            f"(gate <= 2.5x: {'met' if elapsed <= 2.5 * floor else 'MISSED'}; "
            f"target <= 1.0 s: {'met' if elapsed <= 1.0 else 'missed'})",
            flush=True,
        )
        bench("cold_sync_bytes", sent + received, "B", float(payload))
        bench("cold_sync_s", elapsed, "s", floor)
        if profiler:
            stats = pstats.Stats(profiler)
            stats.sort_stats("cumulative").print_stats(35)
            stats.sort_stats("tottime").print_stats(25)


class Flood:
    """The floor: raw frames flooded over libp2p streams along the same mesh edges."""

    def __init__(self, nodes: list[HarnessNode], edges: Sequence[tuple[int, int]]) -> None:
        self.nodes = nodes
        self.edges = edges
        self.index = {h.peer_id: i for i, h in enumerate(nodes)}
        self.outboxes: dict[int, list[trio.MemorySendChannel[bytes]]] = {
            i: [] for i in range(len(nodes))
        }
        self.seen: list[set[int]] = [set() for _ in nodes]
        self.started = 0.0
        self.missing: set[int] = set()
        self.current = -1
        self.latencies: list[float] = []
        self.done = trio.Event()
        self.nursery: trio.Nursery | None = None
        self._stop = trio.Event()

    async def start(self, nursery: trio.Nursery) -> None:
        self.nursery = nursery
        for i, h in enumerate(self.nodes):
            h.host.set_stream_handler(FLOOD_PROTOCOL, lambda s, i=i: self._serve(i, s))
        for a, b in self.edges:
            stream = await self.nodes[a].host.open_stream(
                self.nodes[b].peer_id, self.nodes[b].addrs, FLOOD_PROTOCOL
            )
            self._attach(a, stream)
        with trio.fail_after(30):
            while sum(len(v) for v in self.outboxes.values()) < 2 * len(self.edges):
                await trio.sleep(0.01)

    async def _serve(self, index: int, stream: PeerStream) -> None:
        self._attach(index, stream)
        await self._stop.wait()

    def _attach(self, index: int, stream: PeerStream) -> None:
        assert self.nursery is not None
        send, receive = trio.open_memory_channel[bytes](1000)
        self.outboxes[index].append(send)
        self.nursery.start_soon(self._writer, stream, receive)
        self.nursery.start_soon(self._reader, index, stream, send)

    async def _writer(self, stream: PeerStream, receive: trio.MemoryReceiveChannel[bytes]) -> None:
        async for frame in receive:
            await write_frame(stream, frame)

    async def _reader(
        self, index: int, stream: PeerStream, own: trio.MemorySendChannel[bytes]
    ) -> None:
        reader = FrameReader(stream)
        while (frame := await reader.read_frame()) is not None:
            self._got(index, frame, own)

    def _got(
        self, index: int, frame: bytes, came_from: trio.MemorySendChannel[bytes] | None
    ) -> None:
        (message,) = struct.unpack_from(">Q", frame)
        if message in self.seen[index]:
            return
        self.seen[index].add(message)
        for out in self.outboxes[index]:
            if out is not came_from:
                out.send_nowait(frame)
        if message == self.current:
            self.missing.discard(index)
            if not self.missing:
                self.latencies.append(time.perf_counter() - self.started)
                self.done.set()

    def send(self, index: int, message: int, payload: bytes) -> None:
        self.current = message
        self.missing = set(range(len(self.nodes)))
        self.done = trio.Event()
        self.started = time.perf_counter()
        self._got(index, struct.pack(">Q", message) + payload, None)

    def stop(self) -> None:
        self._stop.set()
        for outs in self.outboxes.values():
            for out in outs:
                out.close()


def change_frame_of(h: HarnessNode, cid: bytes, key: tuple[bytes, int, int]) -> bytes:
    owner, segment, seq = key
    ref = DocRef(cid, owner, segment)
    ((_, _, data, sig),) = h.store.changes_after(ref.doc_id, seq - 1, 1)
    return encode_frame(ChangesFrame(owner, segment, (SignedChange(data, sig),)))


async def propagation(args: argparse.Namespace) -> None:
    rnd = random.Random(args.seed)
    n = args.mesh_nodes
    edges = random_mesh(n, rnd)
    print(
        f"propagation: {n} nodes, {len(edges)} edges, diameter {diameter(n, edges)}, "
        f"{args.props} posts",
        flush=True,
    )
    async with cluster(n) as nodes:
        built = time.perf_counter()
        cid = await community_on_mesh(nodes, edges)
        print(f"  mesh synced in {time.perf_counter() - built:.1f} s", flush=True)
        tracker = Tracker(nodes, cid)
        tracker.install()
        flood = Flood(nodes, edges)
        async with trio.open_nursery() as nursery:
            await flood.start(nursery)
            with trio.fail_after(max(120, 2 * args.props)):
                for i in range(args.props):
                    origin = rnd.randrange(n)
                    key = tracker.post(origin, text_of(i))
                    await tracker.done.wait()
                    flood.send(origin, i, change_frame_of(nodes[origin], cid, key))
                    await flood.done.wait()
                    await trio.sleep(0.005)
            flood.stop()
            nursery.cancel_scope.cancel()
    real, raw = tracker.latencies, flood.latencies
    print(
        f"  posts: p50 {percentile(real, 50) * 1000:.1f} ms, p99 {percentile(real, 99) * 1000:.1f}"
        f" ms, max {max(real) * 1000:.1f} ms; raw flood: p50 {percentile(raw, 50) * 1000:.1f} ms,"
        f" p99 {percentile(raw, 99) * 1000:.1f} ms",
        flush=True,
    )
    bench("propagation_p50_ms", percentile(real, 50) * 1000, "ms", percentile(raw, 50) * 1000)
    bench("propagation_p99_ms", percentile(real, 99) * 1000, "ms", percentile(raw, 99) * 1000)


# -- 3. sustained ----------------------------------------------------------------


async def sustained(args: argparse.Namespace) -> None:
    rnd = random.Random(args.seed + 1)
    n = args.sustained_nodes
    edges = random_mesh(n, rnd)
    total = int(args.rate * args.sustained_seconds)
    print(
        f"sustained: {n} nodes, {len(edges)} edges, diameter {diameter(n, edges)}, "
        f"{args.rate} posts/s for {args.sustained_seconds} s ({total} posts)",
        flush=True,
    )
    async with cluster(n) as nodes:
        cid = await community_on_mesh(nodes, edges)
        tracker = Tracker(nodes, cid)
        tracker.install()
        gc.collect()
        rss_start = rss_mb()
        started = trio.current_time()
        wall = time.perf_counter()
        for i in range(total):
            await trio.sleep_until(started + i / args.rate)
            tracker.post(rnd.randrange(n), text_of(i))
        posting = time.perf_counter() - wall
        with trio.move_on_after(args.drain):
            while tracker.pending:
                await trio.sleep(0.05)
        drained = time.perf_counter() - wall
        rss_end = rss_mb()
        undelivered = len(tracker.pending)
    delivered = total - undelivered
    lat = tracker.latencies
    print(
        f"  posted {total} in {posting:.1f} s ({total / posting:.0f}/s achieved); "
        f"all at every node after {drained:.1f} s; {delivered}/{total} delivered everywhere",
        flush=True,
    )
    print(
        f"  latency p50 {percentile(lat, 50) * 1000:.0f} ms, p99 {percentile(lat, 99) * 1000:.0f}"
        f" ms, max {max(lat, default=0) * 1000:.0f} ms; RSS {rss_start:.0f} -> {rss_end:.0f} MB",
        flush=True,
    )
    bench("sustained_delivered", delivered / total * 100, "%", "100")
    bench("sustained_achieved_rate", total / posting, "posts/s", float(args.rate))
    bench("sustained_p50_ms", percentile(lat, 50) * 1000, "ms", "n/a")
    bench("sustained_p99_ms", percentile(lat, 99) * 1000, "ms", "n/a")
    bench("sustained_rss_start_mb", rss_start, "MB", "n/a")
    bench("sustained_rss_end_mb", rss_end, "MB", "n/a")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes")
    parser.add_argument("--only", choices=["cold", "propagation", "sustained"], action="append")
    parser.add_argument("--posts", type=int)
    parser.add_argument("--authors", type=int)
    parser.add_argument("--mesh-nodes", type=int)
    parser.add_argument("--props", type=int)
    parser.add_argument("--sustained-nodes", type=int, default=10)
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--sustained-seconds", type=float)
    parser.add_argument("--drain", type=float, default=120.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--profile", action="store_true", help="cProfile the cold sync")
    args = parser.parse_args()
    quick = args.quick
    args.posts = args.posts or (1000 if quick else 10_000)
    args.authors = args.authors or (10 if quick else 50)
    args.mesh_nodes = args.mesh_nodes or (10 if quick else 30)
    args.props = args.props or (30 if quick else 200)
    args.sustained_seconds = args.sustained_seconds or (5.0 if quick else 60.0)
    only = set(args.only or ["cold", "propagation", "sustained"])
    os.environ.setdefault("PYTHONHASHSEED", "0")
    if "cold" in only:
        run_cold(args)
    if "propagation" in only:
        trio.run(propagation, args)
    if "sustained" in only:
        trio.run(sustained, args)


if __name__ == "__main__":
    main()
