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

from nacl.signing import SigningKey

from p2pcommunity.sync.cbor import FRAME, Limits, MalformedCBOR, decode
from p2pcommunity.sync.crypto import INVITE_TAG, canonical_cbor, sign
from p2pcommunity.sync.errors import Invalid
from p2pcommunity.sync.log.community_log import SignedOp

PREFIX = "p2pc1-"
MAX_CODE_CHARS = 16 * 1024
MAX_ADDRS = 16
# A code is at most MAX_CODE_CHARS of base64; what a hello presents fits in its
# frame field (protocol_frames.MAX_INVITE_SIZE, 16 KiB).
_LIMITS = Limits(max_size=16 * 1024, max_items=FRAME.max_items, max_depth=4)


@dataclass(frozen=True)
class InviteCode:
    """All a joiner needs while every admin is offline (see the module docstring)."""

    community_id: bytes
    invite_seed: bytes  # the invite's own key: whoever holds the code can sign as the invite
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
            value: Any = decode(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)), _LIMITS)
            community_id, seed, (op_data, op_sig), addrs = (
                value["c"],
                value["k"],
                value["op"],
                value["a"],
            )
        except (binascii.Error, ValueError, KeyError, TypeError, MalformedCBOR) as exc:
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
    """The invite a dialer's hello presents, read strictly (any stranger sends it)."""
    try:
        value: Any = decode(data, _LIMITS)
    except MalformedCBOR:
        return None
    if not isinstance(value, dict) or set(value) != {"op", "proof"}:
        return None
    pair, proof = value["op"], value["proof"]
    if not isinstance(pair, list) or len(pair) != 2:
        return None
    op_data, op_sig = pair
    if not (isinstance(op_data, bytes) and isinstance(op_sig, bytes) and isinstance(proof, bytes)):
        return None
    return SignedOp(op_data, op_sig), proof
