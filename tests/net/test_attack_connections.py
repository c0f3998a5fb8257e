"""Attacks on a node's connections and streams (issue 11, findings 0 and 4), on real hosts.

Each test attacks one limit and checks both sides: the attack is refused or
bounded, and a member still gets a post through meanwhile (bounded by a
deadline, never by a timing threshold). Attackers come from 127.0.0.2
(tests/net/attack.py), members from 127.0.0.1.
"""

from __future__ import annotations

import contextlib

import trio

from p2pcommunity.net.limits import Limits
from tests.net.attack import noise_handshake, open_tcp, rejected, yamux_connection
from tests.net.harness import HarnessNode, community_cluster, wait_until

CYCLES = 300


async def member_post_arrives(
    server: HarnessNode, member: HarnessNode, cid: bytes, text: str
) -> None:
    """A member connects to `server` and a post from it reaches the server."""
    await member.connect(server, cid, timeout=15)
    member.post(cid, text)
    await wait_until(lambda: text in server.texts(cid), timeout=15, what="the member's post")


def test_300_reconnects_do_not_exhaust_inbound_connections() -> None:
    """py-libp2p 0.8.1 keeps an inbound slot per connection for the host's life (250 slots)."""
    trio.run(_300_reconnects)


async def _300_reconnects() -> None:
    async with community_cluster(2) as ((server, member), cid):
        upgraded = 0
        for _ in range(CYCLES):
            with trio.fail_after(10):
                async with yamux_connection(server.addrs[0], server.peer_id):
                    upgraded += 1
        assert upgraded == CYCLES
        # The server forgets each connection once it has ended (no task per past connection).
        await wait_until(lambda: not server.host.gate.inbound, timeout=10, what="connections gone")
        await member_post_arrives(server, member, cid, "after 300 reconnects")


def test_idle_sockets_are_bounded_per_ip_and_time_out() -> None:
    trio.run(_idle_sockets)


async def _idle_sockets() -> None:
    async with community_cluster(2) as ((server, member), cid):
        server.node.limits = Limits(handshake_timeout_s=1.0)
        sockets = []
        try:
            for _ in range(300):
                with contextlib.suppress(OSError):
                    sockets.append(await open_tcp(server.addrs[0]))
            gate = server.host.gate
            per_ip = server.node.limits.max_handshakes_per_ip
            await wait_until(
                lambda: rejected(server, "max_handshakes_per_ip") >= len(sockets) - per_ip,
                timeout=10,
                what="idle sockets over the per-IP limit refused",
            )
            assert gate.handshakes <= per_ip
            # The ones holding a slot are closed after the handshake timeout.
            await wait_until(
                lambda: rejected(server, "handshake_timeout") >= 1,
                timeout=10,
                what="a handshake timed out",
            )
            await member_post_arrives(server, member, cid, "through 300 idle sockets")
        finally:
            for sock in sockets:
                await sock.aclose()


def test_noise_handshakes_opened_and_closed_do_not_lock_members_out() -> None:
    trio.run(_noise_churn)


async def _noise_churn() -> None:
    async with community_cluster(2) as ((server, member), cid):
        server.node.limits = Limits(handshake_timeout_s=1.0)
        attempts = 0
        held: list[trio.SocketStream] = []

        async def churn() -> None:
            # Noise done, then silence where the muxer negotiation should be:
            # each one holds a handshake slot until the server gives up on it.
            nonlocal attempts
            while attempts < 400:
                attempts += 1
                with contextlib.suppress(Exception), trio.fail_after(10):
                    sock, _secured = await noise_handshake(server.addrs[0], server.peer_id)
                    held.append(sock)

        try:
            async with trio.open_nursery() as nursery:
                for _ in range(16):
                    nursery.start_soon(churn)
                # More handshakes than py-libp2p's 250 inbound slots before the member comes.
                await wait_until(lambda: attempts >= 300, timeout=20, what="300 handshakes")
                await member_post_arrives(server, member, cid, "through 400 handshakes")
            assert rejected(server, "max_handshakes_per_ip") > 0
            await wait_until(lambda: rejected(server, "handshake_timeout") > 0, timeout=10)
        finally:
            for sock in held:
                await sock.aclose()
        await wait_until(lambda: server.host.gate.handshakes == 0, timeout=10)


def test_strangers_get_a_bounded_share_and_members_take_their_slots() -> None:
    trio.run(_stranger_share)


async def _stranger_share() -> None:
    async with community_cluster(2) as ((server, member), cid):
        server.node.limits = Limits(max_connections=6, max_stranger_connections=6)
        async with contextlib.AsyncExitStack() as stack:
            for _ in range(6):
                await stack.enter_async_context(yamux_connection(server.addrs[0], server.peer_id))
            await wait_until(lambda: len(server.host.gate.inbound) == 6, timeout=10)
            # A seventh stranger finds the node full.
            with contextlib.suppress(Exception):
                async with yamux_connection(server.addrs[0], server.peer_id) as muxed:
                    await wait_until(lambda: muxed.is_closed, timeout=10)
            full = rejected(server, "max_connections") + rejected(server, "stranger_connections")
            assert full == 1
            # A member takes a stranger's slot.
            await member_post_arrives(server, member, cid, "a member among strangers")
            assert rejected(server, "stranger_evicted") >= 1
            strangers = [
                c for c in server.host.gate.inbound.values() if c.peer_id != member.peer_id
            ]
            assert len(strangers) <= 5

        # The strangers' share: with room for 20 connections, only 3 strangers.
        await wait_until(
            lambda: all(c.peer_id == member.peer_id for c in server.host.gate.inbound.values()),
            timeout=10,
            what="the first strangers gone",
        )
        server.node.limits = Limits(max_connections=20, max_stranger_connections=3)
        before = rejected(server, "stranger_connections")
        async with contextlib.AsyncExitStack() as stack:
            for _ in range(5):
                with contextlib.suppress(Exception):
                    await stack.enter_async_context(
                        yamux_connection(server.addrs[0], server.peer_id)
                    )
            await wait_until(
                lambda: rejected(server, "stranger_connections") == before + 2, timeout=10
            )
            live = [c for c in server.host.gate.inbound.values() if not c.conn.is_closed]
            assert sum(1 for c in live if c.peer_id != member.peer_id) <= 3


def test_many_streams_from_strangers_are_reset() -> None:
    trio.run(_stream_flood)


async def _stream_flood() -> None:
    async with community_cluster(2) as ((server, member), cid):
        limits = server.node.limits
        opened = 0

        async def flood(muxed: object) -> None:
            nonlocal opened
            for _ in range(200):
                with trio.move_on_after(5):
                    try:
                        await muxed.open_stream()  # type: ignore[attr-defined]
                    except Exception:  # noqa: BLE001 -- the server closed the connection
                        return  # the server closed this connection
                    opened += 1

        async with contextlib.AsyncExitStack() as stack:
            conns = [
                await stack.enter_async_context(yamux_connection(server.addrs[0], server.peer_id))
                for _ in range(10)
            ]
            async with trio.open_nursery() as nursery:
                for muxed in conns:
                    nursery.start_soon(flood, muxed)
            gate = server.host.gate
            # Each stranger holds at most its few streams; the rest were reset.
            assert all(n <= limits.max_streams_per_stranger for n in gate.streams_by_peer.values())
            # A connection that keeps opening streams past its limit is closed.
            await wait_until(lambda: rejected(server, "stream_flood") == 10, timeout=10)
            refused_each = limits.max_streams_per_connection + 1
            assert rejected(server, "stranger_streams") >= 10 * refused_each
            await member_post_arrives(server, member, cid, f"through {opened} streams")
