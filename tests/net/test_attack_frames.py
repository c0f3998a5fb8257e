"""Attacks with sync frames (issue 11, findings 4b and 5), on real hosts on loopback.

Slow or partial first frames must not make the node buffer without bound or
wait forever for a hello; a member whose frames cost the node's loop a lot
is slowed down, not the others. Each test also gets a member's post through
meanwhile, bounded by a deadline, never by a timing threshold.
"""

from __future__ import annotations

import contextlib
from typing import Any

import trio

from p2pcommunity.net.framing import write_frame
from p2pcommunity.net.limits import Limits
from p2pcommunity.net.node import SYNC_PROTOCOL
from p2pcommunity.sync.protocol.frames import HeadsFrame, encode_frame
from tests.net.attack import (
    frame_header,
    hand_session,
    open_protocol_stream,
    rejected,
    yamux_connection,
)
from tests.net.harness import community_cluster, wait_until
from tests.net.test_attack_connections import member_post_arrives

MIB = 1024 * 1024


def test_partial_first_frames_are_bounded_and_time_out() -> None:
    trio.run(_partial_first_frames)


async def _partial_first_frames() -> None:
    async with community_cluster(2) as ((server, member), cid):
        server.node.limits = Limits(
            hello_timeout_s=2.0, max_hello_bytes=4 * MIB, max_hello_bytes_per_peer=MIB
        )
        budget = server.node._hello_bytes
        most = 0

        def watch() -> bool:
            nonlocal most
            most = max(most, budget.used)
            return False

        async def slow_hellos(muxed: Any, streams: list[Any]) -> None:
            for _ in range(6):
                with contextlib.suppress(Exception):
                    stream = await open_protocol_stream(muxed, SYNC_PROTOCOL)
                    streams.append(stream)
                    # A first frame of 1 MiB - 1 that never completes.
                    await stream.write(frame_header(MIB - 1) + b"\0" * (64 * 1024))

        async with trio.open_nursery() as nursery:
            nursery.start_soon(_sample, watch)
            async with contextlib.AsyncExitStack() as stack:
                streams: list[Any] = []
                for _ in range(12):
                    muxed = await stack.enter_async_context(
                        yamux_connection(server.addrs[0], server.peer_id)
                    )
                    await slow_hellos(muxed, streams)
                # 72 streams announced 72 MiB; each one is refused at once (over
                # a budget) or closed at its hello deadline, and the node never
                # holds more than its budget meanwhile.
                await member_post_arrives(server, member, cid, "past 72 partial hellos")
                await wait_until(
                    lambda: (
                        rejected(server, "hello_bytes") + rejected(server, "hello_timeout")
                        >= len(streams)
                    ),
                    timeout=20,
                    what="every partial first frame refused or timed out",
                )
                assert rejected(server, "hello_bytes") > 0
                await wait_until(lambda: budget.used == 0, timeout=10, what="reservations freed")
            nursery.cancel_scope.cancel()
        # Strangers never hold more than the node's budget; a member's own hello is
        # reserved on top of it, within its per-peer share (members are never locked
        # out by strangers filling the node budget), hence the extra MiB.
        assert 0 < most <= 4 * MIB + MIB


async def _sample(predicate: Any) -> None:
    while not predicate():
        await trio.sleep(0.005)


def test_a_member_over_its_cpu_budget_waits_and_others_are_served() -> None:
    trio.run(_cpu_hog)


async def _cpu_hog() -> None:
    async with community_cluster(3) as ((server, hog, member), cid):
        limits = Limits(
            max_frame_bytes=64 * 1024,
            max_pending_frame_bytes=64 * 1024,
            max_hello_bytes=64 * 1024,
            max_hello_bytes_per_peer=64 * 1024,
            cpu_budget_per_peer=0.001,
            max_frames_per_second=100_000,
            throttle_drop_after_s=1_000,
        )
        most_pending = 0
        sent = 0

        def watch() -> bool:
            nonlocal most_pending
            for runner in server.node.runners:
                if runner.peer_id == hog.peer_id:
                    most_pending = max(most_pending, runner._pending_bytes)
            return False

        async with hand_session(hog, server, cid, limits) as (stream, nursery):
            heads = tuple(hog.community(cid).log.heads())
            big = encode_frame(HeadsFrame(heads * 500))  # ~16 KiB, and a session step each

            async def flood() -> None:
                nonlocal sent
                with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
                    for _ in range(5000):
                        await write_frame(stream, big)
                        sent += 1

            nursery.start_soon(_sample, watch)
            nursery.start_soon(flood)
            await wait_until(lambda: rejected(server, "cpu_budget") >= 3, timeout=15)
            await member_post_arrives(server, member, cid, "while a member hogs the loop")
        # The hog was held back (yamux pushes back on it): most of its frames never left.
        assert sent < 5000
        assert most_pending <= limits.max_pending_frame_bytes + len(big) + 4


def test_new_limit_values_are_checked() -> None:
    import pytest

    from p2pcommunity.net.limits import LimitError

    bad: list[dict[str, Any]] = [
        {"max_handshakes": 0},
        {"max_handshakes": 4, "max_handshakes_per_ip": 8},
        {"handshake_timeout_s": 0},
        {"max_connections": 10, "max_stranger_connections": 11},
        {"max_streams_per_stranger": True},
        {"hello_timeout_s": -1},
        {"max_hello_bytes_per_peer": 1000},  # below one frame of max_frame_bytes
        {"max_hello_bytes": MIB, "max_hello_bytes_per_peer": 2 * MIB},
        {"max_pending_frame_bytes": 4096},
        {"cpu_budget_per_peer": 0},
        {"cpu_budget_per_peer": 2},
    ]
    for values in bad:
        with pytest.raises(LimitError):
            Limits(**values)


def test_cpu_and_byte_budgets() -> None:
    from p2pcommunity.net.limits import ByteBudget, CpuBudget

    now = [0.0]
    cpu = CpuBudget(0.1, lambda: now[0])
    assert cpu.wait() == 0 and cpu.idle
    cpu.charge(0.6)  # 0.4 saved up (four seconds' worth), 0.2 owed: 2 s at 0.1 s/s
    assert abs(cpu.wait() - 2.0) < 1e-9
    now[0] = 6.0
    assert cpu.wait() == 0 and cpu.idle
    budget = ByteBudget(total=10, per_key=6)
    assert budget.reserve("a", 6) is None
    assert budget.reserve("a", 1) == "per_peer"
    assert budget.reserve("b", 5) == "total"
    assert budget.reserve("b", 5, exempt_total=True) is None  # a member
    budget.release("a", 6)
    budget.release("b", 5)
    assert budget.used == 0 and budget.held("a") == 0
