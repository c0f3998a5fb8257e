"""The sans-I/O sync session: real Services on SQLite files, frames moved in memory."""

from __future__ import annotations

import itertools
import random
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cbor2
import pytest
from nacl.signing import SigningKey

from p2pcommunity.sync.community import Community
from p2pcommunity.sync.crypto import canonical_cbor
from p2pcommunity.sync.docs.apply import SignedChange
from p2pcommunity.sync.docs.memberdoc import DocRef
from p2pcommunity.sync.errors import RemoteProtocolError
from p2pcommunity.sync.log.community_log import SignedOp
from p2pcommunity.sync.peerid import peer_id_from_public_key
from p2pcommunity.sync.protocol.frames import (
    BATCH_BYTES,
    ChangesFrame,
    HeadsFrame,
    HelloFrame,
    OpsFrame,
    RefusedFrame,
    SummaryFrame,
    decode_frame,
    encode_frame,
)
from p2pcommunity.sync.protocol.session import (
    MAX_FRAME_SIZE,
    CaughtUp,
    ChangesApplied,
    Event,
    LocalProtocolError,
    OpsAdded,
    Refused,
    Step,
    SyncSession,
    hello_community,
)
from p2pcommunity.sync.service import Service
from p2pcommunity.sync.storage.store import Store
from tests.sync.builders import snapshot

CLOCK = itertools.count(1_700_000_000_000, 1000)


def now() -> int:
    return next(CLOCK)


class Peer:
    """One device: its key, its store, its Service; sessions poke themselves on writes."""

    def __init__(self, directory: Path, name: str, key: SigningKey | None = None) -> None:
        self.name = name
        self.key = key or SigningKey.generate()
        self.pk = bytes(self.key.verify_key)
        self.peer_id = peer_id_from_public_key(self.pk)
        self.path = directory / f"{name}.sqlite3"
        self.store = Store(self.path)
        self.service = Service(self.store, self.key, now)
        self.endpoints: list[Endpoint] = []
        self.service.on_local_change = lambda community, kind: self.poke()

    def create(self, name: str = "Gardeners") -> bytes:
        return bytes.fromhex(self.service.community_create(name)["community_id"])

    def add(self, cid: bytes, other: Peer) -> None:
        self.service.member_add(cid.hex(), other.peer_id)

    def take_up(self, cid: bytes) -> None:
        """What `join` does first: record the community id, with an empty log."""
        with self.store.transaction():
            self.store.add_community(cid, now())

    def community(self, cid: bytes) -> Community:
        return self.service.community(cid.hex())

    def lookup(self, cid: bytes) -> Community | None:
        return self.community(cid) if cid in self.store.community_ids() else None

    def post(self, cid: bytes, text: str, channel: str = "general") -> str:
        post_id: str = self.service.post(cid.hex(), channel, text)["post_id"]
        return post_id

    def read(self, cid: bytes, channel: str = "general") -> list[dict[str, Any]]:
        posts: list[dict[str, Any]] = self.service.read(cid.hex(), channel, 1000)["posts"]
        return posts

    def ops(self, cid: bytes) -> list[bytes]:
        return [op.data for op in self.community(cid).log.ops_in_order()]

    def poke(self) -> None:
        for endpoint in self.endpoints:
            endpoint.take(endpoint.session.local_changed(now()))


@dataclass(eq=False)
class Endpoint:
    peer: Peer
    session: SyncSession
    outbox: deque[bytes] = field(default_factory=deque)
    events: list[Event] = field(default_factory=list)
    sent: list[bytes] = field(default_factory=list)
    closed: bool = False

    def take(self, step: Step) -> None:
        self.outbox.extend(step.frames)
        self.sent.extend(step.frames)
        self.events.extend(step.events)
        if step.close:
            self.closed = True
        if any(isinstance(e, OpsAdded | ChangesApplied) for e in step.events):
            for other in self.peer.endpoints:  # the node: forward to the other sessions
                if other is not self:
                    other.take(other.session.local_changed(now()))


@dataclass(eq=False)
class Link:
    a: Endpoint  # the initiator
    b: Endpoint

    def pending(self) -> list[tuple[Endpoint, Endpoint]]:
        return [(src, dst) for src, dst in ((self.a, self.b), (self.b, self.a)) if src.outbox]


def connect(a: Peer, b: Peer, cid: bytes, **responder: Any) -> Link:
    initiator = SyncSession(a.community(cid), cid, a.pk, b.pk, initiator=True)
    link = Link(
        Endpoint(a, initiator),
        Endpoint(b, SyncSession.responder(b.lookup, b.pk, a.pk, **responder)),
    )
    a.endpoints.append(link.a)
    b.endpoints.append(link.b)
    link.a.take(initiator.start(now()))
    return link


def deliver(src: Endpoint, dst: Endpoint) -> None:
    frame = src.outbox.popleft()
    if dst.closed:  # the stream is gone
        return
    dst.take(dst.session.receive(frame, now()))


def pump(
    links: list[Link], rnd: random.Random | None = None, max_steps: int = 10_000, steps: int = -1
) -> None:
    """Move frames until none is left (or `steps` were moved), in FIFO order per direction."""
    for _ in range(max_steps if steps < 0 else steps):
        ready = [pair for link in links for pair in link.pending()]
        if not ready:
            return
        deliver(*(rnd.choice(ready) if rnd is not None else ready[0]))
    if steps < 0:
        raise AssertionError("the sessions did not go quiet")


def frames_of(endpoint: Endpoint) -> list[Any]:
    return [decode_frame(f) for f in endpoint.sent]


@pytest.fixture
def tmp(tmp_path: Path) -> Path:
    return tmp_path


def community_of_three(tmp: Path) -> tuple[bytes, Peer, Peer, Peer]:
    """An owner with two members who have each taken the community up and synced once."""
    owner, m1, m2 = Peer(tmp, "owner"), Peer(tmp, "m1"), Peer(tmp, "m2")
    cid = owner.create()
    owner.add(cid, m1)
    owner.add(cid, m2)
    for member in (m1, m2):
        member.take_up(cid)
        link = connect(member, owner, cid)
        pump([link])
        assert any(isinstance(e, CaughtUp) for e in link.a.events)
        owner.endpoints.clear()
        member.endpoints.clear()
    return cid, owner, m1, m2


# --- convergence --------------------------------------------------------------


def test_two_peers_converge_and_a_joiner_with_an_empty_log_pulls_everything(tmp: Path) -> None:
    cid, owner, m1, m2 = community_of_three(tmp)
    joiner = Peer(tmp, "joiner")
    owner.add(cid, joiner)
    owner.service.channel_create(cid.hex(), "random")
    m1.post(cid, "hello from m1")
    m1.post(cid, "second from m1")
    m2.post(cid, "hello from m2")
    owner.post(cid, "welcome")
    for member in (m1, m2):  # the members' devices push their posts to the owner
        pump([connect(member, owner, cid)])
    assert len(owner.read(cid)) == 4

    joiner.take_up(cid)
    assert len(joiner.community(cid).log) == 0
    link = connect(joiner, owner, cid)
    pump([link])

    assert joiner.ops(cid) == owner.ops(cid)
    assert joiner.read(cid) == owner.read(cid)
    assert [p["text"] for p in joiner.read(cid)] == [
        "hello from m1",
        "second from m1",
        "hello from m2",
        "welcome",
    ]
    assert joiner.community(cid).state == owner.community(cid).state
    assert link.a.events.count(CaughtUp()) == 1
    assert link.b.events.count(CaughtUp()) == 1
    assert not link.a.closed and not link.b.closed
    # The owner got nothing back it did not have: no ops, no changes from the joiner.
    assert not any(isinstance(f, OpsFrame | ChangesFrame) for f in frames_of(link.a))


def test_a_post_crosses_a_line_of_three_by_forwarding(tmp: Path) -> None:
    cid, a, b, c = community_of_three(tmp)
    ab, bc = connect(b, a, cid), connect(c, b, cid)
    pump([ab, bc])
    post_id = a.post(cid, "from the far end")  # after the sessions started
    channel = a.service.channel_create(cid.hex(), "news")["channel_id"]
    pump([ab, bc])
    assert [p["id"] for p in c.read(cid)] == [post_id]
    assert c.read(cid) == a.read(cid) == b.read(cid)
    assert c.ops(cid) == a.ops(cid)
    assert c.service.channel_id(c.community(cid).state, "news").hex() == channel
    # And back the other way.
    c.post(cid, "reply from c")
    pump([ab, bc])
    assert a.read(cid) == c.read(cid) and len(a.read(cid)) == 2


def test_live_push_sends_only_the_new_change(tmp: Path) -> None:
    cid, owner, m1, _ = community_of_three(tmp)
    for i in range(3):
        m1.post(cid, f"old {i}")
    link = connect(m1, owner, cid)
    pump([link])
    sent_by_m1, sent_by_owner = len(link.a.sent), len(link.b.sent)

    m1.post(cid, "new")  # the Service hook calls local_changed on m1's session
    new = [decode_frame(f) for f in link.a.sent[sent_by_m1:]]
    assert len(new) == 1
    assert isinstance(new[0], ChangesFrame) and len(new[0].changes) == 1
    pump([link])
    assert link.b.events[-1] == ChangesApplied(DocRef(cid, m1.pk, 0), 1)
    assert len(link.b.sent) == sent_by_owner  # no echo, not even heads
    assert link.b.session.local_changed(now()).frames == []  # forwarding does not echo either
    assert link.a.session.local_changed(now()).frames == []

    owner.service.channel_create(cid.hex(), "later")
    new_owner = [decode_frame(f) for f in link.b.sent[sent_by_owner:]]
    assert [type(f) for f in new_owner] == [HeadsFrame, OpsFrame]
    assert isinstance(new_owner[1], OpsFrame) and len(new_owner[1].ops) == 1
    pump([link])
    assert m1.ops(cid) == owner.ops(cid)


def test_a_change_a_peer_sent_is_never_sent_back_to_it_even_as_a_copy(tmp: Path) -> None:
    cid, a, b, c = community_of_three(tmp)
    ab, ac = connect(b, a, cid), connect(c, a, cid)
    bc = connect(c, b, cid)
    pump([ab, ac, bc])
    c.endpoints.remove(bc.a)  # c pushes on this session only when we say so
    a.post(cid, "from a")  # a pushes it to b and c at once
    pump([ac])  # c has it from a
    pump([ab])  # b has it from a and forwards it to c
    sent_by_c = len(bc.a.sent)
    pump([bc])  # c gets a copy of what it holds
    assert not any(isinstance(e, ChangesApplied) for e in bc.a.events)
    step = bc.a.session.local_changed(now())
    assert not any(isinstance(decode_frame(f), ChangesFrame) for f in step.frames)
    assert len(bc.a.sent) == sent_by_c
    assert b.read(cid) == c.read(cid) == a.read(cid)


def test_big_histories_are_split_under_the_frame_limit(tmp: Path) -> None:
    cid, owner, m1, _ = community_of_three(tmp)
    text = "x" * 7000
    for _ in range(90):  # ~630 KB of changes: more than one batch by bytes
        m1.post(cid, text)
    link = connect(m1, owner, cid)
    pump([link])
    changes = [f for f in frames_of(link.a) if isinstance(f, ChangesFrame)]
    assert len(changes) >= 2
    assert all(len(f) <= MAX_FRAME_SIZE for f in link.a.sent)
    assert all(
        sum(len(c.data) + len(c.signature) for c in f.changes) <= BATCH_BYTES for f in changes
    )
    assert owner.read(cid) == m1.read(cid)


# --- authorization ------------------------------------------------------------


def test_a_non_member_gets_one_refusal_and_nothing_else(tmp: Path) -> None:
    owner, stranger = Peer(tmp, "owner"), Peer(tmp, "stranger")
    cid = owner.create()
    owner.post(cid, "members only")
    stranger.take_up(cid)
    before = snapshot(owner.path)
    link = connect(stranger, owner, cid)
    pump([link])
    assert [decode_frame(f) for f in link.b.sent] == [RefusedFrame("not_member")]
    assert link.b.closed and link.b.session.closed
    assert link.a.events == [Refused("not_member")] and link.a.session.closed
    assert len(stranger.community(cid).log) == 0
    assert stranger.store.docs_of(cid) == []
    assert snapshot(owner.path) == before
    with pytest.raises(RemoteProtocolError):  # frames after close
        link.b.session.receive(encode_frame(HeadsFrame(())), now())


def test_an_unknown_community_is_refused(tmp: Path) -> None:
    a, b = Peer(tmp, "a"), Peer(tmp, "b")
    cid = a.create()
    session = SyncSession.responder(b.lookup, b.pk, a.pk)
    step = session.receive(encode_frame(HelloFrame(cid, ())), now())
    assert [decode_frame(f) for f in step.frames] == [RefusedFrame("unknown_community")]
    assert step.close and session.closed and session.community_id == cid


def test_invite_hook_admits_and_membership_is_rechecked_when_the_log_changes(
    tmp: Path,
) -> None:
    owner, guest = Peer(tmp, "owner"), Peer(tmp, "guest")
    cid = owner.create()
    guest.take_up(cid)
    accepted = {"yes": True}
    seen: list[tuple[bytes, bytes]] = []

    def check(community: Community, peer_key: bytes, invite: bytes) -> str | None:
        seen.append((peer_key, invite))
        return None if accepted["yes"] else "revoked"

    # Without a callable an invite admits no one.
    no_hook = SyncSession.responder(owner.lookup, owner.pk, guest.pk)
    step = no_hook.receive(encode_frame(HelloFrame(cid, (), b"proof")), now())
    assert [decode_frame(f) for f in step.frames] == [RefusedFrame("not_member")]

    session = SyncSession(guest.community(cid), cid, guest.pk, owner.pk, True, invite=b"proof")
    link = Link(
        Endpoint(guest, session),
        Endpoint(
            owner, SyncSession.responder(owner.lookup, owner.pk, guest.pk, check_invite=check)
        ),
    )
    owner.endpoints.append(link.b)
    link.a.take(session.start(now()))
    pump([link])
    assert seen and seen[0] == (guest.pk, b"proof")
    assert guest.ops(cid) == owner.ops(cid)

    accepted["yes"] = False  # say the invite was revoked
    sent = len(link.b.sent)
    owner.service.channel_create(cid.hex(), "after")  # the log changes: check again
    assert [decode_frame(f) for f in link.b.sent[sent:]] == [RefusedFrame("revoked")]
    assert link.b.closed
    pump([link])
    assert len(guest.ops(cid)) == len(owner.ops(cid)) - 1  # the new op never left


# --- attacks ------------------------------------------------------------------


def open_responder(
    owner: Peer, member: Peer, cid: bytes, hello: bytes | None = None
) -> tuple[SyncSession, Step]:
    """A responder at the owner that accepted `member`'s hello (by default: heads as its own)."""
    session = SyncSession.responder(owner.lookup, owner.pk, member.pk)
    if hello is None:
        hello = encode_frame(HelloFrame(cid, tuple(owner.community(cid).log.heads())))
    step = session.receive(hello, now())
    assert not session.closed
    return session, step


def signed_changes(peer: Peer, cid: bytes) -> list[SignedChange]:
    doc_id = DocRef(cid, peer.pk, 0).doc_id
    return [SignedChange(d, s) for _, _, d, s in peer.store.changes_after(doc_id, 0)]


def test_a_forged_change_is_rejected_and_changes_nothing(tmp: Path) -> None:
    cid, owner, m1, _ = community_of_three(tmp)
    m1.post(cid, "mine")
    (change,) = signed_changes(m1, cid)
    forged = SignedChange(change.data, bytes(64))
    before = snapshot(owner.path)
    session, _ = open_responder(owner, m1, cid)
    session.receive(encode_frame(SummaryFrame((), True)), now())
    with pytest.raises(RemoteProtocolError, match="bad_signature"):
        session.receive(encode_frame(ChangesFrame(m1.pk, 0, (forged,))), now())
    assert session.closed
    assert snapshot(owner.path) == before
    assert owner.read(cid) == []


def test_an_equivocating_change_is_rejected_and_changes_nothing(tmp: Path) -> None:
    cid, owner, m1, _ = community_of_three(tmp)
    twin = Peer(tmp, "twin", key=m1.key)  # a second device with the same key, gone rogue
    twin.take_up(cid)
    pump([connect(twin, owner, cid)])
    m1.post(cid, "the real seq 1")
    twin.post(cid, "another seq 1")
    pump([connect(m1, owner, cid)])
    before = snapshot(owner.path)

    # By summary: the twin's head at seq 1 differs from the owner's.
    with pytest.raises(RemoteProtocolError, match="equivocation"):
        pump([connect(twin, owner, cid)])
    # By changes: the twin's seq 1 itself.
    session, _ = open_responder(owner, m1, cid)
    (rogue,) = signed_changes(twin, cid)
    with pytest.raises(RemoteProtocolError, match="equivocation"):
        session.receive(encode_frame(ChangesFrame(m1.pk, 0, (rogue,))), now())
    assert snapshot(owner.path) == before
    assert [p["text"] for p in owner.read(cid)] == ["the real seq 1"]


def _garbage(cid: bytes, op: SignedOp, change: SignedChange, owner: bytes) -> list[bytes]:
    def enc(record: Any) -> bytes:
        return canonical_cbor(record)

    return [
        b"",
        b"\x00",
        b"garbage",
        enc([1, 2, 3]),
        enc({"t": "nope"}),
        enc({"t": 1}),
        enc({"t": "heads"}),
        enc({"t": "heads", "heads": [b"short"]}),
        enc({"t": "heads", "heads": [], "extra": 1}),
        enc({"t": "hello", "v": 1, "c": cid, "heads": []}),  # a second hello
        enc({"t": "ops", "ops": []}),
        enc({"t": "ops", "ops": [[op.data, op.signature[:-1]]]}),
        enc({"t": "ops", "ops": [[op.data[:-1] + b"\x00", op.signature]]}),
        enc({"t": "ops", "ops": [[op.data, bytes(64)]]}),
        enc({"t": "summary", "docs": [[owner, -1, 1, bytes(32)]], "last": True}),
        enc({"t": "summary", "docs": [[owner, 1 << 40, 1, bytes(32)]], "last": True}),
        enc({"t": "summary", "docs": [[owner, 0, 0, bytes(32)]], "last": True}),
        enc({"t": "summary", "docs": [], "last": 1}),
        enc({"t": "changes", "owner": owner, "segment": 0, "changes": []}),
        enc(
            {"t": "changes", "owner": owner, "segment": 0, "changes": [[b"\x85oJ\x83", bytes(64)]]}
        ),
        enc(
            {"t": "changes", "owner": owner, "segment": True, "changes": [[change.data, bytes(64)]]}
        ),
        enc(
            {
                "t": "changes",
                "owner": owner[:5],
                "segment": 0,
                "changes": [[change.data, bytes(64)]],
            }
        ),
        enc({"t": "refused", "reason": ""}),
        cbor2.dumps({"t": "heads", "heads": []}, canonical=False) + b"\x00",
        bytes([0xA2, 0x61, 0x74, 0x65]) + b"heads" + bytes([0x65]) + b"heads" + bytes([0x9F, 0xFF]),
        bytes(MAX_FRAME_SIZE + 1),
    ]


def test_garbage_frames_raise_and_change_nothing(tmp: Path) -> None:
    cid, owner, m1, m2 = community_of_three(tmp)
    m2.post(cid, "not at the owner yet")
    op = m1.community(cid).log.ops_in_order()[-1]
    (change,) = signed_changes(m2, cid)
    # An op the owner does not have yet: from a fresh community of m1's.
    other = m1.create("Other")
    fresh_op = m1.community(other).log.ops_in_order()[-1]
    before = snapshot(owner.path)
    for frame in [*_garbage(cid, op, change, m2.pk), encode_frame(OpsFrame((fresh_op,)))]:
        session, _ = open_responder(owner, m1, cid)
        with pytest.raises(RemoteProtocolError):
            session.receive(frame, now())
        assert session.closed
    assert snapshot(owner.path) == before


def test_misuse_is_a_local_error(tmp: Path) -> None:
    a, b = Peer(tmp, "a"), Peer(tmp, "b")
    cid = a.create()
    session = SyncSession(a.community(cid), cid, a.pk, b.pk, initiator=True)
    with pytest.raises(LocalProtocolError):
        session.receive(encode_frame(HeadsFrame(())), now())
    session.start(now())
    with pytest.raises(LocalProtocolError):
        session.start(now())
    with pytest.raises(LocalProtocolError):
        SyncSession(None, cid, a.pk, b.pk, initiator=True)
    assert hello_community(encode_frame(HelloFrame(cid, ()))) == cid
    with pytest.raises(RemoteProtocolError):
        hello_community(encode_frame(HeadsFrame(())))
