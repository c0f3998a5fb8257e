"""A member cannot take another's display name, nor a role word, unnoticed (issue 11, finding 6)."""

from __future__ import annotations

from pathlib import Path

from p2pcommunity.sync.docs.apply import SignedChange
from p2pcommunity.sync.docs.memberdoc import DocRef
from p2pcommunity.sync.names import labels, short_id
from p2pcommunity.sync.peerid import peer_id_from_public_key
from tests.sync.builders import clock, new_service


def test_shared_and_role_like_names_get_a_short_id_and_others_do_not() -> None:
    a, b, c, d, e = (bytes([i]) * 32 for i in range(1, 6))
    got = labels({a: "alice", b: "Alice", c: "bob", d: "ADMIN", e: ""})
    assert got[a] == f"alice ({short_id(a)})" and got[b] == f"Alice ({short_id(b)})"
    assert got[c] == "bob"
    assert got[d] == f"ADMIN ({short_id(d)})"
    assert got[e] == short_id(e)


def test_read_and_member_list_carry_the_labels(tmp_path: Path) -> None:
    owner = new_service(tmp_path, "o")
    owner.profile_set("alice", None)
    cid = owner.community_create("Club")["community_id"]
    twin = new_service(tmp_path, "t")
    owner.member_add(cid, peer_id_from_public_key(twin.me))
    community = owner.community(cid)
    twin.node_support.take_up(community.id).receive_ops(community.log.ops_in_order())
    twin.profile_set("alice", None)
    twin.post(cid, "general", "I am the real alice")
    ref = DocRef(community.id, twin.me, 0)
    items = [SignedChange(d, s) for _, _, d, s in twin.store.changes_after(ref.doc_id, 0)]
    community.receive_changes(ref, items, clock())
    (post,) = owner.read(cid, "general")["posts"]
    assert post["author_name"] == "alice"  # the existing field is unchanged
    assert post["author_label"] == f"alice ({short_id(twin.me)})"
    members = {m["peer_id"]: m for m in owner.member_list(cid)["members"]}
    assert members[peer_id_from_public_key(owner.me)]["label"] == f"alice ({short_id(owner.me)})"
    assert members[peer_id_from_public_key(twin.me)]["name"] == "alice"
