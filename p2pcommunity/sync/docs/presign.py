"""Signatures of changes verified ahead of use, so that a second core can do it.

Ed25519 verification is most of what a big sync costs (~60 us a change
here), and in a thread it gains little: libsodium releases the GIL, but the
thread needs it back after every signature, and the loop thread that
applies changes holds it. So a worker process (`p2pcommunity.sigworker`)
verifies frames that are still waiting, while this process applies the
frame before them; what it found valid lands in a `SignatureCache`.

The cache is only a shortcut, never a judge: `verify_batch` still checks
every change (ARCHITECTURE §5.3) and asks for the exact (signer, signed
message, signature) triple its own parse produced. `frame_checks` guesses
the triples without parsing (the signer is the document's owner, the hash is
that of the raw bytes); a triple guessed wrong, or never verified ahead, is
simply not in the cache and is verified in line. Entries come only from our
own worker (or our own loop thread), which call the same `verify_each`.

This module loads neither Automerge nor the session: the worker imports it
and should start in a blink.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from p2pcommunity.sync.crypto import (
    CHANGE_TAG,
    PUBLIC_KEY_SIZE,
    segment_doc_id,
    signed_message,
    verify_each,
    verify_signed,
)
from p2pcommunity.sync.docs.chunks import raw_change_hash
from p2pcommunity.sync.errors import Rejected
from p2pcommunity.sync.log.ops import decode_canonical

# (public key, signed message, signature)
SignatureCheck = tuple[bytes, bytes, bytes]

# Unused entries (a batch that was refused, a session that ended) are forgotten
# oldest first beyond this many: about 4 MB, far more than any read-ahead.
CACHE_LIMIT = 20_000
_MAX_SEGMENT = (1 << 32) - 1


def change_checks(
    community_id: bytes, owner: bytes, segment: int, changes: Iterable[tuple[bytes, bytes]]
) -> list[SignatureCheck]:
    """The triples `verify_batch` will check for these (change bytes, signature) pairs
    if they are what they claim: signed by the document's owner, uncompressed.
    Anything else is left out."""
    doc_id = segment_doc_id(community_id, owner, segment)
    checks = []
    for data, signature in changes:
        change_hash = raw_change_hash(data)
        if change_hash is not None:
            checks.append((owner, signed_message(CHANGE_TAG, doc_id, change_hash), signature))
    return checks


def frame_checks(community_id: bytes, frame: bytes) -> list[SignatureCheck]:
    """`change_checks` for a changes frame from the network; [] for anything else.

    A guess, so it reads only what it needs, with the strict CBOR reader the
    frames themselves are decoded with (protocol_frames.py, whose shape
    `changes` frames have: "t", "owner", "segment", "changes").
    """
    try:
        record: Any = decode_canonical(frame)
    except Rejected:
        return []
    if not isinstance(record, dict) or record.get("t") != "changes":
        return []
    owner, segment, changes = record.get("owner"), record.get("segment"), record.get("changes")
    if not (
        isinstance(owner, bytes)
        and len(owner) == PUBLIC_KEY_SIZE
        and type(segment) is int
        and 0 <= segment <= _MAX_SEGMENT
        and isinstance(changes, list)
    ):
        return []
    pairs = [
        (item[0], item[1])
        for item in changes
        if isinstance(item, list)
        and len(item) == 2
        and isinstance(item[0], bytes)
        and isinstance(item[1], bytes)
    ]
    return change_checks(community_id, owner, segment, pairs)


def valid_checks(checks: Sequence[SignatureCheck]) -> list[SignatureCheck]:
    """The triples that verify."""
    return [check for check, ok in zip(checks, verify_each(checks), strict=True) if ok]


class SignatureCache:
    """Triples found valid ahead of their batch, each used at most once."""

    def __init__(self, limit: int = CACHE_LIMIT) -> None:
        self._valid: dict[SignatureCheck, None] = {}
        self._limit = limit

    def __len__(self) -> int:
        return len(self._valid)

    def add(self, checks: Iterable[SignatureCheck]) -> None:
        for check in checks:
            self._valid[check] = None
        excess = len(self._valid) - self._limit
        if excess > 0:
            for check in list(self._valid)[:excess]:
                del self._valid[check]

    def verify(self, checks: Sequence[SignatureCheck]) -> list[bool]:
        """For each triple: found in the cache (and dropped from it), or verified now."""
        out = []
        for check in checks:
            if check in self._valid:
                del self._valid[check]
                out.append(True)
            else:
                out.append(verify_signed(*check))
        return out
