"""Bytes sealed so that only some members read them: one SealedBox per reader.

Reports, appeal texts and watched words all travel through documents or the
log that every member holds, yet only moderators or admins may read them.
Each is sealed the same way: the payload encrypted once per reader to the
X25519 form of the reader's Ed25519 key, as canonical CBOR
`{"boxes": [[reader key, box], ...]}`, readers sorted and at most
MAX_READERS. What comes back from a peer is read with the strict reader.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from nacl.exceptions import CryptoError
from nacl.public import SealedBox
from nacl.signing import SigningKey, VerifyKey

from p2pcommunity.sync.cbor import RECORD, decode_or_none
from p2pcommunity.sync.crypto import canonical_cbor

MAX_READERS = 256


def seal_to(payload: bytes, readers: Sequence[bytes]) -> bytes:
    boxes = [
        [reader, SealedBox(VerifyKey(reader).to_curve25519_public_key()).encrypt(payload)]
        for reader in sorted(set(readers))[:MAX_READERS]
    ]
    return canonical_cbor({"boxes": boxes})


def open_sealed(key: SigningKey, sealed: bytes) -> bytes | None:
    """The payload if it was sealed to `key`; None otherwise or when malformed."""
    me = bytes(key.verify_key)
    value: Any = decode_or_none(sealed, RECORD)
    if not isinstance(value, dict) or not isinstance(value.get("boxes"), list):
        return None
    box = next(
        (b[1] for b in value["boxes"] if isinstance(b, list) and len(b) == 2 and b[0] == me),
        None,
    )
    if not isinstance(box, bytes):
        return None
    try:
        return SealedBox(key.to_curve25519_private_key()).decrypt(box)
    except CryptoError:
        return None
