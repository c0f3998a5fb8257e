"""Issue 14: a page with 10,000 edits and 100 KB of text opens in <= 200 ms.

"Opens" is what `page show` pays on a cold process: a fresh store and service,
the page checked against the log, its text and heads read from the row kept
with every stored change (no Automerge load since migration 1.7). The floor
in the same run is automerge's own `Document.load` of the page's saved bytes
plus reading the text: what opening the document itself would cost.

    python benchmarks/bench_pages.py [--edits N]
"""

from __future__ import annotations

import argparse
import itertools
import tempfile
import time
from pathlib import Path

from automerge.core import ROOT, Document
from nacl.signing import SigningKey

from p2pcommunity.sync.pages import pages_of
from p2pcommunity.sync.service import Service
from p2pcommunity.sync.storage.store import Store


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--edits", type=int, default=10_000)
    parser.add_argument("--chars", type=int, default=100_000)
    args = parser.parse_args()
    key = SigningKey.generate()
    clock = itertools.count(1_700_000_000_000, 10)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "s.sqlite3"
        service = Service(Store(path), key, lambda: next(clock))
        cid = service.community_create("Bench")["community_id"]
        base = "x" * max(0, args.chars - args.edits)
        page = service.pages.create(cid, "Big", base)["page_id"]
        page_id = bytes.fromhex(page)
        host = pages_of(service.community(cid))
        text = base
        for i in range(args.edits - 1):
            text += "abcdefghij"[i % 10]
            host.write(key, page_id, text, "+1", next(clock))
        service.store.close()

        def cold_open() -> tuple[float, str]:
            store = Store(path)
            try:
                start = time.perf_counter()
                fresh = Service(store, key, lambda: next(clock))
                shown = fresh.pages.show(cid, page)["text"]
                return 1000 * (time.perf_counter() - start), shown
            finally:
                store.close()

        first_ms, _ = cold_open()  # the first in this process (then, the same again)
        open_ms, shown = cold_open()
        assert shown == text, "the page did not open to its text"
        store = Store(path)
        reopened = Service(store, key, lambda: next(clock))
        saved = pages_of(reopened.community(cid)).open(page_id).save()
        store.close()
        start = time.perf_counter()
        doc = Document.load(saved)
        got = doc.get(ROOT, "text")
        assert got is not None
        doc.text(got[1])
        floor_ms = 1000 * (time.perf_counter() - start)
    print(f"BENCH page_open_first_{args.edits}_edits {first_ms:.1f} ms floor={floor_ms:.1f}")
    print(
        f"BENCH page_open_{args.edits}_edits_{len(text) // 1000}kb {open_ms:.1f} ms "
        f"floor={floor_ms:.1f}"
    )


if __name__ == "__main__":
    main()
