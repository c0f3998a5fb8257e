"""The running node: libp2p host, sync sessions, the control API, one trio loop.

The node is glue. Each sync stream gets a `SessionRunner` that moves frames
between the stream and a sans-I/O `SyncSession`; everything the session
decides is in sync/. A runner is the only task that touches its session, so
incoming frames and "something changed, push it" pokes are serialised
through one channel. A session that misbehaves (a `RemoteProtocolError`) or
crashes is closed and logged; the node and its other sessions go on.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import trio

from p2pcommunity.identity import DeviceIdentity
from p2pcommunity.net.framing import FrameReader, read_frame, write_frame
from p2pcommunity.net.host import NodeHost
from p2pcommunity.net.stream import PeerStream
from p2pcommunity.sync.community import Community
from p2pcommunity.sync.errors import RemoteProtocolError
from p2pcommunity.sync.invite import decode_presented
from p2pcommunity.sync.log import check_invite_admission
from p2pcommunity.sync.peerid import public_key_from_peer_id
from p2pcommunity.sync.protocol import (
    CaughtUp,
    ChangesApplied,
    OpsAdded,
    Refused,
    Step,
    SyncSession,
)
from p2pcommunity.sync.service import Service

log = logging.getLogger(__name__)

SYNC_PROTOCOL = "/p2pcommunity/sync/1.0.0"
# Frames read ahead of the session before the reader waits: back-pressure.
READ_AHEAD = 16

Clock = Callable[[], int]


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
        """Ask the session to push what its peer lacks; coalesced."""
        if not self._poke_pending and not self.finished.is_set():
            self._poke_pending = True
            self._send.send_nowait(None)

    async def run(self, first: Step | None = None) -> None:
        # Errors are caught inside each task, never let out of the nursery: a
        # peer's garbage must end this session with a log line, not as an
        # exception group that looks like a crash.
        try:
            async with trio.open_nursery() as nursery:
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
                if item == b"":  # the reader's end-of-stream marker
                    return
                step = self.session.receive(item, now)
            if await self._emit(step):
                return

    async def _read_loop(self) -> None:
        try:
            await self._guarded(self._read_frames)
        finally:
            self._send.send_nowait(b"")  # end of stream, clean or not: stop the session

    async def _read_frames(self) -> None:
        reader = FrameReader(self.stream)
        while True:
            await self._read_slots.acquire()
            frame = await reader.read_frame()
            if frame is None:
                return
            self._send.send_nowait(frame)

    async def _emit(self, step: Step) -> bool:
        """Send the step's frames, react to its events; True when the session ended."""
        for frame in step.frames:
            await write_frame(self.stream, frame)
        for event in step.events:
            if isinstance(event, OpsAdded | ChangesApplied):
                self.node._on_remote_change(self.community_id, origin=self)
            elif isinstance(event, CaughtUp):
                self.node._on_caught_up(self.community_id)
                self.caught_up.set()
            elif isinstance(event, Refused):
                self.refused = event.reason
                log.warning("%s refused to sync: %s", self.peer_id, event.reason)
        return step.close


class Node:
    def __init__(self, identity: DeviceIdentity, service: Service, host: NodeHost, clock: Clock):
        self.identity = identity
        self.service = service
        self.host = host
        self.clock = clock
        self.runners: set[SessionRunner] = set()
        self.nursery: trio.Nursery | None = None
        self.notify: Callable[[str, dict[str, Any]], None] = lambda method, params: None
        service.on_local_change = self._on_local_change

    # -- sessions --------------------------------------------------------------

    def sessions_of(self, community_id: bytes) -> list[SessionRunner]:
        return [r for r in self.runners if r.community_id == community_id]

    def has_session(self, peer_id: str, community_id: bytes) -> bool:
        return any(r.peer_id == peer_id and r.community_id == community_id for r in self.runners)

    def _forget(self, runner: SessionRunner) -> None:
        self.runners.discard(runner)

    def _community(self, community_id: bytes) -> Community | None:
        if community_id not in self.service.store.community_ids():
            return None
        return self.service.open_community(community_id)

    async def handle_sync_stream(self, stream: PeerStream) -> None:
        """Responder side: the peer names the community in its hello."""
        peer_key = public_key_from_peer_id(stream.remote_peer_id)
        session = SyncSession.responder(
            self._community, self.identity.public_key, peer_key, check_invite=self._check_invite
        )
        try:
            # read_frame takes exactly one frame's bytes; the runner's reader gets the rest.
            first = await read_frame(stream)
            if first is None:
                return
            step = session.receive(first, self.clock())
        except RemoteProtocolError as exc:
            log.warning("sync with %s closed: %s", stream.remote_peer_id, exc)
            return
        runner = SessionRunner(
            self, stream, session, session.community_id, stream.remote_peer_id, initiator=False
        )
        self.runners.add(runner)
        await runner.run(step)

    def _check_invite(self, community: Community, peer_key: bytes, presented: bytes) -> str | None:
        """Admit a joiner that proves an invite, even one we have not synced yet:
        the invite op travels in the code and is checked like any op."""
        decoded = decode_presented(presented)
        if decoded is None:
            return "bad_proof"
        invite_op, proof = decoded
        if not community.log.has(invite_op.hash):
            try:
                community.receive_ops([invite_op])
            except RemoteProtocolError as exc:
                log.info("invite op from %s not accepted: %s", peer_key.hex()[:12], exc)
                return "not_found"
        return check_invite_admission(
            community.state, invite_op.hash, peer_key, proof, self.clock()
        )

    async def open_session(
        self, peer_id: str, addrs: list[str], community: Community, invite: bytes | None = None
    ) -> SessionRunner:
        """Initiator side: dial, open a stream, start a runner in the node's nursery."""
        assert self.nursery is not None
        stream = await self.host.open_stream(peer_id, addrs, SYNC_PROTOCOL)
        session = SyncSession(
            community,
            community.id,
            self.identity.public_key,
            public_key_from_peer_id(peer_id),
            initiator=True,
            invite=invite,
        )
        runner = SessionRunner(self, stream, session, community.id, peer_id, initiator=True)
        self.runners.add(runner)
        self.service.store.remember_peer(public_key_from_peer_id(peer_id), addrs, self.clock())
        self.nursery.start_soon(runner.run, session.start(self.clock()))
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

    def _on_caught_up(self, community_id: bytes) -> None:
        self.service.mark_synced(community_id)
        self.notify("sync_progress", {"community_id": community_id.hex(), "caught_up": True})
