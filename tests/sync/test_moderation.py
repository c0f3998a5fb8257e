"""Removal, timeouts and reports at the community level (ARCHITECTURE §5.6)."""

from __future__ import annotations

from pathlib import Path

import pytest
from nacl.signing import SigningKey

from p2pcommunity.sync.errors import Forbidden, Rejected
from p2pcommunity.sync.reports import open_report, seal_report
from p2pcommunity.sync.service import Service
from tests.sync.builders import member_club, new_service, peer_of, sync_docs, sync_log, texts

Trio = tuple[Service, Service, Service, str]


@pytest.fixture
def trio_of(tmp_path: Path) -> Trio:
    """admin, a member who will misbehave (mallory) and a bystander (bob), all synced."""
    (admin, mallory, bob), cid = member_club(tmp_path, "admin", "mallory", "bob")
    return admin, mallory, bob, cid


def test_a_peer_that_applied_late_changes_rebuilds_at_the_removal_heads(trio_of: Trio) -> None:
    admin, mallory, bob, cid = trio_of
    mallory.post(cid, "general", "fine post")
    sync_docs(mallory, admin, cid, mallory.me)
    # The admin removes mallory knowing only her first post...
    admin.governance.member_remove(cid, peer_of(mallory))
    # ...while mallory, not knowing, keeps posting; bob applies those first.
    mallory.post(cid, "general", "abuse 1")
    mallory.react(cid, admin.read(cid, "general")["posts"][0]["id"], "👎")
    sync_docs(mallory, bob, cid, mallory.me)
    assert texts(bob, cid) == ["fine post", "abuse 1"]
    # Then bob learns of the removal: mallory's documents are cut back to the
    # heads the removal recorded and her read-model rows are rebuilt.
    sync_log(admin, bob, cid)
    assert texts(bob, cid) == ["fine post"]
    assert bob.read(cid, "general")["posts"][0]["reactions"] == {}
    assert bob.store.docs_of(bytes.fromhex(cid), mallory.me)[0].max_seq == 1
    # Her later changes are refused from now on, by every peer.
    with pytest.raises(Rejected) as err:
        sync_docs(mallory, admin, cid, mallory.me)
    assert err.value.reason == "removed"
    statuses = {m["peer_id"]: m["status"] for m in bob.member_list(cid)["members"]}
    assert statuses[peer_of(mallory)] == "removed"


def test_a_removed_member_is_refused_by_its_own_node(trio_of: Trio) -> None:
    admin, mallory, _, cid = trio_of
    admin.governance.member_remove(cid, peer_of(mallory))
    sync_log(admin, mallory, cid)
    with pytest.raises(Forbidden):
        mallory.post(cid, "general", "still here?")


def test_timeout_hides_posts_outside_its_heads_until_it_ends(trio_of: Trio) -> None:
    admin, mallory, bob, cid = trio_of
    mallory.post(cid, "general", "before the timeout")
    sync_docs(mallory, bob, cid, mallory.me)
    admin.role_set(cid, peer_of(bob), "moderator")
    sync_log(admin, bob, cid)
    before = bob.clock()
    bob.governance.timeout(cid, peer_of(mallory), "1h")
    after = bob.clock()
    # Mallory had not seen the timeout and posted meanwhile, dated before its end.
    mallory.post(cid, "general", "during the timeout")
    sync_docs(mallory, bob, cid, mallory.me)
    assert texts(bob, cid) == ["before the timeout"]
    sync_log(bob, mallory, cid)
    with pytest.raises(Forbidden):
        mallory.post(cid, "general", "again")
    members = {m["peer_id"]: m for m in bob.member_list(cid)["members"]}
    assert members[peer_of(mallory)]["status"] == "timed_out"
    # every member sees when it ends, as ms since the epoch; the others have none
    until = members[peer_of(mallory)]["timed_out_until"]
    assert isinstance(until, int) and before + 3_600_000 <= until <= after + 3_600_000
    assert until in [m["timed_out_until"] for m in mallory.member_list(cid)["members"]]
    assert [m["timed_out_until"] for m in members.values() if m["status"] != "timed_out"] == [
        None,
        None,
    ]
    bob.governance.untimeout(cid, peer_of(mallory))
    assert all(m["timed_out_until"] is None for m in bob.member_list(cid)["members"])
    assert texts(bob, cid) == ["before the timeout", "during the timeout"]


def test_a_moderator_cannot_remove_or_time_out_an_admin(trio_of: Trio) -> None:
    admin, _, bob, cid = trio_of
    admin.role_set(cid, peer_of(bob), "moderator")
    sync_log(admin, bob, cid)
    with pytest.raises(Forbidden):
        bob.governance.member_remove(cid, peer_of(admin))
    with pytest.raises(Forbidden):
        bob.governance.timeout(cid, peer_of(admin), "1h")


def test_reports_open_only_for_their_readers() -> None:
    moderator, admin, member = (SigningKey.generate() for _ in range(3))
    reporter = bytes(SigningKey.generate().verify_key)
    body = seal_report(
        "ab" * 16, "harassment", 5, [bytes(moderator.verify_key), bytes(admin.verify_key)]
    )
    for reader in (moderator, admin):
        opened = open_report(reader, reporter, body)
        assert opened is not None and opened.reason == "harassment"
    assert open_report(member, reporter, body) is None
    assert b"harassment" not in body and b"ab" * 16 not in body
    assert open_report(moderator, reporter, b"\x00garbage") is None


def test_hidden_posts_leave_read_search_and_threads(trio_of: Trio) -> None:
    admin, _, _, cid = trio_of
    post = admin.post(cid, "general", "misinformation about vaccines")["post_id"]
    admin.post(cid, "general", "a reply", reply_to=post)
    admin.governance.hide(cid, post, "misinformation")
    assert texts(admin, cid) == ["a reply"]
    assert admin.search(cid, "vaccines")["posts"] == []
    admin.governance.unhide(cid, post)
    assert texts(admin, cid) == ["misinformation about vaccines", "a reply"]


def test_rules_are_limited_in_characters_by_one_definition(tmp_path: Path) -> None:
    """10,000 "é" are 20,000 bytes: 0.1.0 accepted them in `rules set` and then
    refused its own op (the log counted bytes, the command characters)."""
    owner, peer = new_service(tmp_path, "owner"), new_service(tmp_path, "peer")
    cid = owner.community_create("Rules")["community_id"]
    assert owner.governance.rules_set(cid, "é" * 10_000)["rules_version"] == 1
    sync_log(owner, peer, cid)
    assert peer.community(cid).state.rules == "é" * 10_000
    with pytest.raises(Exception, match="characters"):
        owner.governance.rules_set(cid, "x" * (16 * 1024 + 1))
    with pytest.raises(Exception, match="KB"):
        owner.governance.rules_set(cid, "😀" * 16_384)
