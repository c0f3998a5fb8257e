"""What community log ops mean: their types, their rules, and the state they fold to.

`OP_RULES` is the whole governance machine in one table, in the manner of
h11's `_state.py`: for each op type, the role its author needs, its body
validator, what part of the state it reads or writes (`touches`), its check
against its causal past, whether it lowers someone's role (`revokes`), and
its state transition (`apply`). A new op type (invites, joins, removals,
moderation) is a new row; `log.py`, which holds the bytes, the DAG and the
fold, never names an op type.

Transitions are total: in the final fold an op may find its preconditions
gone (the channel it renames was created by an op that a concurrent
revocation dropped), and then it does nothing. Checks run only against the
causal past, at insertion, and refuse the op with `Rejected("invalid_op")`.
Ops are CBOR, read by our own small reader (`decode_canonical`) rather than
`cbor2.loads`: cbor2 acts on semantic tags while decoding (tag 35 compiles a
regular expression, tag 1 builds a datetime) and ignores trailing bytes;
ours knows ints, strings, arrays, maps, bools and null. The value is then
re-encoded with `canonical_cbor` and must give back the same bytes.

Names are compared exactly, with no Unicode case folding, so that peers on
different Unicode versions cannot disagree about a conflict.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any, NamedTuple, Protocol

from p2pcommunity.sync.crypto import PUBLIC_KEY_SIZE, canonical_cbor, sha256
from p2pcommunity.sync.errors import Rejected

OP_VERSION = 1
MAX_OP_SIZE = 64 * 1024
HASH_SIZE = 32
NONCE_SIZE = 16
MAX_NAME_CHARS = 64
MAX_TEXT_CHARS = 1024
GENESIS = "genesis"

_INVALID = "invalid_op"
_MALFORMED = "malformed_op"
_MAX_DEPTH = 16


class Role(enum.IntEnum):
    """Ordered so that `role >= Role.ADMIN` reads as "at least admin"."""

    MEMBER = 1
    MODERATOR = 2
    ADMIN = 3
    OWNER = 4


# Roles an op may grant; the owner is made by genesis alone.
ROLE_NAMES: Mapping[str, Role] = {
    "member": Role.MEMBER,
    "moderator": Role.MODERATOR,
    "admin": Role.ADMIN,
}


@dataclass(frozen=True)
class SignedOp:
    """What is stored and sent: the canonical CBOR bytes and the author's signature."""

    data: bytes
    signature: bytes

    @cached_property
    def hash(self) -> bytes:
        """The op's id; the bytes are not checked here (`decode_op` does that)."""
        return sha256(self.data)


@dataclass(frozen=True)
class Op:
    """A decoded op. `community_id` of the genesis op is its own hash.

    For a version above `OP_VERSION`, `type`, `body` and `ms` are whatever the
    record held if it had the v1 shape ("", {} and 0 otherwise) and mean nothing.
    """

    hash: bytes
    version: int
    community_id: bytes
    author: bytes
    parents: tuple[bytes, ...]
    type: str
    body: Mapping[str, Any]
    ms: int
    signed: SignedOp = field(repr=False, compare=False)

    @property
    def is_genesis(self) -> bool:
        return not self.parents


# --- strict CBOR ------------------------------------------------------------


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def _take(self, n: int) -> bytes:
        if n > len(self.data) - self.pos:
            raise Rejected(_MALFORMED, "truncated")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def item(self, depth: int = 0) -> Any:
        if depth > _MAX_DEPTH:
            raise Rejected(_MALFORMED, "nested too deeply")
        initial = self._take(1)[0]
        major, info = initial >> 5, initial & 0x1F
        if major == 7:
            simple: dict[int, Any] = {20: False, 21: True, 22: None}
            if info not in simple:
                raise Rejected(_MALFORMED, "only false, true and null are allowed")
            return simple[info]
        if info < 24:
            arg = info
        elif info <= 27:
            arg = int.from_bytes(self._take(1 << (info - 24)), "big")
        else:
            raise Rejected(_MALFORMED, "indefinite or reserved length")
        if major == 0:
            return arg
        if major == 1:
            return -1 - arg
        if major == 2:
            return self._take(arg)
        if major == 3:
            try:
                return self._take(arg).decode("utf-8")
            except UnicodeDecodeError as e:
                raise Rejected(_MALFORMED, "text is not UTF-8") from e
        if major == 4:
            # Each item is at least one byte: a huge count fails before any work.
            if arg > len(self.data) - self.pos:
                raise Rejected(_MALFORMED, "truncated array")
            return [self.item(depth + 1) for _ in range(arg)]
        if major == 5:
            if 2 * arg > len(self.data) - self.pos:
                raise Rejected(_MALFORMED, "truncated map")
            result: dict[Any, Any] = {}
            for _ in range(arg):
                key = self.item(depth + 1)
                if isinstance(key, bool) or not isinstance(key, str | bytes | int):
                    raise Rejected(_MALFORMED, "map key must be a string or an integer")
                if key in result:
                    raise Rejected(_MALFORMED, "duplicate map key")
                result[key] = self.item(depth + 1)
            return result
        raise Rejected(_MALFORMED, "tags are not allowed")


def decode_canonical(data: bytes) -> Any:
    """Decode the CBOR subset ops use; only the canonical encoding is accepted."""
    reader = _Reader(data)
    value = reader.item()
    if reader.pos != len(data):
        raise Rejected(_MALFORMED, "trailing bytes")
    try:
        again = canonical_cbor(value)
    except Exception as e:  # cannot happen for the subset above; stay total anyway
        raise Rejected(_MALFORMED, "cannot re-encode") from e
    if again != data:
        raise Rejected(_MALFORMED, "not canonical CBOR")
    return value


# --- body validation --------------------------------------------------------

_Check = Callable[[Any], bool]


def _name(value: Any) -> bool:
    # Exactly the stripped form, so that two spellings never look like one name.
    return (
        isinstance(value, str)
        and value == value.strip()
        and 1 <= len(value) <= MAX_NAME_CHARS
        and not any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 for c in value)
    )


def _text(value: Any) -> bool:
    return isinstance(value, str) and len(value) <= MAX_TEXT_CHARS


def _key(value: Any) -> bool:
    return isinstance(value, bytes) and len(value) == PUBLIC_KEY_SIZE


def _op_id(value: Any) -> bool:
    return isinstance(value, bytes) and len(value) == HASH_SIZE


def _nonce(value: Any) -> bool:
    return isinstance(value, bytes) and len(value) == NONCE_SIZE


def _role_name(value: Any) -> bool:
    return isinstance(value, str) and value in ROLE_NAMES


def _fields(
    required: Mapping[str, _Check], optional: Mapping[str, _Check] | None = None
) -> Callable[[Mapping[str, Any]], None]:
    optional = optional or {}

    def validate(body: Mapping[str, Any]) -> None:
        unknown = set(body) - set(required) - set(optional)
        if unknown:
            raise Rejected(_INVALID, f"unknown body field(s) {sorted(map(str, unknown))}")
        for name, check in required.items():
            if name not in body or not check(body[name]):
                raise Rejected(_INVALID, f"bad or missing {name!r}")
        for name, check in optional.items():
            if name in body and not check(body[name]):
                raise Rejected(_INVALID, f"bad {name!r}")
        if not required and not body:
            raise Rejected(_INVALID, "empty body")

    return validate


# --- state ------------------------------------------------------------------


@dataclass(frozen=True)
class Channel:
    id: bytes
    name: str
    topic: str
    archived: bool
    created_ms: int


@dataclass(frozen=True)
class Member:
    key: bytes
    role: Role
    joined_ms: int


@dataclass(frozen=True)
class CommunityState:
    """The result of the fold. The dicts are the caller's to read, not to change."""

    community_id: bytes
    owner: bytes
    name: str
    description: str
    channels: dict[bytes, Channel]
    members: dict[bytes, Member]

    def role_of(self, key: bytes) -> Role | None:
        member = self.members.get(key)
        return None if member is None else member.role

    def is_member(self, key: bytes) -> bool:
        return key in self.members

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

    def role_of(self, key: bytes) -> Role | None:
        member = self.members.get(key)
        return None if member is None else member.role

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
        return other

    def freeze(self) -> CommunityState:
        return CommunityState(
            community_id=self.community_id,
            owner=self.owner,
            name=self.name,
            description=self.description,
            channels=dict(self.channels),
            members=dict(self.members),
        )


# --- the rule table ---------------------------------------------------------


class PastView(Protocol):
    """The pass-1 state of an op's causal past, as far as a check needs it."""

    def role_of(self, key: bytes) -> Role | None: ...

    def channel_named(self, name: str) -> bytes | None: ...

    def has_channel(self, channel_id: bytes) -> bool: ...


class Revocation(NamedTuple):
    """`target` keeps at most `role` (None: no role at all) from this op on."""

    target: bytes
    role: Role | None


# What part of the state an op reads or writes; the log indexes ops by it so a
# check folds only the few ancestors that matter, not the whole causal past.
Touch = tuple[str, bytes]
COMMUNITY: Touch = ("community", b"")
CHANNELS: Touch = ("channels", b"")


def member_touch(key: bytes) -> Touch:
    return ("member", key)


@dataclass(frozen=True)
class OpRule:
    required: Role | None  # None only for genesis, which makes the first role
    validate: Callable[[Mapping[str, Any]], None]
    touches: Callable[[Op], tuple[Touch, ...]]
    check: Callable[[PastView, Op], None]
    revokes: Callable[[PastView, Op], Revocation | None]
    apply: Callable[[StateBuilder, Op], None]


def _no_check(view: PastView, op: Op) -> None:
    pass


def _no_revocation(view: PastView, op: Op) -> Revocation | None:
    return None


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
        raise Rejected(_INVALID, f"channel name {op.body['name']!r} is taken")


def _apply_channel_create(state: StateBuilder, op: Op) -> None:
    name = state.name_channel(op.hash, op.body["name"])
    state.channels[op.hash] = Channel(op.hash, name, op.body["topic"], False, op.ms)


def _check_channel_rename(view: PastView, op: Op) -> None:
    if not view.has_channel(op.body["channel"]):
        raise Rejected(_INVALID, "no such channel")
    _check_name_free(view, op)


def _apply_channel_rename(state: StateBuilder, op: Op) -> None:
    channel = state.channels.get(op.body["channel"])
    if channel is not None:
        name = state.name_channel(channel.id, op.body["name"])
        state.channels[channel.id] = replace(channel, name=name)


def _check_channel_exists(view: PastView, op: Op) -> None:
    if not view.has_channel(op.body["channel"]):
        raise Rejected(_INVALID, "no such channel")


def _apply_channel_archive(state: StateBuilder, op: Op) -> None:
    channel = state.channels.get(op.body["channel"])
    if channel is not None:
        state.channels[channel.id] = replace(channel, archived=True)


def _touch_member(op: Op) -> tuple[Touch, ...]:
    return (member_touch(op.body["member"]),)


def _check_member_add(view: PastView, op: Op) -> None:
    # Re-adding would be a role change in disguise (it must not demote an admin).
    if view.role_of(op.body["member"]) is not None:
        raise Rejected(_INVALID, "already a member")


def _apply_member_add(state: StateBuilder, op: Op) -> None:
    key = op.body["member"]
    if key not in state.members:  # a concurrent add got there first
        state.members[key] = Member(key, Role.MEMBER, op.ms)


def _check_role_set(view: PastView, op: Op) -> None:
    role = view.role_of(op.body["member"])
    if role is None:
        raise Rejected(_INVALID, "not a member")
    if role is Role.OWNER:
        raise Rejected(_INVALID, "the owner's role cannot change")


def _revokes_role_set(view: PastView, op: Op) -> Revocation | None:
    new, old = ROLE_NAMES[op.body["role"]], view.role_of(op.body["member"])
    return Revocation(op.body["member"], new) if old is not None and new < old else None


def _apply_role_set(state: StateBuilder, op: Op) -> None:
    member = state.members.get(op.body["member"])
    if member is not None and member.role is not Role.OWNER:
        state.members[member.key] = replace(member, role=ROLE_NAMES[op.body["role"]])


OP_RULES: Mapping[str, OpRule] = {
    GENESIS: OpRule(
        required=None,
        validate=_fields({"name": _name, "description": _text, "nonce": _nonce}),
        touches=lambda op: (COMMUNITY, member_touch(op.author)),
        check=_no_check,
        revokes=_no_revocation,
        apply=_apply_genesis,
    ),
    "community_set": OpRule(
        required=Role.ADMIN,
        validate=_fields({}, {"name": _name, "description": _text}),
        touches=lambda op: (COMMUNITY,),
        check=_no_check,
        revokes=_no_revocation,
        apply=_apply_community_set,
    ),
    "channel_create": OpRule(
        required=Role.ADMIN,
        validate=_fields({"name": _name, "topic": _text}),
        touches=lambda op: (CHANNELS,),
        check=_check_name_free,
        revokes=_no_revocation,
        apply=_apply_channel_create,
    ),
    "channel_rename": OpRule(
        required=Role.ADMIN,
        validate=_fields({"channel": _op_id, "name": _name}),
        touches=lambda op: (CHANNELS,),
        check=_check_channel_rename,
        revokes=_no_revocation,
        apply=_apply_channel_rename,
    ),
    "channel_archive": OpRule(
        required=Role.ADMIN,
        validate=_fields({"channel": _op_id}),
        touches=lambda op: (CHANNELS,),
        check=_check_channel_exists,
        revokes=_no_revocation,
        apply=_apply_channel_archive,
    ),
    "member_add": OpRule(
        required=Role.ADMIN,
        validate=_fields({"member": _key}),
        touches=_touch_member,
        check=_check_member_add,
        revokes=_no_revocation,
        apply=_apply_member_add,
    ),
    "role_set": OpRule(
        required=Role.ADMIN,
        validate=_fields({"member": _key, "role": _role_name}),
        touches=_touch_member,
        check=_check_role_set,
        revokes=_revokes_role_set,
        apply=_apply_role_set,
    ),
}
