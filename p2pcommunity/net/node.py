"""The running node: libp2p host, sync sessions, the control API, one trio loop.

The node is glue. Each sync stream gets a `SessionRunner` that moves frames
between the stream and a sans-I/O `SyncSession`; everything the session
decides is in sync/. A runner is the only task that touches its session, so
incoming frames and "something changed, push it" pokes are serialised
through one channel. A session that misbehaves (a `RemoteProtocolError`) or
crashes is closed and logged; the node and its other sessions go on.

What a hostile peer can make the node hold is bounded here (issue 11): a
sync stream must deliver its hello within `hello_timeout_s`, and the bytes
of first frames still arriving are reserved against `max_hello_bytes*`
before they are buffered; a session buffers at most `READ_AHEAD` frames and
`max_pending_frame_bytes` ahead of itself; and each peer's frames may cost
the loop `cpu_budget_per_peer` seconds a second, measured around decode +
`session.receive`: over it, that peer's next frames wait (read late, so
Yamux pushes back) while other peers and the control API go on. Connection
and stream limits live in gate.py; `Node` tells the gate who is a member.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import trio

from p2pcommunity.identity import DeviceIdentity
from p2pcommunity.net.connections import connections
from p2pcommunity.net.framing import FrameReader, read_frame, write_frames
from p2pcommunity.net.gate import MEMBER, PRESENTING, STRANGER
from p2pcommunity.net.host import NodeHost
from p2pcommunity.net.limits import ByteBudget, CpuBudget, Limits, RateLimiter
from p2pcommunity.net.metrics import CountingStream, NodeMetrics
from p2pcommunity.net.stream import PeerStream
from p2pcommunity.net.verifier import SignatureWorker
from p2pcommunity.sync.community import Community
from p2pcommunity.sync.errors import DomainError, Invalid, RemoteProtocolError
from p2pcommunity.sync.peerid import peer_id_from_public_key, public_key_from_peer_id
from p2pcommunity.sync.protocol.frames import ChangesFrame, decode_frame
from p2pcommunity.sync.protocol.session import (
    CaughtUp,
    ChangesApplied,
    ChangesGated,
    OpsAdded,
    PageChangesApplied,
    Refused,
    Step,
    SyncSession,
)
from p2pcommunity.sync.service import Service

log = logging.getLogger(__name__)

SYNC_PROTOCOL = "/p2pcommunity/sync/1.0.0"
# Frames read ahead of the session before the reader waits: back-pressure.
READ_AHEAD = 16
# At most one push per session in this interval. The first change after a
# quiet spell goes out at once; under load, what arrives meanwhile waits for
# the next push and travels in the same write. Every push costs both ends a
# Yamux frame, a Noise message, system calls and a session step in Python;
# at 100 posts/s over 10 nodes on 2 cores, 20 ms left the nodes CPU-bound
# (p99 over 1 s), 100 ms brought p99 to ~0.4 s (benchmarks/RESULTS.md).
PUSH_INTERVAL_S = 0.1
# How long an always-on node, or the admitter of a member on probation, gathers
# arrivals before it witnesses them (docs/safety.md).
WITNESS_DELAY_S = 5.0

Clock = Callable[[], int]


class LimitExceeded(RemoteProtocolError):
    """The peer went over one of the node's limits (net/limits.py)."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason


def rejection_reason(exc: RemoteProtocolError) -> str:
    """A short stable label for metrics: the verifier's reason, or the kind of fault."""
    reason = getattr(exc, "reason", None)
    return reason if isinstance(reason, str) else "protocol"


@dataclass(eq=False)
class SessionRunner:
    """Moves frames between one stream and one SyncSession."""

    node: Node
    stream: PeerStream
    session: SyncSession
    community_id: bytes
    peer_id: str
    initiator: bool
    caught_up: trio.Event = field(default_factory=trio.Event)
    finished: trio.Event = field(default_factory=trio.Event)
    refused: str | None = None
    _poke_pending: bool = False

    def __post_init__(self) -> None:
        self._send, self._receive = trio.open_memory_channel[bytes | None](math.inf)
        self._read_slots = trio.Semaphore(READ_AHEAD)
        self._flushed: list[trio.Event] = []
        self._started = trio.current_time()
        self._timed = False
        self._last_push = -math.inf
        self._nursery: trio.Nursery | None = None
        self._pending_bytes = 0
        self._drained = trio.Event()

    async def flush(self) -> None:
        """Push what the peer lacks now and return once it is written to the stream."""
        done = trio.Event()
        self._flushed.append(done)
        self._send.send_nowait(None)
        self._poke_pending = True
        with trio.move_on_after(10):
            await done.wait()

    async def wait_acknowledged(self, op_hash: bytes, timeout: float) -> bool:
        """Until the peer announces heads that include `op_hash` (bounded)."""
        with trio.move_on_after(timeout):
            while not self.finished.is_set():
                if self.session.peer_acknowledged(op_hash):
                    return True
                await trio.sleep(0.02)
        return False

    def poke(self) -> None:
        """Ask the session to push what its peer lacks; coalesced (`PUSH_INTERVAL_S`)."""
        if self._poke_pending or self.finished.is_set():
            return
        self._poke_pending = True
        wait = self._last_push + PUSH_INTERVAL_S - trio.current_time()
        if wait > 0 and self._nursery is not None:
            self._nursery.start_soon(self._poke_later, wait)
        else:
            self._send.send_nowait(None)

    async def _poke_later(self, wait: float) -> None:
        await trio.sleep(wait)
        if not self.finished.is_set():
            self._send.send_nowait(None)

    async def run(self, first: Step | None = None) -> None:
        # Errors are caught inside each task, never let out of the nursery: a
        # peer's garbage must end this session with a log line, not as an
        # exception group that looks like a crash.
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                nursery.start_soon(self._read_loop)
                await self._guarded(self._process, first)
                nursery.cancel_scope.cancel()
        finally:
            self.finished.set()
            for event in self._flushed:
                event.set()
            self.node._forget(self)
            with trio.CancelScope(shield=True):
                await self.stream.close()

    async def _guarded(self, work: Callable[..., Any], *args: Any) -> None:
        try:
            await work(*args)
        except RemoteProtocolError as exc:
            self.node.metrics.reject(rejection_reason(exc))
            log.warning("sync with %s closed: %s", self.peer_id, exc)
        except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            log.info("sync stream with %s broke: %s", self.peer_id, exc)
        except Exception:
            log.exception("sync session with %s crashed; closing it", self.peer_id)

    async def _process(self, first: Step | None) -> None:
        if first is not None and await self._emit(first):
            return
        async for item in self._receive:
            now = self.node.clock()
            if item is None:
                self._poke_pending = False
                self._last_push = trio.current_time()
                waiting, self._flushed = self._flushed, []
                step = self.session.local_changed(now)
                ended = await self._emit(step)
                for event in waiting:
                    event.set()
                if ended:
                    return
                continue
            else:
                self._read_slots.release()
                self._pending_bytes -= len(item)
                self._drained.set()
                if item == b"":  # the reader's end-of-stream marker
                    return
                await self.node.wait_cpu_budget(self.peer_id)
                await self.node.verifier.ready(item)
                step = self.node.timed_receive(self.peer_id, self.session, item, self.node.clock())
            if await self._emit(step):
                return

    async def _read_loop(self) -> None:
        try:
            await self._guarded(self._read_frames)
        finally:
            self._send.send_nowait(b"")  # end of stream, clean or not: stop the session

    async def _read_frames(self) -> None:
        limits, metrics = self.node.limits, self.node.metrics
        reader = FrameReader(self.stream, limits.max_frame_bytes)
        rate = RateLimiter(limits, trio.current_time)
        check_batch = limits.max_changes_per_batch < self.node.protocol_max_changes
        while True:
            await self._read_slots.acquire()
            while self._pending_bytes >= limits.max_pending_frame_bytes:
                # Bytes, not only frames: 16 frames of 1 MiB are 16 MiB per session.
                self._drained = trio.Event()
                await self._drained.wait()
            frame = await reader.read_frame()
            if frame is None:
                return
            self._pending_bytes += len(frame)
            metrics.frames_received.inc()
            if self.node.within_cpu_budget(self.peer_id):
                # Prefetching parses the frame on the loop, uncharged: not for a peer in debt.
                self.node.verifier.prefetch(self.session.community, frame)
            if check_batch:
                self._check_batch(frame, limits.max_changes_per_batch)
            self._send.send_nowait(frame)
            wait, drop = rate.on_frame()
            if drop:
                raise LimitExceeded(
                    "rate_limit",
                    f"over {limits.max_frames_per_second:g} frames/s for "
                    f"{limits.throttle_drop_after_s:g} s",
                )
            if wait > 0:
                # Read late: yamux flow control pushes back on the sender.
                metrics.throttled.inc()
                await trio.sleep(wait)

    @staticmethod
    def _check_batch(frame: bytes, limit: int) -> None:
        try:
            decoded = decode_frame(frame)
        except RemoteProtocolError:
            return  # the session reports malformed frames itself
        if isinstance(decoded, ChangesFrame) and len(decoded.changes) > limit:
            raise LimitExceeded(
                "batch_limit", f"{len(decoded.changes)} changes in one frame; the limit is {limit}"
            )

    async def _emit(self, step: Step) -> bool:
        """Send the step's frames, react to its events; True when the session ended."""
        await write_frames(self.stream, step.frames)
        metrics = self.node.metrics
        for event in step.events:
            if isinstance(event, OpsAdded | ChangesApplied | PageChangesApplied):
                if isinstance(event, OpsAdded):
                    metrics.ops_applied.inc(len(event.hashes))
                    self.node._on_ops_added(self.community_id, event.hashes)
                else:
                    metrics.changes_applied.inc(event.count)
                self.node._on_remote_change(self.community_id, origin=self)
            elif isinstance(event, CaughtUp):
                if not self._timed:
                    self._timed = True
                    metrics.sync_round.observe(trio.current_time() - self._started)
                self.node._on_caught_up(self.community_id)
                self.caught_up.set()
            elif isinstance(event, ChangesGated):
                log.info("refused changes of %s from seq %d: %s", event.ref, event.seq, event.rule)
                self.node.notify(
                    "changes_refused",
                    {
                        "community_id": self.community_id.hex(),
                        "owner": peer_id_from_public_key(event.ref.owner),
                        "segment": event.ref.segment,
                        "seq": event.seq,
                        "rule": event.rule,
                    },
                )
            elif isinstance(event, Refused):
                self.refused = event.reason
                log.warning("%s refused to sync: %s", self.peer_id, event.reason)
        return step.close


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
