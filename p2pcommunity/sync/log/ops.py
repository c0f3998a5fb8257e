"""Community log ops as records: their envelope, strict CBOR, and body validators.

The modules of the community log:

- `log_ops` (this one): `Op`, `SignedOp`, `Role` and the building blocks of
  body validation. The strict CBOR reader lives in `sync/cbor.py`
  (`decode_canonical` is re-exported here for the modules that import it).
- `log_state`: the state a fold produces (`CommunityState`, `Member`,
  `Invite`, ...), the mutable `StateBuilder` it runs over, and the interface
  of a rule (`OpRule`, `PastView`, `Revocation`, touch keys).
- `log_rules`: `OP_RULES`, the whole governance machine in one table, in the
  manner of h11's `_state.py`: for each op type, the role its author needs,
  its body validator, what part of the state it reads or writes (`touches`),
  its check against its causal past, whether it lowers someone's role
  (`revokes`), and its state transition (`apply`). Channel, member and role
  rows live there; `log_governance` holds the rows of invites, joins, rules,
  moderation and nodes.
- `log`: the bytes, the DAG and the fold; it never names an op type.

Transitions are total: in the final fold an op may find its preconditions
gone (the channel it renames was created by an op that a concurrent
revocation dropped), and then it does nothing. Checks run only against the
causal past, at insertion, and refuse the op with `Rejected("invalid_op")`.
Ops and sync frames are CBOR, read by `cbor.decode_canonical`: no tags,
bounded sizes, counts and depth (checked on the item headers before cbor2
builds anything), and only the canonical encoding.

Names are compared exactly, with no Unicode case folding, so that peers on
different Unicode versions cannot disagree about a conflict.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from p2pcommunity.sync.cbor import MAX_I64
from p2pcommunity.sync.cbor import decode_canonical as decode_canonical
from p2pcommunity.sync.crypto import PUBLIC_KEY_SIZE, sha256
from p2pcommunity.sync.errors import Rejected

OP_VERSION = 1
MAX_OP_SIZE = 64 * 1024
HASH_SIZE = 32
NONCE_SIZE = 16
MAX_NAME_CHARS = 64
MAX_TEXT_CHARS = 1024
GENESIS = "genesis"

INVALID = "invalid_op"


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


# --- body validation --------------------------------------------------------

Check = Callable[[Any], bool]


def is_name(value: Any) -> bool:
    # Exactly the stripped form, so that two spellings never look like one name.
    return (
        isinstance(value, str)
        and value == value.strip()
        and 1 <= len(value) <= MAX_NAME_CHARS
        and not any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 for c in value)
    )


def is_text(value: Any) -> bool:
    return isinstance(value, str) and len(value) <= MAX_TEXT_CHARS


def is_key(value: Any) -> bool:
    return isinstance(value, bytes) and len(value) == PUBLIC_KEY_SIZE


def is_op_id(value: Any) -> bool:
    return isinstance(value, bytes) and len(value) == HASH_SIZE


def is_nonce(value: Any) -> bool:
    return isinstance(value, bytes) and len(value) == NONCE_SIZE


def is_role_name(value: Any) -> bool:
    return isinstance(value, str) and value in ROLE_NAMES


def is_seq_pairs(value: Any, max_items: int, key_check: Check) -> bool:
    """[[key, seq], ...] with distinct keys, in any order: the heads a removal or a
    rights change records (per segment of a member's documents, or per page actor)."""
    if not isinstance(value, list) or len(value) > max_items:
        return False
    seen = set()
    for pair in value:
        if not (isinstance(pair, list) and len(pair) == 2):
            return False
        key, seq = pair
        if not key_check(key) or type(seq) is not int or not 0 <= seq <= MAX_I64 or key in seen:
            return False
        seen.add(key)
    return True


def fields(
    required: Mapping[str, Check], optional: Mapping[str, Check] | None = None
) -> Callable[[Mapping[str, Any]], None]:
    optional = optional or {}

    def validate(body: Mapping[str, Any]) -> None:
        unknown = set(body) - set(required) - set(optional)
        if unknown:
            raise Rejected(INVALID, f"unknown body field(s) {sorted(map(str, unknown))}")
        for name, check in required.items():
            if name not in body or not check(body[name]):
                raise Rejected(INVALID, f"bad or missing {name!r}")
        for name, check in optional.items():
            if name in body and not check(body[name]):
                raise Rejected(INVALID, f"bad {name!r}")
        if not required and not body:
            raise Rejected(INVALID, "empty body")

    return validate
