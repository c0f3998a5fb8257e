"""Verify, order, then apply a batch of member-document changes safely.

This is ARCHITECTURE §5.3 in one place. Verification happens entirely
before Automerge sees a byte, because the Rust core holds the GIL, panics on
some malformed input, and silently queues changes whose deps are missing.
Member documents have exactly one writer, so a valid history is a strict
chain: change n depends on change n-1 and nothing else. That makes "deps
present" and "next seq" one check, and makes equivocation (two different
changes at the same seq) easy to name.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from automerge.core import Message, SyncState

from p2pcommunity.sync.crypto import CHANGE_TAG, signed_message, verify_each
from p2pcommunity.sync.docs.chunks import ParsedChange, encode_uleb128, parse_change
from p2pcommunity.sync.docs.chunks import raw_change_hash as raw_change_hash
from p2pcommunity.sync.docs.memberdoc import DocRef, SegmentDoc
from p2pcommunity.sync.errors import Rejected

MAX_BATCH_CHANGES = 1000

_SYNC_MESSAGE_V1 = 0x42


@dataclass(frozen=True)
class SignedChange:
    """A change as stored and sent: the Automerge chunk and its author's signature."""

    data: bytes
    signature: bytes


@dataclass(frozen=True)
class VerifiedChange:
    parsed: ParsedChange
    signature: bytes  # the actor's, over (CHANGE_TAG, doc id, change hash): checked in a batch


@dataclass(frozen=True)
class VerifiedBatch:
    ref: DocRef
    changes: tuple[VerifiedChange, ...]
    duplicates: int
    # The highest seq in the batch, copies included: an honest sender holds
    # everything up to it (a document is a chain).
    top_seq: int = 0


HashAtSeq = Callable[[int], bytes | None]
# The seq of a change we hold, found by its hash (None: not known to be held).
SeqOfHeld = Callable[[bytes | None], int | None]
# Verifies (public key, signed message, signature) triples: one verdict each, in order.
VerifySignatures = Callable[[Sequence[tuple[bytes, bytes, bytes]]], list[bool]]


def verify_batch(
    ref: DocRef,
    items: Sequence[SignedChange],
    known_max_seq: int,
    hash_at_seq: HashAtSeq,
    allowed_authors: frozenset[bytes] | None = None,
    held_recently: SeqOfHeld | None = None,
    verify_signatures: VerifySignatures = verify_each,
) -> VerifiedBatch:
    """Check every change of a batch for one document; raise `Rejected` if any is bad.

    `allowed_authors` are the device keys that may write this document (the
    owner's); `hash_at_seq` looks up the hash we hold at a seq, to tell a
    duplicate from an equivocation. The signatures of the batch go to
    `verify_signatures` in one call (presign.py: a worker may have verified
    them already).
    """
    if len(items) > MAX_BATCH_CHANGES:
        raise Rejected("oversize_batch", f"{len(items)} changes in one batch")
    writers = allowed_authors if allowed_authors is not None else frozenset({ref.owner})
    doc_id = ref.doc_id
    parsed: list[VerifiedChange] = []
    unverified: list[ParsedChange] = []
    checks: list[tuple[bytes, bytes, bytes]] = []
    copies = 0
    top_seq = 0
    for signed in items:
        held_seq = held_recently(raw_change_hash(signed.data)) if held_recently else None
        if held_seq is not None:
            copies += 1  # byte-identical to a change we hold: nothing to parse or check
            top_seq = max(top_seq, held_seq)
            continue
        change = parse_change(signed.data)
        if change.actor not in writers:
            raise Rejected("wrong_owner", f"actor {change.actor.hex()[:16]} may not write this doc")
        if change.other_actors:
            raise Rejected("wrong_owner", "a member document has a single writer")
        # A change we already hold, byte for byte, is dropped below without being
        # applied, stored or forwarded; verifying it again would only burn CPU
        # (in a mesh most arriving changes are such copies).
        is_copy = change.seq <= known_max_seq and hash_at_seq(change.seq) == change.hash
        if not is_copy:
            unverified.append(change)
            checks.append(
                (change.actor, signed_message(CHANGE_TAG, doc_id, change.hash), signed.signature)
            )
        parsed.append(VerifiedChange(change, signed.signature))
        top_seq = max(top_seq, change.seq)
    verdicts = verify_signatures(checks) if checks else []
    for change, valid in zip(unverified, verdicts, strict=True):
        if not valid:
            raise Rejected("bad_signature", f"change seq {change.seq}")
    parsed.sort(key=lambda c: c.parsed.seq)
    fresh, duplicates = _chain(parsed, known_max_seq, hash_at_seq)
    return VerifiedBatch(ref, tuple(fresh), duplicates + copies, top_seq)


def _chain(
    parsed: list[VerifiedChange], known_max_seq: int, hash_at_seq: HashAtSeq
) -> tuple[list[VerifiedChange], int]:
    """The changes of a verified batch (sorted by seq) that extend our chain, and how many
    were duplicates; raise `Rejected` on an equivocation, a gap or a change off the chain."""
    fresh: list[VerifiedChange] = []
    duplicates = 0
    last_seq = known_max_seq
    last_hash = hash_at_seq(known_max_seq) if known_max_seq else None
    for item in parsed:
        change = item.parsed
        if change.seq <= last_seq:
            held = hash_at_seq(change.seq) if change.seq <= known_max_seq else None
            if held is None:  # a duplicate inside the batch itself
                held = next(c.parsed.hash for c in fresh if c.parsed.seq == change.seq)
            if held != change.hash:
                raise Rejected("equivocation", f"two changes at seq {change.seq}")
            duplicates += 1
            continue
        if change.seq != last_seq + 1:
            raise Rejected("seq_gap", f"expected seq {last_seq + 1}, got {change.seq}")
        expected_deps = (last_hash,) if last_hash is not None else ()
        if change.deps != expected_deps:
            raise Rejected("bad_deps", f"change seq {change.seq} does not extend the chain")
        fresh.append(item)
        last_seq, last_hash = change.seq, change.hash
    return fresh, duplicates


def sync_message_v1(raw_changes: Sequence[bytes]) -> bytes:
    """An Automerge V1 sync message carrying only changes: applies them in O(k)."""
    out = bytearray([_SYNC_MESSAGE_V1])
    out += encode_uleb128(0)  # heads
    out += encode_uleb128(0)  # need
    out += encode_uleb128(0)  # have
    out += encode_uleb128(len(raw_changes))
    for raw in raw_changes:
        out += encode_uleb128(len(raw))
        out += raw
    return bytes(out)


def apply_to_document(
    segment: SegmentDoc, raw_changes: Sequence[bytes], expected_head: bytes
) -> None:
    """Apply verified changes in place; `Rejected` if Automerge fails in any way.

    On failure the caller must drop `segment` and reload it from the store:
    a panic in the Rust core can leave the in-memory document poisoned.
    """
    if not raw_changes:
        return
    try:
        message = Message.decode(sync_message_v1(raw_changes))
        segment.doc.receive_sync_message(SyncState(), message)
        heads = segment.doc.get_heads()
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # the Rust core raises PanicException, a BaseException
        raise Rejected("automerge_error", repr(exc)[:200]) from exc
    if heads != [expected_head]:
        raise Rejected("automerge_error", "document did not take the changes")
    segment.refresh()
