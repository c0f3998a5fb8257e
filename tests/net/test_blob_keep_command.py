"""Issue 15: `attachment keep` (an image that appeared on screen) makes a member keep a
blob fetched from a peer as it keeps its own: the quota evicts it no more."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio

from p2pcommunity.node_control import NodeControl
from p2pcommunity.sync.blobs import cid as cids
from p2pcommunity.sync.errors import NotFound
from tests.net.harness import wait_until
from tests.net.test_blob_keeping import SIZE, _complete, _file, _pair, _save
from tests.net.test_blobs import _post_file

pytestmark = pytest.mark.timeout(180)


async def _kept_blob_survives_the_quota(tmp_path: Path) -> None:
    async with _pair() as (a, b, _, cid):
        _, x = _post_file(a, cid, _file(tmp_path, "x.bin"))
        _, y = _post_file(a, cid, _file(tmp_path, "y.bin"))
        _, far = _post_file(a, cid, _file(tmp_path, "far.bin"))
        await wait_until(lambda: len(b.read(cid)) == 3, 30)
        await _save(b, cid, x, tmp_path / "x.out")
        await trio.sleep(0.01)  # y is opened later than x: x goes first by LRU
        await _save(b, cid, y, tmp_path / "y.out")
        control = NodeControl(b.node, addrs=lambda: [])

        answer = await control.handle(
            "attachment keep", {"community": cid.hex(), "cid": cids.to_text(x)}
        )
        assert answer == {"cid": cids.to_text(x), "kept": True}

        b.service.files.quota = SIZE + SIZE // 2
        b.service.files.sweep()
        # x, least recently used but kept, stays; y, more recent but not kept, goes.
        assert _complete(b) == {x}
        assert b.service.files.serve(cid, x, 0) is not None

        for unknown in (cids.to_text(cids.of(b"never attached")), cids.to_text(far)):
            with pytest.raises(NotFound):  # not attached here / attached, never fetched
                await control.handle("attachment keep", {"community": cid.hex(), "cid": unknown})
        assert far not in b.service.store.blobs.roots()


async def _without_keep_the_same_blob_is_evicted(tmp_path: Path) -> None:
    async with _pair() as (a, b, _, cid):
        _, x = _post_file(a, cid, _file(tmp_path, "x.bin"))
        _, y = _post_file(a, cid, _file(tmp_path, "y.bin"))
        await wait_until(lambda: len(b.read(cid)) == 2, 30)
        await _save(b, cid, x, tmp_path / "x.out")
        await trio.sleep(0.01)
        await _save(b, cid, y, tmp_path / "y.out")
        b.service.files.quota = SIZE + SIZE // 2
        b.service.files.sweep()
        assert _complete(b) == {y}


@pytest.mark.parametrize(
    "case", [_kept_blob_survives_the_quota, _without_keep_the_same_blob_is_evicted]
)
def test_attachment_keep(case: object, tmp_path: Path) -> None:
    trio.run(case, tmp_path)  # type: ignore[arg-type]
