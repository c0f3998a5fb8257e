"""Rows of `OP_RULES` for invites, admissions, rules, removals, moderation and nodes.

ARCHITECTURE §5.5–5.6. The decisions, beyond "a check sees the causal past":

Invites and admission. An invite is the hash of its `invite_create` op. A
joiner proves the invite (the invite key's signature over the joiner's key
and the invite id, `invite_proof`) to a current member, whose node judges it
against its own state and then writes an `admit` op: the admitting member's
signed op, naming the admitter's heads at that moment as its parents, the
joiner's key and proof, and a random nonce of the admitter's. Everything is
judged against the admitter's view, never the joiner's: the invite exists
and is not revoked in the admit op's causal past, `admit.ms` (the admitter's
clock) is not past `expires_ms`, the joiner is neither a member nor removed
there, and the admissions of that invite in its causal past left a use. A
revocation concurrent with an admission does not undo it (only the causal
past counts). In the fold the first `uses` admissions of an invite in the
global order count, later ones do nothing: the overuse race, decided the
same on every peer. The global order breaks ties by op hash, and the
admitter's nonce makes that hash unpredictable to the joiner, so a joiner
cannot grind its way ahead (issue 11, finding 2). An admission depends on
its invite's other admissions: it links the joiner's touch key to the
invite's, so a causal-past check of the joiner folds the invite too.

Legacy joins. Release 0.1.0 let the joiner sign its own `join` op, whose
parents and time the joiner chose: backdating it past a revocation or an
expiry, or grinding its hash, admitted anyone who had ever held the invite
secret. Invites made from 0.2 on carry `witness: true` and admit only
through `admit`. A `join` still counts for an invite without that flag, so
that 0.1.0 histories keep their members; docs/security.md says what that
leaves open.

Removals. `member_remove` needs admin; the owner cannot be removed and only
the owner removes an admin. It revokes everything (`Revocation(key, None)`):
pass 2 drops every op of the removed key concurrent with it, whatever role
that op needed (an admission included); later ops of the key fail the role
check at insertion. A removal is *final* (`OpRule.final`): once valid in its
causal past it stands, is never dropped by pass 2 and its author's role is
not re-checked in the fold. So two admins who remove each other concurrently
(possible only when each was promoted concurrently with the other's removal)
are both removed, as in p2panda; and the final state agrees with what later
causal-past checks see, where both removals apply. A removed key is never a
member again: neither `member_add` nor an admission accepts it.

Timeouts need moderator and a target whose role is below the author's. Hide
and unhide need moderator; later ops in the fold order win.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from nacl.signing import SigningKey

from p2pcommunity.sync.cbor import MAX_I64
from p2pcommunity.sync.crypto import INVITE_TAG, SIGNATURE_SIZE, sign, verify
from p2pcommunity.sync.errors import Rejected
from p2pcommunity.sync.log.ops import Op, Role, fields, is_key, is_nonce, is_op_id, is_seq_pairs
from p2pcommunity.sync.log.state import (
    NODES,
    REMOVED,
    RULES,
    CommunityState,
    Heads,
    Invite,
    Link,
    Member,
    OpRule,
    PastView,
    Revocation,
    StateBuilder,
    Touch,
    invite_touch,
    member_touch,
    reject,
)

MAX_INVITE_USES = 1000
# Characters, not bytes: the one definition, checked by `rules set` and by every peer.
# 16,384 four-byte characters would not fit in an op (MAX_OP_SIZE); the op size
# check refuses those, with its own message.
MAX_RULES_CHARS = 16 * 1024
MAX_REASON_CHARS = 512
MAX_ADDR_CHARS = 512
MAX_HEADS = 4096
INVITE_ROLES: Mapping[str, Role] = {"member": Role.MEMBER, "moderator": Role.MODERATOR}

_U32 = (1 << 32) - 1
_HEX = frozenset("0123456789abcdef")


# --- body validators --------------------------------------------------------


def _int_in(low: int, high: int) -> Any:
    return lambda v: type(v) is int and low <= v <= high


def _signature(value: Any) -> bool:
    return isinstance(value, bytes) and len(value) == SIGNATURE_SIZE


def _heads(value: Any) -> bool:
    """[[segment, seq], ...] with distinct segments, in any order."""
    return is_seq_pairs(value, MAX_HEADS, _int_in(0, _U32))


def _post_id(value: Any) -> bool:
    return isinstance(value, str) and len(value) == 32 and _HEX.issuperset(value)


def _short_text(limit: int) -> Any:
    return lambda v: isinstance(v, str) and len(v) <= limit


def _rules_text(value: Any) -> bool:
    return isinstance(value, str) and len(value) <= MAX_RULES_CHARS


def _multiaddr(value: Any) -> bool:
    return (
        isinstance(value, str)
        and 1 < len(value) <= MAX_ADDR_CHARS
        and value.startswith("/")
        and value.isprintable()
        and not any(c.isspace() for c in value)
    )


def heads_of(body: Mapping[str, Any]) -> Heads:
    return {segment: seq for segment, seq in body["heads"]}


# --- invites and joins ------------------------------------------------------


def invite_proof(
    invite_signing_key: SigningKey, community_id: bytes, joiner_key: bytes, invite_hash: bytes
) -> bytes:
    """The joiner's proof for a `join` op or an admission: the invite key signs its key."""
    return sign(invite_signing_key, INVITE_TAG, community_id, joiner_key + invite_hash)


def _proof_ok(invite: Invite, community_id: bytes, joiner: bytes, proof: bytes) -> bool:
    return verify(invite.invite_key, proof, INVITE_TAG, community_id, joiner + invite.id)


def check_invite_admission(
    state: CommunityState, invite_hash: bytes, joiner_key: bytes, proof: bytes, now_ms: int
) -> str | None:
    """None if `joiner_key` may be admitted now on this invite, else why not.

    Reasons: "not_found", "bad_proof" (checked before the invite's status, so
    that someone without the invite secret learns nothing more), "revoked",
    "expired" (now_ms > expires_ms), "used_up", and "removed" (the key was
    removed from the community). A current member is admissible whatever the
    invite's status, once the proof holds.
    """
    invite = state.invites.get(invite_hash)
    if invite is None:
        return "not_found"
    return admission_refusal(
        invite, state.community_id, state.members.get(joiner_key), joiner_key, proof, now_ms
    )


def admission_refusal(
    invite: Invite,
    community_id: bytes,
    member: Member | None,
    joiner_key: bytes,
    proof: bytes,
    now_ms: int,
) -> str | None:
    """`check_invite_admission` for an invite at hand (one presented, not yet in the log)."""
    if not _proof_ok(invite, community_id, joiner_key, proof):
        return "bad_proof"
    if member is not None:
        return None if member.active else "removed"
    if invite.revoked:
        return "revoked"
    if now_ms > invite.expires_ms:
        return "expired"
    if invite.used >= invite.uses:
        return "used_up"
    return None


def invite_of(op: Op) -> Invite:
    """The invite an `invite_create` op makes, before any use."""
    body = op.body
    return Invite(
        id=op.hash,
        invite_key=body["invite_key"],
        role=INVITE_ROLES[body["role"]],
        expires_ms=body["expires_ms"],
        uses=body["uses"],
        used=0,
        revoked=False,
        created_by=op.author,
        created_ms=op.ms,
        witnessed=body.get("witness", False),
    )


def _apply_invite_create(state: StateBuilder, op: Op) -> None:
    state.invites[op.hash] = invite_of(op)


def _check_invite_exists(view: PastView, op: Op) -> None:
    if view.invite(op.body["invite"]) is None:
        raise reject("not_found: no such invite")


def _apply_invite_revoke(state: StateBuilder, op: Op) -> None:
    invite = state.invites.get(op.body["invite"])
    if invite is not None:
        state.invites[invite.id] = replace(invite, revoked=True)


def _check_admission(view: PastView, op: Op, joiner: bytes) -> None:
    invite = view.invite(op.body["invite"])
    if invite is None:
        raise reject("not_found: no such invite")
    if not _proof_ok(invite, op.community_id, joiner, op.body["proof"]):
        raise reject("bad_proof: the invite proof does not verify")
    member = view.member(joiner)
    if member is not None:
        raise reject("already a member" if member.active else "removed: removed key")
    if op.type == "join" and invite.witnessed:
        raise reject("witnessed: this invite admits only through a member's admit op")
    if invite.revoked:
        raise reject("revoked: invite revoked")
    if op.ms > invite.expires_ms:
        raise reject("expired: invite expired")
    if invite.used >= invite.uses:
        raise reject("used_up: invite used up")


def _joiner(op: Op) -> bytes:
    """Who an admission admits: the author of a legacy join, the named key of an admit."""
    key: bytes = op.body["member"] if op.type == "admit" else op.author
    return key


def _check_join(view: PastView, op: Op) -> None:
    _check_admission(view, op, _joiner(op))


def _apply_join(state: StateBuilder, op: Op) -> None:
    invite = state.invites.get(op.body["invite"])
    if invite is None or invite.used >= invite.uses:
        return  # its invite was dropped, or it came after the last use
    state.invites[invite.id] = replace(invite, used=invite.used + 1)
    joiner = _joiner(op)
    if joiner not in state.members:
        state.members[joiner] = Member(joiner, invite.role, op.ms)


def _join_touches(op: Op) -> tuple[Touch, ...]:
    return (member_touch(_joiner(op)), invite_touch(op.body["invite"]))


def _join_links(op: Op) -> tuple[Link, ...]:
    return ((member_touch(_joiner(op)), invite_touch(op.body["invite"])),)


# --- rules ------------------------------------------------------------------


def _apply_rules_set(state: StateBuilder, op: Op) -> None:
    state.rules = op.body["text"]
    state.rules_version += 1
    # Whoever sets the rules has read them (also in 0.1.0 logs, whose admins never
    # signed a rules_ack for their own rules): the new version does not lock them out.
    author = state.active_member(op.author)
    if author is not None:
        state.members[author.key] = replace(author, rules_acked=state.rules_version)


def _check_rules_ack(view: PastView, op: Op) -> None:
    if op.body["version"] > view.rules_version():
        raise reject("no such rules version")


def _apply_rules_ack(state: StateBuilder, op: Op) -> None:
    member = state.active_member(op.author)
    if member is not None and op.body["version"] > member.rules_acked:
        state.members[member.key] = replace(member, rules_acked=op.body["version"])


# --- removal and timeouts ---------------------------------------------------


def _touch_target(op: Op) -> tuple[Touch, ...]:
    return (member_touch(op.body["member"]),)


def _check_member_remove(view: PastView, op: Op) -> None:
    target = view.role_of(op.body["member"])
    if target is None:
        raise reject("not a member")
    if target is Role.OWNER:
        raise reject("the owner cannot be removed")
    if target >= Role.ADMIN and view.role_of(op.author) is not Role.OWNER:
        raise Rejected("forbidden", "only the owner removes an admin")


def _revokes_member_remove(view: PastView, op: Op) -> Revocation | None:
    return Revocation(op.body["member"], None)


def _apply_member_remove(state: StateBuilder, op: Op) -> None:
    key = op.body["member"]
    member = state.members.get(key) or Member(key, Role.MEMBER, op.ms)
    if member.role is Role.OWNER:
        return
    heads = heads_of(op.body)
    if not member.active:  # concurrent removals: keep what any remover knew
        for segment, seq in member.removed_heads.items():
            heads[segment] = max(seq, heads.get(segment, seq))
    state.members[key] = replace(member, status=REMOVED, removed_heads=heads)


def _check_outranks(view: PastView, op: Op) -> None:
    target = view.role_of(op.body["member"])
    if target is None:
        raise reject("not a member")
    author = view.role_of(op.author)
    if author is None or target >= author:
        raise Rejected("forbidden", "the target's role is not below the author's")


def _apply_timeout(state: StateBuilder, op: Op) -> None:
    member = state.active_member(op.body["member"])
    if member is not None:
        until, heads = op.body["until_ms"], heads_of(op.body)
        state.members[member.key] = replace(member, timeout_until_ms=until, timeout_heads=heads)


def _apply_untimeout(state: StateBuilder, op: Op) -> None:
    member = state.active_member(op.body["member"])
    if member is not None:
        state.members[member.key] = replace(member, timeout_until_ms=None, timeout_heads={})


# --- moderation of posts, and nodes -----------------------------------------


def _apply_hide(state: StateBuilder, op: Op) -> None:
    state.hidden[op.body["post"]] = op.body["reason"]


def _apply_unhide(state: StateBuilder, op: Op) -> None:
    state.hidden.pop(op.body["post"], None)


def _apply_node_add(state: StateBuilder, op: Op) -> None:
    state.nodes[op.body["peer"]] = op.body["addr"]


def _check_node_exists(view: PastView, op: Op) -> None:
    if not view.has_node(op.body["peer"]):
        raise reject("no such node")


def _apply_node_remove(state: StateBuilder, op: Op) -> None:
    state.nodes.pop(op.body["peer"], None)


# Legacy (0.1.0): the joiner's own op; see the module docstring.
_LEGACY_JOIN = OpRule(
    required=None,
    validate=fields({"invite": is_op_id, "proof": _signature}),
    touches=_join_touches,
    check=_check_join,
    apply=_apply_join,
    links=_join_links,
)

GOVERNANCE_RULES: dict[str, OpRule] = {
    "invite_create": OpRule(
        required=Role.ADMIN,
        validate=fields(
            {
                "invite_key": is_key,
                "role": lambda v: isinstance(v, str) and v in INVITE_ROLES,
                "expires_ms": _int_in(0, MAX_I64),
                "uses": _int_in(1, MAX_INVITE_USES),
            },
            {"witness": lambda v: v is True},
        ),
        touches=lambda op: (invite_touch(op.hash),),
        apply=_apply_invite_create,
    ),
    "invite_revoke": OpRule(
        required=Role.ADMIN,
        validate=fields({"invite": is_op_id}),
        touches=lambda op: (invite_touch(op.body["invite"]),),
        check=_check_invite_exists,
        apply=_apply_invite_revoke,
    ),
    "join": _LEGACY_JOIN,
    # The same admission, witnessed: the admitting member's op (see the module docstring).
    "admit": replace(
        _LEGACY_JOIN,
        required=Role.MEMBER,
        validate=fields(
            {"member": is_key, "invite": is_op_id, "proof": _signature, "nonce": is_nonce}
        ),
    ),
    "rules_set": OpRule(
        required=Role.ADMIN,
        validate=fields({"text": _rules_text}),
        touches=lambda op: (RULES, member_touch(op.author)),
        apply=_apply_rules_set,
    ),
    "rules_ack": OpRule(
        required=Role.MEMBER,
        validate=fields({"version": _int_in(1, MAX_I64)}),
        touches=lambda op: (member_touch(op.author),),
        check=_check_rules_ack,
        apply=_apply_rules_ack,
    ),
    "member_remove": OpRule(
        required=Role.ADMIN,
        validate=fields({"member": is_key, "heads": _heads}),
        touches=_touch_target,
        check=_check_member_remove,
        revokes=_revokes_member_remove,
        apply=_apply_member_remove,
        final=True,
    ),
    "timeout": OpRule(
        required=Role.MODERATOR,
        validate=fields({"member": is_key, "heads": _heads, "until_ms": _int_in(0, MAX_I64)}),
        touches=_touch_target,
        check=_check_outranks,
        apply=_apply_timeout,
    ),
    "untimeout": OpRule(
        required=Role.MODERATOR,
        validate=fields({"member": is_key}),
        touches=_touch_target,
        check=_check_outranks,
        apply=_apply_untimeout,
    ),
    "hide": OpRule(
        required=Role.MODERATOR,
        validate=fields({"post": _post_id, "reason": _short_text(MAX_REASON_CHARS)}),
        apply=_apply_hide,
    ),
    "unhide": OpRule(
        required=Role.MODERATOR,
        validate=fields({"post": _post_id}),
        apply=_apply_unhide,
    ),
    "node_add": OpRule(
        required=Role.ADMIN,
        validate=fields({"peer": is_key, "addr": _multiaddr}),
        touches=lambda op: (NODES,),
        apply=_apply_node_add,
    ),
    "node_remove": OpRule(
        required=Role.ADMIN,
        validate=fields({"peer": is_key}),
        touches=lambda op: (NODES,),
        check=_check_node_exists,
        apply=_apply_node_remove,
    ),
}
