"""Attacks on the guarded apply path (ARCHITECTURE §5.2, §5.3)."""

from __future__ import annotations

import os
from typing import Any

import pytest
from automerge.core import ROOT, Document, ScalarType
from nacl.signing import SigningKey

from p2pcommunity.sync.docs.apply import SignedChange, apply_to_document, verify_batch
from p2pcommunity.sync.docs.memberdoc import DocRef, SegmentDoc
from p2pcommunity.sync.errors import Rejected
from tests.sync.builders import last_change, post_chain, sign_change

COMMUNITY = bytes(32)


def _chain(
    key: SigningKey, count: int, ref: DocRef | None = None
) -> tuple[DocRef, list[SignedChange]]:
    ref = ref or DocRef(COMMUNITY, bytes(key.verify_key), 0)
    return ref, post_chain(key, count, ref)


def _none(seq: int) -> bytes | None:
    return None


def _refused(ref: DocRef, items: list[SignedChange], held_to: int = 0, held: Any = _none) -> str:
    """Why `verify_batch` refuses `items` for `ref` (it must), holding up to seq `held_to`."""
    with pytest.raises(Rejected) as err:
        verify_batch(ref, items, held_to, held)
    return err.value.reason


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
    assert _refused(ref, [items[0], forged]) == "bad_signature"


def test_signature_for_another_document_is_rejected() -> None:
    key = SigningKey.generate()
    ref, items = _chain(key, 1)
    other = DocRef(COMMUNITY, ref.owner, 1)
    assert _refused(other, items) == "bad_signature"


def test_change_by_someone_else_than_the_owner_is_rejected() -> None:
    owner, intruder = SigningKey.generate(), SigningKey.generate()
    ref = DocRef(COMMUNITY, bytes(owner.verify_key), 0)
    # The intruder writes a change with its own actor into the owner's document,
    # and signs it correctly with its own key.
    doc = Document(actor_id=bytes(intruder.verify_key))
    with doc.transaction() as tx:
        tx.put(ROOT, "x", ScalarType.Int, 1)
    item = sign_change(intruder, ref, last_change(doc))
    assert _refused(ref, [item]) == "wrong_owner"


def test_seq_gap_is_rejected() -> None:
    key = SigningKey.generate()
    ref, items = _chain(key, 3)
    assert _refused(ref, [items[0], items[2]]) == "seq_gap"


def test_equivocation_is_rejected() -> None:
    key = SigningKey.generate()
    ref, first = _chain(key, 2)
    _, second = _chain(key, 2, ref)  # same actor, same seqs, different content
    held = {1: verify_batch(ref, first, 0, _none).changes[0].parsed.hash}
    assert _refused(ref, [second[0]], 1, held.get) == "equivocation"
    assert _refused(ref, [first[0], second[0]]) == "equivocation"


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
    item = sign_change(key, ref, last_change(doc))
    assert _refused(ref, [item]) == "oversize_change"


def test_a_change_that_does_not_extend_the_chain_is_rejected() -> None:
    key = SigningKey.generate()
    ref, items = _chain(key, 1)
    # seq 2 whose deps do not name seq 1: a second actor-less branch
    doc = Document(actor_id=ref.owner)
    with doc.transaction() as tx:
        tx.put(ROOT, "a", ScalarType.Int, 1)
    with doc.transaction() as tx:
        tx.put(ROOT, "b", ScalarType.Int, 2)
    change = last_change(doc)
    assert change.seq == 2
    item = sign_change(key, ref, change)
    held = {1: verify_batch(ref, items, 0, _none).changes[0].parsed.hash}
    assert _refused(ref, [item], 1, held.get) == "bad_deps"


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
    assert (
        _refused(ref, [copy, SignedChange(items[1].data, bytes(64))], 1, held.get)
        == "bad_signature"
    )


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
