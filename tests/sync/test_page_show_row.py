"""`page show` from the pages row (migration 1.7) equals showing the opened document."""

from __future__ import annotations

from pathlib import Path

from p2pcommunity.sync.peerid import peer_id_from_public_key
from p2pcommunity.sync.service import Service
from p2pcommunity.sync.storage.store import Store
from tests.sync.builders import clock, new_service, sync_log
from tests.sync.test_pages import _page_changes


def test_show_from_the_row_equals_the_document_after_concurrent_edits(tmp_path: Path) -> None:
    admin, ann = new_service(tmp_path, "admin"), new_service(tmp_path, "ann")
    cid = admin.community_create("Club")["community_id"]
    admin.member_add(cid, peer_id_from_public_key(ann.me))
    page = admin.pages.create(cid, "Guide", "one\n")["page_id"]
    page_id = bytes.fromhex(page)
    sync_log(admin, ann, cid)
    ann.pages.receive(ann.community(cid), page_id, _page_changes(admin, page_id), clock())
    ann.pages.edit(cid, page, append="ann\n")
    admin.pages.edit(cid, page, old="one", new="ONE")  # concurrent: two heads
    admin.pages.receive(admin.community(cid), page_id, _page_changes(ann, page_id), clock())
    shown = admin.pages.show(cid, page)
    assert "+" in shown["version"] and shown["text"] == "ONE\nann\n"
    # A row from before 1.7 has no heads: show opens the document, to the same answer.
    admin.store.db.execute("UPDATE pages SET heads = NULL")
    admin.store.db.commit()
    key, path = admin.key, admin.store.path
    admin.store.close()
    reopened = Service(Store(path), key, clock)
    assert reopened.pages.show(cid, page) == shown
    reopened.store.close()
