"""`attachment status` and the progress registry behind it, without a network; and the
fields the app needs: the inline thumbnail, the limit, a post of files alone."""

from __future__ import annotations

import base64
import os
import time
from pathlib import Path

import pytest
from nacl.signing import SigningKey
from PIL import Image

from p2pcommunity.sync.blobs import manifest as mf
from p2pcommunity.sync.blobs.progress import Progress, state_of
from p2pcommunity.sync.errors import Invalid, NotFound
from p2pcommunity.sync.service import Service
from p2pcommunity.sync.storage.store import Store


@pytest.fixture
def service(tmp_path: Path) -> Service:
    return Service(
        Store(tmp_path / "store.sqlite3"), SigningKey.generate(), lambda: int(time.time() * 1000)
    )


def test_progress_counts_nested_fetches_and_open_streams() -> None:
    progress, root = Progress(), b"r" * 36
    progress.fetching.up(root)
    progress.fetching.up(root)  # `keep` and a save of the same blob
    progress.fetching.down(root)
    assert root in progress.fetching
    progress.fetching.down(root)
    progress.fetching.down(root)  # one too many: no negative count
    assert root not in progress.fetching
    progress.serving.up(root)
    for _ in range(3):
        progress.chunk_served(root)
    assert root in progress.serving and progress.sent_chunks(root) == 3
    progress.serving.down(root)
    assert root not in progress.serving and progress.sent_chunks(root) == 3
    assert [state_of(3, 3, False), state_of(1, 3, True), state_of(1, 3, False)] == [
        "complete",
        "fetching",
        "partial",
    ]
    assert state_of(0, 3, False) == "missing"


def test_the_counts_stay_bounded() -> None:
    progress = Progress()
    for i in range(5000):
        progress.chunk_served(i.to_bytes(4, "big"))
    assert len(progress._sent) <= 4096
    assert progress.sent_chunks((4999).to_bytes(4, "big")) == 1


def test_status_of_an_own_file_and_while_peers_fetch_it(service: Service, tmp_path: Path) -> None:
    cid = service.community_create("c")["community_id"]
    data = tmp_path / "data.bin"
    data.write_bytes(os.urandom(2 * mf.CHUNK_SIZE + 7))
    service.post(cid, "general", "", attach=[str(data)])  # no text: a post of a file alone
    (att,) = service.read(cid, "general")["posts"][-1]["attachments"]
    status = service.files.status(cid, att["cid"])
    assert status == {
        "cid": att["cid"],
        "have_chunks": 3,
        "total_chunks": 3,
        "bytes": data.stat().st_size,
        "size": data.stat().st_size,
        "state": "complete",
        "sending": False,
        "sent_chunks": 0,
    }
    root = bytes(service.files.blobs.roots()[0])
    service.files.progress.serving.up(root)
    service.files.progress.chunk_served(root)
    status = service.files.status(cid, att["cid"])
    assert status["sending"] and status["sent_chunks"] == 1
    with pytest.raises(NotFound):
        service.files.status(cid, "bafyreiga67l35fsnb4wh4gb53ymvdxxt2i33sozlunhzjjcerzivken2um")
    with pytest.raises(Invalid):
        service.files.status(cid, "not a cid")


def test_a_post_without_text_needs_a_file(service: Service) -> None:
    cid = service.community_create("c")["community_id"]
    with pytest.raises(Invalid, match="empty post"):
        service.post(cid, "general", "  ")


def test_read_carries_the_thumbnail_and_show_the_limit(service: Service, tmp_path: Path) -> None:
    cid = service.community_create("c")["community_id"]
    pic = tmp_path / "pic.png"
    Image.new("RGB", (640, 480), (200, 120, 40)).save(pic)
    service.post(cid, "general", "a picture", attach=[str(pic)])
    (att,) = service.read(cid, "general")["posts"][-1]["attachments"]
    thumb = base64.b64decode(att["thumb"])
    assert thumb.startswith(b"\xff\xd8") and len(thumb) <= 16 * 1024  # a JPEG
    assert service.community_show(cid)["max_file_size"] == mf.DEFAULT_MAX_FILE_SIZE
