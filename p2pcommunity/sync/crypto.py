"""Signatures over (domain tag, context id, hash), and canonical CBOR.

Every signature in the system goes through `sign`/`verify` so that a
signature made for one purpose (an op of community X) can never be replayed
as another (a change of document Y): the tag and the context id are part of
the signed message.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

import cbor2
from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

OP_TAG = b"p2pcommunity/op/v1\x00"
CHANGE_TAG = b"p2pcommunity/change/v1\x00"
INVITE_TAG = b"p2pcommunity/invite/v1\x00"
SEGMENT_DOMAIN = b"p2pcommunity/segment/v1\x00"

PUBLIC_KEY_SIZE = 32
SIGNATURE_SIZE = 64


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def signed_message(tag: bytes, context_id: bytes, digest: bytes) -> bytes:
    return tag + context_id + digest


def sign(key: SigningKey, tag: bytes, context_id: bytes, digest: bytes) -> bytes:
    signature: bytes = key.sign(signed_message(tag, context_id, digest)).signature
    return signature


def verify(
    public_key: bytes, signature: bytes, tag: bytes, context_id: bytes, digest: bytes
) -> bool:
    return verify_signed(public_key, signed_message(tag, context_id, digest), signature)


def verify_signed(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """`verify` of a message already put together by `signed_message`."""
    if len(public_key) != PUBLIC_KEY_SIZE or len(signature) != SIGNATURE_SIZE:
        return False
    try:
        VerifyKey(public_key).verify(message, signature)
    except (BadSignatureError, ValueError, TypeError):
        return False
    return True


def verify_each(checks: Iterable[tuple[bytes, bytes, bytes]]) -> list[bool]:
    """`verify_signed` of each (public key, signed message, signature), in order."""
    return [verify_signed(key, message, signature) for key, message, signature in checks]


def segment_doc_id(community_id: bytes, owner: bytes, segment: int) -> bytes:
    """The id of a member's segment document (memberdoc.py), derived so that nobody
    can plant a document under someone else's name. Here so that the signature
    worker can compute it without loading Automerge."""
    return sha256(SEGMENT_DOMAIN + community_id + owner + segment.to_bytes(4, "big"))


def canonical_cbor(value: Any) -> bytes:
    """Deterministic CBOR (RFC 8949 §4.2): the same value always hashes the same."""
    return cbor2.dumps(value, canonical=True)
