"""Signatures verified ahead of use (presign.py, sigworker.py) never let a bad change in."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from nacl.signing import SigningKey

from p2pcommunity import sigworker
from p2pcommunity.sync.community import Community
from p2pcommunity.sync.crypto import CHANGE_TAG, sign
from p2pcommunity.sync.docs.apply import SignedChange, verify_batch
from p2pcommunity.sync.docs.memberdoc import DocRef
from p2pcommunity.sync.docs.presign import (
    SignatureCache,
    change_checks,
    frame_checks,
    valid_checks,
)
from p2pcommunity.sync.errors import Rejected
from p2pcommunity.sync.peerid import peer_id_from_public_key
from p2pcommunity.sync.protocol.frames import ChangesFrame, HeadsFrame, encode_frame
from p2pcommunity.sync.service import Service
from p2pcommunity.sync.storage.store import Store
from tests.sync.builders import forge, post_chain

COMMUNITY = bytes(32)


def _chain(key: SigningKey, count: int, community: bytes = COMMUNITY) -> list[SignedChange]:
    return post_chain(key, count, DocRef(community, bytes(key.verify_key), 0))


def _frame(owner: bytes, items: list[SignedChange]) -> bytes:
    return encode_frame(ChangesFrame(owner, 0, tuple(items)))


def _none(seq: int) -> bytes | None:
    return None


def test_the_worker_vouches_only_for_signatures_that_verify() -> None:
    key = SigningKey.generate()
    owner = bytes(key.verify_key)
    items = forge(_chain(key, 30), 17)
    checks = frame_checks(COMMUNITY, _frame(owner, items))
    assert len(checks) == 30
    valid = valid_checks(frame_checks(COMMUNITY, _frame(owner, items)))
    assert len(valid) == 29 and checks[17] not in valid
    # Any other frame, or bytes that are no frame, give nothing to check.
    assert frame_checks(COMMUNITY, encode_frame(HeadsFrame(()))) == []
    assert frame_checks(COMMUNITY, b"\xff garbage") == []


def test_a_bad_signature_in_the_middle_is_rejected_even_with_the_rest_presigned() -> None:
    key = SigningKey.generate()
    owner = bytes(key.verify_key)
    ref = DocRef(COMMUNITY, owner, 0)
    items = forge(_chain(key, 30), 17)
    cache = SignatureCache()
    cache.add(valid_checks(frame_checks(COMMUNITY, _frame(owner, items))))
    assert len(cache) == 29
    with pytest.raises(Rejected) as err:
        verify_batch(ref, items, 0, _none, verify_signatures=cache.verify)
    assert err.value.reason == "bad_signature" and "seq 18" in str(err.value)


def test_a_presigned_change_does_not_vouch_for_another_signature_or_document() -> None:
    key = SigningKey.generate()
    owner = bytes(key.verify_key)
    items = _chain(key, 3)
    cache = SignatureCache()
    cache.add(valid_checks(frame_checks(COMMUNITY, _frame(owner, items))))
    # The same bytes with someone else's signature over them: not in the cache.
    other = SigningKey.generate()
    ref = DocRef(COMMUNITY, owner, 0)
    forged = [
        items[0],
        SignedChange(items[1].data, sign(other, CHANGE_TAG, ref.doc_id, os.urandom(32))),
    ]
    with pytest.raises(Rejected, match="bad_signature"):
        verify_batch(ref, forged, 0, _none, verify_signatures=cache.verify)
    # A valid chain, presigned for community 0, checked as a document of another one.
    cache.add(valid_checks(frame_checks(COMMUNITY, _frame(owner, items))))
    elsewhere = DocRef(bytes([1]) * 32, owner, 0)
    with pytest.raises(Rejected, match="bad_signature"):
        verify_batch(elsewhere, items, 0, _none, verify_signatures=cache.verify)


def test_the_cache_is_bounded_and_each_entry_serves_once() -> None:
    key = SigningKey.generate()
    owner = bytes(key.verify_key)
    items = _chain(key, 30)
    checks = change_checks(COMMUNITY, owner, 0, [(c.data, c.signature) for c in items])
    cache = SignatureCache(limit=20)
    cache.add(checks)
    assert len(cache) == 20  # the oldest ten went
    assert cache.verify(checks[10:]) == [True] * 20
    assert len(cache) == 0
    # Missing entries are verified in line, bad ones fail.
    forged = (checks[0][0], checks[0][1], bytes(64))
    assert cache.verify([checks[0], forged]) == [True, False]


def test_a_receive_with_one_bad_signature_changes_nothing_when_presigned(tmp_path: Path) -> None:
    owner_key, member_key = SigningKey.generate(), SigningKey.generate()
    store = Store(tmp_path / "s.sqlite3")
    service = Service(store, owner_key, lambda: 1_000)
    community_id = bytes.fromhex(service.community_create("C")["community_id"])
    member = bytes(member_key.verify_key)
    service.member_add(community_id.hex(), peer_id_from_public_key(member))
    community: Community = service.community(community_id.hex())
    items = _chain(member_key, 40, community_id)
    forged = forge(items, 20)
    community.presigned.add(valid_checks(frame_checks(community_id, _frame(member, forged))))
    before = store.db.execute("SELECT count(*) FROM changes").fetchone()
    ref = DocRef(community_id, member, 0)
    with pytest.raises(Rejected, match="bad_signature"):
        community.receive_changes(ref, forged, 2_000)
    assert store.db.execute("SELECT count(*) FROM changes").fetchone() == before
    assert store.db.execute("SELECT count(*) FROM posts").fetchone() == (0,)
    community.presigned.add(valid_checks(frame_checks(community_id, _frame(member, items))))
    assert community.receive_changes(ref, items, 2_000).applied == 40
    assert store.db.execute("SELECT count(*) FROM posts").fetchone() == (40,)


def test_the_worker_process_loop_answers_in_order_and_survives_garbage() -> None:
    key = SigningKey.generate()
    owner = bytes(key.verify_key)
    good = _chain(key, 5)
    forged = forge(good, 2)
    checks = change_checks(COMMUNITY, owner, 0, [(c.data, c.signature) for c in good])
    forged_checks = change_checks(COMMUNITY, owner, 0, [(c.data, c.signature) for c in forged])
    requests = io.BytesIO(
        sigworker.encode_request(COMMUNITY, _frame(owner, forged))
        + sigworker.encode_request(COMMUNITY, b"\x00 not a frame")
        + sigworker.encode_checks_request(forged_checks[3:])
        + b"\x00\x00\x00\x04Cxyz"  # records that are not whole
        + sigworker.encode_request(COMMUNITY, _frame(owner, good))
        + b"\x00\x00\x01\x00 truncated"
    )
    answers = io.BytesIO()
    sigworker.serve(requests, answers)
    out = answers.getvalue()
    assert out.startswith(sigworker.READY)
    out = out[len(sigworker.READY) :]
    got = []
    while out:
        size = int.from_bytes(out[:4], "big")
        got.append(sigworker.decode_answer(out[4 : 4 + size]))
        out = out[4 + size :]
    assert got == [[c for i, c in enumerate(checks) if i != 2], [], checks[3:], [], checks]
    with pytest.raises(ValueError):
        sigworker.decode_answer(bytes(sigworker.RECORD_SIZE + 1))
