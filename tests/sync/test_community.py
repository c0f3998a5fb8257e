"""Attacks on a community's stored data: each is rejected and leaves SQLite unchanged."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from automerge.core import ROOT, Document, ScalarType
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nacl.signing import SigningKey

from p2pcommunity.sync.crypto import CHANGE_TAG, sign
from p2pcommunity.sync.docs import memberdoc
from p2pcommunity.sync.docs.apply import SignedChange, apply_to_document
from p2pcommunity.sync.docs.memberdoc import DocRef
from p2pcommunity.sync.errors import Invalid, Rejected
from p2pcommunity.sync.log.community_log import SignedOp, make_op
from p2pcommunity.sync.peerid import peer_id_from_public_key
from p2pcommunity.sync.service import Service
from tests.sync.builders import clock, last_change, new_service, sign_change, snapshot


@pytest.fixture
def world(tmp_path: Path) -> dict[str, Any]:
    """Owner and a member each with their own store; the owner's store is the victim."""
    owner = new_service(tmp_path, "owner")
    member = new_service(tmp_path, "member")
    community_id = bytes.fromhex(owner.community_create("Club")["community_id"])
    owner.member_add(community_id.hex(), peer_id_from_public_key(member.me))
    community = owner.community(community_id.hex())
    # The member holds the same log: copy the ops over.
    member.node_support.take_up(community_id).receive_ops(community.log.ops_in_order())
    return {"owner": owner, "member": member, "cid": community_id, "community": community}


def _member_changes(world: dict[str, Any], count: int) -> tuple[DocRef, list[SignedChange]]:
    member: Service = world["member"]
    for i in range(count):
        member.post(world["cid"].hex(), "general", f"post {i}")
    ref = DocRef(world["cid"], member.me, 0)
    rows = member.store.changes_after(ref.doc_id, 0)
    return ref, [SignedChange(data, sig) for _, _, data, sig in rows]


def _attack(world: dict[str, Any], ref: DocRef, items: list[SignedChange], reason: str) -> None:
    owner: Service = world["owner"]
    before = snapshot(owner.store.path)
    with pytest.raises(Rejected) as err:
        world["community"].receive_changes(ref, items, clock())
    assert err.value.reason == reason
    assert snapshot(owner.store.path) == before


def test_valid_changes_are_stored_and_read(world: dict[str, Any]) -> None:
    ref, items = _member_changes(world, 3)
    world["community"].receive_changes(ref, items, clock())
    texts = [p["text"] for p in world["owner"].read(world["cid"].hex(), "general")["posts"]]
    assert texts == ["post 0", "post 1", "post 2"]


def test_bad_signature(world: dict[str, Any]) -> None:
    ref, items = _member_changes(world, 2)
    items[1] = SignedChange(items[1].data, bytes(64))
    _attack(world, ref, items, "bad_signature")


def test_wrong_owner_for_the_document(world: dict[str, Any]) -> None:
    _, items = _member_changes(world, 1)
    owners_doc = DocRef(world["cid"], world["owner"].me, 0)
    _attack(world, owners_doc, items, "wrong_owner")


def test_document_of_a_non_member(world: dict[str, Any], tmp_path: Path) -> None:
    stranger = SigningKey.generate()
    ref = DocRef(world["cid"], bytes(stranger.verify_key), 0)
    seg = memberdoc.SegmentDoc.new(ref)
    change = seg.write_profile("x", None, 1)
    item = SignedChange(change.raw_bytes, sign(stranger, CHANGE_TAG, ref.doc_id, change.hash))
    _attack(world, ref, [item], "not_member")


def test_seq_gap(world: dict[str, Any]) -> None:
    ref, items = _member_changes(world, 3)
    _attack(world, ref, [items[0], items[2]], "seq_gap")


def test_equivocation_against_stored_history(world: dict[str, Any]) -> None:
    ref, items = _member_changes(world, 2)
    community = world["community"]
    community.receive_changes(ref, items, clock())
    # The member's key signs a different seq-2 change: a forked device.
    first = world["member"].store.changes_after(ref.doc_id, 0, 1)[0]
    seg = memberdoc.SegmentDoc(ref, Document(actor_id=ref.owner))
    apply_to_document(seg, [first[2]], first[1])
    forked = seg.write_profile("fork", None, 5)
    assert forked.seq == 2
    member_key: SigningKey = world["member"].key
    bad = SignedChange(forked.raw_bytes, sign(member_key, CHANGE_TAG, ref.doc_id, forked.hash))
    _attack(world, ref, [bad], "equivocation")


def test_oversize_change(world: dict[str, Any]) -> None:
    member_key: SigningKey = world["member"].key
    ref = DocRef(world["cid"], world["member"].me, 0)
    doc = Document(actor_id=ref.owner)
    with doc.transaction() as tx:
        tx.put(ROOT, "blob", ScalarType.Str, "x" * (300 * 1024))
    item = sign_change(member_key, ref, last_change(doc))
    _attack(world, ref, [item], "oversize_change")


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_truncated_or_random_chunk_bytes(world: dict[str, Any], data: st.DataObject) -> None:
    ref, items = _member_changes(world, 1) if "items" not in world else world["items"]
    world["items"] = (ref, items)
    raw = items[0].data
    choice = data.draw(st.sampled_from(["truncate", "random", "flip"]))
    if choice == "truncate":
        mangled = raw[: data.draw(st.integers(0, len(raw) - 1))]
    elif choice == "random":
        mangled = data.draw(st.binary(max_size=400))
    else:
        i = data.draw(st.integers(0, len(raw) - 1))
        mangled = raw[:i] + bytes([raw[i] ^ (1 << data.draw(st.integers(0, 7)))]) + raw[i + 1 :]
    before = snapshot(world["owner"].store.path)
    with pytest.raises(Rejected):
        world["community"].receive_changes(
            ref, [SignedChange(mangled, items[0].signature)], clock()
        )
    assert snapshot(world["owner"].store.path) == before


def test_non_admin_governance_op(world: dict[str, Any]) -> None:
    member: Service = world["member"]
    community = world["community"]
    op = make_op(
        member.key,
        world["cid"],
        community.log.heads(),
        "channel_create",
        {"name": "mine", "topic": ""},
        clock(),
    )
    before = snapshot(world["owner"].store.path)
    with pytest.raises(Rejected) as err:
        community.receive_ops([op])
    assert err.value.reason == "forbidden"
    assert snapshot(world["owner"].store.path) == before
    assert len(community.state.channels) == 1


@pytest.mark.parametrize("data", [b"", b"\xa1", b"\xff" * 40, b"not cbor at all"])
def test_malformed_cbor_op(world: dict[str, Any], data: bytes) -> None:
    before = snapshot(world["owner"].store.path)
    with pytest.raises(Rejected) as err:
        world["community"].receive_ops([SignedOp(data, bytes(64))])
    assert err.value.reason in {"malformed_op", "bad_signature"}
    assert snapshot(world["owner"].store.path) == before


def test_profile_survives_segment_rollover(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("p2pcommunity.sync.community.SEGMENT_MAX_CHANGES", 3)
    service = new_service(tmp_path, "solo")
    service.set_display_name("ann")
    cid = service.community_create("Solo")["community_id"]
    for i in range(5):
        service.post(cid, "general", f"p{i}")
    service.profile_set(None, "gardener")
    members = service.member_list(cid)["members"]
    assert members[0]["name"] == "ann"
    assert service.store.read_model.profiles(bytes.fromhex(cid))[service.me] == ("ann", "gardener")
    assert len(service.store.docs_of(bytes.fromhex(cid))) >= 2


def test_search_finds_posts_and_forgets_deleted_and_edited_text(tmp_path: Path) -> None:
    service = new_service(tmp_path, "solo")
    cid = service.community_create("Solo")["community_id"]
    kept = service.post(cid, "general", "tomatoes need sun")["post_id"]
    gone = service.post(cid, "general", "tomatoes in shade")["post_id"]
    assert {p["id"] for p in service.search(cid, "tomatoes")["posts"]} == {kept, gone}
    service.delete(cid, gone)
    service.edit(cid, kept, "peppers need sun")
    assert service.search(cid, "tomatoes")["posts"] == []
    assert [p["id"] for p in service.search(cid, "peppers")["posts"]] == [kept]


def test_paging_threads_and_unread_counts(tmp_path: Path) -> None:
    alice = new_service(tmp_path, "alice")
    bob = new_service(tmp_path, "bob")
    cid = alice.community_create("Club")["community_id"]
    alice.member_add(cid, peer_id_from_public_key(bob.me))
    ids = [alice.post(cid, "general", f"p{i}")["post_id"] for i in range(7)]
    page = alice.read(cid, "general", 3)["posts"]
    assert [p["id"] for p in page] == ids[4:]
    older = alice.read(cid, "general", 3, before=page[0]["id"])["posts"]
    assert [p["id"] for p in older] == ids[1:4]
    reply = alice.post(cid, "general", "re", reply_to=ids[0])["post_id"]
    assert [p["id"] for p in alice.thread(cid, ids[0])["posts"]] == [ids[0], reply]
    assert alice.read(cid, "general", 50)["posts"][0]["replies"] == 1
    # Bob receives Alice's posts: they are unread for him until he marks the channel read.
    community = bob.node_support.take_up(bytes.fromhex(cid))
    community.receive_ops(alice.community(cid).log.ops_in_order())
    ref = DocRef(bytes.fromhex(cid), alice.me, 0)
    rows = alice.store.changes_after(ref.doc_id, 0)
    community.receive_changes(ref, [SignedChange(d, s) for _, _, d, s in rows], clock())
    assert bob.channel_list(cid)["channels"][0]["unread"] == 8
    assert alice.channel_list(cid)["channels"][0]["unread"] == 0  # one's own posts
    bob.mark_read(cid, "general")
    assert bob.channel_list(cid)["channels"][0]["unread"] == 0


class FakePanic(BaseException):
    """Stands in for pyo3's PanicException, which is a BaseException."""


def test_a_panic_inside_automerge_changes_nothing_and_the_document_reloads(
    world: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    ref, items = _member_changes(world, 2)
    community = world["community"]
    community.receive_changes(ref, items[:1], clock())
    poisoned = community.segment(ref)
    before = snapshot(world["owner"].store.path)

    def panic(*args: Any) -> None:
        raise FakePanic("the Rust core panicked")

    monkeypatch.setattr(poisoned, "doc", _PanickingDoc(poisoned.doc, panic))
    with pytest.raises(Rejected) as err:
        community.receive_changes(ref, items[1:], clock())
    assert err.value.reason == "automerge_error"
    assert snapshot(world["owner"].store.path) == before
    # The poisoned in-memory document was dropped: a fresh one is loaded from
    # SQLite and the same change now applies.
    assert community.segment(ref) is not poisoned
    community.receive_changes(ref, items[1:], clock())
    texts = [p["text"] for p in world["owner"].read(world["cid"].hex(), "general")["posts"]]
    assert texts == ["post 0", "post 1"]


class _PanickingDoc:
    def __init__(self, doc: Any, panic: Any) -> None:
        self._doc = doc
        self.receive_sync_message = panic

    def __getattr__(self, name: str) -> Any:
        return getattr(self._doc, name)


def test_an_invalid_own_post_is_refused_before_it_is_stored(world: dict[str, Any]) -> None:
    """The writer refuses its own invalid post as every receiver would (content.py)."""
    member: Service = world["member"]
    community = member.community(world["cid"].hex())
    channel = Service.channel_id(community.state, "general")
    too_long = "x" * (memberdoc.MAX_POST_CHARS + 1)
    for text in ("ok", too_long, "also ok"):
        record = memberdoc.PostRecord(memberdoc.new_local_id(), channel, text, None, (), clock())
        if text is too_long:
            with pytest.raises(Invalid, match="longer than"):
                community.write(member.key, clock(), lambda seg, r=record: seg.write_post(r))
            continue
        community.write(member.key, clock(), lambda seg, r=record: seg.write_post(r))
    ref, items = _member_changes(world, 0)
    world["community"].receive_changes(ref, items, clock())
    for store in (member.store, world["owner"].store):
        texts = [
            r[0] for r in store.db.execute("SELECT text FROM posts WHERE author=?", (ref.owner,))
        ]
        assert sorted(texts) == ["also ok", "ok"]
        row = store.doc(ref.doc_id)
        assert row is not None and row.max_seq == row.journal_pos == 2
