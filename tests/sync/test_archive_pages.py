"""Issue 14: pages travel in `export`/`import`, verified like a peer's changes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from p2pcommunity.archive import MANIFEST, export_community, import_community
from p2pcommunity.sync.errors import Invalid
from p2pcommunity.sync.peerid import peer_id_from_public_key
from p2pcommunity.sync.service import Service
from tests.sync.builders import clock, new_service, sync_log
from tests.sync.test_pages import _page_changes


def _exported(tmp_path: Path) -> tuple[Service, str, str, Path]:
    admin, ann = new_service(tmp_path, "admin"), new_service(tmp_path, "ann")
    cid = admin.community_create("Club")["community_id"]
    admin.member_add(cid, peer_id_from_public_key(ann.me))
    page = admin.pages.create(cid, "Guide", "one\n")["page_id"]
    sync_log(admin, ann, cid)
    page_id = bytes.fromhex(page)
    ann.pages.receive(ann.community(cid), page_id, _page_changes(admin, page_id), clock())
    ann.pages.edit(cid, page, append="two\n")  # a second writer
    admin.pages.receive(admin.community(cid), page_id, _page_changes(ann, page_id), clock())
    admin.pages.edit(cid, page, old="one", new="ONE")
    out = tmp_path / "export"
    export_community(admin, cid, out)
    return admin, cid, page, out


def test_pages_are_imported_with_their_text_and_history(tmp_path: Path) -> None:
    admin, cid, page, out = _exported(tmp_path)
    fresh = new_service(tmp_path, "fresh")
    assert import_community(fresh, out) == {"community_id": cid, "pages": 1}
    assert fresh.pages.show(cid, page)["text"] == "ONE\ntwo\n"
    assert fresh.pages.show(cid, page)["version"] == admin.pages.show(cid, page)["version"]
    assert len(fresh.pages.history(cid, page)["history"]) == 3


@pytest.mark.parametrize("tamper", ["signature", "hashes"])
def test_a_tampered_page_imports_nothing(tmp_path: Path, tamper: str) -> None:
    _, cid, _, out = _exported(tmp_path)
    manifest = json.loads((out / MANIFEST).read_text())
    entry = manifest["pages"][0]
    if tamper == "signature":
        sig = bytearray.fromhex(entry["signatures"][-1])
        sig[0] ^= 1
        entry["signatures"][-1] = sig.hex()
    else:
        entry["hashes"][-1] = "00" * 32
    (out / MANIFEST).write_text(json.dumps(manifest))
    fresh = new_service(tmp_path, "fresh")
    with pytest.raises(Invalid):
        import_community(fresh, out)
    assert bytes.fromhex(cid) not in fresh.store.community_ids()


def test_a_pages_files_are_imported_with_it(tmp_path: Path) -> None:
    """The page's files (issue 15) verify on import: the pages are read before the blobs,
    so each blob has the page's signed ref to be checked against."""
    admin = new_service(tmp_path, "admin")
    cid = admin.community_create("Club")["community_id"]
    source = tmp_path / "map.txt"
    source.write_text("north gate, 7pm\n")
    page = admin.pages.create(cid, "Meet", "see the map", attach=[str(source)])["page_id"]
    out = tmp_path / "export"
    export_community(admin, cid, out)
    fresh = new_service(tmp_path, "fresh")
    import_community(fresh, out)
    (shown,) = fresh.pages.show(cid, page)["attachments"]
    assert (shown["name"], shown["local"]) == ("map.txt", True)
    saved = tmp_path / "saved.txt"
    assert isinstance(fresh.files.save(cid, shown["cid"], str(saved)), dict)  # local: no fetch
    assert saved.read_text() == "north gate, 7pm\n"
