"""Signatures of changes verified ahead of use, so that a second core can do it.

Ed25519 verification is most of what a big sync costs (~60 us a change
here), and in a thread it gains little: libsodium releases the GIL, but the
thread needs it back after every signature, and the loop thread that
applies changes holds it. So a worker process (`p2pcommunity.sigworker`)
verifies batches that are still waiting, while this process applies the
batch before them; what it found valid lands in a `SignatureCache`.

The cache is only a shortcut, never a judge: `verify_batch` still checks
every change (ARCHITECTURE §5.3) and asks for the exact (signer, signed
message, signature) triple its own parse produced. The worker guesses the
triples without parsing (the signer is the document's owner, the hash is
that of the raw bytes); a triple it guessed wrong, or never sent, is simply
not in the cache, and is verified here, in line. The entries come only from
our own worker, which calls the same `verify` as the in-line path.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from p2pcommunity.sync.apply import SignedChange, raw_change_hash, verify_each
from p2pcommunity.sync.crypto import CHANGE_TAG, signed_message, verify_signed
from p2pcommunity.sync.errors import RemoteProtocolError
from p2pcommunity.sync.memberdoc import segment_doc_id
from p2pcommunity.sync.protocol_frames import ChangesFrame, decode_frame

# (public key, signed message, signature)
SignatureCheck = tuple[bytes, bytes, bytes]

# Unused entries (a batch that was refused, a session that ended) are forgotten
# oldest first beyond this many: about 4 MB, far more than any read-ahead.
CACHE_LIMIT = 20_000


def change_checks(
    community_id: bytes, owner: bytes, segment: int, items: Sequence[SignedChange]
) -> list[SignatureCheck]:
    """The triples `verify_batch` will check for these changes, if they are what they
    claim: signed by the document's owner, uncompressed. Others are left out."""
    doc_id = segment_doc_id(community_id, owner, segment)
    checks = []
    for item in items:
        change_hash = raw_change_hash(item.data)
        if change_hash is not None:
            checks.append((owner, signed_message(CHANGE_TAG, doc_id, change_hash), item.signature))
    return checks


def frame_checks(community_id: bytes, frame: bytes) -> list[SignatureCheck]:
    """`change_checks` for a changes frame from the network; [] for any other frame."""
    try:
        decoded = decode_frame(frame)
    except RemoteProtocolError:
        return []  # the session reports it
    if not isinstance(decoded, ChangesFrame):
        return []
    return change_checks(community_id, decoded.owner, decoded.segment, decoded.changes)


def valid_checks(community_id: bytes, frame: bytes) -> list[SignatureCheck]:
    """What the worker does with a frame: the triples of `frame_checks` that verify."""
    checks = frame_checks(community_id, frame)
    return [check for check, ok in zip(checks, verify_each(checks), strict=True) if ok]


class SignatureCache:
    """Triples a worker found valid, each used at most once."""

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
