"""The running node: libp2p host, sync sessions, the control API, one trio loop.

The node is glue. Each sync stream gets a `SessionRunner` (session_runner.py)
that moves frames between the stream and a sans-I/O `SyncSession`;
everything the session decides is in sync/. The node keeps the runners, tells
the connection gate (gate.py) who is a member, fans what a session applied
out to the other sessions and to control-API events, and witnesses arrivals
(docs/safety.md).

What a hostile peer can make the node hold is bounded (issue 11): a sync
stream must deliver its hello within `hello_timeout_s`, and the bytes of
first frames still arriving are reserved against `max_hello_bytes*` before
they are buffered; each peer's frames may cost the loop
`cpu_budget_per_peer` seconds a second, measured around decode +
`session.receive`: over it, that peer's next frames wait while other peers
and the control API go on. What one session may buffer is bounded in its
runner; connection and stream limits live in gate.py.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import trio

from p2pcommunity.identity import DeviceIdentity
from p2pcommunity.net.connections import connections
from p2pcommunity.net.framing import read_frame
from p2pcommunity.net.gate import MEMBER, PRESENTING, STRANGER
from p2pcommunity.net.host import NodeHost
from p2pcommunity.net.limits import ByteBudget, CpuBudget, Limits
from p2pcommunity.net.metrics import CountingStream, NodeMetrics

# Re-exported: tests, benchmarks and joining.py take them from here.
from p2pcommunity.net.session_runner import (
    READ_AHEAD,
    LimitExceeded,
    SessionRunner,
    rejection_reason,
)
from p2pcommunity.net.stream import PeerStream
from p2pcommunity.net.verifier import SignatureWorker
from p2pcommunity.sync.community import Community
from p2pcommunity.sync.errors import DomainError, Invalid, RemoteProtocolError
from p2pcommunity.sync.peerid import public_key_from_peer_id
from p2pcommunity.sync.protocol.session import Step, SyncSession
from p2pcommunity.sync.service import Service

log = logging.getLogger(__name__)

SYNC_PROTOCOL = "/p2pcommunity/sync/1.0.0"
# How long an always-on node, or the admitter of a member on probation, gathers
# arrivals before it witnesses them (docs/safety.md).
WITNESS_DELAY_S = 5.0

Clock = Callable[[], int]

__all__ = [
    "READ_AHEAD",
    "SYNC_PROTOCOL",
    "WITNESS_DELAY_S",
    "LimitExceeded",
    "Node",
    "SessionRunner",
    "rejection_reason",
]


class Node:
    protocol_max_changes = Limits().max_changes_per_batch

    def __init__(
        self,
        identity: DeviceIdentity,
        service: Service,
        host: NodeHost,
        clock: Clock,
        limits: Limits | None = None,
        metrics: NodeMetrics | None = None,
    ):
        self.identity = identity
        self.service = service
        self.host = host
        self.clock = clock
        self.metrics = metrics or NodeMetrics()
        self._limits = limits or Limits()
        self._hello_bytes = ByteBudget(
            self._limits.max_hello_bytes, self._limits.max_hello_bytes_per_peer
        )
        self._cpu: dict[str, CpuBudget] = {}
        host.configure_gate(self._limits, self.classify_peers, self.metrics.reject)
        self.metrics.bind(
            connected_peers=lambda: len(self.host.connected_peers()),
            sync_sessions=lambda: len(self.runners),
            communities=lambda: len(self.service.store.community_ids()),
            documents=self._document_count,
        )
        self.runners: set[SessionRunner] = set()
        self.nursery: trio.Nursery | None = None
        self._indexing = False  # an index_search task runs
        # An always-on node witnesses what it received (safety.part.witness) this
        # long after the first arrival, so that a burst costs one log op; so does
        # any member's node for the members it admitted who are on probation.
        self.witness_delay_s = WITNESS_DELAY_S
        self._witnessing: set[bytes] = set()  # communities with a witness task waiting
        self.verifier = SignatureWorker(lambda: self.nursery)
        self.notify: Callable[[str, dict[str, Any]], None] = lambda method, params: None
        # Members seen on the LAN: peer id -> addresses (the dialer's, net/lan.py fills it).
        self.lan: Mapping[str, list[str]] = {}
        service.on_local_change = self._on_local_change

    @property
    def limits(self) -> Limits:
        return self._limits

    @limits.setter
    def limits(self, limits: Limits) -> None:
        """New limits apply to new connections, streams and hellos (tests change them live)."""
        self._limits = limits
        self._hello_bytes.total = limits.max_hello_bytes
        self._hello_bytes.per_key = limits.max_hello_bytes_per_peer
        self.host.configure_gate(limits, self.classify_peers, self.metrics.reject)
        for budget in self._cpu.values():
            budget.rate = budget.burst = limits.cpu_budget_per_peer

    # -- who is a member (for the connection gate) -----------------------------

    def classify_peers(self, peers: Iterable[str]) -> dict[str, int]:
        """MEMBER of a community we hold; PRESENTING: a stranger with a session; else STRANGER."""
        peers = list(peers)
        if not peers:
            return {}
        communities = [
            self.service.open_community(cid) for cid in self.service.store.community_ids()
        ]
        sessions = self.session_peers()
        ranks: dict[str, int] = {}
        for peer_id in peers:
            try:
                key = public_key_from_peer_id(peer_id)
            except Invalid:
                ranks[peer_id] = STRANGER
                continue
            if any(c.state.is_member(key) for c in communities):
                ranks[peer_id] = MEMBER
            else:
                ranks[peer_id] = PRESENTING if peer_id in sessions else STRANGER
        return ranks

    # -- CPU budget per peer ---------------------------------------------------

    def _budget(self, peer_id: str) -> CpuBudget:
        budget = self._cpu.get(peer_id)
        if budget is None:
            if len(self._cpu) >= 4 * self.limits.max_peers:
                for key in [k for k, b in self._cpu.items() if b.idle]:
                    del self._cpu[key]
            budget = self._cpu[peer_id] = CpuBudget(
                self.limits.cpu_budget_per_peer, trio.current_time
            )
        return budget

    def within_cpu_budget(self, peer_id: str) -> bool:
        return self._budget(peer_id).wait() == 0

    async def wait_cpu_budget(self, peer_id: str) -> None:
        """Until `peer_id` is within its CPU budget again (at once when it is)."""
        wait = self._budget(peer_id).wait()
        if wait > 0:
            self.metrics.reject("cpu_budget")
            self.metrics.throttled.inc()
            log.info("%s is over its CPU budget: its next frame waits %.2f s", peer_id, wait)
            await trio.sleep(wait)

    def timed_receive(self, peer_id: str, session: SyncSession, frame: bytes, now: int) -> Step:
        """`session.receive`, its loop time charged to the peer (also when it raises)."""
        started = time.perf_counter()
        try:
            return session.receive(frame, now)
        finally:
            self._budget(peer_id).charge(time.perf_counter() - started)

    # -- sessions --------------------------------------------------------------

    def sessions_of(self, community_id: bytes) -> list[SessionRunner]:
        return [r for r in self.runners if r.community_id == community_id]

    def has_session(self, peer_id: str, community_id: bytes) -> bool:
        return any(r.peer_id == peer_id and r.community_id == community_id for r in self.runners)

    def _forget(self, runner: SessionRunner) -> None:
        self.runners.discard(runner)
        budget = self._cpu.get(runner.peer_id)
        # A peer in debt keeps it across sessions: reconnecting must not reset it.
        if budget is not None and budget.idle and runner.peer_id not in self.session_peers():
            del self._cpu[runner.peer_id]

    def _document_count(self) -> int:
        store = self.service.store
        return sum(len(store.docs_of(cid)) for cid in store.community_ids())

    def session_peers(self) -> set[str]:
        return {r.peer_id for r in self.runners}

    def room_for(self, peer_id: str) -> bool:
        """Whether a session with `peer_id` stays within `max_peers`."""
        peers = self.session_peers()
        return peer_id in peers or len(peers) < self.limits.max_peers

    def connections(self) -> list[dict[str, str]]:
        """`status` "connections": peer id, address, kind (direct, relayed, lan)."""
        return connections(self.host.live_connections(), self.lan)

    def _community(self, community_id: bytes) -> Community | None:
        if community_id not in self.service.store.community_ids():
            return None
        return self.service.open_community(community_id)

    async def handle_sync_stream(self, stream: PeerStream) -> None:
        """Responder side: the peer names the community in its hello."""
        if not self.room_for(stream.remote_peer_id):
            self.metrics.reject("max_peers")
            log.warning(
                "refusing a sync stream from %s: already %d peers (max_peers)",
                stream.remote_peer_id,
                self.limits.max_peers,
            )
            return
        stream = CountingStream(stream, self.metrics)
        peer_key = public_key_from_peer_id(stream.remote_peer_id)
        session = SyncSession.responder(
            self._community,
            self.identity.public_key,
            peer_key,
            check_invite=self._check_invite,
            limits=self.limits.session(),
        )
        try:
            with trio.move_on_after(self.limits.hello_timeout_s) as deadline:
                first = await self._read_hello(stream)
            if deadline.cancelled_caught:
                raise LimitExceeded(
                    "hello_timeout", f"no hello within {self.limits.hello_timeout_s:g} s"
                )
            if first is None:
                return
            await self.wait_cpu_budget(stream.remote_peer_id)
            step = self.timed_receive(stream.remote_peer_id, session, first, self.clock())
        except RemoteProtocolError as exc:
            self.metrics.reject(rejection_reason(exc))
            log.warning("sync with %s closed: %s", stream.remote_peer_id, exc)
            return
        runner = SessionRunner(
            self, stream, session, session.community_id, stream.remote_peer_id, initiator=False
        )
        self.runners.add(runner)
        self.metrics.sessions_opened.labels(direction="in").inc()
        await runner.run(step)

    async def _read_hello(self, stream: PeerStream) -> bytes | None:
        """The first frame, its bytes reserved against the hello budgets before buffering."""
        peer_id = stream.remote_peer_id
        reserved = 0
        budget = self._hello_bytes

        def reserve(length: int) -> None:
            nonlocal reserved
            member = self.classify_peers([peer_id]).get(peer_id) == MEMBER
            refused = budget.reserve(peer_id, length, exempt_total=member)
            if refused is not None:
                limit = (
                    f"max_hello_bytes_per_peer={budget.per_key}"
                    if refused == "per_peer"
                    else f"max_hello_bytes={budget.total}"
                )
                raise LimitExceeded("hello_bytes", f"a first frame of {length} bytes; {limit}")
            reserved = length

        try:
            # read_frame takes exactly one frame's bytes; the runner's reader gets the rest.
            return await read_frame(stream, self.limits.max_frame_bytes, before_payload=reserve)
        finally:
            if reserved:
                budget.release(peer_id, reserved)

    def _check_invite(self, community: Community, peer_key: bytes, presented: bytes) -> str | None:
        """Admit a joiner that proves an invite, even one we have not synced yet (the
        invite op travels in the code): our own `admit` op witnesses it (sync/governance)."""
        return self.service.governance.admit(community, peer_key, presented)

    async def open_session(
        self, peer_id: str, addrs: list[str], community: Community, invite: bytes | None = None
    ) -> SessionRunner:
        """Initiator side: dial, open a stream, start a runner in the node's nursery."""
        assert self.nursery is not None
        if not self.room_for(peer_id):
            raise LimitExceeded("max_peers", f"already {self.limits.max_peers} peers")
        if not self.service.store.docs_of(community.id):
            self.verifier.start()  # a join: a cold sync is coming, have the worker up for it
        stream = CountingStream(
            await self.host.open_stream(peer_id, addrs, SYNC_PROTOCOL), self.metrics
        )
        session = SyncSession(
            community,
            community.id,
            self.identity.public_key,
            public_key_from_peer_id(peer_id),
            initiator=True,
            invite=invite,
            limits=self.limits.session(),
        )
        runner = SessionRunner(self, stream, session, community.id, peer_id, initiator=True)
        self.runners.add(runner)
        self.metrics.sessions_opened.labels(direction="out").inc()
        self.service.store.remember_peer(public_key_from_peer_id(peer_id), addrs, self.clock())
        self.nursery.start_soon(runner.run, session.start(self.clock()))
        self.notify(
            "sync_progress",
            {"community_id": community.id.hex(), "caught_up": False, "peer": peer_id},
        )
        return runner

    # -- change propagation ----------------------------------------------------

    def _on_local_change(self, community: Community, kind: str) -> None:
        for runner in self.sessions_of(community.id):
            runner.poke()
        self.notify("community_changed", {"community_id": community.id.hex(), "kind": kind})

    def _on_remote_change(self, community_id: bytes, origin: SessionRunner) -> None:
        for runner in self.sessions_of(community_id):
            if runner is not origin:
                runner.poke()
        self.notify("community_changed", {"community_id": community_id.hex(), "kind": "remote"})
        if self.nursery is not None and community_id not in self._witnessing:
            self._witnessing.add(community_id)
            self.nursery.start_soon(self._witness_later, community_id)

    async def _witness_later(self, community_id: bytes) -> None:
        try:
            await trio.sleep(self.witness_delay_s)
            community = self.service.open_community(community_id)
            self.service.safety.witness(community)  # its op reaches peers as a local change
        except DomainError as exc:  # e.g. our role changed meanwhile: witness next time
            log.warning("could not witness in %s: %s", community_id.hex()[:12], exc)
        finally:
            self._witnessing.discard(community_id)

    def _on_ops_added(self, community_id: bytes, hashes: tuple[bytes, ...]) -> None:
        community = self.service.open_community(community_id)
        for outcome in self.service.accountability.outcomes_for_me(community, hashes):
            self.notify("appeal_resolved", outcome)

    def _on_caught_up(self, community_id: bytes) -> None:
        self.service.node_support.mark_synced(community_id)
        self.notify("sync_progress", {"community_id": community_id.hex(), "caught_up": True})
        # Idle time after a sync: catch the search index up with what arrived,
        # in a task of its own (a cold join leaves thousands of posts pending).
        if self.nursery is None:
            self.service.store.read_model.search_index.index_pending()
        elif not self._indexing:
            self._indexing = True
            self.nursery.start_soon(self.index_search)

    async def index_search(self) -> int:
        """Index pending posts for search a slice per transaction, letting the
        loop run between slices; returns how many were indexed."""
        total = 0
        try:
            while True:
                indexed, more = self.service.store.read_model.search_index.index_slice()
                total += indexed
                if not more:
                    return total
                await trio.sleep(0)
        finally:
            self._indexing = False
