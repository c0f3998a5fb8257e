"""Wiki pages (issue 14): multi-writer documents, editors, removal cuts, attacks."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from p2pcommunity.sync.crypto import sign
from p2pcommunity.sync.docs.apply import SignedChange
from p2pcommunity.sync.docs.pages import PAGE_CHANGE_TAG, FileEdit, splice_for
from p2pcommunity.sync.errors import Forbidden, NotFound, Rejected
from p2pcommunity.sync.service import Service
from tests.sync.builders import clock, member_club, peer_of, sync_log


def _page_changes(source: Service, page_id: bytes) -> list[SignedChange]:
    return [SignedChange(d, g) for _, _, _, d, g in source.store.pages.changes(page_id)]


def _sync_page(source: Service, target: Service, cid: str, page: str) -> int:
    page_id = bytes.fromhex(page)
    community = target.community(cid)
    applied, waiting = target.pages.receive(
        community, page_id, _page_changes(source, page_id), clock()
    )
    assert not waiting
    return applied


def _forge(
    author: Service, cid: str, page_id: bytes, text: str, files: FileEdit | None = None
) -> SignedChange:
    """A signed change of `author`'s, made below its service's checks (as a modified
    client would)."""
    page = author.pages.open(author.community(cid), page_id)
    page.doc.set_actor(author.me)
    seq = author.store.pages.max_seqs(page_id).get(author.me, 0) + 1
    change = page.replace_text(text, seq, clock(), "x", files)
    assert change is not None
    return SignedChange(change.raw_bytes, sign(author.key, PAGE_CHANGE_TAG, page_id, change.hash))


def _refusal(target: Service, cid: str, page_id: bytes, forged: SignedChange) -> str:
    """Why `target` refuses `forged`; it stored nothing of it."""
    before = target.store.pages.count(page_id)
    with pytest.raises(Rejected) as refused:
        target.pages.receive(target.community(cid), page_id, [forged], clock())
    assert target.store.pages.count(page_id) == before
    return refused.value.reason


@pytest.fixture
def club(tmp_path: Path) -> tuple[Service, Service, Service, str]:
    (admin, ann, bob), cid = member_club(tmp_path, "admin", "ann", "bob")
    return admin, ann, bob, cid


def test_splice_is_minimal() -> None:
    assert splice_for("hello world", "hello brave world") == (6, 0, "brave ")
    assert splice_for("abc", "abc") == (3, 0, "")
    assert splice_for("aaa", "aa") == (2, 1, "")


@given(st.text(max_size=30), st.text(max_size=30))
@settings(max_examples=200, deadline=None)
def test_splice_turns_old_into_new(old: str, new: str) -> None:
    start, deleted, inserted = splice_for(old, new)
    assert old[:start] + inserted + old[start + deleted :] == new


def test_concurrent_edits_merge_identically(club: tuple[Service, Service, Service, str]) -> None:
    admin, ann, bob, cid = club
    page = admin.pages.create(cid, "Guide", "line one\nline two\n")["page_id"]
    for who in (ann, bob):
        sync_log(admin, who, cid)
        _sync_page(admin, who, cid, page)
    ann.pages.edit(cid, "Guide", text="ANN line one\nline two\n")
    bob.pages.edit(cid, "Guide", append="bob's line\n")
    admin.pages.edit(cid, page, old="two", new="2")
    everyone = (admin, ann, bob)
    for source in everyone:
        for target in everyone:
            if source is not target:
                _sync_page(source, target, cid, page)
    texts = {s.pages.show(cid, "Guide")["text"] for s in everyone}
    assert texts == {"ANN line one\nline 2\nbob's line\n"}
    shown = admin.pages.show(cid, "Guide")
    assert len(shown["contributors"]) == 3
    history = admin.pages.history(cid, "Guide")["history"]
    assert len(history) == 4 and history[0]["summary"] == "+18 -0 chars"


def test_revert_restores_an_earlier_text(club: tuple[Service, Service, Service, str]) -> None:
    admin, ann, _, cid = club
    admin.pages.create(cid, "FAQ", "first")
    admin.pages.edit(cid, "FAQ", text="second")
    first = admin.pages.history(cid, "FAQ")["history"][0]["version"]
    admin.pages.revert(cid, "FAQ", first)
    assert admin.pages.show(cid, "FAQ")["text"] == "first"
    assert len(admin.pages.history(cid, "FAQ")["history"]) == 3
    sync_log(admin, ann, cid)
    with pytest.raises(Forbidden):
        ann.pages.revert(cid, "FAQ", first)


def test_non_editor_change_is_refused_and_stores_nothing(
    club: tuple[Service, Service, Service, str],
) -> None:
    admin, ann, bob, cid = club
    page = admin.pages.create(cid, "Rules", "mods only", editors="moderators")["page_id"]
    sync_log(admin, ann, cid)
    _sync_page(admin, ann, cid, page)
    with pytest.raises(Forbidden):
        ann.pages.edit(cid, "Rules", append="!")
    # Forge it anyway, below the service's check: a signed change by a non-editor.
    page_id = bytes.fromhex(page)
    forged = _forge(ann, cid, page_id, "vandalised")
    assert _refusal(admin, cid, page_id, forged) == "not_editor"
    assert admin.pages.show(cid, "Rules")["text"] == "mods only"
    del bob


def test_bad_signature_stores_nothing(club: tuple[Service, Service, Service, str]) -> None:
    admin, ann, _, cid = club
    page = admin.pages.create(cid, "Links", "a")["page_id"]
    page_id = bytes.fromhex(page)
    sync_log(admin, ann, cid)
    _sync_page(admin, ann, cid, page)
    ann.pages.edit(cid, "Links", append="b")
    data = ann.store.pages.changes(page_id)[-1][3]
    with pytest.raises(Rejected) as refused:
        admin.pages.receive(admin.community(cid), page_id, [SignedChange(data, b"\0" * 64)], 1)
    assert refused.value.reason == "bad_signature"
    assert admin.store.pages.count(page_id) == 1


def test_editors_change_applies_to_later_changes_only(
    club: tuple[Service, Service, Service, str],
) -> None:
    admin, ann, _, cid = club
    page = admin.pages.create(cid, "Wiki", "x")["page_id"]
    sync_log(admin, ann, cid)
    _sync_page(admin, ann, cid, page)
    ann.pages.edit(cid, "Wiki", append="y")  # allowed: editors are members
    _sync_page(ann, admin, cid, page)
    admin.pages.set_editors(cid, "Wiki", "moderators")
    sync_log(admin, ann, cid)
    with pytest.raises(Forbidden):
        ann.pages.edit(cid, "Wiki", append="z")
    assert admin.pages.show(cid, "Wiki")["text"] == "xy"  # the earlier edit still counts
    assert admin.pages.show(cid, "Wiki")["editors"] == "moderators"


def test_removed_members_later_edit_is_cut_on_a_peer_that_applied_it(
    club: tuple[Service, Service, Service, str],
) -> None:
    admin, mallory, bob, cid = club
    page = admin.pages.create(cid, "Guide", "good text")["page_id"]
    page_id = bytes.fromhex(page)
    for who in (mallory, bob):
        sync_log(admin, who, cid)
        _sync_page(admin, who, cid, page)
    mallory.pages.edit(cid, "Guide", append=" ok")
    _sync_page(mallory, admin, cid, page)
    _sync_page(mallory, bob, cid, page)
    # The admin removes mallory knowing her first edit; she edits again, and bob,
    # who has not seen the removal yet, applies it and builds on it.
    admin.governance.member_remove(cid, peer_of(mallory))
    mallory.pages.edit(cid, "Guide", text="SPAM")
    _sync_page(mallory, bob, cid, page)
    bob.pages.edit(cid, "Guide", append="!")
    assert bob.pages.show(cid, "Guide")["text"] == "SPAM!"
    sync_log(admin, bob, cid)
    assert bob.pages.show(cid, "Guide")["text"] == "good text ok"
    assert bob.store.pages.max_seqs(page_id).get(mallory.me) == 1
    # Her later edit is refused everywhere now, and stores nothing.
    later = _page_changes(mallory, page_id)
    with pytest.raises(Rejected):
        admin.pages.receive(admin.community(cid), page_id, later, clock())
    assert admin.pages.show(cid, "Guide")["text"] == "good text ok"


def test_non_member_cannot_create_or_restrict(club: tuple[Service, Service, Service, str]) -> None:
    admin, ann, _, cid = club
    with pytest.raises(Forbidden):
        ann.pages.create(cid, "Mods", "x", editors="moderators")
    ann.pages.create(cid, "Open", "x")
    assert [p["title"] for p in ann.pages.list_pages(cid)["pages"]] == ["Open"]
    del admin


def test_page_files_travel_and_a_malformed_files_map_is_refused(
    club: tuple[Service, Service, Service, str], tmp_path: Path
) -> None:
    from dataclasses import replace

    admin, ann, _, cid = club
    f = tmp_path / "map.txt"
    f.write_text("north gate\n")
    page = admin.pages.create(cid, "Meet", "see the map", attach=[str(f)])["page_id"]
    sync_log(admin, ann, cid)
    _sync_page(admin, ann, cid, page)
    (shown,) = ann.pages.show(cid, "Meet")["attachments"]
    assert (shown["name"], shown["local"]) == ("map.txt", False)
    # Ann forges a change below her service's check: a file named like a path.
    page_id = bytes.fromhex(page)
    (ref,) = ann.pages.open(ann.community(cid), page_id).files()  # type: ignore[misc]
    forged = _forge(ann, cid, page_id, "see", FileEdit((replace(ref, name="../../x"),)))
    assert _refusal(admin, cid, page_id, forged) == "invalid_content"
    assert [a["name"] for a in admin.pages.show(cid, "Meet")["attachments"]] == ["map.txt"]
    # Detaching by CID leaves the page without it, on every peer that syncs.
    admin.pages.edit(cid, "Meet", detach=[shown["cid"]])
    assert admin.pages.show(cid, "Meet")["attachments"] == []
    with pytest.raises(NotFound):
        admin.pages.edit(cid, "Meet", detach=[shown["cid"]])
