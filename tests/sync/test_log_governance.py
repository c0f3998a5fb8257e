"""Governance ops of the community log: invites, joins, rules, removals, moderation, nodes.

Each test attacks one rule of ARCHITECTURE §5.5–5.6 at the log level; the
network-level versions (admission by a member while the admin is offline)
live with the node tests.
"""

from __future__ import annotations

import random
from typing import Any

import pytest
from nacl.signing import SigningKey

from p2pcommunity.sync.crypto import OP_TAG, canonical_cbor, sha256, sign
from p2pcommunity.sync.errors import Rejected
from p2pcommunity.sync.log.community_log import (
    AddStatus,
    CommunityLog,
    Role,
    SignedOp,
    check_invite_admission,
    decode_op,
    invite_proof,
    make_genesis,
    make_op,
)
from tests.sync.logtools import act, complete_replays, pk, shuffled

OWNER, ALICE, BOB, CAROL, DAVE = (SigningKey(bytes([i]) * 32) for i in range(1, 6))
INVITE_KEY = SigningKey(b"\x42" * 32)
OTHER_INVITE_KEY = SigningKey(b"\x43" * 32)
POST = "0123456789abcdef0123456789abcdef"
DAY = 86_400_000


def new_log() -> CommunityLog:
    return CommunityLog.from_genesis(make_genesis(OWNER, "Birders", "", 1, nonce=b"\x07" * 16))


def rejected(
    log: CommunityLog, key: SigningKey, op_type: str, body: dict[str, Any], **kw: Any
) -> str:
    """The reason `log` refuses the op; the log must be left unchanged."""
    before = (len(log), log.heads(), log.state())
    with pytest.raises(Rejected) as err:
        act(log, key, op_type, body, **kw)
    assert (len(log), log.heads(), log.state()) == before
    return f"{err.value.reason}: {err.value}"


def with_roles(**roles: str) -> CommunityLog:
    """A community where each named key (alice, bob, ...) holds the given role."""
    log = new_log()
    keys = {"alice": ALICE, "bob": BOB, "carol": CAROL, "dave": DAVE}
    for name, role in roles.items():
        act(log, OWNER, "member_add", {"member": pk(keys[name])})
        if role != "member":
            act(log, OWNER, "role_set", {"member": pk(keys[name]), "role": role})
    return log


def create_invite(
    log: CommunityLog,
    *,
    by: SigningKey = OWNER,
    role: str = "member",
    uses: int = 1,
    expires_ms: int = DAY,
    key: SigningKey = INVITE_KEY,
    parents: list[bytes] | None = None,
) -> bytes:
    body = {"invite_key": pk(key), "role": role, "expires_ms": expires_ms, "uses": uses}
    return act(log, by, "invite_create", body, parents).hash


def join_op(
    log: CommunityLog,
    joiner: SigningKey,
    invite: bytes,
    *,
    ms: int = 100,
    key: SigningKey = INVITE_KEY,
    parents: list[bytes] | None = None,
    community_id: bytes | None = None,
    proof_for: bytes | None = None,
) -> SignedOp:
    proof = invite_proof(key, community_id or log.community_id, proof_for or pk(joiner), invite)
    body = {"invite": invite, "proof": proof}
    return make_op(joiner, log.community_id, parents or log.heads(), "join", body, ms)


def join(log: CommunityLog, joiner: SigningKey, invite: bytes, **kw: Any) -> SignedOp:
    op = join_op(log, joiner, invite, **kw)
    assert log.add(op).status is AddStatus.ADDED
    return op


def peers(ops: list[SignedOp], n: int = 3) -> list[CommunityLog]:
    """`n` logs fed the same ops in different orders; they must agree on everything."""
    logs = complete_replays(ops, (shuffled(ops, random.Random(seed)) for seed in range(n)))
    first = logs[0]
    for log in logs[1:]:
        assert log.state() == first.state()
        assert log.ops_in_order() == first.ops_in_order()
    return logs


# --- invites and joins ----------------------------------------------------------


def test_join_with_a_valid_invite_grants_the_invites_role() -> None:
    log = new_log()
    invite = create_invite(log, role="moderator", uses=2)
    assert log.state().invites[invite].used == 0
    join(log, ALICE, invite, ms=DAY)  # expiry is inclusive
    state = log.state()
    assert state.is_member(pk(ALICE)) and state.role_of(pk(ALICE)) is Role.MODERATOR
    assert state.members[pk(ALICE)].joined_ms == DAY
    got = state.invites[invite]
    assert (got.invite_key, got.role, got.uses, got.used, got.revoked, got.created_by) == (
        pk(INVITE_KEY),
        Role.MODERATOR,
        2,
        1,
        False,
        pk(OWNER),
    )
    # She acts with that role; the second use is still there.
    act(log, ALICE, "hide", {"post": POST, "reason": "spam"})
    join(log, BOB, invite)
    assert log.state().invites[invite].used == 2 and log.state().is_member(pk(BOB))


def test_join_of_an_expired_invite_is_rejected() -> None:
    log = new_log()
    invite = create_invite(log, expires_ms=1000)
    with pytest.raises(Rejected, match="expired"):
        log.add(join_op(log, ALICE, invite, ms=1001))
    assert not log.state().is_member(pk(ALICE))


def test_join_after_a_revocation_in_its_past_is_rejected() -> None:
    log = new_log()
    invite = create_invite(log)
    fork = log.heads()
    act(log, OWNER, "invite_revoke", {"invite": invite})
    assert log.state().invites[invite].revoked
    with pytest.raises(Rejected, match="revoked"):
        log.add(join_op(log, ALICE, invite))
    # A join that did not see the revocation stands: only the causal past counts.
    join(log, BOB, invite, parents=fork)
    (final, *_) = peers(log.ops_in_order())
    assert final.state().is_member(pk(BOB)) and final.state().invites[invite].revoked


def test_second_join_of_a_one_use_invite_is_rejected() -> None:
    log = new_log()
    invite = create_invite(log)
    join(log, ALICE, invite)
    with pytest.raises(Rejected, match="used_up"):
        log.add(join_op(log, BOB, invite))
    assert not log.state().is_member(pk(BOB)) and log.state().invites[invite].used == 1


def author(op: SignedOp) -> bytes:
    return decode_op(op.data, op.signature, None, False).author


def test_concurrent_uses_beyond_the_limit_resolve_identically() -> None:
    log = new_log()
    invite = create_invite(log)
    fork = log.heads()
    racers = [join(log, key, invite, parents=fork) for key in (ALICE, BOB, CAROL)]
    # Each is valid in its causal past, so each is accepted at add.
    assert all(log.has(op.hash) for op in racers)
    # Each racer acknowledges the rules before learning the outcome.
    rules = act(log, OWNER, "rules_set", {"text": "hi"}, fork).hash
    acks = {
        pk(key): act(log, key, "rules_ack", {"version": 1}, [op.hash, rules])
        for key, op in zip((ALICE, BOB, CAROL), racers, strict=True)
    }
    logs = peers(log.ops_in_order())
    order = [op.hash for op in logs[0].ops_in_order()]
    winner = author(min(racers, key=lambda op: order.index(op.hash)))
    for final in logs:
        state = final.state()
        assert state.invites[invite].used == 1
        assert [k for k in map(pk, (ALICE, BOB, CAROL)) if state.is_member(k)] == [winner]
        assert state.members[winner].rules_acked == 1
    # A loser who has seen every join is no member in its causal past either.
    merged = logs[1]
    loser = next(k for k in (ALICE, BOB, CAROL) if pk(k) != winner)
    assert acks[pk(loser)].hash in {op.hash for op in merged.ops_in_order()}
    assert "forbidden" in rejected(merged, loser, "rules_ack", {"version": 1})


@pytest.mark.parametrize("attack", ["wrong invite key", "another joiner", "another community"])
def test_join_with_a_bad_proof_is_rejected(attack: str) -> None:
    log = new_log()
    invite = create_invite(log)
    if attack == "wrong invite key":
        op = join_op(log, ALICE, invite, key=OTHER_INVITE_KEY)
    elif attack == "another joiner":  # Bob replays the proof made for Alice
        op = join_op(log, BOB, invite, proof_for=pk(ALICE))
    else:
        op = join_op(log, ALICE, invite, community_id=b"\x09" * 32)
    with pytest.raises(Rejected, match="bad_proof"):
        log.add(op)
    assert log.state().invites[invite].used == 0 and len(log.state().members) == 1
    join(log, ALICE, invite)  # the honest join still works


def test_join_needs_an_invite_in_its_causal_past() -> None:
    log = new_log()
    channel = act(log, OWNER, "channel_create", {"name": "general", "topic": ""}).hash
    with pytest.raises(Rejected, match="not_found"):
        log.add(join_op(log, ALICE, channel))  # an op hash, but not an invite
    fork = log.heads()
    invite = create_invite(log)
    with pytest.raises(Rejected, match="not_found"):
        log.add(join_op(log, ALICE, invite, parents=fork))


def test_member_cannot_join_again_and_invite_admin_needs_admin() -> None:
    log = with_roles(alice="member", bob="moderator")
    invite = create_invite(log, uses=5)
    with pytest.raises(Rejected, match="already a member"):
        log.add(join_op(log, ALICE, invite))
    for key in (ALICE, BOB):
        body = {"invite_key": pk(INVITE_KEY), "role": "member", "expires_ms": 5, "uses": 1}
        assert "forbidden" in rejected(log, key, "invite_create", body)
        assert "forbidden" in rejected(log, key, "invite_revoke", {"invite": invite})
    assert "invalid_op" in rejected(log, OWNER, "invite_revoke", {"invite": b"\x00" * 32})


def test_check_invite_admission_reason_codes() -> None:
    log = with_roles(alice="member")
    open_invite = create_invite(log, uses=1, expires_ms=1000)
    state = log.state()

    def check(invite: bytes, joiner: SigningKey, now: int = 500, **kw: Any) -> str | None:
        key = kw.get("key", INVITE_KEY)
        proof = invite_proof(key, kw.get("cid", log.community_id), pk(joiner), invite)
        return check_invite_admission(kw.get("state", log.state()), invite, pk(joiner), proof, now)

    assert check(open_invite, BOB) is None
    assert check(open_invite, BOB, now=1000) is None
    assert check(open_invite, BOB, now=1001) == "expired"
    assert check(b"\x00" * 32, BOB) == "not_found"
    assert check(open_invite, BOB, key=OTHER_INVITE_KEY) == "bad_proof"
    assert check(open_invite, BOB, cid=b"\x09" * 32) == "bad_proof"
    proof_for_bob = invite_proof(INVITE_KEY, log.community_id, pk(BOB), open_invite)
    assert check_invite_admission(state, open_invite, pk(CAROL), proof_for_bob, 0) == "bad_proof"
    join(log, BOB, open_invite)
    assert check(open_invite, CAROL) == "used_up"
    assert check(open_invite, BOB) is None  # already a member through it
    assert check(open_invite, CAROL, state=state) is None  # the older state had a use left
    revoked = create_invite(log, uses=3, key=OTHER_INVITE_KEY)
    act(log, OWNER, "invite_revoke", {"invite": revoked})
    assert check(revoked, CAROL, key=OTHER_INVITE_KEY) == "revoked"
    act(log, OWNER, "member_remove", {"member": pk(ALICE), "heads": []})
    fresh = create_invite(log, uses=3)
    assert check(fresh, ALICE) == "removed"
    assert check(fresh, CAROL) is None


# --- roles and removal ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("op_type", "body"),
    [
        ("member_remove", {"member": pk(BOB), "heads": []}),
        ("rules_set", {"text": "mine now"}),
        ("node_add", {"peer": pk(BOB), "addr": "/ip4/1.2.3.4/tcp/1"}),
        ("hide", {"post": POST, "reason": "x"}),
        ("timeout", {"member": pk(BOB), "heads": [], "until_ms": 5}),
    ],
)
def test_plain_member_forging_a_privileged_op_is_forbidden(
    op_type: str, body: dict[str, Any]
) -> None:
    log = with_roles(alice="member", bob="member")
    assert "forbidden" in rejected(log, ALICE, op_type, body)
    assert "forbidden" in rejected(log, CAROL, op_type, body)  # not even a member


def test_moderator_cannot_remove_anyone() -> None:
    log = with_roles(alice="moderator", bob="admin", carol="member")
    assert "forbidden" in rejected(log, ALICE, "member_remove", {"member": pk(BOB), "heads": []})
    assert "forbidden" in rejected(log, ALICE, "member_remove", {"member": pk(CAROL), "heads": []})


def test_only_the_owner_removes_an_admin() -> None:
    log = with_roles(alice="admin", bob="admin", carol="moderator")
    reason = rejected(log, ALICE, "member_remove", {"member": pk(BOB), "heads": []})
    assert reason.startswith("forbidden") and "owner" in reason
    act(log, ALICE, "member_remove", {"member": pk(CAROL), "heads": []})  # below admin: fine
    act(log, OWNER, "member_remove", {"member": pk(BOB), "heads": [[0, 3]]})
    state = log.state()
    assert not state.is_member(pk(BOB)) and not state.is_member(pk(CAROL))


def test_owner_cannot_be_removed() -> None:
    log = with_roles(alice="admin")
    for key in (ALICE, OWNER):
        reason = rejected(log, key, "member_remove", {"member": pk(OWNER), "heads": []})
        assert reason.startswith("invalid_op")
    assert log.state().role_of(pk(OWNER)) is Role.OWNER


def test_removal_records_heads_and_keeps_the_member_listed() -> None:
    log = with_roles(alice="moderator")
    act(log, OWNER, "member_remove", {"member": pk(ALICE), "heads": [[1, 2], [0, 7]]})
    state = log.state()
    alice = state.members[pk(ALICE)]
    assert (alice.status, alice.role, alice.removed_heads) == (
        "removed",
        Role.MODERATOR,
        {0: 7, 1: 2},
    )
    assert not state.is_member(pk(ALICE)) and state.role_of(pk(ALICE)) is None
    assert pk(ALICE) not in state.current_members() and pk(OWNER) in state.current_members()


def test_removed_member_is_locked_out_for_good() -> None:
    log = with_roles(alice="moderator")
    act(log, OWNER, "member_remove", {"member": pk(ALICE), "heads": []})
    assert "forbidden" in rejected(log, ALICE, "hide", {"post": POST, "reason": "late"})
    assert "forbidden" in rejected(log, ALICE, "rules_ack", {"version": 1})
    assert "invalid_op" in rejected(log, OWNER, "member_add", {"member": pk(ALICE)})
    assert "invalid_op" in rejected(log, OWNER, "role_set", {"member": pk(ALICE), "role": "admin"})
    assert "invalid_op" in rejected(log, OWNER, "member_remove", {"member": pk(ALICE), "heads": []})
    invite = create_invite(log)
    with pytest.raises(Rejected, match="removed"):
        log.add(join_op(log, ALICE, invite))


def test_ops_of_the_removed_concurrent_with_the_removal_are_dropped_everywhere() -> None:
    log = with_roles(alice="moderator", bob="member")
    act(log, OWNER, "rules_set", {"text": "r"})
    fork = log.heads()
    removal = act(log, OWNER, "member_remove", {"member": pk(ALICE), "heads": [[0, 1]]}, fork)
    # Offline, Alice backdates her ops onto the fork: valid in their causal past.
    hide = act(log, ALICE, "hide", {"post": POST, "reason": "mine"}, fork)
    ack = act(log, ALICE, "rules_ack", {"version": 1}, [hide.hash])
    timeout = act(
        log, ALICE, "timeout", {"member": pk(BOB), "heads": [], "until_ms": 9}, [ack.hash]
    )
    held = {op.hash for op in log.ops_in_order()}
    assert {removal.hash, hide.hash, ack.hash, timeout.hash} <= held
    # Someone who saw both builds on them; its op stands.
    bob_ack = act(log, BOB, "rules_ack", {"version": 1})
    for final in peers(log.ops_in_order()):
        state = final.state()
        assert POST not in state.hidden
        assert state.members[pk(ALICE)].rules_acked == 0
        assert state.members[pk(BOB)].timeout_until_ms is None
        assert state.members[pk(BOB)].rules_acked == 1
        assert not state.is_member(pk(ALICE))
        assert final.has(bob_ack.hash)
        # Later ops of hers that saw her removal never enter.
        assert "forbidden" in rejected(final, ALICE, "hide", {"post": POST, "reason": "again"})


def test_mutual_concurrent_removal_both_stand() -> None:
    log = with_roles(alice="member", bob="member")
    fork = log.heads()
    promote_a = act(log, OWNER, "role_set", {"member": pk(ALICE), "role": "admin"}, fork)
    promote_b = act(log, OWNER, "role_set", {"member": pk(BOB), "role": "admin"}, fork)
    # Each is an admin, the other a plain member, in the causal past of their removal.
    act(log, ALICE, "member_remove", {"member": pk(BOB), "heads": []}, [promote_a.hash])
    act(log, BOB, "member_remove", {"member": pk(ALICE), "heads": []}, [promote_b.hash])
    for final in peers(log.ops_in_order()):
        state = final.state()
        assert not state.is_member(pk(ALICE)) and not state.is_member(pk(BOB))
        assert state.members[pk(ALICE)].status == state.members[pk(BOB)].status == "removed"


def test_removal_by_an_admin_demoted_concurrently_stands() -> None:
    log = with_roles(alice="admin", bob="member")
    fork = log.heads()
    act(log, OWNER, "role_set", {"member": pk(ALICE), "role": "member"}, fork)
    act(log, ALICE, "member_remove", {"member": pk(BOB), "heads": []}, fork)
    channel = act(log, ALICE, "channel_create", {"name": "x", "topic": ""}, fork)
    for final in peers(log.ops_in_order()):
        state = final.state()
        assert not state.is_member(pk(BOB))  # removals are final
        assert channel.hash not in state.channels  # her other admin ops are not
        assert state.role_of(pk(ALICE)) is Role.MEMBER


def test_concurrent_removals_keep_the_highest_heads() -> None:
    log = with_roles(alice="admin", bob="member")
    fork = log.heads()
    act(log, OWNER, "member_remove", {"member": pk(BOB), "heads": [[0, 5], [1, 1]]}, fork)
    act(log, ALICE, "member_remove", {"member": pk(BOB), "heads": [[0, 3], [2, 4]]}, fork)
    for final in peers(log.ops_in_order()):
        assert final.state().members[pk(BOB)].removed_heads == {0: 5, 1: 1, 2: 4}


def test_join_concurrent_with_the_joiners_removal_is_dropped() -> None:
    log = new_log()
    first = create_invite(log)
    second = create_invite(log, key=OTHER_INVITE_KEY)
    fork = log.heads()
    join(log, ALICE, first, parents=fork)  # she joins twice, concurrently
    again = join(log, ALICE, second, parents=fork, key=OTHER_INVITE_KEY)
    log2_parents = [h for h in log.heads() if h != again.hash]
    act(log, OWNER, "member_remove", {"member": pk(ALICE), "heads": []}, log2_parents)
    for final in peers(log.ops_in_order()):
        state = final.state()
        assert not state.is_member(pk(ALICE))
        assert state.invites[second].used == 0  # the dropped join used nothing


# --- rules, moderation, timeouts, nodes ---------------------------------------------


def test_rules_versions_and_acks() -> None:
    log = with_roles(alice="member")
    assert (log.state().rules, log.state().rules_version) == ("", 0)
    assert "invalid_op" in rejected(log, ALICE, "rules_ack", {"version": 1})
    act(log, OWNER, "rules_set", {"text": "be kind"})
    act(log, ALICE, "rules_ack", {"version": 1})
    act(log, OWNER, "rules_set", {"text": "be kinder"})
    assert (log.state().rules, log.state().rules_version) == ("be kinder", 2)
    assert "invalid_op" in rejected(log, ALICE, "rules_ack", {"version": 3})
    act(log, ALICE, "rules_ack", {"version": 2})
    act(log, ALICE, "rules_ack", {"version": 1})  # an old ack does not lower it
    assert log.state().members[pk(ALICE)].rules_acked == 2
    assert "forbidden" in rejected(log, ALICE, "rules_set", {"text": "mine"})


def test_concurrent_rules_sets_count_each_in_fold_order() -> None:
    log = with_roles(alice="admin")
    fork = log.heads()
    a = act(log, OWNER, "rules_set", {"text": "owner's"}, fork)
    b = act(log, ALICE, "rules_set", {"text": "alice's"}, fork)
    for final in peers(log.ops_in_order()):
        order = [op.hash for op in final.ops_in_order()]
        last = max((a, b), key=lambda op: order.index(op.hash))
        expected = "owner's" if last is a else "alice's"
        assert (final.state().rules, final.state().rules_version) == (expected, 2)


def test_hide_and_unhide_by_a_moderator() -> None:
    log = with_roles(alice="moderator", bob="member")
    act(log, ALICE, "hide", {"post": POST, "reason": "off topic"})
    assert log.state().hidden == {POST: "off topic"}
    assert "forbidden" in rejected(log, BOB, "unhide", {"post": POST})
    assert "forbidden" in rejected(log, BOB, "hide", {"post": "f" * 32, "reason": ""})
    act(log, OWNER, "unhide", {"post": POST})
    assert log.state().hidden == {}


def test_timeouts_need_a_higher_role() -> None:
    log = with_roles(alice="moderator", bob="member", carol="admin", dave="moderator")
    act(log, ALICE, "timeout", {"member": pk(BOB), "heads": [[0, 4]], "until_ms": 5000})
    bob = log.state().members[pk(BOB)]
    assert (bob.timeout_until_ms, bob.timeout_heads) == (5000, {0: 4})
    assert bob.timed_out(4999) and not bob.timed_out(5000) and log.state().is_member(pk(BOB))
    body = {"heads": [], "until_ms": 5000}
    assert "forbidden" in rejected(log, ALICE, "timeout", {"member": pk(CAROL), **body})
    assert "forbidden" in rejected(log, ALICE, "timeout", {"member": pk(DAVE), **body})
    assert "forbidden" in rejected(log, ALICE, "timeout", {"member": pk(OWNER), **body})
    assert "forbidden" in rejected(log, BOB, "timeout", {"member": pk(ALICE), **body})
    assert "forbidden" in rejected(log, ALICE, "untimeout", {"member": pk(CAROL)})
    act(log, CAROL, "timeout", {"member": pk(DAVE), **body})  # admin over moderator
    act(log, ALICE, "untimeout", {"member": pk(BOB)})
    bob = log.state().members[pk(BOB)]
    assert (bob.timeout_until_ms, bob.timeout_heads) == (None, {})
    assert log.state().members[pk(DAVE)].timeout_until_ms == 5000


def test_nodes_are_admin_only() -> None:
    log = with_roles(alice="moderator", bob="admin")
    addr = "/ip4/10.0.0.1/tcp/4001"
    assert "forbidden" in rejected(log, ALICE, "node_add", {"peer": pk(DAVE), "addr": addr})
    act(log, BOB, "node_add", {"peer": pk(DAVE), "addr": addr})
    assert log.state().nodes == {pk(DAVE): addr}
    assert "forbidden" in rejected(log, ALICE, "node_remove", {"peer": pk(DAVE)})
    assert "invalid_op" in rejected(log, BOB, "node_remove", {"peer": pk(CAROL)})
    act(log, OWNER, "node_remove", {"peer": pk(DAVE)})
    assert log.state().nodes == {}


INVALID_BODIES: list[tuple[str, dict[str, Any]]] = [
    ("invite_create", {"invite_key": b"\x01" * 32, "role": "admin", "expires_ms": 1, "uses": 1}),
    ("invite_create", {"invite_key": b"\x01" * 32, "role": "member", "expires_ms": 1, "uses": 0}),
    (
        "invite_create",
        {"invite_key": b"\x01" * 32, "role": "member", "expires_ms": 1, "uses": 1001},
    ),
    ("invite_create", {"invite_key": b"\x01" * 31, "role": "member", "expires_ms": 1, "uses": 1}),
    ("invite_create", {"invite_key": b"\x01" * 32, "role": "member", "expires_ms": -1, "uses": 1}),
    ("invite_create", {"invite_key": b"\x01" * 32, "role": "member", "uses": 1}),
    ("join", {"invite": b"\x00" * 32, "proof": b"\x00" * 63}),
    ("rules_set", {"text": "x" * (16 * 1024 + 1)}),
    ("rules_ack", {"version": 0}),
    ("rules_ack", {"version": True}),
    ("member_remove", {"member": b"\x01" * 32}),
    ("member_remove", {"member": b"\x01" * 32, "heads": [[0, 1], [0, 2]]}),
    ("member_remove", {"member": b"\x01" * 32, "heads": [[0, 1, 2]]}),
    ("member_remove", {"member": b"\x01" * 32, "heads": [[-1, 1]]}),
    ("timeout", {"member": b"\x01" * 32, "heads": [], "until_ms": "soon"}),
    ("hide", {"post": POST.upper(), "reason": ""}),
    ("hide", {"post": POST[:31], "reason": ""}),
    ("hide", {"post": POST, "reason": "r" * 513}),
    ("unhide", {"post": POST, "reason": ""}),
    ("node_add", {"peer": b"\x01" * 32, "addr": "ip4/1.2.3.4"}),
    ("node_add", {"peer": b"\x01" * 32, "addr": "/ip4/1.2.3.4 /tcp/1"}),
    ("node_add", {"peer": b"\x01" * 32, "addr": "/" + "a" * 512}),
]


@pytest.mark.parametrize(("op_type", "body"), INVALID_BODIES)
def test_invalid_governance_bodies_rejected(op_type: str, body: dict[str, Any]) -> None:
    log = new_log()
    record = {
        "v": 1,
        "c": log.community_id,
        "a": pk(OWNER),
        "p": log.heads(),
        "t": op_type,
        "b": body,
        "ms": 3,
    }
    data = canonical_cbor(record)
    signed = SignedOp(data, sign(OWNER, OP_TAG, log.community_id, sha256(data)))
    with pytest.raises(Rejected) as err:
        log.add(signed)
    assert err.value.reason == "invalid_op" and len(log) == 1


def test_governance_history_converges_in_any_order() -> None:
    log = with_roles(alice="admin", bob="moderator")
    invite = create_invite(log, uses=2)
    fork = log.heads()
    join(log, CAROL, invite, parents=fork)
    join(log, DAVE, invite, parents=fork)
    act(log, BOB, "hide", {"post": POST, "reason": "a"}, fork)
    act(log, ALICE, "node_add", {"peer": pk(BOB), "addr": "/dns/x/tcp/1"}, fork)
    act(log, OWNER, "member_remove", {"member": pk(BOB), "heads": []}, fork)
    act(log, ALICE, "rules_set", {"text": "t"})
    act(log, CAROL, "rules_ack", {"version": 1})
    logs = peers(log.ops_in_order(), n=4)
    state = logs[0].state()
    assert state.is_member(pk(CAROL)) and state.is_member(pk(DAVE))
    assert state.invites[invite].used == 2
    assert POST not in state.hidden and not state.is_member(pk(BOB))
    assert state.nodes == {pk(BOB): "/dns/x/tcp/1"}
