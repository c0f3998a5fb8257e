"""Removal, timeouts and reports at the community level (ARCHITECTURE §5.6)."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from nacl.signing import SigningKey

from p2pcommunity.sync.docs.apply import SignedChange
from p2pcommunity.sync.docs.memberdoc import DocRef
from p2pcommunity.sync.errors import Forbidden, Rejected
from p2pcommunity.sync.peerid import peer_id_from_public_key
from p2pcommunity.sync.reports import open_report, seal_report
from p2pcommunity.sync.service import Service
from p2pcommunity.sync.storage.store import Store

_clock = itertools.count(1_700_000_000_000, 1000)


def clock() -> int:
    return next(_clock)


def _service(tmp_path: Path, name: str) -> Service:
    return Service(Store(tmp_path / f"{name}.sqlite3"), SigningKey.generate(), clock)


def _sync_log(source: Service, target: Service, cid: str) -> None:
    target.node_support.take_up(bytes.fromhex(cid)).receive_ops(
        source.community(cid).log.ops_in_order()
    )


def _sync_docs(source: Service, target: Service, cid: str, owner: bytes) -> None:
    community = target.community(cid)
    for row in source.store.docs_of(bytes.fromhex(cid), owner):
        held = target.store.doc(row.doc_id)
        after = held.max_seq if held else 0
        rows = source.store.changes_after(row.doc_id, after)
        if rows:
            items = [SignedChange(d, s) for _, _, d, s in rows]
            community.receive_changes(
                DocRef(bytes.fromhex(cid), owner, row.segment), items, clock()
            )


def _texts(service: Service, cid: str) -> list[str]:
    return [p["text"] for p in service.read(cid, "general")["posts"]]


@pytest.fixture
def trio_of(tmp_path: Path) -> tuple[Service, Service, Service, str]:
    """admin, a member who will misbehave (mallory) and a bystander (bob), all synced."""
    admin, mallory, bob = (_service(tmp_path, n) for n in ("admin", "mallory", "bob"))
    cid = admin.community_create("Club")["community_id"]
    for who in (mallory, bob):
        admin.member_add(cid, peer_id_from_public_key(who.me))
    for who in (mallory, bob):
        _sync_log(admin, who, cid)
    return admin, mallory, bob, cid


def test_a_peer_that_applied_late_changes_rebuilds_at_the_removal_heads(
    trio_of: tuple[Service, Service, Service, str],
) -> None:
    admin, mallory, bob, cid = trio_of
    mallory.post(cid, "general", "fine post")
    _sync_docs(mallory, admin, cid, mallory.me)
    # The admin removes mallory knowing only her first post...
    admin.governance.member_remove(cid, peer_id_from_public_key(mallory.me))
    # ...while mallory, not knowing, keeps posting; bob applies those first.
    mallory.post(cid, "general", "abuse 1")
    mallory.react(cid, admin.read(cid, "general")["posts"][0]["id"], "👎")
    _sync_docs(mallory, bob, cid, mallory.me)
    assert _texts(bob, cid) == ["fine post", "abuse 1"]
    # Then bob learns of the removal: mallory's documents are cut back to the
    # heads the removal recorded and her read-model rows are rebuilt.
    _sync_log(admin, bob, cid)
    assert _texts(bob, cid) == ["fine post"]
    assert bob.read(cid, "general")["posts"][0]["reactions"] == {}
    assert bob.store.docs_of(bytes.fromhex(cid), mallory.me)[0].max_seq == 1
    # Her later changes are refused from now on, by every peer.
    with pytest.raises(Rejected) as err:
        _sync_docs(mallory, admin, cid, mallory.me)
    assert err.value.reason == "removed"
    statuses = {m["peer_id"]: m["status"] for m in bob.member_list(cid)["members"]}
    assert statuses[peer_id_from_public_key(mallory.me)] == "removed"


def test_a_removed_member_is_refused_by_its_own_node(
    trio_of: tuple[Service, Service, Service, str],
) -> None:
    admin, mallory, _, cid = trio_of
    admin.governance.member_remove(cid, peer_id_from_public_key(mallory.me))
    _sync_log(admin, mallory, cid)
    with pytest.raises(Forbidden):
        mallory.post(cid, "general", "still here?")


def test_timeout_hides_posts_outside_its_heads_until_it_ends(
    trio_of: tuple[Service, Service, Service, str],
) -> None:
    admin, mallory, bob, cid = trio_of
    mallory.post(cid, "general", "before the timeout")
    _sync_docs(mallory, bob, cid, mallory.me)
    admin.role_set(cid, peer_id_from_public_key(bob.me), "moderator")
    _sync_log(admin, bob, cid)
    before = bob.clock()
    bob.governance.timeout(cid, peer_id_from_public_key(mallory.me), "1h")
    after = bob.clock()
    # Mallory had not seen the timeout and posted meanwhile, dated before its end.
    mallory.post(cid, "general", "during the timeout")
    _sync_docs(mallory, bob, cid, mallory.me)
    assert _texts(bob, cid) == ["before the timeout"]
    _sync_log(bob, mallory, cid)
    with pytest.raises(Forbidden):
        mallory.post(cid, "general", "again")
    members = {m["peer_id"]: m for m in bob.member_list(cid)["members"]}
    assert members[peer_id_from_public_key(mallory.me)]["status"] == "timed_out"
    # every member sees when it ends, as ms since the epoch; the others have none
    until = members[peer_id_from_public_key(mallory.me)]["timed_out_until"]
    assert isinstance(until, int) and before + 3_600_000 <= until <= after + 3_600_000
    assert until in [m["timed_out_until"] for m in mallory.member_list(cid)["members"]]
    assert [m["timed_out_until"] for m in members.values() if m["status"] != "timed_out"] == [
        None,
        None,
    ]
    bob.governance.untimeout(cid, peer_id_from_public_key(mallory.me))
    assert all(m["timed_out_until"] is None for m in bob.member_list(cid)["members"])
    assert _texts(bob, cid) == ["before the timeout", "during the timeout"]


def test_a_moderator_cannot_remove_or_time_out_an_admin(
    trio_of: tuple[Service, Service, Service, str],
) -> None:
    admin, _, bob, cid = trio_of
    admin.role_set(cid, peer_id_from_public_key(bob.me), "moderator")
    _sync_log(admin, bob, cid)
    with pytest.raises(Forbidden):
        bob.governance.member_remove(cid, peer_id_from_public_key(admin.me))
    with pytest.raises(Forbidden):
        bob.governance.timeout(cid, peer_id_from_public_key(admin.me), "1h")


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


def test_hidden_posts_leave_read_search_and_threads(
    trio_of: tuple[Service, Service, Service, str],
) -> None:
    admin, _, _, cid = trio_of
    post = admin.post(cid, "general", "misinformation about vaccines")["post_id"]
    admin.post(cid, "general", "a reply", reply_to=post)
    admin.governance.hide(cid, post, "misinformation")
    assert _texts(admin, cid) == ["a reply"]
    assert admin.search(cid, "vaccines")["posts"] == []
    admin.governance.unhide(cid, post)
    assert _texts(admin, cid) == ["misinformation about vaccines", "a reply"]


def test_rules_are_limited_in_characters_by_one_definition(tmp_path: Path) -> None:
    """10,000 "é" are 20,000 bytes: 0.1.0 accepted them in `rules set` and then
    refused its own op (the log counted bytes, the command characters)."""
    owner, peer = _service(tmp_path, "owner"), _service(tmp_path, "peer")
    cid = owner.community_create("Rules")["community_id"]
    assert owner.governance.rules_set(cid, "é" * 10_000)["rules_version"] == 1
    _sync_log(owner, peer, cid)
    assert peer.community(cid).state.rules == "é" * 10_000
    with pytest.raises(Exception, match="characters"):
        owner.governance.rules_set(cid, "x" * (16 * 1024 + 1))
    with pytest.raises(Exception, match="KB"):
        owner.governance.rules_set(cid, "😀" * 16_384)
