"""The envelope of a community log op: `decode_op`, the only way from bytes to `Op`.

See decision 0 in `log`: nothing but `Rejected` ever leaves `decode_op`; only
version 1 is interpreted, and its body is validated against its type here,
since that needs nothing but the op (`OP_RULES[type].validate`).
"""

from __future__ import annotations

from collections.abc import Mapping
from itertools import pairwise
from typing import Any

import nacl.utils
from nacl.signing import SigningKey

from p2pcommunity.sync.cbor import MAX_I64
from p2pcommunity.sync.crypto import OP_TAG, canonical_cbor, sha256, sign, verify
from p2pcommunity.sync.errors import Invalid, Rejected
from p2pcommunity.sync.log.ops import (
    GENESIS,
    HASH_SIZE,
    MAX_OP_SIZE,
    NONCE_SIZE,
    OP_VERSION,
    Op,
    SignedOp,
    decode_canonical,
)
from p2pcommunity.sync.log.rules import OP_RULES

_MALFORMED = "malformed_op"
# An op names at most this many parents: with more heads than that, a node
# first merges them (`merge` ops, `Community.append_op`). Without a bound, a
# flood of concurrent ops made every later op oversized (issue 11, finding 1).
MAX_PARENTS = 32
_V1_KEYS = frozenset({"v", "c", "a", "p", "t", "b", "ms"})


# --- envelope ---------------------------------------------------------------


def _is_int(value: Any) -> bool:
    return type(value) is int  # bool is an int subclass and is not a number here


def _hash32(value: Any, what: str) -> bytes:
    if not isinstance(value, bytes) or len(value) != HASH_SIZE:
        raise Rejected(_MALFORMED, f"{what} must be {HASH_SIZE} bytes")
    return value


def decode_op(
    data: bytes, signature: bytes, community_id: bytes | None, verify_signature: bool = True
) -> Op:
    """Check an op's bytes and signature; raises only `Rejected`.

    `community_id` None accepts an op of any community (its "c", or its own
    hash for a genesis). The body of a v1 op is validated against its type
    here, since that needs nothing but the op; what needs its causal past is
    checked by `CommunityLog.add`.
    """
    record = _record(data, signature)
    version = record["v"]
    if not _is_int(version) or version < 1:
        raise Rejected(_MALFORMED, "'v' must be a positive integer")
    author = _hash32(record["a"], "'a'")  # an Ed25519 public key is 32 bytes too
    parents = _parents(record["p"])
    if version == OP_VERSION:
        if not _V1_KEYS.issuperset(record):
            raise Rejected(_MALFORMED, "unknown field in a version 1 op")
        for key in ("t", "b", "ms"):
            if key not in record:
                raise Rejected(_MALFORMED, f"missing {key!r}")
    op_hash = sha256(data)
    op_community = _community_of(record, version, parents, op_hash)
    if community_id is not None and op_community != community_id:
        raise Rejected("wrong_community")
    op_type, body, ms = _typed_fields(record, version, parents)
    if verify_signature and not verify(author, signature, OP_TAG, op_community, op_hash):
        raise Rejected("bad_signature")
    return Op(
        hash=op_hash,
        version=version,
        community_id=op_community,
        author=author,
        parents=parents,
        type=op_type,
        body=body,
        ms=ms,
        signed=SignedOp(data, signature),
    )


# decode_op's steps, in the order it takes them: the first problem found is the one reported.


def _record(data: bytes, signature: bytes) -> dict[Any, Any]:
    if not isinstance(data, bytes) or not isinstance(signature, bytes):
        raise Rejected(_MALFORMED, "op and signature must be bytes")
    if len(data) > MAX_OP_SIZE:
        raise Rejected("oversize_op", f"{len(data)} > {MAX_OP_SIZE} bytes")
    record = decode_canonical(data)
    if not isinstance(record, dict):
        raise Rejected(_MALFORMED, "op is not a map")
    for key in ("v", "a", "p"):
        if key not in record:
            raise Rejected(_MALFORMED, f"missing {key!r}")
    return record


def _parents(raw_parents: Any) -> tuple[bytes, ...]:
    if not isinstance(raw_parents, list):
        raise Rejected(_MALFORMED, "'p' must be a list")
    if len(raw_parents) > MAX_PARENTS:
        raise Rejected(_MALFORMED, f"{len(raw_parents)} parents; at most {MAX_PARENTS}")
    parents = tuple(_hash32(p, "a parent") for p in raw_parents)
    if any(a >= b for a, b in pairwise(parents)):
        raise Rejected(_MALFORMED, "parents must be sorted and distinct")
    return parents


def _community_of(
    record: dict[Any, Any], version: int, parents: tuple[bytes, ...], op_hash: bytes
) -> bytes:
    if parents:
        if "c" not in record:
            raise Rejected(_MALFORMED, "missing 'c'")
        return _hash32(record["c"], "'c'")
    if "c" in record:
        raise Rejected(_MALFORMED, "a genesis op names no community")
    if version != OP_VERSION:
        raise Rejected("unsupported_version", f"genesis of version {version}")
    return op_hash


def _typed_fields(
    record: dict[Any, Any], version: int, parents: tuple[bytes, ...]
) -> tuple[str, dict[Any, Any], int]:
    """Type, body and time: validated for a v1 op; for a newer version, kept if well-typed."""
    op_type: Any = record.get("t")
    body: Any = record.get("b")
    ms: Any = record.get("ms")
    if version == OP_VERSION:
        if not isinstance(op_type, str):
            raise Rejected(_MALFORMED, "'t' must be a string")
        if not isinstance(body, dict):
            raise Rejected(_MALFORMED, "'b' must be a map")
        if not _is_int(ms) or not 0 <= ms <= MAX_I64:
            raise Rejected(_MALFORMED, "'ms' must be a non-negative 64-bit integer")
        if (op_type == GENESIS) != (not parents):
            raise Rejected(_MALFORMED, "genesis, and only genesis, has no parents")
        rule = OP_RULES.get(op_type)
        if rule is None:
            raise Rejected("invalid_op", f"unknown op type {op_type!r}")
        rule.validate(body)
    else:
        op_type = op_type if isinstance(op_type, str) else ""
        body = body if isinstance(body, dict) else {}
        ms = ms if _is_int(ms) else 0
    return op_type, body, ms


def _seal(key: SigningKey, record: dict[str, Any], community_id: bytes | None) -> SignedOp:
    data = canonical_cbor(record)
    op_hash = sha256(data)
    signed = SignedOp(data, sign(key, OP_TAG, community_id or op_hash, op_hash))
    try:
        decode_op(signed.data, signed.signature, community_id, verify_signature=False)
    except Rejected as e:
        # Our caller's mistake, not a peer's: report it as a domain error.
        raise Invalid(f"cannot make this op: {e}") from e
    return signed


def make_genesis(
    key: SigningKey, name: str, description: str, ms: int, *, nonce: bytes | None = None
) -> SignedOp:
    """The first op of a new community; its hash is the community id."""
    body = {
        "name": name,
        "description": description,
        "nonce": nacl.utils.random(NONCE_SIZE) if nonce is None else nonce,
    }
    record = {
        "v": OP_VERSION,
        "a": bytes(key.verify_key),
        "p": [],
        "t": GENESIS,
        "b": body,
        "ms": ms,
    }
    return _seal(key, record, None)


def make_op(
    key: SigningKey,
    community_id: bytes,
    parents: Any,
    op_type: str,
    body: Mapping[str, Any],
    ms: int,
    *,
    version: int = OP_VERSION,
) -> SignedOp:
    """Sign a new op; `parents` (usually `CommunityLog.heads()`) are sorted here."""
    record = {
        "v": version,
        "c": community_id,
        "a": bytes(key.verify_key),
        "p": sorted(set(parents)),
        "t": op_type,
        "b": dict(body),
        "ms": ms,
    }
    return _seal(key, record, community_id)
