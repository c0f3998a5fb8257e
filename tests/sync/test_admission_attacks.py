"""Attacks on admission and on the log, sans-I/O (issue 11, findings 1 and 2).

Each test plays a hostile peer against real Services on SQLite files and
asserts both sides: the attack is refused with nothing stored, and the
community goes on working for its members.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path
from typing import Any

import pytest
from nacl.signing import SigningKey

from p2pcommunity.sync.crypto import OP_TAG, canonical_cbor, sha256, sign
from p2pcommunity.sync.errors import Rejected, RemoteProtocolError
from p2pcommunity.sync.invite import InviteCode, encode_presented, invite_proof
from p2pcommunity.sync.log.community_log import SignedOp, make_op
from p2pcommunity.sync.log.envelope import MAX_PARENTS, decode_op
from p2pcommunity.sync.log.ops import Role
from p2pcommunity.sync.peerid import peer_id_from_public_key
from p2pcommunity.sync.protocol.frames import (
    DocSummary,
    HelloFrame,
    OpsFrame,
    SummaryFrame,
    decode_frame,
    encode_frame,
)
from p2pcommunity.sync.protocol.session import RefusedFrame, SessionLimits, SyncSession
from p2pcommunity.sync.service import Service
from p2pcommunity.sync.storage.store import Store
from tests.sync.builders import MovableClock, snapshot

HOUR_MS = 3_600_000


class Device:
    """A key, a store and a Service with a clock the test moves."""

    def __init__(self, directory: Path, name: str, clock: MovableClock) -> None:
        self.key = SigningKey.generate()
        self.pk = bytes(self.key.verify_key)
        self.peer_id = peer_id_from_public_key(self.pk)
        self.path = directory / f"{name}.sqlite3"
        self.store = Store(self.path)
        self.service = Service(self.store, self.key, clock)
        self.clock = clock

    def responder(self, peer_key: bytes, **limits: Any) -> SyncSession:
        return SyncSession.responder(
            self.lookup,
            self.pk,
            peer_key,
            check_invite=self.service.governance.admit,
            limits=SessionLimits(**limits) if limits else None,
        )

    def lookup(self, cid: bytes) -> Any:
        return self.service.community(cid.hex()) if cid in self.store.community_ids() else None

    def log(self, cid: bytes) -> Any:
        return self.service.community(cid.hex()).log


@pytest.fixture
def world(tmp_path: Path) -> dict[str, Any]:
    clock = MovableClock()
    owner = Device(tmp_path, "owner", clock)
    cid = bytes.fromhex(owner.service.community_create("Gardeners")["community_id"])
    owner.service.post(cid.hex(), "general", "members only")
    return {"clock": clock, "owner": owner, "cid": cid, "dir": tmp_path}


def add_member(world: dict[str, Any], name: str) -> Device:
    """A device the owner adds with `member add`."""
    device = Device(world["dir"], name, world["clock"])
    world["owner"].service.member_add(world["cid"].hex(), device.peer_id)
    return device


def new_invite(owner: Device, cid: bytes, **kwargs: Any) -> InviteCode:
    return InviteCode.decode(owner.service.governance.invite_create(cid.hex(), **kwargs)["invite"])


def presented_by(key: SigningKey, code: InviteCode, invite_op: SignedOp | None = None) -> bytes:
    op = invite_op or code.invite_op
    proof = invite_proof(code.invite_key, code.community_id, bytes(key.verify_key), op.hash)
    return encode_presented(op, proof)


def hello(session: SyncSession, cid: bytes, invite: bytes | None, now_ms: int) -> list[Any]:
    step = session.receive(encode_frame(HelloFrame(cid, (), invite)), now_ms)
    return [decode_frame(f) for f in step.frames]


# --- finding 1: strangers write nothing -----------------------------------------


def test_strangers_hellos_store_nothing_and_are_forwarded_nowhere(world: dict[str, Any]) -> None:
    owner, cid, clock = world["owner"], world["cid"], world["clock"]
    code = new_invite(owner, cid, uses=1)
    log = owner.log(cid)
    heads = log.heads()
    before, ops_before = snapshot(owner.path), len(log)
    junk_kinds = itertools.cycle(["v2", "join", "forged_invite", "bad_proof", "garbage"])
    for i, kind in zip(range(300), junk_kinds, strict=False):
        stranger = SigningKey(i.to_bytes(2, "big") * 16)
        ms = clock()
        if kind == "v2":  # a newer version's op: once stored unread and forwarded
            op = make_op(stranger, cid, heads, "anything", {"i": i}, ms, version=2)
            invite = encode_presented(op, b"\x00" * 64)
        elif kind == "join":  # a join op of the stranger's own, dressed as the invite
            body = {"invite": code.invite_op.hash, "proof": b"\x01" * 64}
            invite = encode_presented(make_op(stranger, cid, heads, "join", body, ms), b"")
        elif kind == "forged_invite":  # an invite_create signed by a non-admin
            body = {
                "invite_key": bytes(stranger.verify_key),
                "role": "moderator",
                "expires_ms": ms + HOUR_MS,
                "uses": 5,
            }
            forged = make_op(stranger, cid, heads, "invite_create", body, ms)
            invite = presented_by(stranger, code, forged)
        elif kind == "bad_proof":  # the real invite op, without its secret
            invite = encode_presented(code.invite_op, bytes(64))
        else:
            invite = os.urandom(200)
        frames = hello(owner.responder(bytes(stranger.verify_key)), cid, invite, ms)
        assert len(frames) == 1 and isinstance(frames[0], RefusedFrame), kind
        assert frames[0].reason in {"not_found", "bad_proof"}, kind
    assert len(log) == ops_before and log.buffered() == 0
    assert snapshot(owner.path) == before


def test_an_admitted_joiner_is_witnessed_by_the_admitters_own_op(world: dict[str, Any]) -> None:
    owner, cid, clock = world["owner"], world["cid"], world["clock"]
    code = new_invite(owner, cid, uses=2, role="moderator")
    joiner = SigningKey.generate()
    frames = hello(
        owner.responder(bytes(joiner.verify_key)), cid, presented_by(joiner, code), clock()
    )
    assert not any(isinstance(f, RefusedFrame) for f in frames)
    log = owner.log(cid)
    admit = decode_op(*_last(log), cid)
    assert admit.type == "admit" and admit.author == owner.pk
    assert admit.body["member"] == bytes(joiner.verify_key)
    assert log.state().role_of(bytes(joiner.verify_key)) is Role.MODERATOR
    assert log.state().invites[code.invite_op.hash].used == 1
    # A second hello of the same joiner writes nothing more.
    count = len(log)
    hello(owner.responder(bytes(joiner.verify_key)), cid, presented_by(joiner, code), clock())
    assert len(log) == count


def _last(log: Any) -> tuple[bytes, bytes]:
    op = log.ops_in_order()[-1]
    return op.data, op.signature


def test_a_hello_with_a_valid_invite_op_we_lack_stores_it_only_on_admission(
    world: dict[str, Any], tmp_path: Path
) -> None:
    owner, cid, clock = world["owner"], world["cid"], world["clock"]
    member = add_member(world, "member")
    _copy_log(owner, member, cid)
    code = new_invite(owner, cid, uses=1)  # the member's node has not seen it
    assert not member.log(cid).has(code.invite_op.hash)
    before = snapshot(member.path)
    refused = hello(
        member.responder(bytes(32)), cid, encode_presented(code.invite_op, bytes(64)), clock()
    )
    assert refused == [RefusedFrame("bad_proof")] and snapshot(member.path) == before
    joiner = SigningKey.generate()
    frames = hello(
        member.responder(bytes(joiner.verify_key)), cid, presented_by(joiner, code), clock()
    )
    assert not any(isinstance(f, RefusedFrame) for f in frames)
    assert member.log(cid).has(code.invite_op.hash)
    assert member.log(cid).state().is_member(bytes(joiner.verify_key))


def _copy_log(src: Device, dst: Device, cid: bytes) -> None:
    with dst.store.transaction():
        dst.store.add_community(cid, src.clock())
    dst.service.community(cid.hex()).receive_ops(src.log(cid).ops_in_order())


def test_many_heads_never_freeze_governance(world: dict[str, Any], tmp_path: Path) -> None:
    """2,000 concurrent ops (a flood by one member) and the admin still acts."""
    owner, cid, clock = world["owner"], world["cid"], world["clock"]
    flooder = add_member(world, "flooder")
    community = owner.service.community(cid.hex())
    base = community.log.heads()
    flood = [
        make_op(flooder.key, cid, base, "anything", {"i": i}, clock(), version=2)
        for i in range(2000)
    ]
    assert community.receive_ops(flood) and len(community.log.heads()) == 2000
    result = owner.service.governance.invite_create(cid.hex())
    op = community.log.get(bytes.fromhex(result["invite_id"]))
    assert len(decode_op(op.data, op.signature, cid).parents) <= MAX_PARENTS
    assert community.log.heads() == [op.hash]
    owner.service.channel_create(cid.hex(), "still-governed")
    # A peer that gets the whole log accepts it, merges included.
    fresh = Device(tmp_path, "fresh", clock)
    _copy_log(owner, fresh, cid)
    assert fresh.log(cid).state().channel_by_name("still-governed") is not None


def test_an_op_with_too_many_parents_is_refused(world: dict[str, Any]) -> None:
    owner, cid, clock = world["owner"], world["cid"], world["clock"]
    parents = [bytes([i]) * 32 for i in range(MAX_PARENTS + 1)]
    record = {
        "v": 1,
        "c": cid,
        "a": owner.pk,
        "p": sorted(parents),
        "t": "merge",
        "b": {},
        "ms": clock(),
    }
    data = canonical_cbor(record)
    signed = SignedOp(data, sign(owner.key, OP_TAG, cid, sha256(data)))
    with pytest.raises(Rejected, match="parents"):
        owner.log(cid).add(signed)


# --- finding 2: admission the joiner cannot backdate or grind --------------------


def test_expired_and_revoked_invites_admit_no_one(world: dict[str, Any]) -> None:
    owner, cid, clock = world["owner"], world["cid"], world["clock"]
    expiring = new_invite(owner, cid, expires="1h", uses=5)
    revoked = new_invite(owner, cid, expires="7d", uses=5)
    owner.service.governance.invite_revoke(cid.hex(), revoked.invite_op.hash.hex())
    clock.ms += 2 * HOUR_MS
    before = snapshot(owner.path)
    attacker = SigningKey.generate()
    for code, reason in ((expiring, "expired"), (revoked, "revoked")):
        frames = hello(
            owner.responder(bytes(attacker.verify_key)), cid, presented_by(attacker, code), clock()
        )
        assert frames == [RefusedFrame(reason)]
    assert snapshot(owner.path) == before


def test_a_backdated_join_op_admits_no_one(world: dict[str, Any]) -> None:
    """The 0.1.0 hole: a join op of the joiner's own, with parents from before the
    revocation and a time before the expiry. Invites made now refuse it outright."""
    owner, cid, clock = world["owner"], world["cid"], world["clock"]
    community = owner.service.community(cid.hex())
    code = new_invite(owner, cid, expires="1h", uses=5)
    old_heads = community.log.heads()
    owner.service.governance.invite_revoke(cid.hex(), code.invite_op.hash.hex())
    clock.ms += 2 * HOUR_MS
    attacker = SigningKey.generate()
    proof = invite_proof(code.invite_key, cid, bytes(attacker.verify_key), code.invite_op.hash)
    invite_ms = decode_op(*_pair(code.invite_op), cid).ms
    body = {"invite": code.invite_op.hash, "proof": proof}
    backdated = make_op(attacker, cid, old_heads, "join", body, invite_ms + 1)
    before = snapshot(owner.path)
    with pytest.raises(Rejected, match="witnessed"):
        community.receive_ops([backdated])
    assert not community.state.is_member(bytes(attacker.verify_key))
    assert snapshot(owner.path) == before


def _pair(op: SignedOp) -> tuple[bytes, bytes]:
    return op.data, op.signature


def test_concurrent_uses_are_ordered_by_the_admitter_not_the_joiner(
    world: dict[str, Any], tmp_path: Path
) -> None:
    """A one-use invite admitted twice concurrently (by two members who had not
    seen each other's admission): every peer keeps the same one, and the
    joiner's own choices (its key, grinding) do not decide which."""
    owner, cid, clock = world["owner"], world["cid"], world["clock"]
    m1, m2 = add_member(world, "m1"), add_member(world, "m2")
    code = new_invite(owner, cid, uses=1)
    for m in (m1, m2):
        _copy_log(owner, m, cid)
    legit, attacker = SigningKey.generate(), SigningKey.generate()
    hello(m1.responder(bytes(legit.verify_key)), cid, presented_by(legit, code), clock())
    hello(m2.responder(bytes(attacker.verify_key)), cid, presented_by(attacker, code), clock())
    admits = [m.log(cid).ops_in_order()[-1] for m in (m1, m2)]
    assert all(decode_op(*_pair(a), cid).type == "admit" for a in admits)
    # The admit op's hash, which orders the race, carries the admitter's random
    # nonce: nothing the joiner sends fixes it.
    assert len({decode_op(*_pair(a), cid).body["nonce"] for a in admits}) == 2
    outcomes = set()
    for peer in (owner, m1, m2):
        peer.service.community(cid.hex()).receive_ops(admits)
        state = peer.log(cid).state()
        outcomes.add(
            (state.is_member(bytes(legit.verify_key)), state.is_member(bytes(attacker.verify_key)))
        )
        assert state.invites[code.invite_op.hash].used == 1
    assert len(outcomes) == 1 and outcomes.pop() in {(True, False), (False, True)}


def test_a_later_admission_never_unseats_an_earlier_member(
    world: dict[str, Any], tmp_path: Path
) -> None:
    owner, cid, clock = world["owner"], world["cid"], world["clock"]
    m1 = add_member(world, "m1")
    code = new_invite(owner, cid, uses=1)
    _copy_log(owner, m1, cid)
    legit = SigningKey.generate()
    hello(owner.responder(bytes(legit.verify_key)), cid, presented_by(legit, code), clock())
    m1.service.community(cid.hex()).receive_ops(owner.log(cid).ops_in_order())
    for i in range(30):  # grinding keys changes nothing: the use is gone in m1's view
        attacker = SigningKey(bytes([i + 1]) * 32)
        frames = hello(
            m1.responder(bytes(attacker.verify_key)), cid, presented_by(attacker, code), clock()
        )
        assert frames == [RefusedFrame("used_up")]
    assert m1.log(cid).state().is_member(bytes(legit.verify_key))


# --- the session's own bounds ------------------------------------------------------


def _member_session(owner: Device, cid: bytes, member: Device, **limits: Any) -> SyncSession:
    session = owner.responder(member.pk, **limits)
    heads = tuple(owner.log(cid).heads())
    session.receive(encode_frame(HelloFrame(cid, heads)), owner.clock())
    assert not session.closed
    return session


def test_ops_waiting_for_parents_are_bounded_per_session_and_never_stored(
    world: dict[str, Any], tmp_path: Path
) -> None:
    owner, cid, clock = world["owner"], world["cid"], world["clock"]
    member = add_member(world, "member")
    session = _member_session(owner, cid, member, max_pending_ops=50)
    before = snapshot(owner.path)
    unknown = [os.urandom(32)]
    orphans = [
        make_op(member.key, cid, unknown, "anything", {"i": i}, clock(), version=2)
        for i in range(49)
    ]
    session.receive(encode_frame(OpsFrame(tuple(orphans))), clock())
    assert snapshot(owner.path) == before and owner.log(cid).buffered() == 0
    more = [
        make_op(member.key, cid, unknown, "anything", {"i": i}, clock(), version=2)
        for i in range(2)
    ]
    with pytest.raises(Rejected, match="buffer_full"):
        session.receive(encode_frame(OpsFrame(tuple(more))), clock())
    assert session.closed and snapshot(owner.path) == before
    # Another member's session is unaffected: its own buffer, its own bound.
    other = _member_session(owner, cid, member, max_pending_ops=50)
    other.receive(encode_frame(OpsFrame(tuple(more))), clock())
    assert not other.closed


def test_summary_entries_are_bounded_per_session(world: dict[str, Any], tmp_path: Path) -> None:
    owner, cid, clock = world["owner"], world["cid"], world["clock"]
    member = add_member(world, "member")
    session = _member_session(owner, cid, member, max_summary_entries=5000)
    strangers = [DocSummary(os.urandom(32), segment, 7, os.urandom(32)) for segment in range(4000)]
    session.receive(encode_frame(SummaryFrame(tuple(strangers), last=False)), clock())
    assert session._peer_seq == {} and session._behind == set()  # non-members: nothing kept
    with pytest.raises(RemoteProtocolError, match="summary entries"):
        session.receive(encode_frame(SummaryFrame(tuple(strangers[:1001]), last=False)), clock())
    assert session.closed
