"""The signature worker (net/verifier.py): faster when it works, harmless when it fails.

Every test checks both halves: what the worker verified is used, and a bad
signature is refused whoever looked at it first (the worker, the loop
thread stealing a frame, or the in-line fallback) with nothing stored.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
import trio
from nacl.signing import SigningKey

from p2pcommunity.identity import DeviceIdentity
from p2pcommunity.net import verifier as verifier_module
from p2pcommunity.net.framing import FrameReader
from p2pcommunity.net.host import running_host
from p2pcommunity.net.node import SYNC_PROTOCOL
from p2pcommunity.net.verifier import SignatureWorker
from p2pcommunity.sync.community import Community
from p2pcommunity.sync.docs.apply import SignedChange
from p2pcommunity.sync.docs.memberdoc import DocRef
from p2pcommunity.sync.errors import Rejected
from p2pcommunity.sync.peerid import peer_id_from_public_key
from p2pcommunity.sync.protocol.frames import ChangesFrame, HelloFrame, encode_frame
from p2pcommunity.sync.service import Service
from p2pcommunity.sync.storage.store import Store
from tests.net.harness import LOOPBACK, cluster, community_cluster, run, wait_until
from tests.net.test_net_nodes import framed, own_changes, speak
from tests.sync.builders import forge, post_chain, snapshot

# Changes per frame: well above MIN_FRAME_BYTES, so every frame goes to the worker.
PER_FRAME = 120


Member = tuple[Community, SigningKey]


@pytest.fixture
def member(tmp_path: Path) -> Member:
    """A community (as its owner's node holds it) and the key of a member of it."""
    owner, key = SigningKey.generate(), SigningKey.generate()
    store = Store(tmp_path / "store.sqlite3")
    service = Service(store, owner, lambda: 1_000)
    cid = bytes.fromhex(service.community_create("C")["community_id"])
    service.member_add(cid.hex(), peer_id_from_public_key(bytes(key.verify_key)))
    return service.community(cid.hex()), key


def _frames(community: Community, key: SigningKey, count: int) -> list[list[SignedChange]]:
    items = post_chain(key, count * PER_FRAME, DocRef(community.id, bytes(key.verify_key), 0))
    return [items[i : i + PER_FRAME] for i in range(0, len(items), PER_FRAME)]


def _encode(key: SigningKey, items: list[SignedChange]) -> bytes:
    return encode_frame(ChangesFrame(bytes(key.verify_key), 0, tuple(items)))


async def _apply_all(
    worker: SignatureWorker,
    community: Community,
    key: SigningKey,
    batches: list[list[SignedChange]],
) -> list[str]:
    """Like a session: prefetch every frame, then take them in order; the outcome of each."""
    frames = [_encode(key, batch) for batch in batches]
    for frame in frames:
        worker.prefetch(community, frame)
    ref = DocRef(community.id, bytes(key.verify_key), 0)
    outcomes = []
    for frame, batch in zip(frames, batches, strict=True):
        await worker.ready(frame)
        try:
            community.receive_changes(ref, batch, 2_000)
            outcomes.append("applied")
        except Rejected as exc:
            outcomes.append(exc.reason)
    return outcomes


@pytest.fixture
def one_in_flight(monkeypatch: pytest.MonkeyPatch) -> None:
    """One request at a time in the worker, so the loop has frames left to take itself."""
    monkeypatch.setattr(verifier_module, "MAX_IN_FLIGHT", 1)


def _python(code: str) -> list[str]:
    """The command of a stand-in worker that runs `code`."""
    return [sys.executable, "-c", code]


Scenario = Callable[[SignatureWorker, trio.Nursery], Awaitable[None]]


def _with_worker(command: list[str] | None, scenario: Scenario) -> None:
    """Run `scenario` with a warmed-up worker started by `command` (None: the real one)
    and the nursery it runs in, cancelled after."""

    async def body() -> None:
        async with trio.open_nursery() as nursery:
            worker = SignatureWorker(lambda: nursery, command=command)
            await worker.warm_up()
            await scenario(worker, nursery)
            nursery.cancel_scope.cancel()

    run(body)


def _posts(community: Community) -> int:
    (count,) = community.store.db.execute("SELECT count(*) FROM posts").fetchone()
    return int(count)


def test_the_worker_verifies_ahead_and_a_forged_frame_is_still_refused(member: Member) -> None:
    community, key = member
    batches = _frames(community, key, 4)

    async def scenario(worker: SignatureWorker, _: trio.Nursery) -> None:
        forged = [batches[0], forge(batches[1], PER_FRAME // 2), batches[1]]
        outcomes = await _apply_all(worker, community, key, forged)
        assert outcomes == ["applied", "bad_signature", "applied"]
        assert _posts(community) == 2 * PER_FRAME
        assert worker.answered >= 1  # the rest: answered, stolen or in line
        assert await _apply_all(worker, community, key, batches[2:]) == ["applied"] * 2
        assert _posts(community) == 4 * PER_FRAME
        assert len(community.presigned) == 0  # every entry used once, none left over

    _with_worker(None, scenario)


def test_a_worker_that_dies_or_never_starts_leaves_verification_in_line(member: Member) -> None:
    community, key = member
    batches = _frames(community, key, 4)
    # Says it is ready, reads a little of the first request and exits.
    dies = _python("import sys; print('p2pc', end='', flush=True); sys.stdin.read(9)")

    async def scenario(worker: SignatureWorker, nursery: trio.Nursery) -> None:
        outcomes = await _apply_all(worker, community, key, [batches[0], forge(batches[1], 3)])
        assert outcomes == ["applied", "bad_signature"]
        assert worker.answered == 0
        await wait_until(lambda: not worker.running, 10)
        # Once up, a worker that dies is started again with the next big frame;
        # one that never comes up is not.
        assert await worker.warm_up()
        mute = SignatureWorker(lambda: nursery, command=_python("pass"))
        assert not await mute.warm_up()
        mute.prefetch(community, _encode(key, batches[3]))
        assert not mute.running
        missing = SignatureWorker(lambda: nursery, command=["/nonexistent/python"])
        assert not await missing.warm_up()
        outcomes = await _apply_all(missing, community, key, [batches[1], batches[2]])
        assert outcomes == ["applied", "applied"]
        assert not missing.running and missing.answered == 0

    _with_worker(dies, scenario)
    assert _posts(community) == 3 * PER_FRAME


def test_while_waiting_the_loop_verifies_later_frames_itself(
    member: Member, one_in_flight: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    community, key = member
    batches = _frames(community, key, 4)
    # Ready, then never answers: while `ready` waits for the first frame it verifies
    # every queued one itself, a slice at a time; then it gives up on the worker
    # after WAIT_S for good, and the session verifies the first in line.
    stuck = _python("import sys, time; print('p2pc', end='', flush=True); time.sleep(60)")
    monkeypatch.setattr(verifier_module, "WAIT_S", 0.5)

    async def scenario(worker: SignatureWorker, _: trio.Nursery) -> None:
        forged = forge(batches[2], PER_FRAME - 1)  # the very first slice taken
        frames = [batches[0], batches[1], forged, batches[2], batches[3]]
        outcomes = await _apply_all(worker, community, key, frames)
        assert outcomes == ["applied", "applied", "bad_signature", "applied", "applied"]
        assert worker.stolen >= 4 * PER_FRAME and worker.answered == 0
        assert not worker.running

    _with_worker(stuck, scenario)
    assert _posts(community) == 4 * PER_FRAME


def test_a_frame_begun_here_is_finished_by_the_worker(member: Member, one_in_flight: None) -> None:
    community, key = member
    batches = _frames(community, key, 3)
    # A worker that waits before answering the first request: `ready` takes slices
    # of the last frame meanwhile, and the worker gets the rest of it as records.
    slow = _python(
        "import sys, time, p2pcommunity.sigworker as w\n"
        "sys.stdout.buffer.write(w.READY); sys.stdout.buffer.flush(); time.sleep(0.3)\n"
        "w.READY = b''; w.serve(sys.stdin.buffer, sys.stdout.buffer)"
    )

    async def scenario(worker: SignatureWorker, _: trio.Nursery) -> None:
        forged = forge(batches[2], 0)  # the last slice to be taken: the worker's
        frames = [batches[0], batches[1], forged, batches[2]]
        outcomes = await _apply_all(worker, community, key, frames)
        assert outcomes == ["applied", "applied", "bad_signature", "applied"]
        assert worker.stolen > 0 and worker.answered >= 1

    _with_worker(slow, scenario)
    assert _posts(community) == 3 * PER_FRAME


def test_a_node_refuses_a_big_forged_frame_that_its_worker_checked() -> None:
    mallory = DeviceIdentity.generate()

    async def body() -> None:
        async with cluster(1) as (victim,), running_host(mallory, LOOPBACK) as host:
            cid = victim.create_community()
            victim.service.member_add(cid.hex(), mallory.peer_id)
            general = victim.service.channel_id(victim.community(cid).state, "general")
            items = own_changes(cid, mallory, [f"m{i}" for i in range(PER_FRAME)], general)
            forged = forge(items, PER_FRAME // 2)
            worker = victim.node.verifier
            await worker.warm_up()
            hello = framed(encode_frame(HelloFrame(cid, ())))

            def changes(batch: list[SignedChange]) -> bytes:
                return framed(encode_frame(ChangesFrame(mallory.public_key, 0, tuple(batch))))

            before = snapshot(victim.path)
            await speak(host, victim, hello, [changes(forged)])
            assert worker.answered == 1
            assert snapshot(victim.path) == before
            stream = await host.open_stream(victim.peer_id, victim.addrs, SYNC_PROTOCOL)
            try:
                await stream.send_all(hello)
                assert await FrameReader(stream).read_frame() is not None
                await stream.send_all(changes(items))
                await wait_until(lambda: len(victim.read(cid)) == PER_FRAME)
            finally:
                await stream.close()
            assert worker.answered == 2

    run(body)


def test_a_join_starts_the_worker_and_live_posts_do_not() -> None:
    async def body() -> None:
        async with community_cluster(2) as ((owner, member), cid):
            owner.post(cid, "before the join")
            await member.connect(owner, cid)  # a member with no documents: a join
            assert member.node.verifier.running
            for i in range(5):
                member.post(cid, f"live {i}")
            await wait_until(lambda: len(owner.read(cid)) == 6)
            assert not owner.node.verifier.running  # one post a frame: in line

    run(body)
