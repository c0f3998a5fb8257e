from __future__ import annotations

import itertools
import struct
from collections.abc import Awaitable, Callable

import pytest
import trio
from hypothesis import given, settings
from hypothesis import strategies as st

from p2pcommunity.net.framing import (
    MAX_FRAME_SIZE,
    FrameReader,
    encode_frame,
    read_frame,
    write_frame,
    write_frames,
)
from p2pcommunity.net.stream import memory_stream_pair
from p2pcommunity.sync.errors import RemoteProtocolError

PEER_A = "12D3KooWA"
PEER_B = "12D3KooWB"


class ScriptedStream:
    """A PeerStream whose reads return exactly the given chunks, then EOF."""

    def __init__(self, chunks: list[bytes]) -> None:
        self.remote_peer_id = PEER_A
        self._chunks = [c for c in chunks if c]
        self.reads: list[int] = []

    async def send_all(self, data: bytes) -> None:
        raise AssertionError("not used")

    async def receive_some(self, max_bytes: int = 65536) -> bytes:
        self.reads.append(max_bytes)
        await trio.lowlevel.checkpoint()
        if not self._chunks:
            return b""
        chunk = self._chunks[0]
        self._chunks[0] = chunk[max_bytes:]
        if not self._chunks[0]:
            self._chunks.pop(0)
        return chunk[:max_bytes]

    async def close(self) -> None:
        pass


Reader = Callable[[ScriptedStream, int], Awaitable[bytes | None]]


def _stateless(stream: ScriptedStream, max_size: int) -> Awaitable[bytes | None]:
    return read_frame(stream, max_size)


def _buffered_reader() -> Reader:
    readers: dict[int, FrameReader] = {}

    def read(stream: ScriptedStream, max_size: int) -> Awaitable[bytes | None]:
        reader = readers.setdefault(id(stream), FrameReader(stream, max_size))
        return reader.read_frame()

    return read


READERS = {"read_frame": lambda: _stateless, "FrameReader": _buffered_reader}


@pytest.fixture(params=sorted(READERS))
def reader(request: pytest.FixtureRequest) -> Reader:
    return READERS[request.param]()


async def read_all(stream: ScriptedStream, reader: Reader, max_size: int) -> list[bytes]:
    frames = []
    while (frame := await reader(stream, max_size)) is not None:
        frames.append(frame)
    return frames


def test_encode_frame_layout() -> None:
    assert encode_frame(b"abc") == b"\x00\x00\x00\x03abc"
    assert encode_frame(b"") == b"\x00\x00\x00\x00"
    with pytest.raises(ValueError):
        encode_frame(b"x" * 11, max_size=10)


def test_partial_and_coalesced_reads(reader: Reader) -> None:
    wire = encode_frame(b"hello") + encode_frame(b"") + encode_frame(b"world!")
    # One byte at a time, then everything in one chunk.
    for chunks in ([wire[i : i + 1] for i in range(len(wire))], [wire]):
        stream = ScriptedStream(chunks)
        frames = trio.run(read_all, stream, reader, MAX_FRAME_SIZE)
        assert frames == [b"hello", b"", b"world!"]


def test_clean_eof_is_none(reader: Reader) -> None:
    assert trio.run(reader, ScriptedStream([]), MAX_FRAME_SIZE) is None


@pytest.mark.parametrize(
    "wire",
    [
        b"\x00\x00",  # EOF inside the header
        b"\x00\x00\x00\x05abc",  # EOF inside the payload
        encode_frame(b"ok") + b"\x00",  # a whole frame, then a torn one
    ],
)
def test_eof_mid_frame_is_remote_error(reader: Reader, wire: bytes) -> None:
    with pytest.raises(RemoteProtocolError, match="closed the stream inside a frame"):
        trio.run(read_all, ScriptedStream([wire]), reader, MAX_FRAME_SIZE)


def test_oversize_frame_is_refused_before_reading_it(reader: Reader) -> None:
    header = struct.pack(">I", 101)
    stream = ScriptedStream([header, b"x" * 101])
    with pytest.raises(RemoteProtocolError, match="101 bytes; the limit is 100"):
        trio.run(reader, stream, 100)
    # Refused on the header alone: the payload was never asked for.
    assert stream._chunks == [b"x" * 101]


def test_default_limit_is_one_mib(reader: Reader) -> None:
    assert MAX_FRAME_SIZE == 1024 * 1024
    at_limit = encode_frame(b"y" * MAX_FRAME_SIZE)
    assert trio.run(reader, ScriptedStream([at_limit]), MAX_FRAME_SIZE) == b"y" * MAX_FRAME_SIZE
    over = struct.pack(">I", MAX_FRAME_SIZE + 1)
    with pytest.raises(RemoteProtocolError):
        trio.run(reader, ScriptedStream([over]), MAX_FRAME_SIZE)


def test_stateless_read_frame_never_reads_past_its_frame() -> None:
    stream = ScriptedStream([encode_frame(b"one") + b"rest-of-stream"])
    assert trio.run(read_frame, stream) == b"one"
    assert stream._chunks == [b"rest-of-stream"]


def test_frames_over_memory_stream_pair() -> None:
    async def main() -> None:
        a, b = memory_stream_pair(PEER_A, PEER_B)
        with trio.fail_after(5):
            reader_b, reader_a = FrameReader(b), FrameReader(a)
            for payload in (b"first", b"", b"third" * 1000):
                await write_frame(a, payload)
            assert [await reader_b.read_frame() for _ in range(3)] == [
                b"first",
                b"",
                b"third" * 1000,
            ]
            await write_frame(b, b"reply")
            assert await reader_a.read_frame() == b"reply"
            await a.close()
            assert await reader_b.read_frame() is None

    trio.run(main)


@settings(max_examples=200, deadline=None)
@given(
    frames=st.lists(st.binary(max_size=300), max_size=8),
    cuts=st.lists(st.integers(min_value=0, max_value=10_000), max_size=30),
    stateless=st.booleans(),
)
def test_any_chunking_decodes_to_the_same_frames(
    frames: list[bytes], cuts: list[int], stateless: bool
) -> None:
    wire = b"".join(encode_frame(f) for f in frames)
    points = sorted({c % (len(wire) + 1) for c in cuts} | {0, len(wire)})
    chunks = [wire[i:j] for i, j in itertools.pairwise(points)]
    reader = _stateless if stateless else _buffered_reader()
    assert trio.run(read_all, ScriptedStream(chunks), reader, MAX_FRAME_SIZE) == frames


@settings(max_examples=300, deadline=None)
@given(wire=st.binary(max_size=200), stateless=st.booleans())
def test_random_bytes_parse_or_raise_remote_error(wire: bytes, stateless: bool) -> None:
    reader = _stateless if stateless else _buffered_reader()
    try:
        frames = trio.run(read_all, ScriptedStream([wire]), reader, 64)
    except RemoteProtocolError:
        return
    assert b"".join(encode_frame(f) for f in frames) == wire


class RecordingStream:
    def __init__(self) -> None:
        self.remote_peer_id = PEER_B
        self.writes: list[bytes] = []

    async def send_all(self, data: bytes) -> None:
        self.writes.append(bytes(data))


def test_write_frames_sends_a_step_in_few_writes_that_read_back_in_order() -> None:
    small = [bytes([i]) * (i + 1) for i in range(50)]
    big = [b"x" * 200_000, b"y" * 200_000, b"z"]

    async def main() -> None:
        for payloads, most_writes in ((small, 1), (big, 3), ([], 0)):
            out = RecordingStream()
            await write_frames(out, payloads)  # type: ignore[arg-type]
            assert 0 < len(out.writes) <= most_writes or not payloads
            stream = ScriptedStream(out.writes)
            assert await read_all(stream, _buffered_reader(), MAX_FRAME_SIZE) == payloads

    trio.run(main)


def test_write_frames_refuses_an_oversized_payload_before_writing() -> None:
    async def main() -> None:
        out = RecordingStream()
        with pytest.raises(ValueError):
            await write_frames(out, [b"ok", b"x" * 5000], max_size=4096)  # type: ignore[arg-type]
        assert out.writes == []

    trio.run(main)
