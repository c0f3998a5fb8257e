"""Issue 15 on wiki pages, through real nodes on 127.0.0.1: a file attached to a page
arrives byte for byte on another member; detached, it is no longer served nor kept."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import trio

from p2pcommunity.sync.blobs import cid as cids
from p2pcommunity.sync.files import MANIFEST_INDEX
from tests.net.harness import HarnessNode, cluster, wait_until
from tests.net.test_blobs import _exchanges

pytestmark = pytest.mark.timeout(120)


def _files(node: HarnessNode, cid: bytes, page: str) -> list[str] | None:
    try:
        shown = node.service.pages.show(cid.hex(), page)
    except Exception:  # noqa: BLE001 -- the page has not arrived yet
        return None
    return [a["cid"] for a in shown["attachments"]]


async def _test_a_pages_file_arrives_and_leaves_when_detached(tmp_path: Path) -> None:
    source = tmp_path / "plan.bin"
    source.write_bytes(os.urandom(3 * 256 * 1024 + 11))
    async with cluster(2) as (a, b):
        _, member = _exchanges([a, b])
        cid = a.create_community(members=[b])
        await b.connect(a, cid)
        page = a.service.pages.create(cid.hex(), "Plan", "the plan", attach=[str(source)])
        await wait_until(lambda: bool(_files(b, cid, page["page_id"])), 30)
        (root_text,) = _files(b, cid, page["page_id"]) or []
        out = tmp_path / "out.bin"
        await b.service.files.save(cid.hex(), root_text, str(out), 60.0)  # type: ignore[misc]
        assert out.read_bytes() == source.read_bytes()
        root = cids.from_text(root_text)
        assert b.service.files.serve(cid, root, MANIFEST_INDEX) is not None  # B seeds it too
        a.service.pages.edit(cid.hex(), "Plan", detach=[root_text])
        await wait_until(lambda: _files(b, cid, page["page_id"]) == [], 30)
        assert b.service.files.serve(cid, root, MANIFEST_INDEX) is None
        assert b.service.files.sweep() == 1
        assert b.service.files.storage() == {"used": 0, "quota": b.service.files.quota, "blobs": 0}
        del member


def test_a_pages_file_arrives_and_leaves_when_detached(tmp_path: Path) -> None:
    trio.run(_test_a_pages_file_arrives_and_leaves_when_detached, tmp_path)
