"""`OP_RULES`: what each community log op type means (see `log_ops` for the map).

This module holds the rows of genesis, the community's name, channels,
members, roles and merges, and merges in those of `log_governance` (invites, joins,
rules, removals, moderation, nodes).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from p2pcommunity.sync.log.appeal_rules import with_citations
from p2pcommunity.sync.log.files_rules import FILES_RULES
from p2pcommunity.sync.log.governance_rules import GOVERNANCE_RULES
from p2pcommunity.sync.log.knowledge_rules import KNOWLEDGE_RULES, is_kind
from p2pcommunity.sync.log.ops import (
    GENESIS,
    ROLE_NAMES,
    Op,
    Role,
    fields,
    is_key,
    is_name,
    is_nonce,
    is_op_id,
    is_role_name,
    is_text,
)
from p2pcommunity.sync.log.page_rules import PAGE_RULES
from p2pcommunity.sync.log.policy_rules import POLICY_RULES
from p2pcommunity.sync.log.state import (
    CHANNELS,
    COMMUNITY,
    Channel,
    Member,
    OpRule,
    PastView,
    Revocation,
    StateBuilder,
    Touch,
    apply_nothing,
    member_touch,
    reject,
)


def _empty_body(body: Mapping[str, Any]) -> None:
    if body:
        raise reject("a merge op has an empty body")


def _apply_genesis(state: StateBuilder, op: Op) -> None:
    state.owner = op.author
    state.name = op.body["name"]
    state.description = op.body["description"]
    state.members[op.author] = Member(op.author, Role.OWNER, op.ms)


def _apply_community_set(state: StateBuilder, op: Op) -> None:
    state.name = op.body.get("name", state.name)
    state.description = op.body.get("description", state.description)


def _check_name_free(view: PastView, op: Op) -> None:
    holder = view.channel_named(op.body["name"])
    if holder is not None and holder != op.body.get("channel"):
        raise reject(f"channel name {op.body['name']!r} is taken")


def _apply_channel_create(state: StateBuilder, op: Op) -> None:
    name = state.name_channel(op.hash, op.body["name"])
    kind = op.body.get("kind", "chat")
    state.channels[op.hash] = Channel(op.hash, name, op.body["topic"], False, op.ms, kind)


def _check_channel_rename(view: PastView, op: Op) -> None:
    if not view.has_channel(op.body["channel"]):
        raise reject("no such channel")
    _check_name_free(view, op)


def _apply_channel_rename(state: StateBuilder, op: Op) -> None:
    channel = state.channels.get(op.body["channel"])
    if channel is not None:
        name = state.name_channel(channel.id, op.body["name"])
        state.channels[channel.id] = replace(channel, name=name)


def _check_channel_exists(view: PastView, op: Op) -> None:
    if not view.has_channel(op.body["channel"]):
        raise reject("no such channel")


def _apply_channel_archive(state: StateBuilder, op: Op) -> None:
    channel = state.channels.get(op.body["channel"])
    if channel is not None:
        state.channels[channel.id] = replace(channel, archived=True)


def _touch_member(op: Op) -> tuple[Touch, ...]:
    return (member_touch(op.body["member"]),)


def _check_member_add(view: PastView, op: Op) -> None:
    # Re-adding would be a role change in disguise (it must not demote an admin);
    # a removed key stays out for good (its documents are frozen at its removal).
    member = view.member(op.body["member"])
    if member is not None:
        raise reject("already a member" if member.active else "removed from the community")


def _apply_member_add(state: StateBuilder, op: Op) -> None:
    key = op.body["member"]
    if key not in state.members:  # a concurrent add, join or removal got there first
        state.members[key] = Member(key, Role.MEMBER, op.ms)


def _check_role_set(view: PastView, op: Op) -> None:
    role = view.role_of(op.body["member"])
    if role is None:
        raise reject("not a member")
    if role is Role.OWNER:
        raise reject("the owner's role cannot change")


def _revokes_role_set(view: PastView, op: Op) -> Revocation | None:
    new, old = ROLE_NAMES[op.body["role"]], view.role_of(op.body["member"])
    return Revocation(op.body["member"], new) if old is not None and new < old else None


def _apply_role_set(state: StateBuilder, op: Op) -> None:
    member = state.active_member(op.body["member"])
    if member is not None and member.role is not Role.OWNER:
        state.members[member.key] = replace(member, role=ROLE_NAMES[op.body["role"]])


_CORE_RULES: dict[str, OpRule] = {
    GENESIS: OpRule(
        required=None,
        validate=fields({"name": is_name, "description": is_text, "nonce": is_nonce}),
        touches=lambda op: (COMMUNITY, member_touch(op.author)),
        apply=_apply_genesis,
    ),
    "community_set": OpRule(
        required=Role.ADMIN,
        validate=fields({}, {"name": is_name, "description": is_text}),
        touches=lambda op: (COMMUNITY,),
        apply=_apply_community_set,
    ),
    "channel_create": OpRule(
        required=Role.ADMIN,
        validate=fields({"name": is_name, "topic": is_text}, {"kind": is_kind}),
        touches=lambda op: (CHANNELS,),
        check=_check_name_free,
        apply=_apply_channel_create,
    ),
    "channel_rename": OpRule(
        required=Role.ADMIN,
        validate=fields({"channel": is_op_id, "name": is_name}),
        touches=lambda op: (CHANNELS,),
        check=_check_channel_rename,
        apply=_apply_channel_rename,
    ),
    "channel_archive": OpRule(
        required=Role.ADMIN,
        validate=fields({"channel": is_op_id}),
        touches=lambda op: (CHANNELS,),
        check=_check_channel_exists,
        apply=_apply_channel_archive,
    ),
    "member_add": OpRule(
        required=Role.ADMIN,
        validate=fields({"member": is_key}),
        touches=_touch_member,
        check=_check_member_add,
        apply=_apply_member_add,
    ),
    # Names more heads than one op may (log_envelope.MAX_PARENTS) as its parents,
    # so that the next real op names them all through it.
    "merge": OpRule(
        required=Role.MEMBER,
        validate=_empty_body,
        apply=apply_nothing,
    ),
    "role_set": OpRule(
        required=Role.ADMIN,
        validate=fields({"member": is_key, "role": is_role_name}),
        touches=_touch_member,
        check=_check_role_set,
        revokes=_revokes_role_set,
        apply=_apply_role_set,
    ),
}

OP_RULES: Mapping[str, OpRule] = with_citations(
    _CORE_RULES | GOVERNANCE_RULES | KNOWLEDGE_RULES | PAGE_RULES | FILES_RULES | POLICY_RULES
)
