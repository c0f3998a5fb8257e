"""Issue 14: what a page change costs a node that relays it (bench_page_mesh.py).

In a mesh each change arrives once from every neighbour, and each push used to
read a page's whole history. These tests pin the cheaper paths to the same
answers as the plain ones: a push sends exactly what the peer lacks, in a
causal order; a copy of a change already held is recognised by its hash alone
(no parse, no signature check) and still tells what the peer holds.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from p2pcommunity.sync.docs.apply import SignedChange
from p2pcommunity.sync.docs.chunks import parse_change
from p2pcommunity.sync.pages import CommunityPages
from p2pcommunity.sync.protocol.frames import PageChangesFrame
from p2pcommunity.sync.protocol.pages import PageSync
from p2pcommunity.sync.service import Service
from tests.sync.builders import clock, member_club, sync_log
from tests.sync.test_pages import _page_changes, _sync_page


@pytest.fixture(scope="module")
def merged(tmp_path_factory: pytest.TempPathFactory) -> tuple[Service, str, bytes]:
    """A page three members edited concurrently, all merged at the admin's."""
    tmp_path: Path = tmp_path_factory.mktemp("merged")
    (admin, ann, bob), cid = member_club(tmp_path, "admin", "ann", "bob")
    page = admin.pages.create(cid, "Guide", "one\ntwo\n")["page_id"]
    for who in (ann, bob):
        sync_log(admin, who, cid)
        _sync_page(admin, who, cid, page)
    for i in range(4):
        ann.pages.edit(cid, page, append=f"ann {i}\n")
        bob.pages.edit(cid, page, text=f"bob {i}\n" + bob.pages.show(cid, page)["text"])
        admin.pages.edit(cid, page, old="one", new=f"one{i}")
        for who in (ann, bob):
            _sync_page(who, admin, cid, page)
    return admin, cid, bytes.fromhex(page)


@given(st.lists(st.integers(min_value=0, max_value=6), min_size=3, max_size=3))
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_a_push_reads_exactly_what_the_peer_lacks_in_stored_order(
    merged: tuple[Service, str, bytes], seqs: list[int]
) -> None:
    admin, _, page_id = merged
    tables = admin.store.pages
    actors = sorted(tables.max_seqs(page_id))
    assert len(actors) == 3
    known = {a: s for a, s in zip(actors, seqs, strict=True) if s}
    every = tables.changes(page_id)
    assert tables.changes_beyond(page_id, known) == [
        row for row in every if row[1] > known.get(row[0], 0)
    ]


def test_copies_skip_verification_and_still_tell_what_the_peer_holds(
    merged: tuple[Service, str, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    admin, cid, page_id = merged
    community = admin.community(cid)
    copies = _page_changes(admin, page_id)
    # Garbage signatures: a copy of what we hold is never checked again, nor stored.
    frame = PageChangesFrame(page_id, tuple(SignedChange(c.data, bytes(64)) for c in copies))

    def no_receive(*_: object) -> None:
        raise AssertionError("a frame of copies reached receive()")

    monkeypatch.setattr(CommunityPages, "receive", no_receive)
    sync = PageSync()
    sync.enabled = sync.summary_sent = sync.peer_summary_done = True
    before = admin.store.pages.count(page_id)
    assert sync.on_changes(community, frame, clock()) is None
    assert admin.store.pages.count(page_id) == before
    sent: list[object] = []
    sync.push(community, sent.append)
    assert sent == []  # the peer holds all of it: nothing is sent back
    tops: dict[bytes, int] = {}
    for change in copies:
        parsed = parse_change(change.data)
        tops[parsed.actor] = max(tops.get(parsed.actor, 0), parsed.seq)
    assert tops == admin.store.pages.max_seqs(page_id)
