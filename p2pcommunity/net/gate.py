"""What a peer may hold before and after it authenticates: connections and streams.

Issue 11 found that strangers could exhaust a node's connections and
streams, and that py-libp2p 0.8.1 stops accepting connections by itself.
This module is the one place that decides who gets a connection or a
stream slot; `host.py` installs it on the swarm.

Why the swarm's inbound path is replaced, not configured (py-libp2p 0.8.1):
`Swarm._handle_inbound_connection` takes a slot of `_inbound_limiter`
(250 slots: `max_connections - min_connections`) and
`_do_handle_inbound_connection` then awaits `self.manager.wait_finished()`,
the end of the *swarm*, before releasing it. So each inbound connection over
the node's lifetime keeps a slot (and a task and its socket wrapper) after it
has closed, and the 251st inbound connection is refused until the node
restarts. `GatedSwarm._handle_inbound_connection` does the same upgrade
without that limiter: it counts only handshakes in progress (released once
Noise and Yamux are up, or after `handshake_timeout_s`), and waits for the
*connection's* end, after which trio closes the socket and the task ends.

Why not `libp2p.rcmgr`: in 0.8.1 its stream accounting is one global count
(`acquire_stream` has no per-connection or per-peer scope), its connection
admission knows an IP but not whether the peer is a member, and the swarm
calls it from a threading lock on the hot path. What we need is small:
counts per IP, per connection and per peer, and a preference for members,
which only the node can judge (`classify`). So the accounting is ours.

Ranks (`classify`): MEMBER (a current member of a community we hold, or a
peer we dialled), PRESENTING (a stranger with a sync session open: a joiner
with an invite), STRANGER (nothing). Strangers share a bounded number of
connections and few streams each; when the node is full, a member's new
connection closes a stranger's (STRANGER before PRESENTING, oldest first).
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import trio

from p2pcommunity.net.limits import Limits

if TYPE_CHECKING:
    from libp2p.abc import INetStream
    from libp2p.network.connection.swarm_connection import SwarmConn
    from multiaddr import Multiaddr

log = logging.getLogger(__name__)

STRANGER, PRESENTING, MEMBER = 0, 1, 2

Classify = Callable[[Iterable[str]], dict[str, int]]
Reject = Callable[[str], None]


def _everyone_is_a_member(peers: Iterable[str]) -> dict[str, int]:
    return dict.fromkeys(peers, MEMBER)


@dataclass(eq=False)
class _Inbound:
    """An authenticated inbound connection the gate admitted."""

    conn: SwarmConn
    peer_id: str
    rank: int
    opened: float
    streams: int = 0
    refused_streams: int = 0
    closing: bool = False


@dataclass(eq=False)
class ConnectionGate:
    """Counts and decisions; the swarm and stream handler below call it."""

    limits: Limits = field(default_factory=Limits)
    classify: Classify = _everyone_is_a_member
    reject: Reject = lambda reason: None
    handshakes: int = 0
    handshakes_by_ip: Counter[str] = field(default_factory=Counter)
    inbound: dict[int, _Inbound] = field(default_factory=dict)  # id(muxed_conn) ->
    streams_by_peer: Counter[str] = field(default_factory=Counter)
    _nursery: trio.Nursery | None = None

    # -- before Noise -----------------------------------------------------------

    def begin_handshake(self, ip: str) -> bool:
        if self.handshakes >= self.limits.max_handshakes:
            self.reject("max_handshakes")
            return False
        if self.handshakes_by_ip[ip] >= self.limits.max_handshakes_per_ip:
            self.reject("max_handshakes_per_ip")
            return False
        self.handshakes += 1
        self.handshakes_by_ip[ip] += 1
        return True

    def end_handshake(self, ip: str) -> None:
        self.handshakes -= 1
        self.handshakes_by_ip[ip] -= 1
        if self.handshakes_by_ip[ip] <= 0:
            del self.handshakes_by_ip[ip]

    # -- after Noise ------------------------------------------------------------

    def _live(self) -> list[_Inbound]:
        return [c for c in self.inbound.values() if not c.closing and not c.conn.is_closed]

    def refresh_ranks(self) -> None:
        live = self._live()
        ranks = self.classify({c.peer_id for c in live})
        for c in live:
            c.rank = ranks.get(c.peer_id, STRANGER)

    def admit(self, peer_id: str, total_connections: int) -> tuple[bool, SwarmConn | None]:
        """(admitted, a stranger's connection to close to make room for it)."""
        rank = self.classify([peer_id]).get(peer_id, STRANGER)
        self.refresh_ranks()
        live = self._live()
        if rank < MEMBER:
            strangers = sum(1 for c in live if c.rank < MEMBER)
            if strangers >= self.limits.max_stranger_connections:
                self.reject("stranger_connections")
                return False, None
        in_flight = sum(1 for c in self.inbound.values() if c.closing)
        if total_connections - in_flight < self.limits.max_connections:
            return True, None
        if rank < MEMBER:
            self.reject("max_connections")
            return False, None
        victims = sorted((c for c in live if c.rank < MEMBER), key=lambda c: (c.rank, c.opened))
        if not victims:
            self.reject("max_connections")
            return False, None
        victim = victims[0]
        victim.closing = True
        self.reject("stranger_evicted")
        log.info("closing a connection of stranger %s to make room for a member", victim.peer_id)
        return True, victim.conn

    def track(self, conn: SwarmConn, peer_id: str) -> _Inbound:
        rank = self.classify([peer_id]).get(peer_id, STRANGER)
        entry = _Inbound(conn, peer_id, rank, trio.current_time())
        self.inbound[id(conn.muxed_conn)] = entry
        return entry

    def untrack(self, conn: SwarmConn) -> None:
        self.inbound.pop(id(conn.muxed_conn), None)

    # -- streams ----------------------------------------------------------------

    def open_stream(self, muxed_conn: Any, peer_id: str) -> str | None:
        """None: the stream may run (the caller must `close_stream`); else why not."""
        entry = self.inbound.get(id(muxed_conn))
        limits = self.limits
        if entry is not None:
            if entry.rank < MEMBER and entry.streams >= limits.max_streams_per_stranger:
                # A joiner may have been admitted since: ask again before refusing.
                entry.rank = self.classify([peer_id]).get(peer_id, STRANGER)
            if entry.rank < MEMBER and entry.streams >= limits.max_streams_per_stranger:
                return self._refuse_stream(entry, "stranger_streams")
            if entry.streams >= limits.max_streams_per_connection:
                return self._refuse_stream(entry, "streams_per_connection")
        if self.streams_by_peer[peer_id] >= limits.max_streams_per_peer:
            return self._refuse_stream(entry, "streams_per_peer")
        if entry is not None:
            entry.streams += 1
        self.streams_by_peer[peer_id] += 1
        return None

    def _refuse_stream(self, entry: _Inbound | None, reason: str) -> str:
        self.reject(reason)
        if entry is not None:
            entry.refused_streams += 1
        return reason

    def close_stream(self, muxed_conn: Any, peer_id: str) -> None:
        entry = self.inbound.get(id(muxed_conn))
        if entry is not None:
            entry.streams -= 1
        self.streams_by_peer[peer_id] -= 1
        if self.streams_by_peer[peer_id] <= 0:
            del self.streams_by_peer[peer_id]

    def should_drop(self, muxed_conn: Any) -> bool:
        """A connection that keeps opening streams past its limit is closed."""
        entry = self.inbound.get(id(muxed_conn))
        return (
            entry is not None
            and not entry.closing
            and entry.refused_streams > self.limits.max_streams_per_connection
        )


def gated_stream_handler(
    gate: ConnectionGate, inner: Callable[[INetStream], Any]
) -> Callable[[INetStream], Any]:
    """Wrap the swarm's handler of inbound streams: refuse over-limit streams at once.

    It runs before multistream negotiation, so a refused stream costs a reset
    and no negotiation task.
    """

    async def handler(net_stream: INetStream) -> None:
        muxed_conn = net_stream.muxed_conn
        peer_id = str(muxed_conn.peer_id)
        refused = gate.open_stream(muxed_conn, peer_id)
        if refused is not None:
            log.debug("resetting a stream from %s: %s", peer_id, refused)
            with trio.CancelScope(shield=True):
                with contextlib.suppress(Exception):
                    await net_stream.reset()
                if gate.should_drop(muxed_conn):
                    entry = gate.inbound.get(id(muxed_conn))
                    if entry is not None:
                        entry.closing = True
                    log.warning("closing the connection of %s: too many streams", peer_id)
                    gate.reject("stream_flood")
                    with contextlib.suppress(Exception):
                        await muxed_conn.close()
            return
        try:
            await inner(net_stream)
        finally:
            gate.close_stream(muxed_conn, peer_id)

    return handler


def _remote_ip(read_write_closer: Any) -> str:
    try:
        address = read_write_closer.get_remote_address()
    except Exception:  # noqa: BLE001 -- socket gone; for logs and limits only
        address = None
    return str(address[0]) if address else "?"


async def _close_quietly(thing: Any) -> None:
    with trio.CancelScope(shield=True), contextlib.suppress(Exception):
        await thing.close()


@functools.cache
def _gated_swarm_class() -> type:
    from libp2p.network.connection.raw_connection import RawConnection
    from libp2p.network.swarm import Swarm

    class GatedSwarm(Swarm):
        """A Swarm whose inbound path asks a `ConnectionGate` (module docstring)."""

        p2pc_gate: ConnectionGate

        async def _handle_inbound_connection(
            self, read_write_closer: Any, maddr: Multiaddr
        ) -> None:
            gate = self.p2pc_gate
            ip = _remote_ip(read_write_closer)
            if not gate.begin_handshake(ip):
                await _close_quietly(read_write_closer)
                return
            raw_conn = RawConnection(read_write_closer, False)
            secured = muxed = None
            try:
                with trio.move_on_after(gate.limits.handshake_timeout_s) as scope:
                    secured = await self.upgrader.upgrade_security(raw_conn, False)
                    peer = secured.get_remote_peer()
                    muxed = await self.upgrader.upgrade_connection(secured, peer)
            except Exception as exc:  # noqa: BLE001 -- a stranger fails: close it
                log.debug("inbound handshake from %s failed: %r", ip, exc)
                gate.reject("handshake_failed")
                await _close_quietly(muxed or secured or raw_conn)
                return
            finally:
                gate.end_handshake(ip)
            if scope.cancelled_caught or muxed is None:
                log.info("inbound handshake from %s timed out", ip)
                gate.reject("handshake_timeout")
                await _close_quietly(muxed or secured or raw_conn)
                return
            peer_id = str(peer)
            admitted, victim = gate.admit(peer_id, len(self.get_connections()))
            if not admitted:
                await _close_quietly(muxed)
                return
            if victim is not None:
                self.manager.run_task(_close_quietly, victim)
            try:
                swarm_conn = await self.add_conn(muxed, direction="inbound")
            except Exception as exc:  # noqa: BLE001 -- close it, keep listening
                log.debug("inbound connection of %s not added: %r", peer_id, exc)
                await _close_quietly(muxed)
                return
            gate.track(swarm_conn, peer_id)
            try:
                # The connection's end, not the swarm's: trio closes the socket
                # when this handler returns.
                await swarm_conn.event_closed.wait()
            finally:
                gate.untrack(swarm_conn)

    return GatedSwarm


def install(swarm: Any, gate: ConnectionGate) -> None:
    """Make `swarm` (built by `new_swarm`) a `GatedSwarm` and gate its inbound streams.

    Call it after BasicHost has set the swarm's stream handler.
    """
    swarm.__class__ = _gated_swarm_class()
    swarm.p2pc_gate = gate
    swarm.common_stream_handler = gated_stream_handler(gate, swarm.common_stream_handler)
