"""Length-prefixed frames over a `PeerStream`.

A frame is a 4-byte big-endian payload length, then the payload. The
reader checks the length against a limit *before* buffering anything, so a
peer cannot make us allocate more than `max_size` by announcing a huge
frame. `receive_some` may return part of a frame or several frames at once,
so reading goes through a `FrameReader` that keeps the bytes it has read
past the current frame; use one reader per stream for the stream's whole
life. What the peer got wrong (an oversized length, EOF inside a frame) is
a `RemoteProtocolError`: the caller drops that peer (STYLE.md, h11).
"""

from __future__ import annotations

import struct
from collections.abc import Callable

from p2pcommunity.net.stream import PeerStream
from p2pcommunity.sync.errors import RemoteProtocolError
from p2pcommunity.sync.protocol.frames import MAX_FRAME_SIZE

HEADER_SIZE = 4
_HEADER = struct.Struct(">I")
_RECEIVE_SIZE = 64 * 1024
_WRITE_SIZE = 256 * 1024


class OversizeFrame(RemoteProtocolError):
    """The peer announced a frame longer than our limit."""

    reason = "oversize_frame"


def encode_frame(payload: bytes, max_size: int = MAX_FRAME_SIZE) -> bytes:
    """The bytes of one frame; refuses (ValueError) a payload we would refuse to read."""
    if len(payload) > max_size:
        raise ValueError(f"frame payload of {len(payload)} bytes exceeds the limit {max_size}")
    return _HEADER.pack(len(payload)) + payload


async def write_frame(stream: PeerStream, payload: bytes, max_size: int = MAX_FRAME_SIZE) -> None:
    await stream.send_all(encode_frame(payload, max_size))


async def write_frames(
    stream: PeerStream, payloads: list[bytes], max_size: int = MAX_FRAME_SIZE
) -> None:
    """Several frames in as few writes as possible.

    Each write costs a Yamux frame, a Noise message and a system call; a
    session's step often holds several small frames (changes of several
    documents), so they go out together, in writes of up to `_WRITE_SIZE`.
    """
    pending: list[bytes] = []
    size = 0
    for payload in payloads:
        frame = encode_frame(payload, max_size)
        if pending and size + len(frame) > _WRITE_SIZE:
            await stream.send_all(b"".join(pending))
            pending, size = [], 0
        pending.append(frame)
        size += len(frame)
    if pending:
        await stream.send_all(b"".join(pending))


class FrameReader:
    """Reads frames from one stream, keeping what it read past the last frame."""

    def __init__(self, stream: PeerStream, max_size: int = MAX_FRAME_SIZE) -> None:
        if not 0 <= max_size <= 0xFFFFFFFF:
            raise ValueError(f"max_size {max_size} out of range")
        self.stream = stream
        self.max_size = max_size
        self._buffer = bytearray()

    async def read_frame(self) -> bytes | None:
        """The next payload, or None on a clean EOF between frames."""
        if not await self._fill(HEADER_SIZE, at_boundary=True):
            return None
        (length,) = _HEADER.unpack_from(self._buffer)
        if length > self.max_size:
            raise OversizeFrame(
                f"peer {self.stream.remote_peer_id} announced a frame of {length} bytes; "
                f"the limit is {self.max_size}"
            )
        await self._fill(HEADER_SIZE + length, at_boundary=False)
        payload = bytes(self._buffer[HEADER_SIZE : HEADER_SIZE + length])
        del self._buffer[: HEADER_SIZE + length]
        return payload

    async def _fill(self, needed: int, *, at_boundary: bool) -> bool:
        """Buffer at least `needed` bytes; False on EOF with an empty buffer at a boundary."""
        while len(self._buffer) < needed:
            data = await self.stream.receive_some(max(_RECEIVE_SIZE, needed - len(self._buffer)))
            if not data:
                if at_boundary and not self._buffer:
                    return False
                raise RemoteProtocolError(
                    f"peer {self.stream.remote_peer_id} closed the stream inside a frame "
                    f"({len(self._buffer)} of {needed} bytes received)"
                )
            self._buffer += data
        return True


async def read_frame(
    stream: PeerStream,
    max_size: int = MAX_FRAME_SIZE,
    *,
    before_payload: Callable[[int], None] | None = None,
) -> bytes | None:
    """Read one frame with no read-ahead: safe to mix with other reads of `stream`.

    It asks for exactly the bytes the frame still lacks, so it never
    consumes the start of the next frame. To read many frames, a
    `FrameReader` makes fewer, larger reads. `before_payload(length)` runs
    once the length is known and before any of the payload is buffered: it
    may reserve memory for it, or raise to refuse it.
    """
    header = await _read_exactly(stream, HEADER_SIZE, at_boundary=True)
    if header is None:
        return None
    (length,) = _HEADER.unpack(header)
    if length > max_size:
        raise OversizeFrame(
            f"peer {stream.remote_peer_id} announced a frame of {length} bytes; "
            f"the limit is {max_size}"
        )
    if before_payload is not None:
        before_payload(length)
    payload = await _read_exactly(stream, length, at_boundary=False)
    assert payload is not None
    return payload


async def _read_exactly(stream: PeerStream, size: int, *, at_boundary: bool) -> bytes | None:
    buffer = bytearray()
    while len(buffer) < size:
        data = await stream.receive_some(size - len(buffer))
        if not data:
            if at_boundary and not buffer:
                return None
            raise RemoteProtocolError(
                f"peer {stream.remote_peer_id} closed the stream inside a frame "
                f"({len(buffer)} of {size} bytes of a {'header' if at_boundary else 'payload'} "
                "received)"
            )
        buffer += data
    return bytes(buffer)
