"""Verify the signatures of big changes frames on a second core, one frame ahead.

A cold sync is mostly Ed25519 verification, and the loop thread is busy
applying the frame before (sync/presign.py says why a thread does not
help). So when a session's reader takes a big frame off the stream,
`prefetch` sends it to a child process (`p2pcommunity.sigworker`); when the
session gets to that frame, `ready` waits for the answer, which has put the
valid signatures in the community's `SignatureCache`, and `verify_batch`
then finds them there instead of verifying them itself.

Nothing depends on the worker for correctness, only for speed: a frame it
has not answered (not started yet, too small to be worth a round trip,
gone, too slow, crashed) is verified in line exactly as before. The worker
starts with the first big frame and exits after `IDLE_S` without work, so
a node that only sees live posts never runs one. Not started from a frozen
bundle (no `python -m` there).
"""

from __future__ import annotations

import enum
import logging
import os
import subprocess
import sys
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import trio

from p2pcommunity.sigworker import READY, decode_answer, encode_request
from p2pcommunity.sync.community import Community
from p2pcommunity.sync.presign import frame_checks, valid_checks

log = logging.getLogger(__name__)

# A frame smaller than this (~40 changes) is verified in line: a round trip to the
# worker costs more than it saves, and live posts come one or two a frame.
MIN_FRAME_BYTES = 16 * 1024
# Frames written to the worker and not answered yet, at most.
MAX_IN_FLIGHT = 3
# Signatures `ready` verifies between two checkpoints while it waits (~2 ms).
STEAL_SLICE = 32
# How long `ready` waits for an answer before verifying in line.
WAIT_S = 10.0
# A worker with nothing to do for this long exits; the next big frame starts another.
IDLE_S = 30.0

NurseryOf = Callable[[], trio.Nursery | None]


class _State(enum.Enum):
    OFF = "off"
    STARTING = "starting"
    UP = "up"
    FAILED = "failed"  # could not start: verify in line from now on


@dataclass(eq=False)
class _Job:
    community: Community
    frame: bytes
    done: trio.Event = field(default_factory=trio.Event)
    sent: bool = False  # written to the worker
    abandoned: bool = False  # verified here instead: don't send it


class SignatureWorker:
    def __init__(
        self,
        nursery_of: NurseryOf,
        *,
        enabled: bool = not getattr(sys, "frozen", False),
        min_frame_bytes: int = MIN_FRAME_BYTES,
        idle_s: float = IDLE_S,
        command: list[str] | None = None,
    ) -> None:
        self._nursery_of = nursery_of
        self._state = _State.OFF if enabled else _State.FAILED
        self._min_frame_bytes = min_frame_bytes
        self._idle_s = idle_s
        self._command = command or [sys.executable, "-m", "p2pcommunity.sigworker"]
        self._jobs: dict[int, _Job] = {}  # id(frame) -> its job, until `ready`
        self._queue: deque[_Job] = deque()
        self._wakeup = trio.Event()
        self._up = trio.Event()
        self._settled = trio.Event()  # set once a start has come up or given up
        self.answered = 0  # frames the worker verified
        self.stolen = 0  # frames verified here while waiting for the worker

    @property
    def running(self) -> bool:
        return self._state in (_State.STARTING, _State.UP)

    def prefetch(self, community: Community | None, frame: bytes) -> None:
        """Have the worker verify `frame` (if it is a big changes frame) ahead of the session."""
        if community is None or len(frame) < self._min_frame_bytes:
            return
        if self._state is _State.FAILED:
            return
        if self._state is _State.OFF and not self._start():
            return
        job = _Job(community, frame)
        self._jobs[id(frame)] = job
        self._queue.append(job)
        self._wakeup.set()

    async def warm_up(self) -> bool:
        """Start the worker now rather than with the first big frame; True once it is up."""
        if self._state is _State.OFF:
            self._start()
        await self._settled.wait()
        return self._state is _State.UP

    def _start(self) -> bool:
        nursery = self._nursery_of()
        if nursery is None:
            return False
        self._state = _State.STARTING
        self._settled = trio.Event()
        nursery.start_soon(self._run)
        return True

    async def ready(self, frame: bytes) -> None:
        """Before the session takes `frame`: have its signatures in the cache if a worker
        is on it, helping with later frames meanwhile; otherwise return at once."""
        # A checkpoint whatever happens: the worker's tasks run only when we yield.
        await trio.lowlevel.checkpoint()
        job = self._jobs.pop(id(frame), None)
        if job is None or job.frame is not frame:
            return  # answered already (its signatures are in the cache), or never sent
        if self._state is not _State.UP or not job.sent:
            job.abandoned = True  # the session verifies it in line: sooner than waiting
            return
        with trio.move_on_after(WAIT_S):
            while not job.done.is_set():
                later = self._steal()
                if later is None:
                    await job.done.wait()
                    break
                # The worker is busy with this frame: verify the last waiting one here
                # (from the other end of the queue, so that no frame is done twice).
                await self._verify_here(later, until=job.done)
        job.abandoned = True

    async def _verify_here(self, job: _Job, until: trio.Event) -> None:
        """Verify `job`'s signatures on this thread, a slice at a time: between slices
        the worker's tasks feed it and take its answers. Stops early once `until` is
        set; the session verifies whatever is left in line."""
        checks = frame_checks(job.community.id, job.frame)
        for start in range(0, len(checks), STEAL_SLICE):
            part = checks[start : start + STEAL_SLICE]
            job.community.presigned.add(valid_checks(part))
            await trio.lowlevel.checkpoint()
            if until.is_set():
                break
        self._finish(job)
        self.stolen += 1

    def _steal(self) -> _Job | None:
        while self._queue:
            job = self._queue.pop()
            if not job.abandoned:
                job.abandoned = True
                return job
            self._finish(job)
        return None

    async def _run(self) -> None:
        try:
            child = await _spawn(self._command)
        except OSError as exc:
            log.warning("no signature worker (%s); verifying in line", exc)
            self._state = _State.FAILED
            self._settled.set()
            self._release_all()
            return
        in_flight: deque[_Job] = deque()
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._guarded, self._read_answers, child, in_flight, nursery)
                await self._up.wait()
                await self._guarded(self._send_requests, child, in_flight, nursery)
        finally:
            self._state = _State.OFF
            self._up = trio.Event()
            self._settled.set()
            self._release_all()
            for job in in_flight:
                self._finish(job)
            with trio.CancelScope(shield=True):
                await child.close()

    async def _guarded(
        self,
        work: Callable[[_Child, deque[_Job]], Awaitable[None]],
        child: _Child,
        in_flight: deque[_Job],
        nursery: trio.Nursery,
    ) -> None:
        try:
            await work(child, in_flight)
        except (trio.BrokenResourceError, trio.ClosedResourceError, ValueError) as exc:
            log.warning("signature worker failed (%s); verifying in line", exc)
            nursery.cancel_scope.cancel()

    async def _send_requests(self, child: _Child, in_flight: deque[_Job]) -> None:
        while True:
            # A few frames in flight keep the worker busy; the rest wait in the queue,
            # where `ready` can still take them.
            while self._queue and len(in_flight) < MAX_IN_FLIGHT:
                job = self._queue.popleft()
                if job.abandoned:
                    self._finish(job)
                    continue
                job.sent = True
                in_flight.append(job)
                await child.stdin.send_all(encode_request(job.community.id, job.frame))
            self._wakeup = trio.Event()
            with trio.move_on_after(self._idle_s) as waiting:
                await self._wakeup.wait()
            if waiting.cancelled_caught and not self._queue and not in_flight:
                # Idle: the worker exits at EOF, once it has answered (it has).
                await child.stdin.aclose()
                return

    async def _read_answers(self, child: _Child, in_flight: deque[_Job]) -> None:
        buffer = bytearray()
        # Python starts and imports in ~0.1 s (more on a busy machine): until the worker
        # says it is ready, frames are verified in line rather than waiting for it.
        while len(buffer) < len(READY):
            chunk = await child.stdout.receive_some(len(READY) - len(buffer))
            if not chunk:
                raise ValueError("the signature worker exited before it was ready")
            buffer += chunk
        if buffer != READY:
            raise ValueError("the signature worker did not start as expected")
        buffer.clear()
        self._state = _State.UP
        self._up.set()
        self._settled.set()
        while True:
            chunk = await child.stdout.receive_some(1 << 16)
            if not chunk:
                if in_flight:
                    raise ValueError("the signature worker exited with requests unanswered")
                return
            buffer += chunk
            while len(buffer) >= 4:
                size = int.from_bytes(buffer[:4], "big")
                if len(buffer) < 4 + size:
                    break
                body = bytes(buffer[4 : 4 + size])
                del buffer[: 4 + size]
                if not in_flight:
                    raise ValueError("the signature worker answered a request never made")
                job = in_flight.popleft()
                job.community.presigned.add(decode_answer(body))
                self.answered += 1
                self._finish(job)
                self._wakeup.set()  # room in flight for the next frame

    def _finish(self, job: _Job) -> None:
        job.done.set()
        if self._jobs.get(id(job.frame)) is job:
            del self._jobs[id(job.frame)]

    def _release_all(self) -> None:
        while self._queue:
            self._finish(self._queue.popleft())


@dataclass(eq=False)
class _Child:
    """The worker process and our ends of its pipes."""

    stdin: trio.abc.SendStream
    stdout: trio.abc.ReceiveStream
    close: Callable[[], Awaitable[None]]  # kill it (if it still runs) and reap it


async def _spawn(command: list[str]) -> _Child:
    """Start the worker. On POSIX with a plain `Popen` on this thread (~2 ms):
    `trio.lowlevel.open_process` runs `Popen` in a thread, which gets the GIL only
    now and then while this thread is busy applying a sync (0.15 s measured)."""
    if os.name != "posix":
        process = await trio.lowlevel.open_process(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE
        )
        assert process.stdin is not None and process.stdout is not None

        async def close_process() -> None:
            process.kill()
            await process.wait()

        return _Child(process.stdin, process.stdout, close_process)
    popen = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert popen.stdin is not None and popen.stdout is not None
    stdin = trio.lowlevel.FdStream(os.dup(popen.stdin.fileno()))
    stdout = trio.lowlevel.FdStream(os.dup(popen.stdout.fileno()))
    popen.stdin.close()
    popen.stdout.close()

    async def close_popen() -> None:
        await stdin.aclose()
        await stdout.aclose()
        popen.kill()
        while popen.poll() is None:  # reaped within a few ms of SIGKILL
            await trio.sleep(0.002)

    return _Child(stdin, stdout, close_popen)
