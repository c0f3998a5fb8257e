"""The PeerStream contract, run against every implementation (trio's _check_streams)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import pytest
import trio

from p2pcommunity.identity import DeviceIdentity
from p2pcommunity.net.host import running_host
from p2pcommunity.net.stream import PeerStream, memory_stream_pair

PEER_A = "12D3KooWA"
PEER_B = "12D3KooWB"
TEST_PROTOCOL = "/p2pcommunity/test-stream/1.0.0"
LOOPBACK = ["/ip4/127.0.0.1/tcp/0"]

# (a's end, b's end, a's peer id, b's peer id)
Pair = tuple[PeerStream, PeerStream, str, str]


@asynccontextmanager
async def memory_pair() -> AsyncIterator[Pair]:
    a, b = memory_stream_pair(PEER_A, PEER_B)
    yield a, b, PEER_A, PEER_B


@asynccontextmanager
async def libp2p_pair() -> AsyncIterator[Pair]:
    """Two real hosts on loopback; b's end is the stream its handler received."""
    async with (
        running_host(DeviceIdentity.generate(), LOOPBACK) as host_a,
        running_host(DeviceIdentity.generate(), LOOPBACK) as host_b,
    ):
        send, receive = trio.open_memory_channel[PeerStream](1)
        done = trio.Event()

        async def handler(stream: PeerStream) -> None:
            await send.send(stream)
            await done.wait()

        host_b.set_stream_handler(TEST_PROTOCOL, handler)
        a = await host_a.open_stream(host_b.peer_id, host_b.listen_addrs(), TEST_PROTOCOL)
        b = await receive.receive()
        try:
            yield a, b, host_a.peer_id, host_b.peer_id
        finally:
            done.set()
            await a.close()


PAIRS: dict[str, Callable[[], AbstractAsyncContextManager[Pair]]] = {
    "memory": memory_pair,
    "libp2p": libp2p_pair,
}


@pytest.fixture(params=sorted(PAIRS))
def make_pair(request: pytest.FixtureRequest) -> Callable[[], AbstractAsyncContextManager[Pair]]:
    return PAIRS[request.param]


def run_with(make_pair: Callable[[], AbstractAsyncContextManager[Pair]], body: object) -> None:
    async def main() -> None:
        with trio.fail_after(10):
            async with make_pair() as pair:
                await body(*pair)  # type: ignore[operator]

    trio.run(main)


async def receive_exactly(stream: PeerStream, size: int) -> bytes:
    data = bytearray()
    while len(data) < size:
        chunk = await stream.receive_some(size - len(data))
        assert chunk, "unexpected EOF"
        data += chunk
    return bytes(data)


def test_remote_peer_ids(make_pair: Callable[[], AbstractAsyncContextManager[Pair]]) -> None:
    async def body(a: PeerStream, b: PeerStream, id_a: str, id_b: str) -> None:
        assert a.remote_peer_id == id_b
        assert b.remote_peer_id == id_a
        assert isinstance(a, PeerStream) and isinstance(b, PeerStream)

    run_with(make_pair, body)


def test_bytes_both_ways(make_pair: Callable[[], AbstractAsyncContextManager[Pair]]) -> None:
    async def body(a: PeerStream, b: PeerStream, id_a: str, id_b: str) -> None:
        await a.send_all(b"ping")
        assert await receive_exactly(b, 4) == b"ping"
        await b.send_all(b"pong!")
        assert await receive_exactly(a, 5) == b"pong!"

    run_with(make_pair, body)


def test_large_payload_and_max_bytes(
    make_pair: Callable[[], AbstractAsyncContextManager[Pair]],
) -> None:
    # Larger than Yamux's initial 256 KiB window: needs window updates.
    payload = bytes(range(256)) * 4096

    async def body(a: PeerStream, b: PeerStream, id_a: str, id_b: str) -> None:
        received = bytearray()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(a.send_all, payload)
            while len(received) < len(payload):
                chunk = await b.receive_some(1000)
                assert 1 <= len(chunk) <= 1000
                received += chunk
        assert received == payload

    run_with(make_pair, body)


def test_close_gives_peer_eof(make_pair: Callable[[], AbstractAsyncContextManager[Pair]]) -> None:
    async def body(a: PeerStream, b: PeerStream, id_a: str, id_b: str) -> None:
        await a.send_all(b"last words")
        await a.close()
        await a.close()  # idempotent
        assert await receive_exactly(b, 10) == b"last words"
        assert await b.receive_some(100) == b""
        assert await b.receive_some(100) == b""  # EOF stays EOF
        with pytest.raises(trio.ClosedResourceError):
            await a.send_all(b"more")
        with pytest.raises(trio.ClosedResourceError):
            await a.receive_some(10)

    run_with(make_pair, body)


def test_max_bytes_must_be_positive(
    make_pair: Callable[[], AbstractAsyncContextManager[Pair]],
) -> None:
    async def body(a: PeerStream, b: PeerStream, id_a: str, id_b: str) -> None:
        with pytest.raises(ValueError):
            await a.receive_some(0)

    run_with(make_pair, body)
