"""The dialer keeps a bounded, random mesh per community (`Limits.mesh_peers`)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from nacl.signing import SigningKey

from p2pcommunity.dialer import Dialer
from p2pcommunity.net.limits import Limits
from p2pcommunity.sync.peerid import peer_id_from_public_key

COMMUNITY = b"c" * 32


def _key() -> bytes:
    return bytes(SigningKey.generate().verify_key)


@dataclass
class FakeState:
    members: dict[bytes, Any]
    nodes: dict[bytes, str] = field(default_factory=dict)
    removed: set[bytes] = field(default_factory=set)

    def is_member(self, key: bytes) -> bool:
        return key in self.members and key not in self.removed


@dataclass
class FakeCommunity:
    state: FakeState
    id: bytes = COMMUNITY


@dataclass
class FakeSession:
    peer_id: str
    community_id: bytes = COMMUNITY


class FakeNodeSupport:
    def __init__(self, addrs: dict[str, list[str]]) -> None:
        self.addrs = addrs

    def member_addrs(self) -> dict[str, list[str]]:
        return self.addrs


class FakeService:
    def __init__(self, community: FakeCommunity, addrs: dict[str, list[str]]) -> None:
        self.community = community
        self.node_support = FakeNodeSupport(addrs)

    def communities(self) -> list[FakeCommunity]:
        return [self.community]


class FakeIdentity:
    def __init__(self, key: bytes) -> None:
        self.peer_id = peer_id_from_public_key(key)


class FakeNode:
    def __init__(self, me: bytes, service: FakeService, mesh_peers: int) -> None:
        self.identity = FakeIdentity(me)
        self.service = service
        self.limits = Limits(mesh_peers=mesh_peers)
        self.sessions: list[FakeSession] = []

    def sessions_of(self, community_id: bytes) -> list[FakeSession]:
        return [s for s in self.sessions if s.community_id == community_id]

    def room_for(self, peer_id: str) -> bool:
        return True


def _community(members: int, listed: int = 0) -> tuple[bytes, FakeState, dict[str, list[str]]]:
    me = _key()
    keys = [me] + [_key() for _ in range(members)]
    state = FakeState({k: object() for k in keys})
    for key in keys[1 : 1 + listed]:
        state.nodes[key] = f"/ip4/127.0.0.1/tcp/1/p2p/{peer_id_from_public_key(key)}"
    addrs = {
        peer_id_from_public_key(k): [f"/ip4/127.0.0.1/tcp/{i + 2}"] for i, k in enumerate(keys[1:])
    }
    return me, state, addrs


def _dialer(me: bytes, state: FakeState, addrs: dict[str, list[str]], mesh: int) -> Dialer:
    node = FakeNode(me, FakeService(FakeCommunity(state), addrs), mesh)
    return Dialer(node, [], random.Random(7))  # type: ignore[arg-type]


def test_a_big_community_gets_mesh_peers_sessions_not_a_full_mesh() -> None:
    me, state, addrs = _community(members=30)
    planned = [peer for peer, _, _ in _dialer(me, state, addrs, mesh=4).plan(0.0)]
    assert len(planned) == 4
    assert len(set(planned)) == 4
    assert peer_id_from_public_key(me) not in planned


def test_existing_sessions_count_and_only_the_missing_ones_are_dialed() -> None:
    me, state, addrs = _community(members=30)
    dialer = _dialer(me, state, addrs, mesh=4)
    have = list(addrs)[:3]
    dialer.node.sessions = [FakeSession(p) for p in have]  # type: ignore[attr-defined]
    planned = [peer for peer, _, _ in dialer.plan(0.0)]
    assert len(planned) == 1 and planned[0] not in have
    dialer.node.sessions.append(FakeSession(planned[0]))  # type: ignore[attr-defined]
    assert dialer.plan(0.0) == []


def test_listed_nodes_are_always_dialed_on_top_of_the_mesh() -> None:
    me, state, addrs = _community(members=30, listed=2)
    planned = [peer for peer, _, _ in _dialer(me, state, addrs, mesh=3).plan(0.0)]
    listed = {peer_id_from_public_key(k) for k in state.nodes}
    assert listed <= set(planned)
    assert len(planned) == 2 + 3


def test_picks_differ_between_nodes_and_skip_removed_members_and_backoff() -> None:
    me, state, addrs = _community(members=30)
    removed = sorted(state.members)[1:6]
    state.removed.update(removed)
    dialer = _dialer(me, state, addrs, mesh=5)
    first = {peer for peer, _, _ in dialer.plan(0.0)}
    assert not first & {peer_id_from_public_key(k) for k in removed}
    # Peers in backoff are skipped and others take their place.
    for peer in first:
        dialer._next_try[peer] = 100.0
    second = {peer for peer, _, _ in dialer.plan(0.0)}
    assert len(second) == 5 and not first & second
    other = Dialer(dialer.node, [], random.Random(8))
    assert {peer for peer, _, _ in other.plan(200.0)} != first


def test_a_member_seen_on_the_lan_is_dialed_there_first_and_out_of_backoff() -> None:
    me, state, addrs = _community(members=1)
    dialer = _dialer(me, state, addrs, mesh=4)
    (peer,) = addrs
    dialer._next_try[peer] = 100.0  # its known address failed
    assert dialer.plan(0.0) == []
    dialer.found_on_lan(peer, ["/ip4/192.0.2.9/tcp/4001"])
    ((planned, planned_addrs, _),) = dialer.plan(0.0)
    assert planned == peer
    assert planned_addrs == ["/ip4/192.0.2.9/tcp/4001", *addrs[peer]]
    dialer.lost_on_lan(peer)
    assert dialer.plan(0.0)[0][1] == addrs[peer]
