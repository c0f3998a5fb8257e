"""Property tests of the sync session: fuzzed frames, convergence under random delivery."""

from __future__ import annotations

import random
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from p2pcommunity.sync.errors import RemoteProtocolError
from p2pcommunity.sync.protocol.frames import (
    ChangesFrame,
    HeadsFrame,
    HelloFrame,
    SummaryFrame,
    decode_frame,
)
from p2pcommunity.sync.protocol.session import (
    CaughtUp,
    SyncSession,
)
from tests.sync.builders import snapshot
from tests.sync.test_protocol import (
    Peer,
    community_of_three,
    connect,
    now,
    open_responder,
    pump,
)

# --- property tests -----------------------------------------------------------


@pytest.fixture(scope="module")
def fuzz_world() -> Iterator[tuple[Peer, Peer, bytes, list[bytes]]]:
    """An owner, a member with content the owner lacks, and the valid frames between them."""
    with tempfile.TemporaryDirectory() as directory:
        cid, owner, _, m2 = community_of_three(Path(directory))
        m2.post(cid, "unseen by the owner")
        m2.service.profile_set("m2", "bio")
        owner.post(cid, "unseen by m2")
        # Record a real exchange without letting the owner apply anything.
        session = SyncSession(m2.community(cid), cid, m2.pk, owner.pk, initiator=True)
        frames = list(session.start(now()).frames)
        reply = open_responder(owner, m2, cid, frames[0])[1].frames
        for frame in reply:
            frames.extend(session.receive(frame, now()).frames)
        frames.extend(reply)
        assert {type(decode_frame(f)) for f in frames} >= {
            HelloFrame,
            SummaryFrame,
            ChangesFrame,
            HeadsFrame,
        }
        yield owner, m2, cid, frames


def _mutate(data: bytes, edits: list[tuple[int, int]]) -> bytes:
    out = bytearray(data)
    for position, value in edits:
        if out:
            out[position % len(out)] = value
    return bytes(out)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    data=st.binary(max_size=200),
    index=st.integers(0, 100),
    edits=st.lists(st.tuples(st.integers(0, 1 << 20), st.integers(0, 255)), max_size=4),
    truncate=st.integers(0, 1 << 20),
    mode=st.sampled_from(["random", "mutate", "truncate"]),
)
def test_fuzz_frames_raise_only_remote_errors_and_change_nothing(
    fuzz_world: tuple[Peer, Peer, bytes, list[bytes]],
    data: bytes,
    index: int,
    edits: list[tuple[int, int]],
    truncate: int,
    mode: str,
) -> None:
    owner, member, cid, frames = fuzz_world
    base = frames[index % len(frames)]
    frame = {
        "random": data,
        "mutate": _mutate(base, edits),
        "truncate": base[: truncate % max(len(base), 1)],
    }[mode]
    before = snapshot(owner.path)
    session, _ = open_responder(owner, member, cid)
    try:
        session.receive(frame, now())
    except RemoteProtocolError:
        assert session.closed
    assert snapshot(owner.path) == before or _only_valid(frame, base)


def _only_valid(frame: bytes, base: bytes) -> bool:
    """A mutation that is still a valid frame may legitimately apply (e.g. hit an unused byte)."""
    return frame == base


# The convergence property: three peers, random writes, random delivery orders.

Action = tuple[str, int, int]


@settings(max_examples=12, deadline=None)
@given(
    actions=st.lists(
        st.tuples(
            st.sampled_from(["post", "post", "channel", "pump"]),
            st.integers(0, 2),
            st.integers(1, 6),
        ),
        min_size=1,
        max_size=12,
    ),
    seed=st.integers(0, 2**32 - 1),
)
def test_convergence_under_random_writes_and_delivery(actions: list[Action], seed: int) -> None:
    rnd = random.Random(seed)
    with tempfile.TemporaryDirectory() as directory:
        cid, a, b, c = community_of_three(Path(directory))
        peers = [a, b, c]
        links = [connect(b, a, cid), connect(c, a, cid), connect(c, b, cid)]
        for n, (kind, who, count) in enumerate(actions):
            if kind == "post":
                peers[who].post(cid, f"post {n} by {peers[who].name}")
            elif kind == "channel":
                a.service.channel_create(cid.hex(), f"c{n}")
            else:
                pump(links, rnd, steps=count)
        pump(links, rnd)

        assert not any(e.closed for link in links for e in (link.a, link.b))
        reads = [p.read(cid) for p in peers]
        assert reads[0] == reads[1] == reads[2]
        assert a.ops(cid) == b.ops(cid) == c.ops(cid)
        assert a.community(cid).state == b.community(cid).state == c.community(cid).state
        posts = sum(1 for kind, _, _ in actions if kind == "post")
        assert len(reads[0]) == posts
        for link in links:
            assert CaughtUp() in link.a.events and CaughtUp() in link.b.events
