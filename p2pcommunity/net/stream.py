"""`PeerStream`: the one stream interface the rest of net/ talks to.

Protocol code (framing, sync sessions) reads and writes a `PeerStream` and
never sees libp2p, so the same code and the same tests run over a real
libp2p stream (`LibP2PStream`) or an in-memory pair (`memory_stream_pair`)
with no sockets, as trio's own `memory_stream_pair` does for trio streams.

The contract mirrors `trio.abc.Stream`, narrowed to what we use:

- `remote_peer_id` is the peer id the security handshake (Noise) proved,
  never one the peer merely claimed;
- `receive_some(max_bytes)` returns 1..max_bytes bytes, or b"" once the
  peer has closed its side (EOF); reads may split or merge the peer's writes;
- a stream the peer reset, or whose connection died, raises
  `trio.BrokenResourceError`; using a stream after our own `close()` raises
  `trio.ClosedResourceError`. Caveat: py-libp2p 0.8.1's Yamux forgets a
  stream as soon as the peer resets it, so a *read* then sees EOF (only a
  write sees the reset). A protocol must therefore never take EOF as "the
  peer finished": it needs its own explicit last message;
- `close()` ends our use of the stream: the peer reads EOF. It is
  idempotent and never raises.

libp2p's own exceptions (`StreamEOF`, `StreamReset`, ...) are mapped here
and go no further.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import trio
import trio.testing

if TYPE_CHECKING:
    from libp2p.abc import INetStream

logger = logging.getLogger(__name__)

DEFAULT_RECEIVE_SIZE = 64 * 1024


@runtime_checkable
class PeerStream(Protocol):
    """A byte stream to one authenticated peer (see the module docstring)."""

    @property
    def remote_peer_id(self) -> str: ...

    async def send_all(self, data: bytes) -> None: ...

    async def receive_some(self, max_bytes: int = DEFAULT_RECEIVE_SIZE) -> bytes: ...

    async def close(self) -> None: ...


def _check_max_bytes(max_bytes: int) -> None:
    if max_bytes < 1:
        raise ValueError(f"max_bytes must be at least 1, not {max_bytes}")


class LibP2PStream:
    """A `PeerStream` over a py-libp2p `INetStream` (one Yamux stream)."""

    def __init__(self, net_stream: INetStream) -> None:
        self._stream = net_stream
        # Taken from the secured connection, i.e. from the key that signed
        # the Noise handshake: the only peer id we may trust.
        self._remote_peer_id = str(net_stream.muxed_conn.peer_id)
        self._closed = False
        self._eof = False

    @property
    def remote_peer_id(self) -> str:
        return self._remote_peer_id

    @property
    def protocol_id(self) -> str | None:
        protocol = self._stream.get_protocol()
        return None if protocol is None else str(protocol)

    async def send_all(self, data: bytes) -> None:
        from libp2p.network.stream.exceptions import StreamClosed, StreamError
        from libp2p.stream_muxer.exceptions import MuxedConnError, MuxedStreamError

        if self._closed:
            raise trio.ClosedResourceError("stream already closed")
        if not data:
            return
        try:
            await self._stream.write(data)
        except StreamClosed as e:
            raise trio.BrokenResourceError(f"stream closed for writing: {e}") from e
        except (StreamError, MuxedStreamError, MuxedConnError, OSError) as e:
            raise trio.BrokenResourceError(f"stream broken: {e!r}") from e

    async def receive_some(self, max_bytes: int = DEFAULT_RECEIVE_SIZE) -> bytes:
        from libp2p.network.stream.exceptions import StreamEOF, StreamError
        from libp2p.stream_muxer.exceptions import (
            MuxedConnError,
            MuxedStreamEOF,
            MuxedStreamError,
        )

        _check_max_bytes(max_bytes)
        if self._closed:
            raise trio.ClosedResourceError("stream already closed")
        if self._eof:
            return b""
        try:
            data: bytes = await self._stream.read(max_bytes)
        except (StreamEOF, MuxedStreamEOF):
            self._eof = True
            return b""
        except (StreamError, MuxedStreamError, MuxedConnError, OSError) as e:
            raise trio.BrokenResourceError(f"stream broken: {e!r}") from e
        if not data:
            # Yamux's read() returns b"" only at EOF; keep b"" meaning exactly that.
            self._eof = True
        return data

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            await self._stream.close()
        except Exception as e:  # noqa: BLE001 -- a dead connection: nothing left to close
            logger.debug("closing stream to %s: %r", self._remote_peer_id, e)

    async def reset(self) -> None:
        """Abort the stream in both directions (the peer sees a reset, not EOF)."""
        self._closed = True
        try:
            await self._stream.reset()
        except Exception as e:  # noqa: BLE001 -- connection gone: dead anyway
            logger.debug("resetting stream to %s: %r", self._remote_peer_id, e)

    def __repr__(self) -> str:
        return f"LibP2PStream(remote_peer_id={self._remote_peer_id!r})"


class MemoryPeerStream:
    """One end of `memory_stream_pair`: a trio in-memory stream plus a peer id."""

    def __init__(self, stream: trio.abc.HalfCloseableStream, remote_peer_id: str) -> None:
        self._stream = stream
        self._remote_peer_id = remote_peer_id
        self._closed = False

    @property
    def remote_peer_id(self) -> str:
        return self._remote_peer_id

    async def send_all(self, data: bytes) -> None:
        if self._closed:
            raise trio.ClosedResourceError("stream already closed")
        await self._stream.send_all(data)

    async def receive_some(self, max_bytes: int = DEFAULT_RECEIVE_SIZE) -> bytes:
        _check_max_bytes(max_bytes)
        if self._closed:
            raise trio.ClosedResourceError("stream already closed")
        return bytes(await self._stream.receive_some(max_bytes))

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        await self._stream.aclose()

    def __repr__(self) -> str:
        return f"MemoryPeerStream(remote_peer_id={self._remote_peer_id!r})"


def memory_stream_pair(peer_a: str, peer_b: str) -> tuple[MemoryPeerStream, MemoryPeerStream]:
    """Two connected in-memory streams: (the end held by peer_a, the end held by peer_b).

    So `a.remote_peer_id == peer_b` and `b.remote_peer_id == peer_a`, as if
    a Noise handshake had proved each side's key.
    """
    stream_a, stream_b = trio.testing.memory_stream_pair()
    return MemoryPeerStream(stream_a, peer_b), MemoryPeerStream(stream_b, peer_a)
