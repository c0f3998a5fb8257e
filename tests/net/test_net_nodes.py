"""Real nodes in one process syncing over loopback libp2p (TCP + Noise + Yamux).

Topologies (a line, a partition that heals) and hostile peers: raw hosts
that speak the sync protocol badly, with a member's key or a stranger's.
No timing thresholds: every wait is bounded only to fail instead of hang.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Sequence

import pytest
import trio
from automerge.core import ROOT, Document, ScalarType

from p2pcommunity.datadir import now_ms
from p2pcommunity.identity import DeviceIdentity
from p2pcommunity.net import session_runner
from p2pcommunity.net.framing import FrameReader
from p2pcommunity.net.host import NodeHost, running_host
from p2pcommunity.net.node import SYNC_PROTOCOL
from p2pcommunity.net.stream import memory_stream_pair
from p2pcommunity.sync.crypto import CHANGE_TAG, canonical_cbor, sign
from p2pcommunity.sync.docs.apply import SignedChange
from p2pcommunity.sync.docs.chunks import parse_change
from p2pcommunity.sync.docs.memberdoc import DocRef, PostRecord, SegmentDoc, new_local_id
from p2pcommunity.sync.errors import RemoteProtocolError
from p2pcommunity.sync.protocol import frames as wire
from tests.net.harness import (
    LOOPBACK,
    HarnessNode,
    close_session,
    cluster,
    community_cluster,
    run,
    wait_all,
    wait_until,
)
from tests.sync.builders import snapshot

# --- topologies -----------------------------------------------------------------


def test_posts_cross_a_line_of_three_both_ways() -> None:
    async def body() -> None:
        async with community_cluster(3) as ((a, b, c), cid):
            await b.connect(a, cid)  # B joins from A
            await c.connect(b, cid)  # C joins from B; A and C never connect
            assert not a.node.has_session(c.peer_id, cid)
            assert c.host.peer_id not in a.host.connected_peers()

            from_a = a.post(cid, "from A")
            from_c = c.post(cid, "from C")
            await wait_all((a, b, c), lambda n: len(n.read(cid)) == 2)
            for n in (a, b, c):
                assert {p["id"] for p in n.read(cid)} == {from_a, from_c}
            assert a.replicated(cid) == b.replicated(cid) == c.replicated(cid)
            assert c.host.peer_id not in a.host.connected_peers()

    run(body)


def frames_received(node: HarnessNode) -> float:
    """The node's frames counter, read through prometheus's public registry API."""
    value = node.node.metrics.registry.get_sample_value("p2pcommunity_frames_received_total")
    assert value is not None
    return value


def test_a_burst_of_posts_shares_pushes_and_all_of_it_arrives(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def body() -> None:
        async with community_cluster(2) as ((a, b), cid):
            await b.connect(a, cid)
            # The first change after a quiet spell goes out at once.
            first = a.post(cid, "first after a quiet spell")
            await wait_until(lambda: len(b.read(cid)) == 1)
            (runner,) = a.node.sessions_of(cid)
            # From now on the next push is "due" only in an hour, so what the burst
            # pokes must wait for it however slow this machine is, and we push it
            # ourselves below instead of waiting for a timer.
            monkeypatch.setattr(session_runner, "PUSH_INTERVAL_S", 3600.0)
            pushes_before = runner._last_push
            frames = frames_received(b)
            burst = []
            for i in range(20):
                burst.append(a.post(cid, f"burst {i}"))
                await trio.sleep(0)  # the runner gets to run: without coalescing it would push
            # Every poke of the burst joined the one pending push: nothing was sent.
            assert runner._last_push == pushes_before
            assert frames_received(b) == frames
            assert len(b.read(cid)) == 1
            await runner.flush()  # the pending push, now
            await wait_until(lambda: len(b.read(cid)) == 21)
            assert {p["id"] for p in b.read(cid)} == {first, *burst}
            # All 20 changes travelled in the single push (B may get a follow-up
            # frame or two of the exchange, never one per post).
            assert frames_received(b) - frames <= 3

    run(body)


def test_a_cold_join_indexes_search_in_slices_while_the_loop_runs() -> None:
    """After the catch-up, the search index fills a slice per transaction in a
    node task, and other tasks run between slices (issue 12)."""

    async def body() -> None:
        async with community_cluster(2) as ((a, b), cid):
            posts = {a.post(cid, f"word{i} common") for i in range(100)}
            slices: list[tuple[int, bool, int]] = []  # (indexed, more, ticks so far)
            ticks = 0
            real = b.store.read_model.search_index.index_slice

            def small_slices(max_posts: int = 25) -> tuple[int, bool]:
                indexed, more = real(max_posts=25)
                slices.append((indexed, more, ticks))
                return indexed, more

            b.store.read_model.search_index.index_slice = small_slices  # type: ignore[method-assign]

            async def ticker() -> None:
                nonlocal ticks
                while True:
                    ticks += 1
                    await trio.sleep(0)

            async with trio.open_nursery() as nursery:
                nursery.start_soon(ticker)
                await b.connect(a, cid)
                await wait_until(lambda: bool(slices) and not slices[-1][1])
                nursery.cancel_scope.cancel()
            assert {p["id"] for p in b.read(cid)} >= posts
            held = b.store.db.execute("SELECT COUNT(*) FROM posts WHERE deleted=0").fetchone()[0]
            assert sum(n for n, _more, _t in slices) == held >= 100
            assert len(slices) >= 4
            assert (
                b.store.db.execute("SELECT COUNT(*) FROM posts_fts").fetchone()[0] == held
            )  # indexed by the slices alone: no search has run yet
            # The loop ran other tasks while the slices went on (trio may run a
            # batch's tasks in either order, so compare first and last slice).
            assert slices[-1][2] > slices[0][2]
            assert {
                p["id"] for p in b.service.search(cid.hex(), "common", limit=500)["posts"]
            } >= posts

    run(body)


def test_a_partition_heals_into_identical_replicas() -> None:
    async def body() -> None:
        async with cluster(5) as nodes:
            n0, n1, n2, n3, n4 = nodes
            cid = n0.create_community(members=nodes[1:])
            n0.service.role_set(cid.hex(), n3.peer_id, "admin")
            # Everyone takes the community up from the owner, then those sessions close.
            for member in nodes[1:]:
                runner = await member.connect(n0, cid)
                await close_session(runner, n0)
            assert not any(n.node.runners for n in nodes)

            group_a, group_b = [n0, n1, n2], [n3, n4]
            await n1.connect(n0, cid)
            await n2.connect(n1, cid)
            await n4.connect(n3, cid)

            a_posts = [n0.post(cid, "a0 hello"), n1.post(cid, "a1 hi"), n2.post(cid, "a2 yo")]
            n0.post(cid, "a0 again")
            channel = n3.service.channel_create(cid.hex(), "garden")["channel_id"]
            n3.post(cid, "b3 in general")
            n3.post(cid, "b3 first in garden", channel="garden")
            n4.post(cid, "b4 in general")
            await wait_all(group_a, lambda n: len(n.read(cid)) == 4)
            await wait_all(group_b, lambda n: len(n.read(cid, channel)) == 1)
            await wait_all(group_b, lambda n: len(n.read(cid)) == 2)
            n4.service.react(cid.hex(), n4.read(cid, channel)[0]["id"], "🌱")
            n2.service.react(cid.hex(), a_posts[0], "👍")
            n1.service.react(cid.hex(), a_posts[0], "👍")
            n4.post(cid, "b4 in garden", channel="garden")
            await wait_all(group_a, lambda n: len(n.read(cid)[0]["reactions"].get("👍", [])) == 2)
            await wait_all(group_b, lambda n: len(n.read(cid, channel)) == 2)
            # The partition held: neither side has seen the other's writes.
            assert all(len(n.read(cid)) == 4 and n.read(cid, channel) == [] for n in group_a)
            assert all(len(n.read(cid)) == 2 for n in group_b)
            assert n0.replicated(cid) == n1.replicated(cid) == n2.replicated(cid)
            assert n3.replicated(cid) == n4.replicated(cid)

            await n2.connect(n3, cid)  # heal

            def converged() -> bool:
                first = n0.replicated(cid)
                return len(n0.read(cid)) == 6 and all(n.replicated(cid) == first for n in nodes)

            await wait_until(converged)
            final = n0.replicated(cid)
            assert len(final["channels"]) == 2
            assert [p["text"] for p in n4.read(cid, channel)] == [
                "b3 first in garden",
                "b4 in garden",
            ]
            reactions = {p["text"]: p["reactions"] for p in n4.read(cid)}
            assert sorted(reactions["a0 hello"]["👍"]) == sorted([n1.peer_id, n2.peer_id])
            assert n0.read(cid, channel)[0]["reactions"] == {"🌱": [n4.peer_id]}
            assert all(n.community(cid).state == n0.community(cid).state for n in nodes)
            assert n0.community(cid).state.channels[bytes.fromhex(channel)].name == "garden"

    run(body)


# --- hostile peers ----------------------------------------------------------------


async def read_until_closed(reader: FrameReader, timeout: float = 15.0) -> list[wire.Frame]:
    """Every frame the peer sends until it closes or resets the stream."""
    frames: list[wire.Frame] = []
    with trio.fail_after(timeout):
        try:
            while (frame := await reader.read_frame()) is not None:
                frames.append(wire.decode_frame(frame))
        except (trio.BrokenResourceError, RemoteProtocolError):
            pass
    return frames


def framed(payload: bytes) -> bytes:
    """A frame on the wire, without the size check of `framing.encode_frame`."""
    return struct.pack(">I", len(payload)) + payload


async def speak(
    host: NodeHost, victim: HarnessNode, first: bytes, then: Sequence[bytes]
) -> list[wire.Frame]:
    """Open a sync stream, send `first`; once the victim answers, send `then`; read to the end.

    Waiting for the answer keeps `then` out of the victim's first read (see
    `test_frames_pipelined_behind_the_hello_are_not_lost`).
    """
    stream = await host.open_stream(victim.peer_id, victim.addrs, SYNC_PROTOCOL)
    reader = FrameReader(stream)
    frames: list[wire.Frame] = []
    try:
        await stream.send_all(first)
        if then:
            with trio.fail_after(15):
                answer = await reader.read_frame()
            if answer is not None:
                frames.append(wire.decode_frame(answer))
                for payload in then:
                    try:
                        await stream.send_all(payload)
                    except trio.BrokenResourceError:
                        break  # already cut off
        frames += await read_until_closed(reader)
    finally:
        await stream.close()
    return frames


def own_changes(
    cid: bytes, key: DeviceIdentity, texts: Sequence[str], channel: bytes
) -> list[SignedChange]:
    """Valid signed changes seq 1.. of `key`'s segment 0, made as the member's device would."""
    ref = DocRef(cid, key.public_key, 0)
    segment = SegmentDoc.new(ref)
    out = []
    for text in texts:
        record = PostRecord(new_local_id(), channel, text, None, (), now_ms())
        change = segment.write_post(record)
        signature = sign(key.signing_key, CHANGE_TAG, ref.doc_id, change.hash)
        out.append(SignedChange(change.raw_bytes, signature))
    return out


def rogue_first_change(cid: bytes, key: DeviceIdentity) -> SignedChange:
    """Another seq 1 of `key`'s segment 0, straight from Automerge, validly signed."""
    ref = DocRef(cid, key.public_key, 0)
    doc = Document(actor_id=key.public_key)
    with doc.transaction() as tx:
        tx.put(ROOT, "schema", ScalarType.Uint, 1)
        tx.put(ROOT, "rogue", ScalarType.Str, "the other history")
    change = doc.get_last_local_change()
    assert change is not None and change.seq == 1
    return SignedChange(
        change.raw_bytes, sign(key.signing_key, CHANGE_TAG, ref.doc_id, change.hash)
    )


def test_hostile_peers_are_cut_off_store_nothing_and_the_node_keeps_serving(
    caplog: pytest.LogCaptureFixture,
) -> None:
    mallory = DeviceIdentity.generate()  # a member who runs a modified client
    stranger = DeviceIdentity.generate()  # not a member

    async def body() -> None:
        async with (
            cluster(2) as (victim, honest),
            running_host(mallory, LOOPBACK) as mallory_host,
            running_host(stranger, LOOPBACK) as stranger_host,
        ):
            cid = victim.create_community(members=[honest])
            victim.service.member_add(cid.hex(), mallory.peer_id)
            await honest.connect(victim, cid)
            general = victim.service.channel_id(victim.community(cid).state, "general")
            first, second = own_changes(cid, mallory, ["m1", "m2"], general)
            rogue = rogue_first_change(cid, mallory)
            hello = wire.encode_frame(wire.HelloFrame(cid, ()))

            def changes(*items: SignedChange) -> bytes:
                return wire.encode_frame(wire.ChangesFrame(mallory.public_key, 0, items))

            async def honest_post_syncs(text: str) -> None:
                honest.post(cid, text)
                await wait_until(lambda: text in victim.texts(cid))
                victim.post(cid, text + " (echo)")
                await wait_until(lambda: text + " (echo)" in honest.texts(cid))

            async def hostile(
                host: NodeHost, first: bytes, then: Sequence[bytes], why: str
            ) -> list[wire.Frame]:
                """An attack: the victim cuts the stream, stores nothing, serves on."""
                before = snapshot(victim.path)
                frames = await speak(host, victim, first, then)
                await wait_until(lambda: not _serving(victim, host.peer_id), 10)
                assert snapshot(victim.path) == before, why
                assert not any(isinstance(f, wire.ChangesFrame) for f in frames), why
                await honest_post_syncs(f"still serving after {why}")
                return frames

            m, h = mallory_host, framed(hello)
            garbage = [
                b"not cbor at all",
                canonical_cbor([1, 2, 3]),
                canonical_cbor({"t": "nope"}),
                canonical_cbor({"t": "heads", "heads": [b"short"]}),
                wire.encode_frame(wire.HelloFrame(cid, ())),  # a second hello
                wire.encode_frame(wire.SummaryFrame((), last=True))[:-1],  # truncated CBOR
            ]
            for junk in garbage:
                await hostile(m, h, [framed(junk)], f"garbage {junk[:12]!r}")
            # As the very first frame, too (the hello is read outside the session runner).
            await hostile(m, framed(b"\xff\x00garbage"), [], "garbage instead of a hello")

            # An oversize frame: the length prefix announces more than 1 MiB.
            big = struct.pack(">I", 2 * 1024 * 1024) + bytes(4096)
            await hostile(m, h, [big], "an oversize frame after the hello")
            await hostile(m, big, [], "an oversize first frame")

            # A forged change: a valid frame, the signature of another key / of nothing.
            ref = DocRef(cid, mallory.public_key, 0)
            wrong_key = DeviceIdentity.generate().signing_key
            by_other = sign(wrong_key, CHANGE_TAG, ref.doc_id, _hash_of(first.data))
            for signature, why in ((by_other, "another key"), (bytes(64), "zeros")):
                forged = SignedChange(first.data, signature)
                await hostile(m, h, [framed(changes(forged))], f"a change signed by {why}")
            # Two validly signed changes at the same seq, in one batch.
            await hostile(m, h, [framed(changes(first, rogue))], "an equivocating batch")

            # Mallory's honest first change is accepted (it is a member) ...
            count = len(victim.read(cid))
            stream = await m.open_stream(victim.peer_id, victim.addrs, SYNC_PROTOCOL)
            try:
                await stream.send_all(h)
                with trio.fail_after(15):
                    assert await FrameReader(stream).read_frame() is not None
                await stream.send_all(framed(changes(first)))
                await wait_until(lambda: "m1" in victim.texts(cid))
            finally:
                await stream.close()
            await wait_until(lambda: not _serving(victim, mallory.peer_id), 10)
            assert len(victim.read(cid)) == count + 1
            # ... then another seq 1, as a change or in a summary, is an equivocation.
            await hostile(m, h, [framed(changes(rogue))], "an equivocating change")
            await hostile(m, h, [framed(changes(rogue, second))], "a forked chain")
            summary = wire.SummaryFrame(
                (wire.DocSummary(mallory.public_key, 0, 1, _hash_of(rogue.data)),), True
            )
            await hostile(m, h, [framed(wire.encode_frame(summary))], "an equivocating summary")
            assert "m2" not in victim.texts(cid)

            # A stranger with a well-formed hello, then changes: one refusal, nothing else.
            frames = await hostile(
                stranger_host, h, [framed(changes(second))], "a stranger's changes"
            )
            assert frames == [wire.RefusedFrame("not_member")]
            frames = await hostile(stranger_host, framed(b"garbage"), [], "a stranger's garbage")
            assert frames == []
            assert victim.texts(cid).count("m1") == 1
            assert victim.replicated(cid) == honest.replicated(cid)

    caplog.set_level(logging.WARNING, logger="p2pcommunity")
    run(body)
    # Each attack is a logged reason, not a crash (ARCHITECTURE §5.7).
    ours = [r for r in caplog.records if r.name.startswith("p2pcommunity")]
    assert not [r.getMessage() for r in ours if r.levelno >= logging.ERROR]
    assert sum("closed" in r.getMessage() for r in ours) >= 15


def test_a_non_member_is_refused_once_and_gets_no_ops_or_changes() -> None:
    stranger = DeviceIdentity.generate()

    async def body() -> None:
        async with cluster(2) as (owner, outsider), running_host(stranger, LOOPBACK) as raw:
            cid = owner.create_community()
            owner.post(cid, "members only")
            before = snapshot(owner.path)

            # A real node: its session is refused and its store stays empty.
            runner = await outsider.connect(owner, cid, wait=False)
            with trio.fail_after(15):
                await runner.finished.wait()
            assert runner.refused == "not_member" and not runner.caught_up.is_set()
            community = outsider.community(cid)
            assert len(community.log) == 0
            assert outsider.store.docs_of(cid) == []
            assert outsider.read(cid) == []

            # A raw host sees every byte: exactly one `refused` frame, then the stream ends,
            # even with the owner's heads in its hello and a request for more.
            heads = tuple(owner.community(cid).log.heads())
            hello = framed(wire.encode_frame(wire.HelloFrame(cid, heads)))
            asks = [
                framed(wire.encode_frame(wire.HeadsFrame(()))),
                framed(wire.encode_frame(wire.SummaryFrame((), True))),
            ]
            frames = await speak(raw, owner, hello, asks)
            assert frames == [wire.RefusedFrame("not_member")]
            assert not any(isinstance(f, wire.OpsFrame | wire.ChangesFrame) for f in frames)
            await wait_until(lambda: not _serving(owner, raw.peer_id), 10)
            assert snapshot(owner.path) == before

    run(body)


def test_frames_pipelined_behind_the_hello_are_not_lost() -> None:
    """A peer may send frames right behind its hello, in the same write.

    Over libp2p whether the hello and what follows land in one read is a
    race; a memory stream with both already written makes it certain.
    """
    member = DeviceIdentity.generate()

    async def body() -> None:
        async with cluster(1) as (owner,), trio.open_nursery() as nursery:
            cid = owner.create_community()
            owner.service.member_add(cid.hex(), member.peer_id)
            general = owner.service.channel_id(owner.community(cid).state, "general")
            (change,) = own_changes(cid, member, ["pipelined"], general)
            hello = wire.encode_frame(wire.HelloFrame(cid, ()))
            changes = wire.encode_frame(wire.ChangesFrame(member.public_key, 0, (change,)))
            ours, theirs = memory_stream_pair(member.peer_id, owner.peer_id)
            await ours.send_all(framed(hello) + framed(changes))
            nursery.start_soon(owner.node.handle_sync_stream, theirs)
            try:
                await wait_until(lambda: "pipelined" in owner.texts(cid), 5)
            finally:
                await ours.close()
                nursery.cancel_scope.cancel()

    run(body)


# --- helpers ----------------------------------------------------------------------


def _serving(node: HarnessNode, peer_id: str) -> bool:
    return any(r.peer_id == peer_id for r in node.node.runners)


def _hash_of(raw_change: bytes) -> bytes:
    return parse_change(raw_change).hash
