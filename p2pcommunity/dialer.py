"""The dialer: which peers a node keeps sync sessions with, and retrying them.

A round plans sessions from the communities' state (listed always-on nodes,
bootstrap flags, a random few members) and opens them concurrently; an
unreachable peer is retried with exponential backoff. Between rounds, the
idle time catches the search index up.
"""

from __future__ import annotations

import logging
import random

import trio

from p2pcommunity.addrs import peer_of
from p2pcommunity.net.dial import backoff_delays
from p2pcommunity.net.node import Node
from p2pcommunity.sync.community import Community
from p2pcommunity.sync.errors import Invalid
from p2pcommunity.sync.peerid import peer_id_from_public_key

log = logging.getLogger(__name__)

DIAL_INTERVAL_S = 5.0
DIAL_TIMEOUT_S = 5.0


class Dialer:
    """Keeps each community's sessions up: its listed always-on nodes always,
    then up to `mesh_peers` more: the bootstrap peers first, then members
    picked at random.

    A random subset rather than every member: each change reaches a node once
    per session it has, so a full mesh makes every node's cost per post grow
    with the community, while a few random links already keep the mesh
    connected (changes are forwarded hop by hop)."""

    def __init__(self, node: Node, bootstrap: list[str], rng: random.Random | None = None) -> None:
        self.node = node
        self.bootstrap = bootstrap
        self.rng = rng or random.Random()
        self._failures: dict[str, int] = {}
        self._next_try: dict[str, float] = {}
        self.lan: dict[str, list[str]] = {}  # members seen on the LAN (net/lan.py), tried first

    def found_on_lan(self, peer: str, addrs: list[str]) -> None:
        """A member advertised itself on the LAN: try there at once, whatever failed before."""
        if self.lan.get(peer) != addrs:
            self.lan[peer] = addrs
            self._failures.pop(peer, None)
            self._next_try.pop(peer, None)

    def lost_on_lan(self, peer: str) -> None:
        self.lan.pop(peer, None)

    def targets(self) -> dict[str, list[str]]:
        """peer id -> addresses: the communities' listed always-on nodes first, then
        bootstrap flags and members' published addresses (dials start in this order)."""
        found: dict[str, list[str]] = {}
        for peer, addr in self._listed():
            bucket = found.setdefault(peer, [])
            if addr and addr not in bucket:
                bucket.append(addr)
        for addr in self.bootstrap:
            found.setdefault(peer_of(addr), []).append(addr)
        members = self.node.service.node_support.member_addrs()
        for peer, addrs in members.items():
            bucket = found.setdefault(peer, [])
            bucket.extend(a for a in [*self.lan.get(peer, []), *addrs] if a not in bucket)
        found.pop(self.node.identity.peer_id, None)
        return {peer: addrs for peer, addrs in found.items() if addrs}

    def _listed(self, community: Community | None = None) -> list[tuple[str, str]]:
        out = []
        for held in [community] if community else self.node.service.communities():
            for key, addr in sorted(held.state.nodes.items()):
                try:
                    out.append((peer_id_from_public_key(key), addr))
                except Invalid:  # a listed key we cannot use is skipped, not fatal
                    continue
        return out

    def plan(self, now: float) -> list[tuple[str, list[str], Community]]:
        """The sessions to open this round: (peer, its addresses, community)."""
        targets = self.targets()
        me = self.node.identity.peer_id
        bootstrap = [peer_of(addr) for addr in self.bootstrap]
        sessions: list[tuple[str, list[str], Community]] = []
        for community in self.node.service.communities():
            have = {r.peer_id for r in self.node.sessions_of(community.id)}
            listed = {peer for peer, _ in self._listed(community)}
            members = [
                peer_id_from_public_key(key)
                for key in sorted(community.state.members)
                if community.state.is_member(key)
            ]
            self.rng.shuffle(members)
            room = self.node.limits.mesh_peers - len(have - listed)
            for peer in dict.fromkeys([*sorted(listed), *bootstrap, *members]):
                counted = peer not in listed
                if counted and room <= 0:
                    break
                if peer == me or peer in have or peer not in targets:
                    continue
                if self._next_try.get(peer, 0) > now or not self.node.room_for(peer):
                    continue
                sessions.append((peer, targets[peer], community))
                room -= counted
        return sessions

    async def run(self) -> None:
        while True:
            await self.dial_round()
            # Idle time: catch the search index up with posts that arrived.
            await self.node.index_search()
            await trio.sleep(DIAL_INTERVAL_S)

    async def dial_round(self) -> None:
        by_peer: dict[str, tuple[list[str], list[Community]]] = {}
        for peer, addrs, community in self.plan(trio.current_time()):
            by_peer.setdefault(peer, (addrs, []))[1].append(community)
        async with trio.open_nursery() as nursery:
            for peer, (addrs, communities) in by_peer.items():
                nursery.start_soon(self._sync_with, peer, addrs, communities)

    async def _sync_with(self, peer: str, addrs: list[str], communities: list[Community]) -> None:
        node = self.node
        for community in communities:
            if node.has_session(peer, community.id):
                continue
            try:
                with trio.fail_after(DIAL_TIMEOUT_S):
                    await node.open_session(peer, addrs, community)
            except Exception as exc:  # noqa: BLE001 -- unreachable peers are normal
                failures = self._failures.get(peer, 0) + 1
                self._failures[peer] = failures
                # backoff_delays(n) gives the n-1 waits between n tries: the last is ours.
                delay = backoff_delays(min(failures, 8) + 1, DIAL_INTERVAL_S, 300.0, lambda: 1.0)[
                    -1
                ]
                self._next_try[peer] = trio.current_time() + delay
                log.info("cannot reach %s (%s); next try in %.0f s", peer, exc, delay)
                return
            self._failures.pop(peer, None)
