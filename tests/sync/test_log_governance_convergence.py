"""Governance histories with every op type converge in any delivery order."""

from __future__ import annotations

import random
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from p2pcommunity.sync.log.community_log import (
    CommunityLog,
    Role,
    SignedOp,
    invite_proof,
    make_genesis,
    make_op,
)
from tests.sync.logtools import complete_replays, offered, shuffled
from tests.sync.test_log_governance import (
    ALICE,
    BOB,
    CAROL,
    DAVE,
    INVITE_KEY,
    OWNER,
    POST,
    act,
    pk,
)

# --- convergence, with every governance op in play -------------------------------

ACTORS = (OWNER, ALICE, BOB, CAROL, DAVE)
KINDS = ["invite_create"] * 2 + ["join"] * 4 + ["member_remove"] * 2
KINDS += ["timeout", "hide", "rules_set", "role_set"]


@st.composite
def governance_histories(draw: st.DrawFn) -> list[SignedOp]:  # noqa: C901 -- one sequence of draws
    """Peers acting on stale views of a random history; ops their view refuses are skipped."""
    g = make_genesis(OWNER, "Birders", "", 1, nonce=b"\x07" * 16)
    views = {pk(k): CommunityLog.from_genesis(g) for k in ACTORS}
    every: dict[bytes, SignedOp] = {g.hash: g}
    invites: list[bytes] = []
    act(views[pk(OWNER)], OWNER, "member_add", {"member": pk(ALICE)})
    act(views[pk(OWNER)], OWNER, "role_set", {"member": pk(ALICE), "role": "admin"})
    act(views[pk(OWNER)], OWNER, "member_add", {"member": pk(BOB)})
    for op in views[pk(OWNER)].ops_in_order():
        every[op.hash] = op
        for view in views.values():
            view.add(op)
    for step in range(draw(st.integers(0, 40))):
        key = draw(st.sampled_from(ACTORS))
        view = views[pk(key)]
        if draw(st.integers(0, 2)) == 0:
            for op in views[pk(draw(st.sampled_from(ACTORS)))].ops_in_order():
                view.add(op)
            continue
        kind = draw(st.sampled_from(KINDS))
        target = pk(draw(st.sampled_from(ACTORS)))
        body: dict[str, Any]
        if kind == "invite_create":
            role = draw(st.sampled_from(["member", "moderator"]))
            body = {"invite_key": pk(INVITE_KEY), "role": role, "expires_ms": 50, "uses": 1}
        elif kind == "join":
            # A joiner first syncs the log from whoever made invites (as with an invite code).
            key = draw(st.sampled_from((CAROL, DAVE)))
            view = views[pk(key)]
            for op in views[pk(OWNER)].ops_in_order() + views[pk(ALICE)].ops_in_order():
                view.add(op)
            known = [i for i in invites if view.has(i)]
            if not known:
                continue
            invite = draw(st.sampled_from(known))
            body = {"invite": invite, "proof": invite_proof(INVITE_KEY, g.hash, pk(key), invite)}
        elif kind in ("member_remove", "timeout"):
            body = {"member": target, "heads": [[0, step]]}
            if kind == "timeout":
                body["until_ms"] = step
        elif kind == "hide":
            body = {"post": POST, "reason": str(step)}
        elif kind == "rules_set":
            body = {"text": str(step)}
        else:
            body = {"member": target, "role": draw(st.sampled_from(["member", "admin"]))}
        op = make_op(key, g.hash, view.heads(), kind, body, step)
        if not offered(view, op):
            continue
        every[op.hash] = op
        if kind == "invite_create":
            invites.append(op.hash)
    return list(every.values())


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(governance_histories(), st.randoms(use_true_random=False))
def test_governance_convergence_any_order(ops: list[SignedOp], rnd: random.Random) -> None:
    logs = complete_replays(ops, (shuffled(ops, rnd) for _ in range(3)))
    results = [(log.state(), log.ops_in_order()) for log in logs]
    assert all(r == results[0] for r in results)
    state = results[0][0]
    for invite in state.invites.values():
        assert invite.used <= invite.uses
    assert state.role_of(pk(OWNER)) is Role.OWNER
