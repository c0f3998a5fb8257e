"""The community log under concurrency: revocations, buffering, order, convergence."""

from __future__ import annotations

import random
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nacl.signing import SigningKey

from p2pcommunity.sync.crypto import canonical_cbor
from p2pcommunity.sync.errors import Rejected
from p2pcommunity.sync.log.community_log import (
    MAX_BUFFERED_OPS,
    AddStatus,
    CommunityLog,
    Role,
    SignedOp,
    make_op,
)
from tests.sync.logtools import (
    ALICE,
    BOB,
    CAROL,
    KEYS,
    OWNER,
    act,
    complete_replays,
    genesis,
    new_log,
    offered,
    pk,
    record_of,
    reference_order,
    shuffled,
    sign_record,
    snapshot,
)

# --- concurrency --------------------------------------------------------------


def _log_with_admins(*admins: SigningKey) -> CommunityLog:
    log = new_log()
    for key in admins:
        act(log, OWNER, "member_add", {"member": pk(key)})
        act(log, OWNER, "role_set", {"member": pk(key), "role": "admin"})
    return log


def _peers_agree(ops: list[SignedOp]) -> CommunityLog:
    logs = complete_replays(ops, (shuffled(ops, random.Random(seed)) for seed in range(4)))
    assert all(snapshot(log) == snapshot(logs[0]) for log in logs)
    return logs[0]


def test_admin_demoted_concurrently_with_their_op_loses_it() -> None:
    log = _log_with_admins(ALICE)
    fork = log.heads()
    demote = act(log, OWNER, "role_set", {"member": pk(ALICE), "role": "member"}, fork)
    channel = act(log, ALICE, "channel_create", {"name": "alices", "topic": ""}, fork)
    added = act(log, ALICE, "member_add", {"member": pk(BOB)}, fork)
    assert log.has(channel.hash) and log.has(added.hash)  # valid in their causal past
    final = _peers_agree(log.ops_in_order())
    state = final.state()
    assert channel.hash not in state.channels
    assert not state.is_member(pk(BOB))
    assert state.role_of(pk(ALICE)) is Role.MEMBER
    # After the merge, her role in the causal past is member.
    with pytest.raises(Rejected, match="forbidden"):
        act(final, ALICE, "channel_create", {"name": "later", "topic": ""})
    # An op that did not need admin is unaffected; one that depends on a dropped op is a no-op.
    act(final, OWNER, "channel_rename", {"channel": channel.hash, "name": "renamed"})
    assert final.state().channel_by_name("renamed") is None
    assert demote.hash in {op.hash for op in final.ops_in_order()}


def test_concurrent_promotion_by_a_revoked_admin_does_not_cascade() -> None:
    log = _log_with_admins(ALICE)
    act(log, OWNER, "member_add", {"member": pk(BOB)})
    fork = log.heads()
    act(log, OWNER, "role_set", {"member": pk(ALICE), "role": "member"}, fork)
    act(log, ALICE, "role_set", {"member": pk(BOB), "role": "admin"}, fork)
    bob_channel = act(log, BOB, "channel_create", {"name": "bobs", "topic": ""})  # sees both
    state = _peers_agree(log.ops_in_order()).state()
    assert state.role_of(pk(BOB)) is Role.MEMBER
    assert bob_channel.hash not in state.channels


@pytest.mark.parametrize(
    ("demotions", "alice_ends", "bob_ends"),
    [
        pytest.param([(ALICE, BOB), (BOB, ALICE)], Role.ADMIN, Role.ADMIN, id="mutual-cancels"),
        pytest.param(
            [(OWNER, ALICE), (ALICE, BOB)], Role.MEMBER, Role.ADMIN, id="owner-wins-over-admin"
        ),
    ],
)
def test_concurrent_demotions_of_admins(
    demotions: list[tuple[SigningKey, SigningKey]], alice_ends: Role, bob_ends: Role
) -> None:
    """Two demotions on the same heads, by (actor, target): a mutual one cancels, and the
    owner's wins over an admin's."""
    log = _log_with_admins(ALICE, BOB)
    fork = log.heads()
    for actor, target in demotions:
        act(log, actor, "role_set", {"member": pk(target), "role": "member"}, fork)
    state = _peers_agree(log.ops_in_order()).state()
    assert state.role_of(pk(ALICE)) is alice_ends
    assert state.role_of(pk(BOB)) is bob_ends


def test_concurrent_duplicate_channel_names_resolve_identically() -> None:
    log = _log_with_admins(ALICE)
    fork = log.heads()
    mine = act(log, OWNER, "channel_create", {"name": "general", "topic": "a"}, fork)
    hers = act(log, ALICE, "channel_create", {"name": "general", "topic": "b"}, fork)
    final = _peers_agree(log.ops_in_order())
    order = [op.hash for op in final.ops_in_order()]
    first, second = sorted((mine.hash, hers.hash), key=order.index)
    state = final.state()
    assert state.channels[first].name == "general"
    assert state.channels[second].name == f"general-{second.hex()[:6]}"
    # The suffixed name is taken for later ops too.
    with pytest.raises(Rejected, match="invalid_op"):
        act(final, OWNER, "channel_create", {"name": f"general-{second.hex()[:6]}", "topic": ""})


# --- buffering and order ------------------------------------------------------


def test_buffering_releases_children_when_parents_arrive() -> None:
    source = _log_with_admins(ALICE)
    act(source, ALICE, "channel_create", {"name": "x", "topic": ""})
    ops = source.ops_in_order()
    log = CommunityLog(source.community_id)
    for op in reversed(ops[1:]):
        assert log.add(op).status is AddStatus.BUFFERED
    assert log.add(ops[-1]).status is AddStatus.BUFFERED
    assert len(log) == 0 and log.missing() == [source.community_id]
    result = log.add(ops[0])
    assert result.status is AddStatus.ADDED
    assert list(result) == [op.hash for op in ops]
    assert log.add(ops[2]).status is AddStatus.DUPLICATE
    assert log.missing() == [] and snapshot(log) == snapshot(source)


def test_buffered_op_found_forbidden_is_dropped_with_its_descendants() -> None:
    source = new_log()
    act(source, OWNER, "member_add", {"member": pk(ALICE)})
    add_alice = source.ops_in_order()[1]
    bad = make_op(
        ALICE, source.community_id, source.heads(), "channel_create", {"name": "x", "topic": ""}, 5
    )
    worse = make_op(
        ALICE, source.community_id, [bad.hash], "channel_create", {"name": "y", "topic": ""}, 6
    )
    log = new_log()
    assert log.add(worse).status is AddStatus.BUFFERED
    assert log.add(bad).status is AddStatus.BUFFERED
    result = log.add(add_alice)
    assert result.added == (add_alice.hash,)
    assert [(h, e.reason) for h, e in result.dropped] == [
        (bad.hash, "forbidden"),
        (worse.hash, "parent_rejected"),
    ]
    assert log.buffered() == 0 and log.missing() == [] and len(log) == 2


def test_buffer_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    import p2pcommunity.sync.log.community_log as log_module

    monkeypatch.setattr(log_module, "MAX_BUFFERED_OPS", 2)
    log = new_log()
    orphans = [
        make_op(OWNER, log.community_id, [bytes([i]) * 32], "community_set", {"name": "x"}, 1)
        for i in range(3)
    ]
    log.add(orphans[0])
    log.add(orphans[1])
    with pytest.raises(Rejected, match="buffer_full"):
        log.add(orphans[2])
    assert MAX_BUFFERED_OPS == 10_000


def test_newer_version_op_is_a_node_but_not_interpreted() -> None:
    log = _log_with_admins(ALICE)
    before = log.state()
    # A stranger cannot make the log carry anything, not even ops it cannot read.
    stranger = make_op(
        CAROL, log.community_id, log.heads(), "channel_burn", {"what": [1, "x"]}, 7, version=2
    )
    with pytest.raises(Rejected, match="forbidden"):
        log.add(stranger)
    assert len(log) == 3 and log.buffered() == 0
    future = make_op(
        ALICE, log.community_id, log.heads(), "channel_burn", {"what": [1, "x"]}, 7, version=2
    )
    assert log.add(future).status is AddStatus.ADDED
    assert log.heads() == [future.hash]
    assert log.state() == before
    child = act(log, ALICE, "channel_create", {"name": "after", "topic": ""})
    assert log.heads() == [child.hash] and log.state().channel_by_name("after") is not None
    # Unknown top-level fields are allowed from version 2 on; the envelope is still checked.
    record = record_of(future) | {"zz": 1}
    assert log.add(sign_record(ALICE, record, log.community_id)).status is AddStatus.ADDED
    tampered = SignedOp(canonical_cbor(record | {"zz": 2}), future.signature)
    with pytest.raises(Rejected, match="bad_signature"):
        log.add(tampered)


# --- convergence ----------------------------------------------------------------

NAMES = ["general", "random", "dev"]
ROLES = ["member", "moderator", "admin", "admin"]


@st.composite
def histories(draw: st.DrawFn) -> list[SignedOp]:  # noqa: C901 -- one sequence of draws
    """A random valid history: four peers, each with its own view, merging at random.

    A peer that is not an admin in its view merges instead of acting, so most
    steps produce ops; concurrent branches come from peers acting on stale views.
    """
    g = genesis()
    views = {pk(k): CommunityLog.from_genesis(g) for k in KEYS}
    every: dict[bytes, SignedOp] = {g.hash: g}
    owner_view = views[pk(OWNER)]
    # A shared start with some admins, so that the random part has several actors.
    for key in KEYS[1:]:
        every_op = [act(owner_view, OWNER, "member_add", {"member": pk(key)})]
        if draw(st.booleans()):
            every_op.append(
                act(owner_view, OWNER, "role_set", {"member": pk(key), "role": "admin"})
            )
        every.update((op.hash, op) for op in every_op)
    for view in views.values():
        for op in owner_view.ops_in_order():
            view.add(op)
    for step in range(draw(st.integers(0, 40))):
        key = draw(st.sampled_from(KEYS))
        view = views[pk(key)]
        state = view.state()
        role = state.role_of(pk(key))
        if draw(st.integers(0, 5)) == 0 or role is None or role < Role.ADMIN:
            other = views[pk(draw(st.sampled_from(KEYS)))]
            for op in other.ops_in_order():
                view.add(op)
            continue
        outsiders = [pk(k) for k in KEYS if not state.is_member(pk(k))]
        members = [m for m in state.members if m != state.owner]
        channels = sorted(state.channels)
        choices = ["channel_create", "community_set"]
        choices += ["member_add"] * 2 if outsiders else []
        choices += ["role_set"] * 3 if members else []
        choices += ["channel_rename"] if channels else []
        kind = draw(st.sampled_from(choices))
        body: dict[str, Any]
        if kind == "member_add":
            body = {"member": draw(st.sampled_from(outsiders))}
        elif kind == "role_set":
            body = {"member": draw(st.sampled_from(members)), "role": draw(st.sampled_from(ROLES))}
        elif kind == "channel_rename":
            body = {
                "channel": draw(st.sampled_from(channels)),
                "name": draw(st.sampled_from(NAMES)),
            }
        elif kind == "channel_create":
            body = {"name": draw(st.sampled_from(NAMES)), "topic": ""}
        else:
            body = {"name": draw(st.sampled_from(NAMES))}
        op = make_op(key, g.hash, view.heads(), kind, body, step)
        if not offered(view, op):
            continue
        every[op.hash] = op
    return list(every.values())


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(histories(), st.randoms(use_true_random=False))
def test_convergence_any_order_with_duplicates(ops: list[SignedOp], rnd: random.Random) -> None:
    feeds = (
        shuffled(ops + [rnd.choice(ops) for _ in range(rnd.randint(0, 5))], rnd) for _ in range(3)
    )
    results = []
    for log in complete_replays(ops, feeds):
        assert [op.hash for op in log.ops_in_order()] == reference_order(log)
        results.append((log.state(), log.ops_in_order(), log.heads()))
    assert all(r == results[0] for r in results)
