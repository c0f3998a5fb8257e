"""Attacks on the guarded apply path (ARCHITECTURE §5.2, §5.3)."""

from __future__ import annotations

import os

import pytest
from automerge.core import ROOT, Document, ScalarType
from nacl.signing import SigningKey

from p2pcommunity.sync.crypto import CHANGE_TAG, sign
from p2pcommunity.sync.docs.apply import SignedChange, apply_to_document, verify_batch
from p2pcommunity.sync.docs.memberdoc import DocRef, PostRecord, SegmentDoc
from p2pcommunity.sync.errors import Rejected

COMMUNITY = bytes(32)


def _chain(
    key: SigningKey, count: int, ref: DocRef | None = None
) -> tuple[DocRef, list[SignedChange]]:
    owner = bytes(key.verify_key)
    ref = ref or DocRef(COMMUNITY, owner, 0)
    segment = SegmentDoc.new(ref)
    out = []
    for i in range(count):
        change = segment.write_post(
            PostRecord(os.urandom(8).hex(), bytes(32), f"post {i}", None, (), 1_000 + i)
        )
        out.append(SignedChange(change.raw_bytes, sign(key, CHANGE_TAG, ref.doc_id, change.hash)))
    return ref, out


def _none(seq: int) -> bytes | None:
    return None


def test_a_valid_chain_verifies_and_applies() -> None:
    key = SigningKey.generate()
    ref, items = _chain(key, 5)
    batch = verify_batch(ref, list(reversed(items)), 0, _none)
    assert [c.parsed.seq for c in batch.changes] == [1, 2, 3, 4, 5]
    target = SegmentDoc.new(ref)
    apply_to_document(
        target, [c.parsed.raw_bytes for c in batch.changes], batch.changes[-1].parsed.hash
    )
    assert target.journal_length() == 5


def test_bad_signature_is_rejected() -> None:
    key = SigningKey.generate()
    ref, items = _chain(key, 2)
    forged = SignedChange(items[1].data, bytes(64))
    with pytest.raises(Rejected) as err:
        verify_batch(ref, [items[0], forged], 0, _none)
    assert err.value.reason == "bad_signature"


def test_signature_for_another_document_is_rejected() -> None:
    key = SigningKey.generate()
    ref, items = _chain(key, 1)
    other = DocRef(COMMUNITY, ref.owner, 1)
    with pytest.raises(Rejected) as err:
        verify_batch(other, items, 0, _none)
    assert err.value.reason == "bad_signature"


def test_change_by_someone_else_than_the_owner_is_rejected() -> None:
    owner, intruder = SigningKey.generate(), SigningKey.generate()
    ref = DocRef(COMMUNITY, bytes(owner.verify_key), 0)
    # The intruder writes a change with its own actor into the owner's document,
    # and signs it correctly with its own key.
    doc = Document(actor_id=bytes(intruder.verify_key))
    with doc.transaction() as tx:
        tx.put(ROOT, "x", ScalarType.Int, 1)
    change = doc.get_last_local_change()
    assert change is not None
    item = SignedChange(change.raw_bytes, sign(intruder, CHANGE_TAG, ref.doc_id, change.hash))
    with pytest.raises(Rejected) as err:
        verify_batch(ref, [item], 0, _none)
    assert err.value.reason == "wrong_owner"


def test_seq_gap_is_rejected() -> None:
    key = SigningKey.generate()
    ref, items = _chain(key, 3)
    with pytest.raises(Rejected) as err:
        verify_batch(ref, [items[0], items[2]], 0, _none)
    assert err.value.reason == "seq_gap"


def test_equivocation_is_rejected() -> None:
    key = SigningKey.generate()
    ref, first = _chain(key, 2)
    _, second = _chain(key, 2, ref)  # same actor, same seqs, different content
    held = {1: verify_batch(ref, first, 0, _none).changes[0].parsed.hash}
    with pytest.raises(Rejected) as err:
        verify_batch(ref, [second[0]], 1, held.get)
    assert err.value.reason == "equivocation"
    with pytest.raises(Rejected) as err:
        verify_batch(ref, [first[0], second[0]], 0, _none)
    assert err.value.reason == "equivocation"


def test_duplicates_are_counted_not_applied() -> None:
    key = SigningKey.generate()
    ref, items = _chain(key, 2)
    batch = verify_batch(ref, items, 0, _none)
    hashes = {i + 1: c.parsed.hash for i, c in enumerate(batch.changes)}
    again = verify_batch(ref, items, 2, hashes.get)
    assert again.changes == () and again.duplicates == 2


def test_oversize_change_is_rejected() -> None:
    key = SigningKey.generate()
    ref = DocRef(COMMUNITY, bytes(key.verify_key), 0)
    doc = Document(actor_id=ref.owner)
    with doc.transaction() as tx:
        tx.put(ROOT, "blob", ScalarType.Bytes, os.urandom(300 * 1024))
    change = doc.get_last_local_change()
    assert change is not None
    item = SignedChange(change.raw_bytes, sign(key, CHANGE_TAG, ref.doc_id, change.hash))
    with pytest.raises(Rejected) as err:
        verify_batch(ref, [item], 0, _none)
    assert err.value.reason == "oversize_change"


def test_a_change_that_does_not_extend_the_chain_is_rejected() -> None:
    key = SigningKey.generate()
    ref, items = _chain(key, 1)
    # seq 2 whose deps do not name seq 1: a second actor-less branch
    doc = Document(actor_id=ref.owner)
    with doc.transaction() as tx:
        tx.put(ROOT, "a", ScalarType.Int, 1)
    with doc.transaction() as tx:
        tx.put(ROOT, "b", ScalarType.Int, 2)
    change = doc.get_last_local_change()
    assert change is not None and change.seq == 2
    item = SignedChange(change.raw_bytes, sign(key, CHANGE_TAG, ref.doc_id, change.hash))
    held = {1: verify_batch(ref, items, 0, _none).changes[0].parsed.hash}
    with pytest.raises(Rejected) as err:
        verify_batch(ref, [item], 1, held.get)
    assert err.value.reason == "bad_deps"


def test_a_copy_of_a_held_change_is_a_duplicate_whatever_its_signature() -> None:
    # Copies are not verified again (they are never applied, stored or forwarded);
    # a new change with the same bad signature is still refused.
    key = SigningKey.generate()
    ref, items = _chain(key, 2)
    batch = verify_batch(ref, items[:1], 0, _none)
    held = {1: batch.changes[0].parsed.hash}
    copy = SignedChange(items[0].data, bytes(64))
    again = verify_batch(ref, [copy], 1, held.get)
    assert again.changes == () and again.duplicates == 1
    with pytest.raises(Rejected) as err:
        verify_batch(ref, [copy, SignedChange(items[1].data, bytes(64))], 1, held.get)
    assert err.value.reason == "bad_signature"


def test_a_recently_held_copy_is_dropped_without_parsing() -> None:
    key = SigningKey.generate()
    ref, items = _chain(key, 1)
    from p2pcommunity.sync.docs.apply import raw_change_hash

    known = raw_change_hash(items[0].data)
    assert known is not None
    seen: list[bytes | None] = []

    def held(h: bytes | None) -> int | None:
        seen.append(h)
        return 1 if h == known else None

    batch = verify_batch(ref, [items[0]], 1, _none, None, held)
    assert batch.changes == () and batch.duplicates == 1
    assert batch.top_seq == 1  # the sender holds seq 1, though nothing was parsed
    # A different change is not mistaken for a copy.
    _, others = _chain(key, 1)
    fresh = verify_batch(ref, [others[0]], 0, _none, None, held)
    assert len(fresh.changes) == 1 and seen[-1] != known
