"""Issue 15, what a hostile member's post cannot make another node store, on real nodes
(libp2p on 127.0.0.1). The hostile node writes its post past its own service's checks
(straight into its member document), as a modified client would; the receiving node
refuses on receipt and keeps syncing with everyone else."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import trio

from p2pcommunity.sync.blobs import cid as cids
from p2pcommunity.sync.blobs.manifest import Manifest, chunk_file
from p2pcommunity.sync.docs.memberdoc import PostRecord, new_local_id
from p2pcommunity.sync.errors import Invalid
from tests.net.harness import HarnessNode, cluster
from tests.net.test_blobs import _counting, _exchanges, _until_post

pytestmark = pytest.mark.timeout(120)


def _hostile_post(node: HarnessNode, cid: bytes, path: Path, name: str, mime: str) -> Manifest:
    """A post on `node` attaching `path` as `name` of type `mime`, whatever the checks say;
    `node` stores the blob and serves it like any other."""
    service, community = node.service, node.community(cid)
    blobs = service.store.blobs
    manifest = chunk_file(path, name, mime, None, blobs.write_chunk)
    now = service.clock()
    blobs.add_blob(manifest, own=True, now_ms=now)
    blobs.mark_had(manifest.ref.root, range(len(manifest.chunks)))
    channel = service.channel_id(community.state, "general")
    record = PostRecord(new_local_id(), channel, "look", None, (), now, (manifest.ref,))
    community.write(service.key, now, lambda seg: seg.write_post(record))
    service.on_local_change(community, "doc")
    return manifest


def _last_post(node: HarnessNode, cid: bytes) -> str:
    post_id: str = node.read(cid)[-1]["id"]
    return post_id


async def _save(node: HarnessNode, cid: bytes, root: bytes, out: Path) -> None:
    await node.service.files.save(cid.hex(), cids.to_text(root), str(out), 20.0)  # type: ignore[misc]


async def _test_a_wrong_mime_is_refused_on_receipt(tmp_path: Path) -> None:
    text = tmp_path / "notes.png"
    text.write_bytes(b"plain words, no picture\n" * 20_000)  # two chunks of text
    async with cluster(2) as (a, b):
        _exchanges([a, b])
        cid = a.create_community(members=[b])
        await b.connect(a, cid)
        manifest = _hostile_post(a, cid, text, "notes.png", "image/png")
        await _until_post(b, cid, _last_post(a, cid))
        with pytest.raises(Invalid) as refused:
            await _save(b, cid, manifest.ref.root, tmp_path / "out.png")
        assert refused.value.code == "invalid" and "image/png" in str(refused.value)
        assert not (tmp_path / "out.png").exists()
        assert all(not b.service.store.blobs.chunk_path(c).exists() for c in manifest.chunks)
        assert b.service.files.storage()["used"] == 0


async def _test_an_over_limit_file_is_not_fetched(tmp_path: Path) -> None:
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(5000))
    async with cluster(2) as (a, b):
        _exchanges([a, b])
        cid = a.create_community(members=[b])
        a.service.community_set(cid.hex(), None, None, "1kB")
        await b.connect(a, cid)
        manifest = _hostile_post(a, cid, big, "big.bin", "application/octet-stream")
        await _until_post(b, cid, _last_post(a, cid))
        served = _counting(a)
        with pytest.raises(Invalid) as refused:
            await _save(b, cid, manifest.ref.root, tmp_path / "out.bin")
        assert refused.value.code == "too_large"
        assert served == [], "B asked for a file over the community's limit"
        assert b.service.files.wanted(cid) == []  # an always-on node skips it too
        assert b.service.store.blobs.blob(manifest.ref.root) is None


async def _test_a_path_in_a_file_name_refuses_the_post(tmp_path: Path) -> None:
    f = tmp_path / "x"
    f.write_text("where does this land?\n")
    async with cluster(3) as (a, b, c):
        _exchanges([a, b, c])
        cid = a.create_community(members=[b, c])
        await b.connect(a, cid)
        await c.connect(b, cid)
        _hostile_post(a, cid, f, "../../x", "text/plain")
        hostile = _last_post(a, cid)
        honest = c.post(cid, "still here")
        await _until_post(b, cid, honest)
        with trio.move_on_after(2):  # give the hostile post every chance to arrive
            await _until_post(b, cid, hostile)
        assert hostile not in {p["id"] for p in b.read(cid)}
        rows = b.service.store.blobs.refs_of([hostile])
        assert rows == {}
        assert not (tmp_path.parent / "x").exists()


@pytest.mark.parametrize(
    "case",
    [
        _test_a_wrong_mime_is_refused_on_receipt,
        _test_an_over_limit_file_is_not_fetched,
        _test_a_path_in_a_file_name_refuses_the_post,
    ],
    ids=lambda case: case.__name__.removeprefix("_test_"),
)
def test_refused_on_receipt(case: object, tmp_path: Path) -> None:
    trio.run(case, tmp_path)  # type: ignore[arg-type]
