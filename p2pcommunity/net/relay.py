"""Circuit relay v2 (py-libp2p 0.8.1 `libp2p.relay.circuit_v2`), used explicitly.

Every node runs the relay protocol's STOP side (it accepts connections a
relay forwards to it) and can dial `/p2p/<relay>/p2p-circuit/p2p/<peer>`
addresses. With `--relay` it also serves HOP: it makes and honours
reservations and forwards circuits for other peers.

A relayed connection is upgraded by our own swarm's upgrader, exactly as a
TCP one: Noise only, then Yamux (host.py). The relay sees ciphertext and
cannot claim to be either end.

libp2p's automatic reservations wait for a discovery round (300 s,
ARCHITECTURE §7), so `Reservations` makes them itself with `reserve()`,
renews them before they expire, and reports the relayed addresses to
publish in our member documents.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import trio

if TYPE_CHECKING:
    from p2pcommunity.net.host import NodeHost

log = logging.getLogger(__name__)

RESERVE_INTERVAL_S = 5.0
RENEW_AFTER_S = 600.0
RESERVE_TIMEOUT_S = 10.0


def is_circuit(addr: str) -> bool:
    return "/p2p-circuit" in addr


def circuit_addr(relay_addr: str, peer_id: str) -> str:
    """Where `peer_id` is reachable through the relay at `relay_addr` (ending in /p2p/<relay>)."""
    return f"{relay_addr.rstrip('/')}/p2p-circuit/p2p/{peer_id}"


class Relay:
    """The relay protocol on one host: STOP always, HOP when `serve_hop`."""

    def __init__(self, host: NodeHost, serve_hop: bool) -> None:
        from libp2p.relay.circuit_v2.config import RelayConfig, RelayRole
        from libp2p.relay.circuit_v2.protocol import CircuitV2Protocol
        from libp2p.relay.circuit_v2.resources import RelayLimits
        from libp2p.relay.circuit_v2.transport import CircuitV2Transport

        self.host = host
        self.serve_hop = serve_hop
        limits = RelayLimits(
            duration=3600, data=1 << 30, max_circuit_conns=256, max_reservations=1024
        )
        inner = host._host
        self.protocol = CircuitV2Protocol(inner, limits=limits, allow_hop=serve_hop)
        roles = RelayRole.STOP | RelayRole.CLIENT | (RelayRole.HOP if serve_hop else RelayRole(0))
        self.transport = CircuitV2Transport(inner, self.protocol, RelayConfig(roles=roles))

    def reservations_served(self) -> int:
        """Live reservations other peers hold on us (0 unless serving HOP)."""
        manager = self.protocol.resource_manager
        with contextlib.suppress(Exception):  # best effort: a scrape must not fail
            manager._clean_expired()
        return len(getattr(manager, "_reservations", {}))

    async def dial(self, maddr: Any) -> None:
        """Connect through a relay; the connection joins the swarm like a direct one."""
        await self.transport.dial(maddr)

    async def reserve(self, relay_peer_id: str, relay_addrs: list[str]) -> bool:
        """Connect to the relay (direct addresses) and ask it for a reservation."""
        from libp2p.peer.id import ID
        from libp2p.relay.circuit_v2.protocol import PROTOCOL_ID

        relay = ID.from_base58(relay_peer_id)
        with trio.fail_after(RESERVE_TIMEOUT_S):
            await self.host.ensure_connected(relay_peer_id, relay_addrs)
            stream = await self.host._host.new_stream(relay, [PROTOCOL_ID])
            try:
                ok: bool = await self.transport._make_reservation(stream, relay)
            finally:
                with trio.CancelScope(shield=True):
                    try:
                        await stream.close()
                    except Exception as exc:  # noqa: BLE001 -- connection gone: closed anyway
                        log.debug("closing the reservation stream: %r", exc)
        return ok


@asynccontextmanager
async def running_relay(host: NodeHost, serve_hop: bool) -> AsyncIterator[Relay]:
    """Run the relay protocol on `host` for the block; circuits dial through it."""
    from libp2p.tools.anyio_service import background_trio_service

    relay = Relay(host, serve_hop)
    async with background_trio_service(relay.protocol):
        await relay.protocol.event_started.wait()
        host.set_circuit_dialer(relay.dial)
        try:
            yield relay
        finally:
            host.set_circuit_dialer(None)


class Reservations:
    """Keeps a reservation with each relay `relays()` names; `addrs()` says where we are."""

    def __init__(
        self,
        relay: Relay,
        my_peer_id: str,
        relays: Callable[[], dict[str, str]],
        on_change: Callable[[list[str]], None],
    ) -> None:
        self.relay = relay
        self.me = my_peer_id
        self.relays = relays  # peer id -> direct address ending in /p2p/<peer id>
        self.on_change = on_change
        self._held: dict[str, tuple[str, float]] = {}  # relay -> (addr, reserved at)

    def addrs(self) -> list[str]:
        return sorted(circuit_addr(addr, self.me) for addr, _ in self._held.values())

    def count(self) -> int:
        return len(self._held)

    async def run(self) -> None:
        while True:
            await self.round()
            await trio.sleep(RESERVE_INTERVAL_S)

    async def round(self) -> None:
        before = self.addrs()
        wanted = {p: a for p, a in self.relays().items() if p != self.me and not is_circuit(a)}
        for peer in list(self._held):
            if peer not in wanted:
                del self._held[peer]
        now = trio.current_time()
        for peer, addr in wanted.items():
            held = self._held.get(peer)
            if held is not None and held[0] == addr and now - held[1] < RENEW_AFTER_S:
                continue
            try:
                ok = await self.relay.reserve(peer, [addr])
            except Exception as exc:  # noqa: BLE001 -- try the other relays
                log.info("no reservation with relay %s: %r", peer, exc)
                ok = False
            if ok:
                if held is None:
                    log.info("reserved a slot on relay %s: reachable at %s", peer, addr)
                self._held[peer] = (addr, now)
            else:
                self._held.pop(peer, None)
        if self.addrs() != before:
            self.on_change(self.addrs())
