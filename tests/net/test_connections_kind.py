"""`status` "connections" (CLI.md "Reach"): each connection's address and its kind."""

from __future__ import annotations

from typing import Any

import trio

from p2pcommunity.net.connections import connections, ip_of, kind_of
from p2pcommunity.node_control import NodeControl
from tests.net.harness import cluster

PEER = "12D3KooWPeer"
RELAY = "/ip4/203.0.113.7/tcp/4001/p2p/12D3KooWRelay/p2p-circuit/p2p/" + PEER


class _Conn:
    def __init__(self, addr: str | None, relayed: bool = False) -> None:
        self.addr, self.relayed = addr, relayed

    def get_transport_addresses(self) -> list[str]:
        if self.addr is None:
            raise RuntimeError("closed under us")
        return [self.addr]

    def get_connection_type(self) -> Any:
        from libp2p.connection_types import ConnectionType

        return ConnectionType.RELAYED if self.relayed else ConnectionType.DIRECT


def test_ip_of_reads_ip4_and_ip6() -> None:
    assert ip_of("/ip4/198.18.0.2/tcp/4001/p2p/x") == "198.18.0.2"
    assert ip_of("/ip6/fe80::1/tcp/1") == "fe80::1"
    assert ip_of("/dns4/example.org/tcp/1") is None


def test_kinds() -> None:
    sighted = ["/ip4/198.18.0.2/tcp/4001/p2p/" + PEER]
    # The same IP from another port (an inbound connection): on the LAN.
    assert kind_of("/ip4/198.18.0.2/tcp/50123", False, sighted) == "lan"
    assert kind_of("/ip4/198.18.0.3/tcp/4001", False, sighted) == "direct"
    assert kind_of("/ip4/198.18.0.2/tcp/4001", False, []) == "direct"
    assert kind_of(RELAY, False, sighted) == "relayed"
    assert kind_of("/ip4/198.18.0.2/tcp/4001", True, sighted) == "relayed"


def test_connections_list_each_with_its_kind() -> None:
    live = [
        ("b", _Conn("/ip4/10.0.0.9/tcp/1")),
        ("a", _Conn("/ip4/10.0.0.2/tcp/2")),
        ("c", _Conn("/ip4/10.0.0.3/tcp/3", relayed=True)),
        ("d", _Conn(None)),
    ]
    lan = {"a": ["/ip4/10.0.0.2/tcp/4001"], "b": ["/ip4/10.0.0.2/tcp/4001"]}
    assert connections(live, lan) == [
        {"peer_id": "a", "addr": "/ip4/10.0.0.2/tcp/2", "kind": "lan"},
        # b's sighting names a's IP, not b's: a sighting counts only for its own peer.
        {"peer_id": "b", "addr": "/ip4/10.0.0.9/tcp/1", "kind": "direct"},
        {"peer_id": "c", "addr": "/ip4/10.0.0.3/tcp/3", "kind": "relayed"},
        {"peer_id": "d", "addr": "", "kind": "direct"},
    ]


class _SwarmConn(_Conn):
    """What the swarm holds: it answers from the peerstore; its muxed connection knows."""

    def __init__(self, inner: _Conn) -> None:
        super().__init__("/ip4/203.0.113.7/tcp/4001")
        self.muxed_conn = inner


def test_the_muxed_connection_is_asked_not_the_swarms() -> None:
    circuit = _SwarmConn(_Conn(RELAY, relayed=True))
    assert connections([(PEER, circuit)], {}) == [
        {"peer_id": PEER, "addr": RELAY, "kind": "relayed"}
    ]


def test_status_through_a_node_lists_its_connections() -> None:
    async def main() -> None:
        async with cluster(2) as (a, b):
            cid = a.create_community(members=[b])
            await b.connect(a, cid)
            control = NodeControl(b.node, addrs=lambda: [])
            status = await control.handle("status", {})
            assert [c["peer_id"] for c in status["connections"]] == [a.peer_id]
            (conn,) = status["connections"]
            assert conn["addr"].startswith("/ip4/127.0.0.1/tcp/") and conn["kind"] == "direct"
            assert status["peers"] == [a.peer_id]
            # Once mDNS reported A at 127.0.0.1 (any port), the same connection is "lan".
            b.node.lan = {a.peer_id: ["/ip4/127.0.0.1/tcp/1/p2p/" + a.peer_id]}
            status = await control.handle("status", {})
            assert [c["kind"] for c in status["connections"]] == ["lan"]

    trio.run(main)
