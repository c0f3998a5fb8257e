from __future__ import annotations

import contextlib
import functools
import os
import zlib
from typing import TYPE_CHECKING

import pytest
from automerge.core import ROOT, Document, ObjType, ScalarType
from hypothesis import given, settings
from hypothesis import strategies as st

from p2pcommunity.sync.crypto import sha256
from p2pcommunity.sync.docs.chunks import (
    MAGIC,
    MAX_CHANGE_SIZE,
    ParsedChange,
    _parse_body,
    decode_uleb128,
    encode_uleb128,
    parse_change,
)
from p2pcommunity.sync.errors import Rejected

if TYPE_CHECKING:
    # The binding exports Change only from its native module.
    from automerge._automerge import Change


def _put(doc: Document, key: str, value: str) -> Change:
    with doc.transaction() as tx:
        tx.put(ROOT, key, ScalarType.Str, value)
    change = doc.get_last_local_change()
    assert change is not None
    return change


@functools.cache
def _history() -> tuple[Change, ...]:
    """Three actors editing concurrently and merging; some changes are large."""
    docs = [Document(actor_id=os.urandom(size)) for size in (32, 16, 3)]
    for round_ in range(6):
        for i, doc in enumerate(docs):
            _put(doc, f"k{i}", f"round {round_}")
            if (round_ + i) % 3 == 0:
                _put(doc, "big", "x" * 10_000 + str(round_))
            if round_ == 2 and i == 0:
                with doc.transaction() as tx:
                    items = tx.put_object(ROOT, "items", ObjType.List)
                    for n in range(500):
                        tx.insert(items, n, ScalarType.Int, n)
        docs[0].merge(docs[1])
        docs[1].merge(docs[2])
        docs[2].merge(docs[0])
    for doc in docs[1:]:
        docs[0].merge(doc)
    changes = tuple(docs[0].get_changes([]))
    assert len(changes) == 3 * 6 + 6 + 1
    return changes


def _valid_chunks() -> list[bytes]:
    out: list[bytes] = []
    for change in _history():
        out.append(change.raw_bytes)
        if change.bytes != change.raw_bytes:
            out.append(change.bytes)
    return out


def _assert_matches(parsed: ParsedChange, change: Change) -> None:
    assert parsed.actor == change.actor_id
    assert parsed.seq == change.seq
    assert parsed.start_op == change.start_op
    assert list(parsed.deps) == change.deps
    assert parsed.hash == change.hash
    assert list(parsed.other_actors) == change.other_actor_ids
    assert parsed.raw_bytes == change.raw_bytes


def test_fields_agree_with_the_binding() -> None:
    changes = _history()
    assert any(c.deps for c in changes)
    assert any(c.other_actor_ids for c in changes)
    assert len({c.actor_id for c in changes}) == 3
    for change in changes:
        _assert_matches(parse_change(change.raw_bytes), change)
        body = _parse_body(_body_of(change.raw_bytes))
        assert body.message == change.message
        # The binding gives a naive *local* datetime (fromtimestamp), so
        # .timestamp() undoes it; the chunk holds milliseconds (always 0 here).
        assert body.time == round(change.timestamp.timestamp() * 1000)
        assert body.extra_bytes == change.extra_bytes


def test_compressed_and_raw_forms_parse_the_same() -> None:
    compressed = [c for c in _history() if c.bytes != c.raw_bytes]
    assert compressed, "no change was compressed: the type 2 path went untested"
    for change in compressed:
        assert change.bytes[8] == 2
        assert len(change.bytes) < len(change.raw_bytes)
        parsed = parse_change(change.bytes)
        assert parsed == parse_change(change.raw_bytes)
        _assert_matches(parsed, change)


def test_hash_is_sha256_of_the_uncompressed_chunk_after_the_checksum() -> None:
    for change in _history():
        assert change.hash == sha256(change.raw_bytes[8:])


def _rechecksum(chunk_type: int, body: bytes) -> bytes:
    """A chunk with a correct checksum around an arbitrary body."""
    hashed = bytes([chunk_type]) + encode_uleb128(len(body)) + body
    return MAGIC + sha256(hashed)[:4] + hashed


def _compress(raw: bytes, body: bytes) -> bytes:
    packer = zlib.compressobj(wbits=-15)
    deflated = packer.compress(body) + packer.flush()
    return MAGIC + raw[4:8] + b"\x02" + encode_uleb128(len(deflated)) + deflated


def _body_of(raw: bytes) -> bytes:
    _, start = decode_uleb128(raw, 9)
    return raw[start:]


def _reason(data: bytes, **kwargs: int) -> str:
    with pytest.raises(Rejected) as info:
        parse_change(data, **kwargs)
    return info.value.reason


def test_rejections() -> None:
    raw = _history()[0].raw_bytes
    body = _body_of(raw)
    assert _reason(b"") == "malformed_change"
    assert _reason(b"\x00" + raw[1:]) == "malformed_change"  # magic
    assert _reason(raw[:8]) == "malformed_change"
    assert _reason(raw + b"\x00") == "malformed_change"  # trailing bytes
    assert _reason(raw[:-1]) == "malformed_change"  # truncated body
    assert _reason(MAGIC + raw[4:9] + b"\xff" * 11) == "malformed_change"  # length overflow
    assert _reason(MAGIC + raw[4:9] + b"\x80") == "malformed_change"  # truncated varint
    assert _reason(MAGIC + raw[4:9] + b"\x80\x00") == "malformed_change"  # overlong varint
    assert _reason(_rechecksum(3, body)) == "malformed_change"  # unknown type
    # A whole saved document has a valid checksum but is not a change.
    doc = Document()
    _put(doc, "a", "b")
    assert doc.save()[8] == 0
    assert _reason(doc.save()) == "malformed_change"


def test_seq_and_start_op_zero_are_rejected() -> None:
    change = _history()[0]
    body = _body_of(change.raw_bytes)
    # deps count 0, actor (len-prefixed), then seq and start_op
    assert body[0] == 0
    after_actor = 2 + len(change.actor_id)
    assert body[after_actor : after_actor + 2] == b"\x01\x01"
    parse_change(_rechecksum(1, body))  # the re-checksumming itself is sound
    zero_seq = body[:after_actor] + b"\x00" + body[after_actor + 1 :]
    zero_start = body[: after_actor + 1] + b"\x00" + body[after_actor + 2 :]
    for bad in (zero_seq, zero_start):
        with pytest.raises(Rejected, match="0"):
            parse_change(_rechecksum(1, bad))


def test_bad_column_table_and_bad_message_are_rejected() -> None:
    change = _history()[0]
    body = _body_of(change.raw_bytes)
    cut = body[:-1]  # the last column is one byte short
    with pytest.raises(Rejected, match="column data"):
        parse_change(_rechecksum(1, cut))
    # Extra bytes after the columns are allowed (Change.extra_bytes).
    parse_change(_rechecksum(1, body + b"extra"))
    message_at = 2 + len(change.actor_id) + 3  # seq 1, start_op 1, time 0
    assert body[message_at] == 0
    bad_utf8 = body[:message_at] + b"\x02\xff\xfe" + body[message_at + 1 :]
    with pytest.raises(Rejected, match="UTF-8"):
        parse_change(_rechecksum(1, bad_utf8))


def test_oversize_input_and_zip_bomb() -> None:
    change = _history()[0]
    assert _reason(change.raw_bytes, max_size=len(change.raw_bytes) - 1) == "oversize_change"
    assert _reason(b"\x00" * (MAX_CHANGE_SIZE + 1)) == "oversize_change"
    # A small type 2 chunk whose body inflates to 16 MB stops at the cap.
    bomb_body = b"\x00" * (16 * 1024 * 1024)
    bomb = _compress(_rechecksum(1, bomb_body), bomb_body)
    assert len(bomb) < MAX_CHANGE_SIZE
    assert _reason(bomb) == "oversize_change"


def test_compressed_chunk_must_hold_exactly_one_deflate_stream() -> None:
    change = next(c for c in _history() if c.bytes != c.raw_bytes)
    good = change.bytes
    body = _body_of(good)
    for bad_body in (body[:-3], body + b"\x00", b"\xff" * len(body)):
        bad = good[:9] + encode_uleb128(len(bad_body)) + bad_body
        assert _reason(bad) == "malformed_change"


def test_uleb128_round_trip_and_limits() -> None:
    for n in (0, 1, 127, 128, 300, 2**32, 2**64 - 1):
        encoded = encode_uleb128(n)
        assert decode_uleb128(b"\xaa" + encoded + b"\xbb", 1) == (n, 1 + len(encoded))
    assert encode_uleb128(300) == b"\xac\x02"
    with pytest.raises(ValueError):
        encode_uleb128(2**64)
    with pytest.raises(ValueError):
        encode_uleb128(-1)
    with pytest.raises(Rejected) as info:
        decode_uleb128(b"\xff" * 9 + b"\x7f", 0)  # 2**70 - 1
    assert info.value.reason == "malformed_varint"


@given(st.integers(min_value=0, max_value=2**64 - 1))
def test_uleb128_property(n: int) -> None:
    encoded = encode_uleb128(n)
    assert decode_uleb128(encoded, 0) == (n, len(encoded))


@settings(max_examples=500)
@given(st.binary(max_size=2048))
def test_random_bytes_parse_or_reject(data: bytes) -> None:
    with contextlib.suppress(Rejected):
        parse_change(data)


@settings(max_examples=300)
@given(st.binary(max_size=512))
def test_random_bytes_behind_a_valid_header_parse_or_reject(body: bytes) -> None:
    # With a correct checksum the fuzzer reaches the body parser itself.
    raw = _rechecksum(1, body)
    for chunk in (raw, _compress(raw, body), _rechecksum(2, body)):
        with contextlib.suppress(Rejected):
            parse_change(chunk)


@settings(max_examples=500)
@given(st.data())
def test_mutated_bodies_behind_a_valid_header_parse_or_reject(data: st.DataObject) -> None:
    # Start from real bodies so that mutations reach the later fields and
    # the column table, which random bytes rarely get to.
    body = bytearray(_body_of(data.draw(st.sampled_from(_history())).raw_bytes))
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(body) - 1))
        action = data.draw(st.sampled_from(["set", "insert", "delete"]))
        if action == "insert":
            body[at:at] = data.draw(st.binary(min_size=1, max_size=4))
        elif action == "set":
            body[at] = data.draw(st.integers(0, 255))
        else:
            del body[at]
    with contextlib.suppress(Rejected):
        parse_change(_rechecksum(1, bytes(body)))


@settings(max_examples=300)
@given(st.data())
def test_truncations_parse_or_reject(data: st.DataObject) -> None:
    chunk = data.draw(st.sampled_from(_valid_chunks()))
    cut = data.draw(st.integers(1, len(chunk) - 1))
    for piece in (chunk[:cut], chunk[cut:]):
        with pytest.raises(Rejected):
            parse_change(piece)


@settings(max_examples=500)
@given(st.data())
def test_a_flipped_bit_is_rejected(data: st.DataObject) -> None:
    chunk = data.draw(st.sampled_from(_valid_chunks()))
    bit = data.draw(st.integers(0, len(chunk) * 8 - 1))
    flipped = bytearray(chunk)
    flipped[bit // 8] ^= 1 << (bit % 8)
    try:
        parsed = parse_change(bytes(flipped))
    except Rejected:
        return
    # Only a DEFLATE stream has bits that do not matter (padding after its
    # last block); such a flip must yield the very same change.
    assert chunk[8] == 2
    assert parsed == parse_change(chunk)


def test_every_flipped_bit_of_a_raw_chunk_is_rejected() -> None:
    raw = _history()[0].raw_bytes
    for bit in range(len(raw) * 8):
        flipped = bytearray(raw)
        flipped[bit // 8] ^= 1 << (bit % 8)
        with pytest.raises(Rejected):
            parse_change(bytes(flipped))


@pytest.mark.parametrize(
    ("raw", "value"),
    [(b"\x00", 0), (b"\x7f", -1), (b"\x3f", 63), (b"\xc0\x00", 64), (b"\x40", -64),
     (b"\xbf\x7f", -65), (b"\x80\x80\x80\x80\x80\x80\x80\x80\x80\x7f", -(1 << 63))],
)  # fmt: skip
def test_signed_varints_decode_like_automerge(raw: bytes, value: int) -> None:
    from p2pcommunity.sync.docs.chunks import _decode_sleb128

    assert _decode_sleb128(raw + b"\x99", 0) == (value, len(raw))


@pytest.mark.parametrize("raw", [b"\x80\x00", b"\xff\x7f", b"\x80", b"\xff" * 11])
def test_overlong_truncated_and_endless_signed_varints_are_refused(raw: bytes) -> None:
    from p2pcommunity.sync.docs.chunks import _decode_sleb128

    with pytest.raises(Rejected):
        _decode_sleb128(raw, 0)
