"""Limits: a flooding peer is throttled then dropped, an oversize frame closes only its
session, max_peers refuses new peers; honest peers keep syncing throughout."""

from __future__ import annotations

import struct

import pytest
import trio

from p2pcommunity.net.framing import write_frame
from p2pcommunity.net.limits import LimitError, Limits, RateLimiter, TokenBucket
from p2pcommunity.sync.protocol.frames import HeadsFrame, encode_frame
from tests.net.attack import hand_session, rejected
from tests.net.harness import HarnessNode, community_cluster, wait_until


async def _honest_post_arrives(server: HarnessNode, honest: HarnessNode, cid: bytes) -> None:
    await honest.connect(server, cid)
    post = f"still served {trio.current_time()}"
    server.post(cid, post)
    await wait_until(lambda: post in honest.texts(cid), timeout=20)


def test_token_bucket_and_rate_limiter() -> None:
    now = [0.0]
    bucket = TokenBucket(rate=10, burst=2, clock=lambda: now[0])
    assert bucket.take() == 0 and bucket.take() == 0
    assert bucket.take() == pytest.approx(0.1)
    now[0] = 10.0
    assert bucket.take() == 0
    limiter = RateLimiter(Limits(max_frames_per_second=1, throttle_drop_after_s=2), lambda: now[0])
    results = []
    for _ in range(60):
        results.append(limiter.on_frame())
        now[0] += 0.1  # ten frames a second: ten times the rate
    assert results[0] == (0.0, False)
    assert any(wait > 0 for wait, _ in results)
    assert results[-1][1] is True  # throttled without a break for 2 s: drop


def test_limit_values_are_checked() -> None:
    with pytest.raises(LimitError):
        Limits(max_peers=0)
    with pytest.raises(LimitError):
        Limits(max_frame_bytes=2 * 1024 * 1024)
    with pytest.raises(LimitError):
        Limits(max_frames_per_second=0)
    with pytest.raises(LimitError):
        Limits(mesh_peers=0)


def test_a_flooding_peer_is_throttled_then_dropped_and_the_node_keeps_serving() -> None:
    trio.run(_a_flooding_peer_is_throttled_then_dropped_and_the_node_keeps_serving)


async def _a_flooding_peer_is_throttled_then_dropped_and_the_node_keeps_serving() -> None:
    async with community_cluster(3) as ((server, flooder, honest), cid):
        limits = Limits(max_frames_per_second=50, throttle_drop_after_s=1.0)
        async with hand_session(flooder, server, cid, limits) as (stream, nursery):
            heads = encode_frame(HeadsFrame(tuple(flooder.community(cid).log.heads())))

            async def flood() -> None:
                try:
                    while True:
                        await write_frame(stream, heads)
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    pass

            nursery.start_soon(flood)
            await wait_until(lambda: rejected(server, "rate_limit") == 1, timeout=20)
            metrics = server.node.metrics.registry
            assert (metrics.get_sample_value("p2pcommunity_throttled_total") or 0) > 0
            await _honest_post_arrives(server, honest, cid)


def test_an_oversize_frame_closes_only_that_session() -> None:
    trio.run(_an_oversize_frame_closes_only_that_session)


async def _an_oversize_frame_closes_only_that_session() -> None:
    async with community_cluster(3) as ((server, bad, honest), cid):
        await honest.connect(server, cid)
        limits = Limits(max_frame_bytes=64 * 1024)
        async with hand_session(bad, server, cid, limits) as (stream, _):
            await stream.send_all(struct.pack(">I", 65 * 1024) + b"x" * 1024)
            await wait_until(lambda: rejected(server, "oversize_frame") == 1, timeout=10)
            post = "after the oversize frame"
            server.post(cid, post)
            await wait_until(lambda: post in honest.texts(cid), timeout=20)


def test_max_peers_refuses_a_new_peer_but_keeps_the_old() -> None:
    trio.run(_max_peers_refuses_a_new_peer_but_keeps_the_old)


async def _max_peers_refuses_a_new_peer_but_keeps_the_old() -> None:
    async with community_cluster(3) as ((server, first, second), cid):
        server.node.limits = Limits(max_peers=1)
        await first.connect(server, cid)
        runner = await second.node.open_session(server.peer_id, server.addrs, second.community(cid))
        with trio.fail_after(10):
            await runner.finished.wait()
        assert not runner.caught_up.is_set()
        assert rejected(server, "max_peers") == 1
        post = "first still served"
        server.post(cid, post)
        await wait_until(lambda: post in first.texts(cid), timeout=20)
