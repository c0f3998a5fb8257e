"""Issue 15, who keeps what, on real nodes (libp2p on 127.0.0.1): an always-on node keeps
every blob of its communities up to its quota; a member keeps what it posted and opened;
the quota evicts others' blobs least recently used first, never the node's own; hidden
and deleted posts' blobs are no longer served and leave the disk. Quotas are tiny."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import trio

from p2pcommunity.net.blobs import BlobExchange
from p2pcommunity.sync.blobs import cid as cids
from p2pcommunity.sync.files import MANIFEST_INDEX
from tests.net.harness import HarnessNode, cluster, wait_until
from tests.net.test_blobs import _exchanges, _post_file

pytestmark = pytest.mark.timeout(180)

KB = 1000
SIZE = 100 * KB  # each file; quotas below are counted in these


def _file(tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    path.write_bytes(os.urandom(SIZE))
    return path


def _complete(node: HarnessNode) -> set[bytes]:
    blobs = node.service.store.blobs
    return {r for r in blobs.roots() if (row := blobs.blob(r)) is not None and row.complete}


def _chunk_files(node: HarnessNode, root: bytes) -> list[Path]:
    blobs = node.service.store.blobs
    row = blobs.blob(root)
    assert row is not None
    return [blobs.chunk_path(c) for c in blobs.chunks_in_order(root)]


async def _save(node: HarnessNode, cid: bytes, root: bytes, out: Path) -> None:
    await node.service.files.save(cid.hex(), cids.to_text(root), str(out), 60.0)  # type: ignore[misc]


@asynccontextmanager
async def _pair() -> AsyncIterator[tuple[HarnessNode, HarnessNode, BlobExchange, bytes]]:
    """A owns a community, B is a member in session with it; B's exchange."""
    async with cluster(2) as (a, b):
        _, exchange = _exchanges([a, b])
        cid = a.create_community(members=[b])
        await b.connect(a, cid)
        yield a, b, exchange, cid


async def _keep_cycles(exchange: BlobExchange, node: HarnessNode, cycles: int) -> None:
    """Run the keep loop until it has swept `cycles` times."""
    swept = 0
    files = node.service.files
    real = files.sweep

    def counting(busy: frozenset[bytes] = frozenset()) -> int:
        nonlocal swept
        swept += 1
        return real(busy)

    files.sweep = counting  # type: ignore[method-assign]
    async with trio.open_nursery() as nursery:
        nursery.start_soon(exchange.keep)
        await wait_until(lambda: swept >= cycles, 60)
        nursery.cancel_scope.cancel()
    files.sweep = real  # type: ignore[method-assign]


async def _test_an_always_on_node_keeps_every_blob_up_to_its_quota(tmp_path: Path) -> None:
    async with cluster(2) as (a, n):
        _, keeper = _exchanges([a, n])
        cid = a.create_community(members=[n])
        a.service.governance.node_add(cid.hex(), n.peer_id, n.addrs[0])
        await n.connect(a, cid)
        roots = [_post_file(a, cid, _file(tmp_path, f"f{i}.bin"))[1] for i in range(3)]
        await wait_until(lambda: len(n.read(cid)) == 3, 30)
        n.service.files.quota = 2 * SIZE + SIZE // 2  # room for two of the three
        await _keep_cycles(keeper, n, 3)
        kept = _complete(n)
        assert len(kept) == 2 and kept < set(roots)
        assert n.service.files.storage()["used"] <= n.service.files.quota
        await _keep_cycles(keeper, n, 3)  # no fetch-then-evict churn: the same two stay
        assert _complete(n) == kept
        n.service.files.quota = 10 * SIZE
        await _keep_cycles(keeper, n, 2)
        assert _complete(n) == set(roots)


async def _test_a_member_keeps_its_own_and_evicts_others_lru_first(tmp_path: Path) -> None:
    async with _pair() as (a, b, member, cid):
        own_post, own = _post_file(b, cid, _file(tmp_path, "mine.bin"))
        x_post, x = _post_file(a, cid, _file(tmp_path, "x.bin"))
        y_post, y = _post_file(a, cid, _file(tmp_path, "y.bin"))
        _, unopened = _post_file(a, cid, _file(tmp_path, "z.bin"))
        await wait_until(lambda: len(b.read(cid)) == 4, 30)
        await _save(b, cid, x, tmp_path / "x.out")
        await trio.sleep(0.01)  # y is opened later than x
        await _save(b, cid, y, tmp_path / "y.out")
        x_files = _chunk_files(b, x)
        b.service.files.quota = 2 * SIZE + SIZE // 2
        await _keep_cycles(member, b, 2)
        # A member fetches nothing by itself; beyond the quota x (least recent) goes.
        assert _complete(b) == {own, y}
        assert unopened not in b.service.store.blobs.roots()
        assert not any(p.exists() for p in x_files)
        b.service.files.quota = SIZE // 2  # below its own blob alone: that stays anyway
        await _keep_cycles(member, b, 1)
        assert _complete(b) == {own}
        assert b.service.files.serve(cid, own, 0) is not None
        # Opening x again fetches it afresh, and the node then keeps it until evicted.
        await _save(b, cid, x, tmp_path / "x2.out")
        assert (tmp_path / "x2.out").read_bytes() == (tmp_path / "x.bin").read_bytes()
        assert {x_post, y_post, own_post} <= {p["id"] for p in b.read(cid)}


async def _test_hidden_and_deleted_posts_blobs_leave_every_node(tmp_path: Path) -> None:
    async with _pair() as (a, b, member, cid):
        hidden_post, hidden = _post_file(b, cid, _file(tmp_path, "h.bin"))
        deleted_post, deleted = _post_file(a, cid, _file(tmp_path, "d.bin"))
        _, kept = _post_file(a, cid, _file(tmp_path, "k.bin"))
        await wait_until(lambda: len(b.read(cid)) == 3, 30)
        for root in (deleted, kept):
            await _save(b, cid, root, tmp_path / f"{cids.to_text(root)}.out")
        paths = {root: _chunk_files(b, root) for root in (hidden, deleted, kept)}
        assert all(p.exists() for ps in paths.values() for p in ps)
        a.service.governance.hide(cid.hex(), hidden_post, "off topic")
        a.service.delete(cid.hex(), deleted_post)
        await wait_until(lambda: len(b.read(cid)) == 1, 30)
        for root in (hidden, deleted):  # B's own blob too: hidden is hidden
            assert b.service.files.serve(cid, root, MANIFEST_INDEX) is None
            assert b.service.files.serve(cid, root, 0) is None
        await _keep_cycles(member, b, 1)
        assert _complete(b) == {kept}
        assert not any(p.exists() for root in (hidden, deleted) for p in paths[root])
        assert all(p.exists() for p in paths[kept])
        assert b.service.files.storage()["used"] == SIZE


@pytest.mark.parametrize(
    "case",
    [
        _test_an_always_on_node_keeps_every_blob_up_to_its_quota,
        _test_a_member_keeps_its_own_and_evicts_others_lru_first,
        _test_hidden_and_deleted_posts_blobs_leave_every_node,
    ],
    ids=lambda case: case.__name__.removeprefix("_test_"),
)
def test_who_keeps_what(case: Callable[[Path], Awaitable[None]], tmp_path: Path) -> None:
    trio.run(case, tmp_path)
