"""Issue 14: a demotion re-judges a restricted page's edits the same way on every peer.

Bob, a moderator, edits a page only moderators edit; an admin then demotes
him, recording what Bob had written as the admin knew it. An edit Bob made
before he learnt of it lies outside those heads: refused by a peer that
receives it after the demotion, and cut by a peer that had applied it first.
What he wrote within the heads stays everywhere.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import pytest

from p2pcommunity.sync.docs.apply import SignedChange
from p2pcommunity.sync.errors import Rejected
from p2pcommunity.sync.peerid import peer_id_from_public_key
from p2pcommunity.sync.service import Service
from tests.sync.builders import clock, new_service, sync_log
from tests.sync.test_pages import _page_changes


def _receive(target: Service, cid: str, page: str, changes: list[SignedChange]) -> None:
    target.pages.receive(target.community(cid), bytes.fromhex(page), changes, clock())


class _Club(NamedTuple):
    admin: Service
    bob: Service  # a moderator, until a test demotes him
    early: Service  # will apply Bob's edit before it learns of the demotion
    late: Service  # will learn of the demotion first
    cid: str
    page: str  # a page only moderators edit, on all four


def _moderators_page(tmp_path: Path) -> _Club:
    admin, bob, early, late = (new_service(tmp_path, n) for n in ("admin", "bob", "early", "late"))
    cid = admin.community_create("Club")["community_id"]
    for who in (bob, early, late):
        admin.member_add(cid, peer_id_from_public_key(who.me))
    admin.role_set(cid, peer_id_from_public_key(bob.me), "moderator")
    page = admin.pages.create(cid, "Rules", "one\n", editors="moderators")["page_id"]
    page_id = bytes.fromhex(page)
    for who in (bob, early, late):
        sync_log(admin, who, cid)
        _receive(who, cid, page, _page_changes(admin, page_id))
    return _Club(admin, bob, early, late, cid, page)


def _edit_as_moderator(club: _Club) -> SignedChange:
    """Bob appends "two", as a moderator; `early` and the admin apply it."""
    admin, bob, early, _late, cid, page = club
    page_id = bytes.fromhex(page)
    bob.pages.edit(cid, page, append="two\n")
    (edit,) = [c for c in _page_changes(bob, page_id) if c not in _page_changes(admin, page_id)]
    for who in (early, admin):
        _receive(who, cid, page, [edit])
    return edit


def test_a_demoted_editors_edits_count_alike_on_every_peer(tmp_path: Path) -> None:
    club = _moderators_page(tmp_path)
    admin, bob, early, late, cid, page = club
    page_id = bytes.fromhex(page)
    within = _edit_as_moderator(club)  # allowed
    admin.role_set(cid, peer_id_from_public_key(bob.me), "member")  # records Bob's heads
    bob.pages.edit(cid, page, append="three\n")  # before Bob learns of it
    beyond = _page_changes(bob, page_id)[-1]
    _receive(early, cid, page, [beyond])  # `early` applies it, not knowing of the demotion
    assert early.pages.show(cid, page)["text"] == "one\ntwo\nthree\n"
    for who in (bob, early, late):
        sync_log(admin, who, cid)
    _receive(late, cid, page, [within])  # made while Bob was a moderator: counts
    for who in (late, admin):
        with pytest.raises(Rejected):
            _receive(who, cid, page, [beyond])
    texts = {
        name: who.pages.show(cid, page)["text"]
        for name, who in (("admin", admin), ("early", early), ("late", late))
    }
    assert texts == {"admin": "one\ntwo\n", "early": "one\ntwo\n", "late": "one\ntwo\n"}
    assert early.store.pages.max_seqs(page_id)[bob.me] == late.store.pages.max_seqs(page_id)[bob.me]


def test_a_demotion_without_a_page_cut_judges_every_edit_by_the_role_now(tmp_path: Path) -> None:
    """Only builds between the wiki (0334b0c) and 7e94e66 demoted without a `page_cut`;
    no release did (0.1.0 has no pages). With no recorded heads, nothing tells which
    edits came before the demotion (author times are the author's to choose), so each
    peer judges all of them by the role the member holds now: they go, alike on a peer
    that applied them first and on one that learns of the demotion first."""
    club = _moderators_page(tmp_path)
    admin, bob, early, late, cid, page = club
    page_id = bytes.fromhex(page)
    restricted = _edit_as_moderator(club)
    # The demotion as those builds wrote it: a role_set with no page_cut before it.
    body = {"member": bob.me, "role": "member"}
    admin.append_op(admin.community(cid), "role_set", body)
    assert bob.me not in admin.community(cid).state.page_cuts
    assert early.pages.show(cid, page)["text"] == "one\ntwo\n"  # before it learns
    for who in (bob, early, late):
        sync_log(admin, who, cid)
    with pytest.raises(Rejected) as refused:
        _receive(late, cid, page, [restricted])
    assert refused.value.reason == "not_editor"
    texts = {who.pages.show(cid, page)["text"] for who in (admin, bob, early, late)}
    assert texts == {"one\n"}
    assert all(bob.me not in who.store.pages.max_seqs(page_id) for who in (admin, early, late))
