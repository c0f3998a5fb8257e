"""The state a fold of the community log produces, and the interface of an op rule.

`CommunityState` is what callers read; `StateBuilder` is the mutable state a
fold runs over (both the global fold and the partial folds of one op's causal
past); `OpRule` is one row of the table in `log_rules`.

Membership: a removed member stays in `members` with status "removed" (so a
member list can show them, and so they can never be added or join again),
but `is_member` is False and `role_of` is None for them; `Member.role` keeps
the role they last held.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

from p2pcommunity.sync.errors import Rejected
from p2pcommunity.sync.log.ops import Op, Role

ACTIVE = "active"
REMOVED = "removed"

# A member's document heads: segment number -> seq of their last change in it.
Heads = dict[int, int]


@dataclass(frozen=True)
class Channel:
    id: bytes
    name: str
    topic: str
    archived: bool
    created_ms: int
    kind: str = "chat"  # chat, forum or qa (issue 14); fixed at creation


@dataclass(frozen=True)
class Member:
    key: bytes
    role: Role  # for a removed member, the role they last held
    joined_ms: int
    status: str = ACTIVE  # ACTIVE or REMOVED
    rules_acked: int = 0  # the highest rules version they acknowledged
    # Set by the latest valid `timeout` in fold order, cleared by `untimeout`.
    timeout_until_ms: int | None = None
    timeout_heads: Heads = field(default_factory=dict)
    # Their document heads as their removers knew them (the maximum per segment
    # when several concurrent removals name different heads).
    removed_heads: Heads = field(default_factory=dict)

    @property
    def active(self) -> bool:
        return self.status == ACTIVE

    def timed_out(self, now_ms: int) -> bool:
        return self.timeout_until_ms is not None and now_ms < self.timeout_until_ms


@dataclass(frozen=True)
class Invite:
    id: bytes  # the hash of the invite_create op
    invite_key: bytes  # public half of the invite key; its secret is in the invite code
    role: Role
    expires_ms: int
    uses: int
    used: int  # admissions that counted (the first `uses` valid ones in fold order)
    revoked: bool
    created_by: bytes
    created_ms: int
    # Made by 0.2 or later: it admits only through a member's `admit` op, never
    # through a joiner's own `join` op (which the joiner could backdate).
    witnessed: bool = False


@dataclass(frozen=True)
class CommunityState:
    """The result of the fold. The dicts are the caller's to read, not to change."""

    community_id: bytes
    owner: bytes
    name: str
    description: str
    channels: dict[bytes, Channel]
    members: dict[bytes, Member]  # removed members included, with status REMOVED
    rules: str = ""
    rules_version: int = 0  # the number of rules_set ops that counted
    invites: dict[bytes, Invite] = field(default_factory=dict)
    hidden: dict[str, str] = field(default_factory=dict)  # post id -> reason
    nodes: dict[bytes, str] = field(default_factory=dict)  # peer key -> multiaddr
    # Issue 14 (log/knowledge_rules.py): tag name -> its op; pinned post -> pin time;
    # topic -> the answer a moderator accepted ("" once a moderator unaccepted).
    tags: dict[str, bytes] = field(default_factory=dict)
    pinned: dict[str, int] = field(default_factory=dict)
    accepted: dict[str, str] = field(default_factory=dict)
    # Wiki pages (page_rules.py): page id -> PageInfo; member -> {page id: seq kept}.
    pages: dict[bytes, Any] = field(default_factory=dict)
    page_cuts: dict[bytes, dict[bytes, int]] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)  # issue 15: max_file_size
    # State of op families owned by other modules (e.g. "safety"): immutable values.
    extra: dict[str, Any] = field(default_factory=dict)

    def role_of(self, key: bytes) -> Role | None:
        member = self.members.get(key)
        return member.role if member is not None and member.active else None

    def is_member(self, key: bytes) -> bool:
        member = self.members.get(key)
        return member is not None and member.active

    def current_members(self) -> dict[bytes, Member]:
        """The members that are not removed."""
        return {key: m for key, m in self.members.items() if m.active}

    def channel_by_name(self, name: str) -> Channel | None:
        for channel in self.channels.values():
            if channel.name == name:
                return channel
        return None


class StateBuilder:
    """The mutable state a fold runs over; `freeze` gives a `CommunityState`."""

    def __init__(self, community_id: bytes) -> None:
        self.community_id = community_id
        self.owner = b""
        self.name = ""
        self.description = ""
        self.channels: dict[bytes, Channel] = {}
        self.members: dict[bytes, Member] = {}
        self.channel_names: dict[str, bytes] = {}
        self.rules = ""
        self.rules_version = 0
        self.invites: dict[bytes, Invite] = {}
        self.hidden: dict[str, str] = {}
        self.nodes: dict[bytes, str] = {}
        self.tags: dict[str, bytes] = {}
        self.pinned: dict[str, int] = {}
        self.accepted: dict[str, str] = {}
        self.pages: dict[bytes, Any] = {}
        self.page_cuts: dict[bytes, dict[bytes, int]] = {}
        self.settings: dict[str, Any] = {}
        self.extra: dict[str, Any] = {}  # see CommunityState.extra

    def role_of(self, key: bytes) -> Role | None:
        member = self.members.get(key)
        return member.role if member is not None and member.active else None

    def active_member(self, key: bytes) -> Member | None:
        member = self.members.get(key)
        return member if member is not None and member.active else None

    def name_channel(self, channel_id: bytes, name: str) -> str:
        """Register and return the name a channel gets when it asks for `name`.

        Only concurrent ops can get here with a taken name (the causal-past check
        refuses the rest); the later one in the fold order gets a suffix.
        """
        for candidate in (name, f"{name}-{channel_id.hex()[:6]}"):
            holder = self.channel_names.get(candidate)
            if holder is None or holder == channel_id:
                name = candidate
                break
        else:
            # Someone chose "<name>-<6 hex>" itself; no chosen name is this long.
            name = f"{name}-{channel_id.hex()}"
        old = self.channels.get(channel_id)
        if old is not None:
            self.channel_names.pop(old.name, None)
        self.channel_names[name] = channel_id
        return name

    def copy(self) -> StateBuilder:
        other = StateBuilder(self.community_id)
        other.owner, other.name, other.description = self.owner, self.name, self.description
        other.channels = dict(self.channels)
        other.members = dict(self.members)
        other.channel_names = dict(self.channel_names)
        other.rules, other.rules_version = self.rules, self.rules_version
        other.invites = dict(self.invites)
        other.hidden = dict(self.hidden)
        other.nodes = dict(self.nodes)
        other.tags, other.pinned = dict(self.tags), dict(self.pinned)
        other.accepted = dict(self.accepted)
        other.pages, other.page_cuts = dict(self.pages), dict(self.page_cuts)
        other.extra = dict(self.extra)
        return other

    def freeze(self) -> CommunityState:
        return CommunityState(
            community_id=self.community_id,
            owner=self.owner,
            name=self.name,
            description=self.description,
            channels=dict(self.channels),
            members=dict(self.members),
            rules=self.rules,
            rules_version=self.rules_version,
            invites=dict(self.invites),
            hidden=dict(self.hidden),
            nodes=dict(self.nodes),
            tags=dict(self.tags),
            pinned=dict(self.pinned),
            accepted=dict(self.accepted),
            pages=dict(self.pages),
            page_cuts=dict(self.page_cuts),
            settings=dict(self.settings),
            extra=dict(self.extra),
        )


# --- the interface of a rule ------------------------------------------------


class PastView(Protocol):
    """The pass-1 state of an op's causal past, as far as a check needs it."""

    def role_of(self, key: bytes) -> Role | None: ...

    def member(self, key: bytes) -> Member | None:
        """Removed members included."""
        ...

    def channel_named(self, name: str) -> bytes | None: ...

    def has_channel(self, channel_id: bytes) -> bool: ...

    def invite(self, invite_id: bytes) -> Invite | None: ...

    def rules_version(self) -> int: ...

    def has_node(self, peer: bytes) -> bool: ...

    def past_op(self, op_hash: bytes) -> Op | None:
        """The op with this hash if it is in the causal past (issue 16: appeals cite ops)."""
        ...

    def past_ops_by(self, author: bytes) -> list[Op]:
        """The author's ops in the causal past, in insertion order."""
        ...


class Revocation(NamedTuple):
    """`target` keeps at most `role` from this op on; None: removed, every op revoked."""

    target: bytes
    role: Role | None


# What part of the state an op reads or writes; the log indexes ops by it so a
# check folds only the few ancestors that matter, not the whole causal past.
Touch = tuple[str, bytes]
COMMUNITY: Touch = ("community", b"")
CHANNELS: Touch = ("channels", b"")
RULES: Touch = ("rules", b"")
NODES: Touch = ("nodes", b"")


def member_touch(key: bytes) -> Touch:
    return ("member", key)


def invite_touch(invite_id: bytes) -> Touch:
    return ("invite", invite_id)


# (a, b): a fold for touch key a must also fold the ops touching b. A joiner's
# membership depends on the invite it used (its role, and whether its join
# came within the invite's uses), so a join links its author to its invite.
Link = tuple[Touch, Touch]


def no_check(view: PastView, op: Op) -> None:
    pass


def no_revocation(view: PastView, op: Op) -> Revocation | None:
    return None


def touches_nothing(op: Op) -> tuple[Touch, ...]:
    return ()


def apply_nothing(state: StateBuilder, op: Op) -> None:
    """For ops that change no folded state: they are read off the counted ops elsewhere
    (sync.accountability reads appeals and notes), or exist for their parents (merge)."""


def no_links(op: Op) -> tuple[Link, ...]:
    return ()


@dataclass(frozen=True)
class OpRule:
    # None: the author needs no role (genesis, which makes the first one; a
    # join, whose check verifies the invite proof instead).
    required: Role | None
    validate: Callable[[Mapping[str, Any]], None]
    apply: Callable[[StateBuilder, Op], None]
    # What an entry leaves out is the common case: the op conflicts with nothing
    # (no touches), needs no look at its past beyond the author's role (no check)
    # and revokes nothing.
    touches: Callable[[Op], tuple[Touch, ...]] = touches_nothing
    check: Callable[[PastView, Op], None] = no_check
    revokes: Callable[[PastView, Op], Revocation | None] = no_revocation
    links: Callable[[Op], tuple[Link, ...]] = no_links
    # A final op stands once valid in its causal past: pass 2 never drops it
    # and the fold does not re-check its author's role (removals, see `log`).
    final: bool = False


def reject(detail: str) -> Rejected:
    return Rejected("invalid_op", detail)
