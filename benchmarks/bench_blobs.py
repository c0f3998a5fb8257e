"""Issue 15: a file over loopback through the blob exchange vs a raw py-libp2p stream.

Two real nodes (Noise + Yamux on 127.0.0.1) in one trio run; the file is posted
on A and fetched by B; the raw figure is the same number of bytes written on a
plain libp2p stream between the same hosts, measured in the same run. Prints
`BENCH <name> <value> <unit> floor=<value>` lines, and the RSS growth.

    python benchmarks/bench_blobs.py --mb 20     (make bench runs --mb 200)
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from contextlib import AsyncExitStack
from pathlib import Path

import trio

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from p2pcommunity.net.blobs import BLOB_PROTOCOL, BlobExchange
from p2pcommunity.sync.blobs import cid as cids
from tests.net.harness import start_node, wait_until

RAW = "/p2pcommunity/bench-raw/1.0.0"


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def main(mb: int) -> None:
    async with AsyncExitStack() as stack:
        a = await start_node(stack, "a")
        b = await start_node(stack, "b")
        async with trio.open_nursery() as nursery:
            a.node.nursery = b.node.nursery = nursery
            for n in (a, b):
                n.host.set_stream_handler(BLOB_PROTOCOL, BlobExchange(n.node).handle)
            size = mb * 1_000_000

            async def sink(stream: object) -> None:
                while await stream.receive_some(1 << 16):  # type: ignore[attr-defined]
                    pass

            a.host.set_stream_handler(RAW, sink)
            stream = await b.host.open_stream(a.peer_id, a.addrs, RAW)
            block = os.urandom(1 << 16)
            start = time.perf_counter()
            for _ in range(size // len(block)):
                await stream.send_all(block)
            await stream.close()
            raw_s = time.perf_counter() - start

            cid = a.create_community(members=[b])
            await b.connect(a, cid)
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / "big.bin"
                with path.open("wb") as f:
                    for _ in range(mb):
                        f.write(os.urandom(1_000_000))
                post = a.service.post(cid.hex(), "general", "big", attach=[str(path)])
                await wait_until(lambda: any(p["id"] == post["post_id"] for p in b.read(cid)), 60)
                root = cids.from_text(b.read(cid)[-1]["attachments"][0]["cid"])
                before = rss_mb()
                start = time.perf_counter()
                await b.service.files.fetcher(cid, root, 600.0)  # type: ignore[misc]
                blob_s = time.perf_counter() - start
                growth = rss_mb() - before
            raw_rate, blob_rate = mb / raw_s, mb / blob_s
            print(f"BENCH blob_raw_stream_{mb}mb {raw_rate:.1f} MB/s floor=0")
            print(f"BENCH blob_transfer_{mb}mb {blob_rate:.1f} MB/s floor={raw_rate * 0.5:.1f}")
            print(f"BENCH blob_vs_raw_{mb}mb {100 * blob_rate / raw_rate:.0f} % floor=50")
            print(f"BENCH blob_rss_growth_{mb}mb {growth:.0f} MB floor=50")
            nursery.cancel_scope.cancel()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=int, default=200)
    trio.run(main, parser.parse_args().mb)
