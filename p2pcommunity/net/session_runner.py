"""One sync stream's task: `SessionRunner` moves frames between a stream and a session.

A runner is the only task that touches its sans-I/O `SyncSession`, so
incoming frames and "something changed, push it" pokes are serialised
through one channel; pokes are coalesced to one push per `PUSH_INTERVAL_S`.
A session that misbehaves (a `RemoteProtocolError`) or crashes is closed and
logged; the node and its other sessions go on.

What a peer can make a runner hold is bounded here (issue 11): it buffers
at most `READ_AHEAD` frames and `max_pending_frame_bytes` ahead of its
session, reads late when the peer goes over its frame rate or its CPU
budget (so Yamux pushes back), and ends the session with `LimitExceeded`
past `throttle_drop_after_s` or a batch over `max_changes_per_batch`. The
budgets themselves and the node-wide bookkeeping are the `Node`'s (node.py).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import trio

from p2pcommunity.net.framing import FrameReader, write_frames
from p2pcommunity.net.limits import RateLimiter
from p2pcommunity.net.stream import PeerStream
from p2pcommunity.sync.errors import RemoteProtocolError
from p2pcommunity.sync.peerid import peer_id_from_public_key
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

if TYPE_CHECKING:
    from p2pcommunity.net.node import Node

log = logging.getLogger(__name__)


# Frames read ahead of the session before the reader waits: back-pressure.
READ_AHEAD = 16
# At most one push per session in this interval. The first change after a
# quiet spell goes out at once; under load, what arrives meanwhile waits for
# the next push and travels in the same write. Every push costs both ends a
# Yamux frame, a Noise message, system calls and a session step in Python;
# at 100 posts/s over 10 nodes on 2 cores, 20 ms left the nodes CPU-bound
# (p99 over 1 s), 100 ms brought p99 to ~0.4 s (benchmarks/RESULTS.md).
PUSH_INTERVAL_S = 0.1


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
