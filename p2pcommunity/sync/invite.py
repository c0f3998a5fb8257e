"""Invite codes and the invite proof a joiner presents when it dials.

An invite code is everything a joiner needs while every admin is offline
(ARCHITECTURE §5.5): the community id, the invite secret, the signed
invite op itself (so any member, even one that has not synced it yet, can
check it) and addresses to dial. It is one line of base64url so it survives
chat apps and terminals.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

import cbor2
from nacl.signing import SigningKey

from p2pcommunity.sync.crypto import INVITE_TAG, canonical_cbor, sign
from p2pcommunity.sync.errors import Invalid
from p2pcommunity.sync.log import SignedOp

PREFIX = "p2pc1-"
MAX_CODE_CHARS = 16 * 1024
MAX_ADDRS = 16


@dataclass(frozen=True)
class InviteCode:
    community_id: bytes
    invite_seed: bytes
    invite_op: SignedOp
    addrs: tuple[str, ...]

    @property
    def invite_key(self) -> SigningKey:
        return SigningKey(self.invite_seed)

    def encode(self) -> str:
        body = canonical_cbor(
            {
                "v": 1,
                "c": self.community_id,
                "k": self.invite_seed,
                "op": [self.invite_op.data, self.invite_op.signature],
                "a": list(self.addrs[:MAX_ADDRS]),
            }
        )
        return PREFIX + base64.urlsafe_b64encode(body).decode().rstrip("=")

    @classmethod
    def decode(cls, code: str) -> InviteCode:
        code = "".join(code.split())
        if not code.startswith(PREFIX) or len(code) > MAX_CODE_CHARS:
            raise Invalid("not an invite code")
        raw = code[len(PREFIX) :]
        try:
            value: Any = cbor2.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
            community_id, seed, (op_data, op_sig), addrs = (
                value["c"],
                value["k"],
                value["op"],
                value["a"],
            )
        except (binascii.Error, ValueError, KeyError, TypeError, cbor2.CBORDecodeError) as exc:
            raise Invalid("not an invite code (damaged or cut off?)") from exc
        if not (
            isinstance(community_id, bytes)
            and len(community_id) == 32
            and isinstance(seed, bytes)
            and len(seed) == 32
            and isinstance(op_data, bytes)
            and isinstance(op_sig, bytes)
            and isinstance(addrs, list)
            and all(isinstance(a, str) for a in addrs)
        ):
            raise Invalid("not an invite code (bad fields)")
        return cls(community_id, seed, SignedOp(op_data, op_sig), tuple(addrs[:MAX_ADDRS]))


def invite_proof(
    invite_key: SigningKey, community_id: bytes, joiner: bytes, invite_hash: bytes
) -> bytes:
    """The joiner's key signed with the invite key: what any member checks to admit it."""
    return sign(invite_key, INVITE_TAG, community_id, joiner + invite_hash)


def encode_presented(invite_op: SignedOp, proof: bytes) -> bytes:
    """What a joiner's hello carries: the invite op and the proof."""
    return canonical_cbor({"op": [invite_op.data, invite_op.signature], "proof": proof})


def decode_presented(data: bytes) -> tuple[SignedOp, bytes] | None:
    try:
        value: Any = cbor2.loads(data)
        (op_data, op_sig), proof = value["op"], value["proof"]
    except Exception:  # from a peer: any shape
        return None
    if not (isinstance(op_data, bytes) and isinstance(op_sig, bytes) and isinstance(proof, bytes)):
        return None
    return SignedOp(op_data, op_sig), proof
