"""Issue 15: a file fetched from 3 seeders is faster than from 1, each seeder its own process.

In one process every seeder and the fetcher share one interpreter (one GIL), so
more seeders cannot be faster there; real seeders are other machines. So:
setup in one trio run (A posts the file, B and C fetch it, D and E have the
post), then A, B and C each run as a process of their own on its saved store,
and this process times D fetching from A alone, then E from A, B and C. Prints
`BENCH <name> <value> <unit> floor=<value>` (the 3-seeder floor is the 1-seeder rate).

Over loopback on a 2-core machine the fetcher's own CPU (Noise, Yamux in Python)
is the bottleneck, not a seeder: extra seeder processes only take CPU from it.
What several seeders buy is their uplinks added up, so by default each seeder
sends at most `--uplink` MB/s (a home connection's upload; 0: unlimited, the
CPU-bound figure).

    python benchmarks/bench_blob_seeders.py --mb 30      (BLOB_BENCH_SEEDERS_MB; full size 100)
    python benchmarks/bench_blob_seeders.py --mb 100 --uplink 0
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from contextlib import AsyncExitStack
from pathlib import Path

import trio

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.bench_blobs import nodes, post_file, write_random
from benchmarks.benchlib import bench
from p2pcommunity.identity import DeviceIdentity
from p2pcommunity.net.blobs import BLOB_PROTOCOL, BlobExchange
from p2pcommunity.net.stream import PeerStream
from tests.net.harness import HarnessNode, start_node, wait_caught_up

SEED = "seed.hex"
SUFFIX = [""]  # the BENCH names say whether the seeders' uplinks were capped
READY_S = 60.0


def _identity(directory: Path) -> DeviceIdentity:
    return DeviceIdentity.from_seed(bytes.fromhex((directory / SEED).read_text()))


async def setup(mb: int, root_dir: Path) -> tuple[bytes, bytes]:
    """Five stores under `root_dir`/n0..n4; returns (community id, blob root)."""
    async with nodes(5, root_dir) as all_nodes:
        a, b, c, d, e = all_nodes
        cid = a.create_community(members=[b, c, d, e])
        for n in (b, c, d, e):
            await n.connect(a, cid)
        write_random(root_dir / "file.bin", mb)
        root = await post_file(a, cid, root_dir / "file.bin", [b, c, d, e])
        for n in (b, c):
            await n.service.files.fetcher(cid, root, 3600.0)  # type: ignore[misc]
        for n in all_nodes:
            (n.path.parent / SEED).write_text(n.identity.seed.hex())
    return cid, root


class Uplink:
    """What a seeder sends, at most `rate` bytes/s over all its streams (a token bucket)."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.free_at = time.monotonic()

    async def send(self, stream: PeerStream, data: bytes) -> None:
        now = time.monotonic()
        self.free_at = max(self.free_at, now) + len(data) / self.rate
        await trio.sleep(max(0.0, self.free_at - now))
        await stream.send_all(data)


class Throttled:
    def __init__(self, stream: PeerStream, uplink: Uplink) -> None:
        self.stream, self.uplink = stream, uplink
        self.remote_peer_id = stream.remote_peer_id

    async def send_all(self, data: bytes) -> None:
        await self.uplink.send(self.stream, data)

    async def receive_some(self, max_bytes: int = 65536) -> bytes:
        return await self.stream.receive_some(max_bytes)

    async def close(self) -> None:
        await self.stream.close()


async def serve(directory: Path, uplink_mb: float) -> None:
    """A seeder process: its node on 127.0.0.1, its address on stdout, until killed."""
    async with AsyncExitStack() as stack:
        node = await start_node(stack, directory.name, _identity(directory), directory)
        async with trio.open_nursery() as nursery:
            node.node.nursery = nursery
            exchange = BlobExchange(node.node)
            uplink = Uplink(uplink_mb * 1_000_000) if uplink_mb > 0 else None

            async def handle(stream: PeerStream) -> None:
                await exchange.handle(stream if uplink is None else Throttled(stream, uplink))

            node.host.set_stream_handler(BLOB_PROTOCOL, handle)
            print(node.addrs[0], flush=True)
            await trio.sleep_forever()


async def fetch_from(
    node: HarnessNode, cid: bytes, root: bytes, seeders: list[tuple[str, str]]
) -> float:
    for peer_id, addr in seeders:
        runner = await node.node.open_session(
            peer_id, [addr], node.service.node_support.take_up(cid)
        )
        await wait_caught_up(runner)
    start = time.perf_counter()
    await node.service.files.fetcher(cid, root, 3600.0)  # type: ignore[misc]
    return time.perf_counter() - start


async def measure(
    root_dir: Path, cid: bytes, root: bytes, seeders: list[tuple[str, str]], mb: int
) -> None:
    seconds = []
    async with AsyncExitStack() as stack:
        fetchers = [
            await start_node(stack, name, _identity(root_dir / name), root_dir / name)
            for name in ("n3", "n4")
        ]
        async with trio.open_nursery() as nursery:
            for n in fetchers:
                n.node.nursery = nursery
                BlobExchange(n.node)
            seconds.append(await fetch_from(fetchers[0], cid, root, seeders[:1]))
            seconds.append(await fetch_from(fetchers[1], cid, root, seeders))
            nursery.cancel_scope.cancel()
    one, three = (mb / s for s in seconds)
    bench(f"blob_from_1_seeder_{mb}mb{SUFFIX[0]}", one, "MB/s", 0)
    bench(f"blob_from_3_seeders_{mb}mb{SUFFIX[0]}", three, "MB/s", one)


def main(mb: int, uplink_mb: float) -> None:
    with tempfile.TemporaryDirectory(prefix="p2pc-bench-seeders-") as tmp:
        root_dir = Path(tmp)
        cid, root = trio.run(setup, mb, root_dir)
        procs = [
            subprocess.Popen(
                [
                    sys.executable,
                    __file__,
                    "--serve",
                    str(root_dir / f"n{i}"),
                    "--uplink",
                    str(uplink_mb),
                ],
                stdout=subprocess.PIPE,
                text=True,
            )
            for i in range(3)
        ]
        try:
            seeders = []
            for i, proc in enumerate(procs):
                assert proc.stdout is not None
                addr = proc.stdout.readline().strip()
                if not addr:
                    raise SystemExit(f"seeder n{i} did not start")
                seeders.append((_identity(root_dir / f"n{i}").peer_id, addr))
            trio.run(measure, root_dir, cid, root, seeders, mb)
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                proc.wait(timeout=30)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=int(os.environ.get("BLOB_BENCH_SEEDERS_MB", 30)))
    parser.add_argument("--uplink", type=float, default=4.0, help="MB/s per seeder (0: unlimited)")
    parser.add_argument("--serve", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    SUFFIX[0] = f"_uplink_{args.uplink:g}mbps" if args.uplink > 0 else "_unlimited"
    if args.serve is not None:
        trio.run(serve, args.serve, args.uplink)
    else:
        main(args.mb, args.uplink)
