"""Scripted hostile peers for the attack tests: raw sockets, libp2p's own Noise and Yamux.

A real host (`running_host`) would hide what an attacker does on purpose:
stop half way through a handshake, open streams it never uses, send a frame
slowly. These helpers build each layer by hand with py-libp2p's client
classes, so an attack is a few lines in the test. Attackers bind to
127.0.0.2 (any 127/8 address is loopback on Linux) so that a node's
per-IP limits tell them apart from the members on 127.0.0.1.
"""

from __future__ import annotations

import struct
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import trio
from multiaddr import Multiaddr

from p2pcommunity.identity import DeviceIdentity
from p2pcommunity.net.framing import FrameReader, write_frame
from p2pcommunity.net.limits import Limits
from p2pcommunity.net.node import SYNC_PROTOCOL
from p2pcommunity.net.stream import PeerStream
from p2pcommunity.sync.protocol.frames import HelloFrame, encode_frame
from tests.net.harness import HarnessNode

ATTACKER_IP = "127.0.0.2"


def _port(addr: str) -> int:
    return int(Multiaddr(addr).value_for_protocol("tcp"))


async def open_tcp(addr: str, source_ip: str = ATTACKER_IP) -> trio.SocketStream:
    """A plain TCP connection from `source_ip` to a host's listen address."""
    sock = trio.socket.socket(trio.socket.AF_INET, trio.socket.SOCK_STREAM)
    try:
        await sock.bind((source_ip, 0))
        await sock.connect(("127.0.0.1", _port(addr)))
    except BaseException:
        sock.close()
        raise
    return trio.SocketStream(sock)


def _upgrader(identity: DeviceIdentity) -> Any:
    from libp2p.crypto.x25519 import create_new_key_pair
    from libp2p.custom_types import TProtocol
    from libp2p.security.noise.transport import PROTOCOL_ID as NOISE
    from libp2p.security.noise.transport import Transport as Noise
    from libp2p.stream_muxer.yamux.yamux import PROTOCOL_ID as YAMUX
    from libp2p.stream_muxer.yamux.yamux import Yamux
    from libp2p.transport.upgrader import TransportUpgrader

    key_pair = identity.to_libp2p_key_pair()
    noise = Noise(key_pair, noise_privkey=create_new_key_pair().private_key)
    return TransportUpgrader({NOISE: noise}, {TProtocol(YAMUX): Yamux})


async def noise_handshake(
    addr: str, peer_id: str, identity: DeviceIdentity | None = None
) -> tuple[trio.SocketStream, Any]:
    """TCP + Noise with a (fresh) identity: the socket and the secured connection."""
    from libp2p.io.trio import TrioTCPStream
    from libp2p.network.connection.raw_connection import RawConnection
    from libp2p.peer.id import ID

    identity = identity or DeviceIdentity.generate()
    sock = await open_tcp(addr)
    raw = RawConnection(TrioTCPStream(sock), True)
    try:
        secured = await _upgrader(identity).upgrade_security(raw, True, ID.from_base58(peer_id))
    except BaseException:
        await sock.aclose()
        raise
    return sock, secured


@asynccontextmanager
async def yamux_connection(
    addr: str, peer_id: str, identity: DeviceIdentity | None = None
) -> AsyncIterator[Any]:
    """A running Yamux connection (Noise-authenticated) to the host; closed on exit."""
    from libp2p.peer.id import ID

    identity = identity or DeviceIdentity.generate()
    sock, secured = await noise_handshake(addr, peer_id, identity)
    try:
        muxed = await _upgrader(identity).upgrade_connection(secured, ID.from_base58(peer_id))
        async with trio.open_nursery() as nursery:
            nursery.start_soon(muxed.start)
            try:
                yield muxed
            finally:
                # Dropping the socket is what a peer going away does (and
                # Yamux's own close sleeps 100 ms).
                nursery.cancel_scope.cancel()
    finally:
        await sock.aclose()


async def open_protocol_stream(muxed: Any, protocol: str) -> Any:
    """A Yamux stream negotiated to `protocol` with multistream-select (the dialer side)."""
    from libp2p.custom_types import TProtocol
    from libp2p.protocol_muxer.multiselect_client import MultiselectClient
    from libp2p.protocol_muxer.multiselect_communicator import MultiselectCommunicator

    stream = await muxed.open_stream()
    await MultiselectClient().select_one_of([TProtocol(protocol)], MultiselectCommunicator(stream))
    return stream


def frame_header(length: int) -> bytes:
    """The 4-byte prefix of a frame of `length` payload bytes."""
    return struct.pack(">I", length)


# -- a member speaking the sync protocol by hand --------------------------------


def rejected(node: HarnessNode, reason: str) -> float:
    """How many times `node` counted a refusal for `reason` (its metrics)."""
    value = node.node.metrics.registry.get_sample_value(
        "p2pcommunity_rejected_total", {"reason": reason}
    )
    return value or 0.0


async def hold_the_log(peer: HarnessNode, server: HarnessNode, cid: bytes) -> None:
    """A session from `peer` to `server` until both caught up, then closed: `peer` holds
    the log (so a hello of its own is valid) and no session of its runs."""
    await peer.connect(server, cid)
    await peer.node.runners.pop().stream.close()


async def open_hello(peer: HarnessNode, server: HarnessNode, cid: bytes) -> PeerStream:
    """A sync stream from `peer` to `server`, its hello sent; the rest is the test's."""
    stream = await peer.host.open_stream(server.peer_id, server.addrs, SYNC_PROTOCOL)
    heads = tuple(peer.community(cid).log.heads())
    await write_frame(stream, encode_frame(HelloFrame(cid, heads)))
    return stream


async def drain(stream: PeerStream) -> None:
    """Read and drop what the node sends on `stream` until it closes it, however."""
    reader = FrameReader(stream)
    try:
        while await reader.read_frame() is not None:
            pass
    except Exception:  # noqa: BLE001 -- however the node closes it
        pass


@asynccontextmanager
async def hand_session(
    peer: HarnessNode, server: HarnessNode, cid: bytes, limits: Limits
) -> AsyncIterator[tuple[PeerStream, trio.Nursery]]:
    """`peer` takes the log, `server` is given `limits`, and `peer` opens a sync stream
    by hand with a valid hello. Yields the stream and a nursery in which what the node
    sends back is drained; on exit the nursery is cancelled and the stream closed."""
    await hold_the_log(peer, server, cid)
    server.node.limits = limits
    stream = await open_hello(peer, server, cid)
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(drain, stream)
            yield stream, nursery
            nursery.cancel_scope.cancel()
    finally:
        await stream.close()
