"""Issue 15: files over loopback through the blob exchange, on real nodes (Noise + Yamux on
127.0.0.1) in one trio run. Two figures, each printed as `BENCH <name> <value> <unit>
floor=<value>` (3 seeders against 1: bench_blob_seeders.py):

- transfer: a file posted on A and fetched by B, against the raw py-libp2p stream
  throughput between the same two hosts measured in the same run (floor: 50 % of it);
- rss: the growth of this process's resident set (sampled every 50 ms) while a file
  is sent and received (floor: 50 MB; both ends are in this process, so it counts both).

Sizes in MB, from the command line or the environment (`make bench` runs the defaults):

    python benchmarks/bench_blobs.py              (BLOB_BENCH_MB=50, BLOB_BENCH_RSS_MB=100)
    python benchmarks/bench_blobs.py --mb 200 --rss-mb 1000         (full size, RESULTS.md)
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import trio

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.benchlib import bench, rss_mb
from p2pcommunity.net.blobs import BLOB_PROTOCOL, BlobExchange
from p2pcommunity.sync.blobs import cid as cids
from tests.net.harness import HarnessNode, start_node, wait_until

RAW = "/p2pcommunity/bench-raw/1.0.0"
TIMEOUT_S = 3600.0
RSS_SAMPLE_S = 0.05


@asynccontextmanager
async def nodes(n: int, under: Path | None = None) -> AsyncIterator[list[HarnessNode]]:
    """`n` running nodes with the blob exchange; their stores in `under`/n<i> if given."""
    async with AsyncExitStack() as stack:
        out = []
        for i in range(n):
            directory = None if under is None else under / f"n{i}"
            if directory is not None:
                directory.mkdir()
            out.append(await start_node(stack, f"n{i}", None, directory))
        async with trio.open_nursery() as nursery:
            for h in out:
                h.node.nursery = nursery
                h.host.set_stream_handler(BLOB_PROTOCOL, BlobExchange(h.node).handle)
            try:
                yield out
            finally:
                nursery.cancel_scope.cancel()


def write_random(path: Path, mb: int) -> None:
    with path.open("wb") as f:
        for _ in range(mb):
            f.write(os.urandom(1_000_000))


async def post_file(
    poster: HarnessNode, cid: bytes, path: Path, readers: list[HarnessNode]
) -> bytes:
    """Post `path` on `poster` and wait until every reader has the post; its root CID."""
    poster.service.community_set(cid.hex(), None, None, "2GB")
    post_id = poster.service.post(cid.hex(), "general", "big", attach=[str(path)])["post_id"]
    for reader in readers:
        await wait_until(lambda r=reader: any(p["id"] == post_id for p in r.read(cid)), 120)
    return cids.from_text(poster.read(cid)[-1]["attachments"][0]["cid"])


async def fetch_seconds(node: HarnessNode, cid: bytes, root: bytes) -> float:
    start = time.perf_counter()
    await node.service.files.fetcher(cid, root, TIMEOUT_S)  # type: ignore[misc]
    return time.perf_counter() - start


async def raw_stream_rate(a: HarnessNode, b: HarnessNode, mb: int) -> float:
    """MB/s of `mb` MB written from B to A on one plain libp2p stream, until A read it all."""
    done = trio.Event()

    async def sink(stream: object) -> None:
        while await stream.receive_some(1 << 16):  # type: ignore[attr-defined]
            pass
        done.set()

    a.host.set_stream_handler(RAW, sink)
    stream = await b.host.open_stream(a.peer_id, a.addrs, RAW)
    block = os.urandom(1 << 16)
    start = time.perf_counter()
    for _ in range(mb * 1_000_000 // len(block)):
        await stream.send_all(block)
    await stream.close()
    await done.wait()
    return mb / (time.perf_counter() - start)


async def transfer(mb: int, tmp: Path) -> None:
    async with nodes(2) as (a, b):
        raw_rate = await raw_stream_rate(a, b, mb)
        cid = a.create_community(members=[b])
        await b.connect(a, cid)
        write_random(tmp / "transfer.bin", mb)
        root = await post_file(a, cid, tmp / "transfer.bin", [b])
        rate = mb / await fetch_seconds(b, cid, root)
    bench(f"blob_raw_stream_{mb}mb", raw_rate, "MB/s", 0)
    bench(f"blob_transfer_{mb}mb", rate, "MB/s", raw_rate * 0.5)
    bench(f"blob_vs_raw_{mb}mb", 100 * rate / raw_rate, "%", 50)


async def rss(mb: int, tmp: Path) -> None:
    async with nodes(2) as (a, b):
        cid = a.create_community(members=[b])
        await b.connect(a, cid)
        write_random(tmp / "rss.bin", mb)
        root = await post_file(a, cid, tmp / "rss.bin", [b])
        before = rss_mb()
        peak = before
        async with trio.open_nursery() as nursery:

            async def sample() -> None:
                nonlocal peak
                while True:
                    peak = max(peak, rss_mb())
                    await trio.sleep(RSS_SAMPLE_S)

            nursery.start_soon(sample)
            seconds = await fetch_seconds(b, cid, root)
            nursery.cancel_scope.cancel()
    bench(f"blob_rss_growth_{mb}mb", peak - before, "MB", 50)
    bench(f"blob_rss_run_{mb}mb", mb / seconds, "MB/s", 0)


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="p2pc-bench-blobs-") as tmp:
        for part, mb in ((transfer, args.mb), (rss, args.rss_mb)):
            if mb > 0:
                await part(mb, Path(tmp))
                for f in Path(tmp).iterdir():
                    f.unlink()


def _env(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=_env("BLOB_BENCH_MB", 50))
    parser.add_argument("--rss-mb", type=int, default=_env("BLOB_BENCH_RSS_MB", 100))
    trio.run(main, parser.parse_args())
