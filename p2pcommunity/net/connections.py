"""`status` "connections" (CLI.md, "Reach"): each live connection, its address and kind.

The kind says how the peer is reached:
- "relayed": through a circuit relay (py-libp2p marks the connection RELAYED, or
  its address holds /p2p-circuit);
- "lan": the connection's remote IP is one that mDNS (net/lan.py) reported for
  that very peer. The IP alone, not the port: an inbound connection comes from
  the peer's ephemeral port, not the one it advertises. A sighting is only a
  hint (anyone may advertise any peer id), but Noise proved the peer id on this
  connection, and the sighting named this IP for it, so "on the LAN" holds;
- "direct": anything else.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping
from typing import Any

from p2pcommunity.net.relay import is_circuit


def ip_of(addr: str) -> str | None:
    """'/ip4/10.0.0.2/tcp/4001/p2p/...' -> '10.0.0.2' (None for an address with no IP)."""
    parts = addr.split("/")
    for i, part in enumerate(parts[:-1]):
        if part in ("ip4", "ip6"):
            return parts[i + 1]
    return None


def kind_of(addr: str, relayed: bool, lan_addrs: Iterable[str]) -> str:
    if relayed or is_circuit(addr):
        return "relayed"
    ip = ip_of(addr)
    if ip is not None and ip in {ip_of(a) for a in lan_addrs}:
        return "lan"
    return "direct"


def describe(conn: Any) -> tuple[str, bool]:
    """(the remote address, whether relayed) of a py-libp2p network connection.

    Asked of its muxed connection, which asks the secure session, which asks the raw
    connection: only that knows (the swarm's own answer is UNKNOWN and peerstore
    addresses for connections it did not dial itself, such as circuits)."""
    conn = getattr(conn, "muxed_conn", conn)
    addr = ""
    with contextlib.suppress(Exception):  # a connection closing under us has no address
        addrs = conn.get_transport_addresses()
        if addrs:
            addr = str(addrs[0])
    relayed = False
    with contextlib.suppress(Exception):
        from libp2p.connection_types import ConnectionType

        relayed = conn.get_connection_type() is ConnectionType.RELAYED
    return addr, relayed


def connections(
    live: Iterable[tuple[str, Any]], lan: Mapping[str, list[str]]
) -> list[dict[str, str]]:
    """`live`: (peer id, connection) pairs; `lan`: peer id -> addresses mDNS reported."""
    out = []
    for peer, conn in live:
        addr, relayed = describe(conn)
        out.append(
            {"peer_id": peer, "addr": addr, "kind": kind_of(addr, relayed, lan.get(peer, ()))}
        )
    return sorted(out, key=lambda c: (c["peer_id"], c["addr"]))
