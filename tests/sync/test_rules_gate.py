"""Rules that hold (issue 13, finding 1): until a member acknowledges the current rules,
nothing of the community is shown to them and their node writes nothing but the
acknowledgement."""

from __future__ import annotations

from pathlib import Path

import pytest

from p2pcommunity.sync.errors import RulesPending
from p2pcommunity.sync.service import Service
from tests.sync.builders import named_service, peer_of, sync_log


def _written(service: Service, cid: str) -> tuple[int, int]:
    """(log ops authored by `service`, its member-document changes) in `cid`."""
    community = service.community(cid, rules_gate=False)
    log = community.log
    ops = sum(1 for signed in log.ops_in_order() if log.op(signed.hash).author == service.me)
    docs = service.store.docs_of(bytes.fromhex(cid), service.me)
    return ops, sum(row.max_seq for row in docs)


@pytest.fixture
def joined(tmp_path: Path) -> tuple[Service, Service, str]:
    """An admin whose community has rules, and a member who has synced but not accepted."""
    admin, bob = named_service(tmp_path, "admin"), named_service(tmp_path, "bob")
    cid = admin.community_create("Club")["community_id"]
    admin.governance.rules_set(cid, "Be kind.")
    admin.post(cid, "general", "welcome, all")
    admin.member_add(cid, peer_of(bob))
    sync_log(admin, bob, cid)
    return admin, bob, cid


def test_nothing_is_shown_before_the_rules_are_accepted(
    joined: tuple[Service, Service, str],
) -> None:
    _admin, bob, cid = joined
    for refused in (
        lambda: bob.read(cid, "general"),
        lambda: bob.channel_list(cid),
        lambda: bob.search(cid, "welcome"),
        lambda: bob.member_list(cid),
        lambda: bob.post(cid, "general", "hi"),
        lambda: bob.mark_read(cid, "general"),
    ):
        with pytest.raises(RulesPending) as caught:
            refused()
        assert caught.value.code == "rules_pending"
    shown = bob.community_show(cid)
    assert shown["rules"] == "Be kind." and shown["rules_acknowledged"] is False
    assert shown["channels"] == []
    listed = bob.community_list()["communities"]
    assert [c["rules_acknowledged"] for c in listed] == [False]


def test_the_node_writes_nothing_but_the_acknowledgement(
    joined: tuple[Service, Service, str],
) -> None:
    _admin, bob, cid = joined
    bob.node_support.after_join(bob.community(cid, rules_gate=False))
    bob.profile_set("bobby", "gardener")
    bob.node_support.publish_addrs(["/ip4/127.0.0.1/tcp/4001"])
    assert _written(bob, cid) == (0, 0)

    assert bob.governance.rules_accept(cid) == {"rules_version": 1}
    ops, changes = _written(bob, cid)
    assert ops == 1  # the rules_ack
    assert changes >= 1  # the profile and addresses that waited
    community = bob.community(cid)
    assert community.state.members[bob.me].rules_acked == 1
    assert bob.store.read_model.profiles(community.id)[bob.me][0] == "bobby"
    assert [p["text"] for p in bob.read(cid, "general")["posts"]] == []  # docs not synced


def test_new_rules_lock_members_out_until_accepted_but_not_their_author(
    joined: tuple[Service, Service, str],
) -> None:
    admin, bob, cid = joined
    bob.governance.rules_accept(cid)
    bob.post(cid, "general", "hello")
    admin.governance.rules_set(cid, "Be kind. No spam.")
    assert admin.community_show(cid)["rules_acknowledged"] is True
    admin.post(cid, "general", "rules changed")
    sync_log(admin, bob, cid)
    with pytest.raises(RulesPending):
        bob.post(cid, "general", "still here")
    assert bob.governance.rules_accept(cid) == {"rules_version": 2}
    bob.post(cid, "general", "still here")


def test_leaving_works_while_the_rules_wait(joined: tuple[Service, Service, str]) -> None:
    _admin, bob, cid = joined
    assert bob.leave(cid) == {}
    assert bob.community_list() == {"communities": []}


def test_a_member_who_has_not_accepted_admits_nobody(
    joined: tuple[Service, Service, str], tmp_path: Path
) -> None:
    admin, bob, cid = joined
    code = admin.governance.invite_create(cid)
    from p2pcommunity.sync.invite import InviteCode, encode_presented, invite_proof

    invite = InviteCode.decode(code["invite"])
    carol = named_service(tmp_path, "carol")
    proof = invite_proof(invite.invite_key, invite.community_id, carol.me, invite.invite_op.hash)
    sync_log(admin, bob, cid)
    refusal = bob.governance.admit(
        bob.community(cid, rules_gate=False), carol.me, encode_presented(invite.invite_op, proof)
    )
    assert refusal == "forbidden"
    assert _written(bob, cid) == (0, 0)
