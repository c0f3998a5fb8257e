"""Attacks on a node's connections (issue 11, findings 0 and 4), on real hosts on loopback.

Each test attacks one limit and checks both sides: the attack is refused or
bounded, and a member still gets a post through meanwhile. Attackers come
from 127.0.0.2 (tests/net/attack.py), members from 127.0.0.1.
"""

from __future__ import annotations

import trio

from p2pcommunity.net.limits import Limits
from tests.net.attack import noise_handshake, open_tcp, yamux_connection
from tests.net.harness import HarnessNode, cluster, wait_until

CYCLES = 300


def rejected(node: HarnessNode, reason: str) -> float:
    value = node.node.metrics.registry.get_sample_value(
        "p2pcommunity_rejected_total", {"reason": reason}
    )
    return value or 0.0


async def member_post_arrives(server: HarnessNode, member: HarnessNode, cid: bytes, text: str) -> None:
    """A member (re)connects to `server` and a post from it reaches the server."""
    await member.connect(server, cid, timeout=15)
    member.post(cid, text)
    await wait_until(lambda: text in server.texts(cid), timeout=15, what="the member's post")


def test_300_reconnects_do_not_exhaust_inbound_connections() -> None:
    """py-libp2p 0.8.1 keeps an inbound slot per connection for the host's life (250 slots)."""
    trio.run(_300_reconnects)


async def _300_reconnects() -> None:
    async with cluster(2) as (server, member):
        cid = server.create_community([member])
        upgraded = 0
        for _ in range(CYCLES):
            with trio.fail_after(10):
                async with yamux_connection(server.addrs[0], server.peer_id):
                    upgraded += 1
        assert upgraded == CYCLES
        # The server forgets each connection once it has ended (no task per past connection).
        await wait_until(lambda: not server.host.gate.inbound, timeout=10, what="connections gone")
        await member_post_arrives(server, member, cid, "after 300 reconnects")
