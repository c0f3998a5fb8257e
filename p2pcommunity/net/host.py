"""The libp2p host of a node: TCP + Noise + Yamux, and nothing else (ARCHITECTURE §5.1, §6).

py-libp2p 0.8.1's defaults are unsafe for us: with no `sec_opt` it offers
Noise, TLS, secio and *plaintext* (over which a dialer can claim any peer
id), and Mplex next to Yamux. So the upgrader here gets exactly one
security transport and one muxer. identify and ping are BasicHost's
default protocols and stay open to any peer (§5.4).

Dialling also bypasses two libp2p behaviours (ARCHITECTURE §7):

- `Swarm.dial_peer` waits a 250 ms happy-eyeballs delay after the last
  address even when it succeeded at once, because it only stops early when
  `max_connections_per_peer` (default 3) connections are up. We dial each
  address ourselves with `Swarm.dial_addr`, in order, which has no delay.
- `dial_peer` keeps a 60 s negative cache of peers whose every address
  failed, which would turn every retry of `dial_with_backoff` into an
  instant failure; and the swarm's own 3 retries would multiply ours. So
  libp2p's retries are set to 0 and `dial.py` is the one retry policy.

Yamux flow control: py-libp2p sends a WINDOW_UPDATE after every read by
default (`PY_YAMUX_RELEASE_ON_READ=1`), so each small sync frame received
costs a frame sent back: up to 40 % of a busy node's writes. We switch that
off before libp2p is imported, which gives go-yamux's rule (an update once
half the window is consumed); an operator's own setting of the variable wins.

Inbound connections and streams go through a `gate.ConnectionGate`
(limits on handshakes, connections and streams, members before strangers),
which also works around py-libp2p 0.8.1's inbound-limiter leak: after 250
inbound connections over a node's lifetime, the stock swarm refuses every
new one (see gate.py). `Node` configures the gate with its limits and its
view of who is a member (`NodeHost.configure_gate`).

The rest of the code sees `NodeHost` with str peer ids and str multiaddrs,
and `PeerStream`s; no libp2p type crosses this module's boundary.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import trio

from p2pcommunity.net import gate as gate_module
from p2pcommunity.net.gate import Classify, ConnectionGate, Reject
from p2pcommunity.net.limits import Limits
from p2pcommunity.net.stream import LibP2PStream, PeerStream

if TYPE_CHECKING:
    from libp2p.abc import INetStream
    from libp2p.host.basic_host import BasicHost
    from libp2p.network.swarm import Swarm
    from libp2p.peer.id import ID
    from multiaddr import Multiaddr

    from p2pcommunity.identity import DeviceIdentity

os.environ.setdefault("PY_YAMUX_RELEASE_ON_READ", "0")

logger = logging.getLogger(__name__)

StreamHandler = Callable[[PeerStream], Awaitable[None]]
CircuitDialer = Callable[["Multiaddr"], Awaitable[None]]

# How long the peerstore keeps addresses we were given for a dial.
_ADDR_TTL = 10 * 60
# multistream-select negotiation of a stream's protocol, per stream (libp2p: 30 s).
NEGOTIATE_TIMEOUT = 10


class DialError(Exception):
    """No address of the peer gave an authenticated connection."""


def _connection_config(limits: Limits) -> Any:
    from libp2p.network.config import ConnectionConfig

    # libp2p's own cap is a backstop above ours (the gate decides first, and
    # an evicted stranger's connection may still be closing); its watermarks
    # must sit under it or ConnectionConfig refuses them.
    cap = limits.max_connections + limits.max_handshakes
    return ConnectionConfig(
        max_connections=cap,
        high_watermark=cap,
        # No auto-connector: it would dial random peerstore entries to keep 50
        # connections up; dial.py decides whom we dial.
        low_watermark=0,
        min_connections=0,
        inbound_upgrade_timeout=limits.handshake_timeout_s,
        inbound_stream_protocol_negotiation_timeout=NEGOTIATE_TIMEOUT,
    )


def _build_host(identity: DeviceIdentity, gate: ConnectionGate) -> BasicHost:
    from libp2p import new_swarm
    from libp2p.crypto.x25519 import create_new_key_pair as create_x25519_key_pair
    from libp2p.custom_types import TProtocol
    from libp2p.host.basic_host import BasicHost
    from libp2p.network.config import RetryConfig
    from libp2p.security.noise.transport import PROTOCOL_ID as NOISE_PROTOCOL_ID
    from libp2p.security.noise.transport import Transport as NoiseTransport
    from libp2p.stream_muxer.yamux.yamux import PROTOCOL_ID as YAMUX_PROTOCOL_ID
    from libp2p.stream_muxer.yamux.yamux import Yamux
    from libp2p.transport.tcp.tcp import TCP

    key_pair = identity.to_libp2p_key_pair()
    # The Noise static key is per process: it is authenticated by a
    # signature of the identity key in the handshake, so it need not persist.
    noise_key = create_x25519_key_pair().private_key
    swarm = new_swarm(
        key_pair=key_pair,
        sec_opt={NOISE_PROTOCOL_ID: NoiseTransport(key_pair, noise_privkey=noise_key)},
        muxer_opt={TProtocol(YAMUX_PROTOCOL_ID): Yamux},
        transports=[TCP()],
        retry_config=RetryConfig(max_retries=0),
        connection_config=_connection_config(gate.limits),
    )
    # new_host() would build the same BasicHost but cannot pass retry_config.
    host = BasicHost(network=swarm, negotiate_timeout=NEGOTIATE_TIMEOUT)
    gate_module.install(swarm, gate)  # after BasicHost set the swarm's stream handler
    return host


class NodeHost:
    """A running host; get one from `running_host`."""

    def __init__(self, host: BasicHost, gate: ConnectionGate | None = None) -> None:
        self._host = host
        self.peer_id: str = str(host.get_id())
        self._circuit_dialer: CircuitDialer | None = None
        self.gate = gate or ConnectionGate()

    def configure_gate(self, limits: Limits, classify: Classify, reject: Reject) -> None:
        """The limits to enforce on inbound connections and streams, and who is a member.

        Until this is called every peer counts as a member (a bare host in tests).
        """
        self.gate.limits = limits
        self.gate.classify = classify
        self.gate.reject = reject
        self._swarm.connection_config = _connection_config(limits)

    def set_circuit_dialer(self, dialer: CircuitDialer | None) -> None:
        """How to dial `/p2p-circuit` addresses (net/relay.py); None: they fail."""
        self._circuit_dialer = dialer

    @property
    def _swarm(self) -> Swarm:
        from libp2p.network.swarm import Swarm

        network = self._host.get_network()
        assert isinstance(network, Swarm)
        return network

    def listen_addrs(self) -> list[str]:
        """The addresses we listen on (real ports), each ending in /p2p/<our peer id>."""
        return [f"{addr}/p2p/{self.peer_id}" for addr in self._host.get_transport_addrs()]

    def security_protocols(self) -> list[str]:
        """The security protocol ids this host offers and accepts (only Noise)."""
        upgrader = self._swarm.upgrader
        return [str(p) for p in upgrader.security_multistream.transports]

    def muxer_protocols(self) -> list[str]:
        upgrader = self._swarm.upgrader
        return [str(p) for p in upgrader.muxer_multistream.transports]

    def supported_protocols(self) -> list[str]:
        """Protocol ids a peer can open a stream on (ours plus identify, ping)."""
        return [str(p) for p in self._host.get_mux().get_protocols() if p is not None]

    def set_stream_handler(self, protocol_id: str, handler: StreamHandler) -> None:
        """Serve `protocol_id`: each inbound stream runs `handler` in its own task.

        The handler owns the stream until it returns; it is closed afterwards.
        An exception from the handler is logged and resets that stream only:
        one bad peer must not take down its connection or the host.
        """
        from libp2p.custom_types import TProtocol

        async def _on_stream(net_stream: INetStream) -> None:
            stream = LibP2PStream(net_stream)
            try:
                await handler(stream)
            except Exception:
                logger.exception(
                    "handler for %s failed on a stream from %s", protocol_id, stream.remote_peer_id
                )
                with trio.CancelScope(shield=True):
                    await stream.reset()
            else:
                with trio.CancelScope(shield=True):
                    await stream.close()

        self._host.set_stream_handler(TProtocol(protocol_id), _on_stream)

    def remove_stream_handler(self, protocol_id: str) -> None:
        from libp2p.custom_types import TProtocol

        self._host.remove_stream_handler(TProtocol(protocol_id))

    async def open_stream(self, peer_id: str, addrs: list[str], protocol_id: str) -> PeerStream:
        """Connect to `peer_id` (reusing a live connection) and open a stream on `protocol_id`.

        `addrs` go to the peerstore first; each may end in /p2p/<peer_id>.
        Raises `DialError` when no address connects (including a peer whose
        Noise key is not `peer_id`), and `StreamOpenError` when the peer does
        not speak `protocol_id`. Neither is retried here: see `dial.py`.
        """
        from libp2p.custom_types import TProtocol
        from libp2p.host.exceptions import StreamFailure
        from libp2p.peer.id import ID

        remote = ID.from_base58(peer_id)
        if remote == self._host.get_id():
            raise ValueError("refusing to dial our own peer id")
        await self.ensure_connected(peer_id, addrs)
        try:
            net_stream = await self._host.new_stream(remote, [TProtocol(protocol_id)])
        except StreamFailure as e:
            raise StreamOpenError(f"{peer_id} did not accept a {protocol_id} stream") from e
        except Exception as e:  # the connection died between dial and stream
            raise StreamOpenError(f"opening a {protocol_id} stream to {peer_id}: {e!r}") from e
        return LibP2PStream(net_stream)

    async def ensure_connected(self, peer_id: str, addrs: list[str]) -> None:
        """Dial `peer_id` unless a live connection exists (direct addresses first)."""
        from libp2p.peer.id import ID

        remote = ID.from_base58(peer_id)
        if remote == self._host.get_id():
            raise ValueError("refusing to dial our own peer id")
        direct = [a for a in addrs if "/p2p-circuit" not in a]
        circuits = [a for a in addrs if "/p2p-circuit" in a]
        maddrs = [_transport_addr(a, peer_id) for a in direct]
        if maddrs:
            self._host.get_peerstore().add_addrs(remote, maddrs, _ADDR_TTL)
        if self._live_connections(remote):
            return
        if maddrs or not circuits:
            try:
                await self._dial(remote, maddrs)
                return
            except DialError:
                if not circuits:
                    raise
        await self._dial_circuits(remote, circuits)

    async def _dial_circuits(self, remote: ID, circuits: list[str]) -> None:
        from multiaddr import Multiaddr

        if self._circuit_dialer is None:
            raise DialError(f"{remote} is reachable only through a relay, and relaying is off")
        errors: list[str] = []
        for addr in circuits:
            if not addr.rstrip("/").endswith(f"/p2p/{remote}"):
                errors.append(f"{addr}: not an address of {remote}")
                continue
            try:
                await self._circuit_dialer(Multiaddr(addr))
            except Exception as e:  # noqa: BLE001 -- try the next circuit
                errors.append(f"{addr}: {_describe(e)}")
                continue
            if self._live_connections(remote):
                return
        raise DialError(f"cannot connect to {remote} through a relay: " + "; ".join(errors))

    async def _dial(self, remote: ID, maddrs: list[Multiaddr]) -> None:
        if not maddrs:
            try:
                maddrs = list(self._host.get_peerstore().addrs(remote))
            except Exception:  # noqa: BLE001 -- unknown peer: no address
                maddrs = []
        if not maddrs:
            raise DialError(f"no known address for {remote}")
        errors: list[str] = []
        for maddr in maddrs:
            try:
                await self._swarm.dial_addr(maddr, remote)
            except Exception as e:  # noqa: BLE001 -- try the next address
                errors.append(f"{maddr}: {_describe(e)}")
                continue
            return
        raise DialError(f"cannot connect to {remote}: " + "; ".join(errors))

    def _live_connections(self, remote: ID) -> bool:
        return any(not conn.is_closed for conn in self._swarm.get_connections(remote))

    def connected_peers(self) -> list[str]:
        return sorted(
            str(peer)
            for peer, conns in self._swarm.get_connections_map().items()
            if any(not c.is_closed for c in conns)
        )

    def live_connections(self) -> list[tuple[str, Any]]:
        """(peer id, py-libp2p connection) of every open connection (net/connections.py)."""
        return [
            (str(peer), conn)
            for peer, conns in self._swarm.get_connections_map().items()
            for conn in conns
            if not conn.is_closed
        ]

    async def disconnect(self, peer_id: str) -> None:
        from libp2p.peer.id import ID

        await self._host.disconnect(ID.from_base58(peer_id))

    def __repr__(self) -> str:
        return f"NodeHost(peer_id={self.peer_id!r})"


class StreamOpenError(Exception):
    """Connected, but the peer would not open a stream on the protocol."""


def _transport_addr(addr: str, peer_id: str) -> Multiaddr:
    """`addr` without its /p2p/ part, refusing one that names another peer."""
    from multiaddr import Multiaddr

    maddr = Multiaddr(addr)
    try:
        named = maddr.value_for_protocol("p2p")
    except Exception:  # noqa: BLE001 -- py-multiaddr: no /p2p/ part
        named = None
    if named:
        if named != peer_id:
            raise ValueError(f"address {addr} is for peer {named}, not {peer_id}")
        maddr = maddr.decapsulate(Multiaddr(f"/p2p/{named}"))
    return maddr


def _describe(error: BaseException) -> str:
    """An error and its causes on one line (libp2p wraps the real reason twice)."""
    parts = []
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        parts.append(f"{type(current).__name__}: {current}".rstrip(": "))
        current = current.__cause__ or current.__context__
    return " <- ".join(parts)


@asynccontextmanager
async def running_host(
    identity: DeviceIdentity, listen_addrs: list[str]
) -> AsyncIterator[NodeHost]:
    """Start a Noise-only host listening on `listen_addrs` (port 0: any free port).

    Leaving the block closes every connection and listener and stops the
    host's tasks.
    """
    from multiaddr import Multiaddr

    gate = ConnectionGate()
    host = _build_host(identity, gate)
    async with host.run([Multiaddr(a) for a in listen_addrs]):
        try:
            yield NodeHost(host, gate)
        finally:
            with trio.CancelScope(shield=True):
                await host.close()
