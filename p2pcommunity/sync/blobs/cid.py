"""CIDv1 computed here, from the multiformats specs, with no library.

A chunk is named by a CIDv1 with the `raw` codec (0x55) and a sha2-256
multihash (0x12, 32 bytes), so any IPFS or multiformats tool can check a
chunk it is given; a manifest by the same with the `dag-cbor` codec (0x71):
it is canonical CBOR without links (its chunk ids are byte strings, not tag
42), which is valid DAG-CBOR. Binary form: varint(version) varint(codec)
varint(hash fn) varint(digest length) digest; every varint here is one
byte. Text form: multibase base32 (RFC 4648, lower case, no padding)
behind the prefix "b" — "bafkrei..." for raw chunks, "bafyrei..." for
manifests. Why our own: ten lines, and the parser must refuse anything but
these two exact shapes (py-cid accepts every codec and CIDv0).
"""

from __future__ import annotations

import base64
import hashlib

CIDV1 = 0x01
RAW = 0x55
DAG_CBOR = 0x71
SHA2_256 = 0x12
DIGEST_SIZE = 32
CID_SIZE = 4 + DIGEST_SIZE
CODECS = frozenset({RAW, DAG_CBOR})


class BadCid(ValueError):
    """Text or bytes that are not one of the two CID shapes we use."""


def from_digest(codec: int, digest: bytes) -> bytes:
    if codec not in CODECS or len(digest) != DIGEST_SIZE:
        raise BadCid("only raw or dag-cbor sha2-256 CIDs")
    return bytes((CIDV1, codec, SHA2_256, DIGEST_SIZE)) + digest


def of(data: bytes, codec: int = RAW) -> bytes:
    """The binary CID of `data`."""
    return from_digest(codec, hashlib.sha256(data).digest())


def check(cid: object) -> bytes:
    """`cid` if it is a binary CID of ours, else `BadCid`."""
    if not isinstance(cid, bytes) or len(cid) != CID_SIZE:
        raise BadCid("a CID is 36 bytes")
    if cid[0] != CIDV1 or cid[1] not in CODECS or cid[2] != SHA2_256 or cid[3] != DIGEST_SIZE:
        raise BadCid("only CIDv1 raw or dag-cbor with sha2-256")
    return cid


def codec(cid: bytes) -> int:
    return check(cid)[1]


def digest(cid: bytes) -> bytes:
    return check(cid)[4:]


def matches(cid: bytes, data: bytes) -> bool:
    """Whether `data` is what `cid` names."""
    return hashlib.sha256(data).digest() == digest(cid)


def to_text(cid: bytes) -> str:
    return "b" + base64.b32encode(check(cid)).decode("ascii").rstrip("=").lower()


def from_text(text: str) -> bytes:
    """The binary CID a user or peer typed; `BadCid` for anything else."""
    if not isinstance(text, str) or not text.startswith("b") or len(text) != 59:
        raise BadCid(f"not a CID: {str(text)[:80]!r}")
    body = text[1:]
    if body != body.lower() or not body.isascii():
        raise BadCid(f"not a base32 CID: {text[:80]!r}")
    try:
        raw = base64.b32decode(body.upper() + "=" * (-len(body) % 8))
    except ValueError:
        raise BadCid(f"not a base32 CID: {text[:80]!r}") from None
    check(raw)
    if to_text(raw) != text:  # non-zero padding bits: one CID, one spelling
        raise BadCid(f"not a canonical CID: {text[:80]!r}")
    return raw
