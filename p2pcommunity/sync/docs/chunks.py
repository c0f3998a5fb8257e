"""Read the header of an Automerge change chunk before Automerge sees it.

Verification (ARCHITECTURE §5.3) needs a change's actor, seq, deps and hash
while the bytes are still untrusted, and the Rust core panics on some
malformed input, so this parser is our own, in plain Python, and shaped for
hostile input: every length is checked against what remains before it is
used, inflation is capped, and the only exception that ever leaves
`parse_change` is `Rejected`. It decodes the fields in front of the op
columns and only walks the column table, because judging the ops themselves
is Automerge's job once the change is known to be authentic.

Layout (automerge binary format, checked against automerge==0.2.0.dev4):
magic(4) checksum(4) type(1) uleb(len) body; the hash is SHA-256 over
type+uleb(len)+body of the uncompressed (type 1) chunk and the checksum is
its first 4 bytes. A type 2 chunk carries the same checksum and a raw DEFLATE
of the type 1 body. Body: deps, actor, seq, start_op, time, message, other
actors, column metadata, column data, extra bytes.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import NamedTuple

from p2pcommunity.sync.crypto import sha256
from p2pcommunity.sync.errors import Rejected

MAGIC = b"\x85\x6f\x4a\x83"
CHUNK_DOCUMENT = 0
CHUNK_CHANGE = 1
CHUNK_COMPRESSED_CHANGE = 2
MAX_CHANGE_SIZE = 256 * 1024
HASH_SIZE = 32

_MALFORMED = "malformed_change"
_U64_MAX = (1 << 64) - 1
_MAX_ULEB_BYTES = 10  # ceil(64 / 7)


@dataclass(frozen=True)
class ParsedChange:
    """What verification needs of a change, read from its untrusted header."""

    actor: bytes
    seq: int
    start_op: int
    deps: tuple[bytes, ...]
    hash: bytes
    other_actors: tuple[bytes, ...]
    raw_bytes: bytes  # the uncompressed type 1 chunk: what we hash, sign and store


def encode_uleb128(n: int) -> bytes:
    if n < 0 or n > _U64_MAX:
        raise ValueError(f"uleb128 takes an unsigned 64-bit integer, not {n}")
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def decode_uleb128(buf: bytes, pos: int, *, reason: str = "malformed_varint") -> tuple[int, int]:
    """Decode one unsigned LEB128 at `pos`; return it and the position after it.

    Overlong encodings and values beyond 64 bits are refused like Automerge
    does, so one number has exactly one encoding. Errors are `Rejected(reason)`
    since the bytes always come from a peer.
    """
    value, used = _leb128_groups(buf, pos, reason, "varint")
    if used > 1 and buf[pos + used - 1] == 0:
        raise Rejected(reason, "overlong varint")
    if value > _U64_MAX:
        raise Rejected(reason, "varint overflows 64 bits")
    return value, pos + used


def _decode_sleb128(buf: bytes, pos: int) -> tuple[int, int]:
    value, used = _leb128_groups(buf, pos, _MALFORMED, "signed varint")
    last = buf[pos + used - 1]
    if used > 1:
        sign_of_previous = buf[pos + used - 2] & 0x40
        if (last == 0x00 and not sign_of_previous) or (last == 0x7F and sign_of_previous):
            raise Rejected(_MALFORMED, "overlong signed varint")
    if last & 0x40:
        value -= 1 << (7 * used)
    if not -(1 << 63) <= value < (1 << 63):
        raise Rejected(_MALFORMED, "signed varint overflows 64 bits")
    return value, pos + used


def _leb128_groups(buf: bytes, pos: int, reason: str, kind: str) -> tuple[int, int]:
    """The 7-bit groups of one LEB128 at `pos`, read as unsigned: (value, bytes used).
    The callers judge the encoding (overlong, range, sign) from the bytes used."""
    value = 0
    for i in range(_MAX_ULEB_BYTES):
        if pos + i >= len(buf):
            raise Rejected(reason, f"truncated {kind}")
        byte = buf[pos + i]
        value |= (byte & 0x7F) << (7 * i)
        if not byte & 0x80:
            return value, i + 1
    raise Rejected(reason, f"{kind} longer than 10 bytes")


class _Reader:
    """A cursor over untrusted bytes; every read is bounds-checked."""

    def __init__(self, buf: bytes) -> None:
        self.buf = buf
        self.pos = 0

    def remaining(self) -> int:
        return len(self.buf) - self.pos

    def uleb(self) -> int:
        pos = self.pos
        if pos < len(self.buf) and self.buf[pos] < 0x80:  # one byte: most of them
            self.pos = pos + 1
            return self.buf[pos]
        value, self.pos = decode_uleb128(self.buf, pos, reason=_MALFORMED)
        return value

    def sleb(self) -> int:
        value, self.pos = _decode_sleb128(self.buf, self.pos)
        return value

    def column_data_size(self, columns: int) -> int:
        """Read `columns` (spec, length) pairs; the sum of the lengths.

        The hot loop of parsing (a change has a dozen columns): one- and
        two-byte varints are decoded inline, anything else by `decode_uleb128`.
        """
        buf, pos, end = self.buf, self.pos, len(self.buf)
        total = 0
        for i in range(2 * columns):
            low = buf[pos] if pos < end else 0x80
            if low < 0x80:
                value = low
                pos += 1
            elif pos + 1 < end and 0 < buf[pos + 1] < 0x80:
                value = (low & 0x7F) | (buf[pos + 1] << 7)
                pos += 2
            else:
                value, pos = decode_uleb128(buf, pos, reason=_MALFORMED)
            if i & 1:
                total += value
        self.pos = pos
        return total

    def take(self, n: int, what: str) -> bytes:
        if n > self.remaining():
            raise Rejected(_MALFORMED, f"{what}: {n} bytes declared, {self.remaining()} left")
        out = self.buf[self.pos : self.pos + n]
        self.pos += n
        return out

    def prefixed(self, what: str) -> bytes:
        return self.take(self.uleb(), what)

    def count(self, what: str, min_item_size: int) -> int:
        n = self.uleb()
        # Refuse impossible counts up front rather than looping towards them.
        if n * min_item_size > self.remaining():
            raise Rejected(_MALFORMED, f"{what}: count {n} cannot fit in {self.remaining()} bytes")
        return n


class _Body(NamedTuple):
    deps: tuple[bytes, ...]
    actor: bytes
    seq: int
    start_op: int
    time: int
    message: str | None
    other_actors: tuple[bytes, ...]
    extra_bytes: bytes


def _parse_body(body: bytes) -> _Body:
    r = _Reader(body)
    deps = tuple(r.take(HASH_SIZE, "dependency") for _ in range(r.count("deps", HASH_SIZE)))
    actor = r.prefixed("actor")
    if not actor:
        raise Rejected(_MALFORMED, "empty actor id")
    seq = r.uleb()
    if seq == 0:
        raise Rejected(_MALFORMED, "seq 0")
    start_op = r.uleb()
    if start_op == 0:
        raise Rejected(_MALFORMED, "start_op 0")
    time = r.sleb()
    raw_message = r.prefixed("message")
    try:
        message = raw_message.decode("utf-8") if raw_message else None
    except UnicodeDecodeError:
        raise Rejected(_MALFORMED, "message is not UTF-8") from None
    others: list[bytes] = []
    for _ in range(r.count("other actors", 1)):
        other = r.prefixed("other actor")
        if not other:
            raise Rejected(_MALFORMED, "empty actor id")
        others.append(other)
    # Column table: (spec, length) pairs, then the column data they describe.
    r.take(r.column_data_size(r.count("columns", 2)), "column data")
    return _Body(deps, actor, seq, start_op, time, message, tuple(others), body[r.pos :])


def _inflate(compressed: bytes, max_size: int) -> bytes:
    inflater = zlib.decompressobj(wbits=-15)
    try:
        # max_length stops a zip bomb after max_size + 1 bytes of output.
        out = inflater.decompress(compressed, max_size + 1)
    except zlib.error as e:
        raise Rejected(_MALFORMED, f"bad DEFLATE stream: {e}") from None
    if len(out) > max_size:
        raise Rejected("oversize_change", f"inflates to more than {max_size} bytes")
    if not inflater.eof or inflater.unused_data or inflater.unconsumed_tail:
        raise Rejected(_MALFORMED, "DEFLATE stream truncated or followed by garbage")
    return out


def raw_change_hash(data: bytes) -> bytes | None:
    """The change hash of an uncompressed change chunk, without parsing it (None for
    anything else). Only a fast path (to spot copies, to guess what a signature
    covers): a hash we hold proves the bytes are the change we verified; anything
    unknown goes through `parse_change`."""
    if len(data) > 9 and data[:4] == MAGIC and data[8] == CHUNK_CHANGE:
        return sha256(data[8:])
    return None


def parse_change(data: bytes, max_size: int = MAX_CHANGE_SIZE) -> ParsedChange:
    """Parse and checksum one change chunk (type 1 or 2); raise only `Rejected`."""
    if not isinstance(data, bytes):  # bytearray / memoryview from a stream buffer
        data = bytes(data)
    if len(data) > max_size:
        raise Rejected("oversize_change", f"{len(data)} bytes, limit {max_size}")
    if data[:4] != MAGIC:
        raise Rejected(_MALFORMED, "bad magic")
    if len(data) < 9:
        raise Rejected(_MALFORMED, "truncated header")
    checksum = data[4:8]
    chunk_type = data[8]
    length, body_start = decode_uleb128(data, 9, reason=_MALFORMED)
    if length > len(data) - body_start:
        raise Rejected(_MALFORMED, f"body length {length} exceeds the chunk")
    if length < len(data) - body_start:
        raise Rejected(_MALFORMED, "trailing bytes after the chunk")
    body = data[body_start:]
    if chunk_type == CHUNK_CHANGE:
        raw = data
    elif chunk_type == CHUNK_COMPRESSED_CHANGE:
        body = _inflate(body, max_size)
        raw = MAGIC + checksum + bytes([CHUNK_CHANGE]) + encode_uleb128(len(body)) + body
        if len(raw) > max_size:
            raise Rejected("oversize_change", f"inflates to {len(raw)} bytes, limit {max_size}")
    elif chunk_type == CHUNK_DOCUMENT:
        raise Rejected(_MALFORMED, "a document chunk is not a change")
    else:
        raise Rejected(_MALFORMED, f"unknown chunk type {chunk_type}")
    change_hash = sha256(raw[8:])
    if change_hash[:4] != checksum:
        raise Rejected(_MALFORMED, "checksum mismatch")
    fields = _parse_body(body)
    return ParsedChange(
        actor=fields.actor,
        seq=fields.seq,
        start_op=fields.start_op,
        deps=fields.deps,
        hash=change_hash,
        other_actors=fields.other_actors,
        raw_bytes=raw,
    )
