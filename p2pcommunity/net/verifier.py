"""Verify the signatures of big changes frames on a second core, one frame ahead.

A cold sync is mostly Ed25519 verification, and the loop thread is busy
applying the frame before (sync/docs/presign.py says why a thread does not
help). So when a session's reader takes a big frame off the stream,
`prefetch` sends it to a child process (`p2pcommunity.sigworker`); when the
session gets to that frame, `ready` waits for the answer, which has put the
valid signatures in the community's `SignatureCache`, and `verify_batch`
then finds them there instead of verifying them itself. While `ready` waits
it does not idle: it verifies signatures of the last frame still queued, a
slice at a time from its end, and the worker gets only the rest of that
frame. Both cores stay busy and no signature is verified twice.

Nothing depends on the worker for correctness, only for speed: a frame it
has not answered (not started yet, too small to be worth a round trip,
gone, too slow, crashed) is verified in line exactly as before. The worker
starts with the first big frame, or as a session opens for a community with
no documents yet (a join: the cold sync that follows needs it at once, and
Python takes ~0.1 s to start), and exits after `IDLE_S` without work, so a
node that only sees live posts never runs one. In a frozen bundle the
worker is the node's own executable with `sigworker.BUNDLE_SWITCH` set.
"""

from __future__ import annotations

import enum
import logging
import os
import subprocess
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import trio

from p2pcommunity import sigworker
from p2pcommunity.sigworker import READY, decode_answer, encode_checks_request, encode_request
from p2pcommunity.sync.community import Community
from p2pcommunity.sync.docs.presign import SignatureCheck, frame_checks, valid_checks

log = logging.getLogger(__name__)

# A frame smaller than this (~40 changes) is verified in line: a round trip to the
# worker costs more than it saves, and live posts come one or two a frame.
MIN_FRAME_BYTES = 16 * 1024
# Frames written to the worker and not answered yet, at most.
MAX_IN_FLIGHT = 3
# Signatures `ready` verifies at a time while it waits (~2 ms), between checkpoints.
STEAL_SLICE = 32
# How long `ready` waits for an answer; a worker slower than that is given up.
WAIT_S = 10.0
# A worker with nothing to do for this long exits; the next big frame starts another.
IDLE_S = 30.0

NurseryOf = Callable[[], trio.Nursery | None]


class _State(enum.Enum):
    OFF = "off"
    STARTING = "starting"
    UP = "up"
    FAILED = "failed"  # did not start, or got stuck: verify in line from now on


@dataclass(eq=False)
class _Job:
    community: Community
    frame: bytes
    # The frame's signatures still to verify, once `ready` has taken some of them
    # (None: all of them, and the worker reads them from the frame itself).
    checks: list[SignatureCheck] | None = None
    done: trio.Event = field(default_factory=trio.Event)
    sent: bool = False  # written to the worker
    abandoned: bool = False  # the session verifies it in line: don't send it


class SignatureWorker:
    def __init__(
        self,
        nursery_of: NurseryOf,
        *,
        enabled: bool = True,
        min_frame_bytes: int = MIN_FRAME_BYTES,
        idle_s: float = IDLE_S,
        command: list[str] | None = None,
    ) -> None:
        self._nursery_of = nursery_of
        self._state = _State.OFF if enabled else _State.FAILED
        self._min_frame_bytes = min_frame_bytes
        self._idle_s = idle_s
        self._command = command or sigworker.command()
        self._jobs: dict[int, _Job] = {}  # id(frame) -> its job, until `ready`
        self._queue: deque[_Job] = deque()
        self._wakeup = trio.Event()
        self._up = trio.Event()
        self._settled = trio.Event()  # set once a start has come up or given up
        self._stop = trio.CancelScope()  # ends the running worker
        self.answered = 0  # requests the worker answered
        self.stolen = 0  # signatures verified here while waiting for the worker

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

    def start(self) -> None:
        """Start the worker now if it is not running: a big sync is expected."""
        if self._state is _State.OFF:
            self._start()

    async def warm_up(self) -> bool:
        """Start the worker now rather than with the first big frame; True once it is up."""
        self.start()
        await self._settled.wait()
        return self._state is _State.UP

    def _start(self) -> bool:
        nursery = self._nursery_of()
        if nursery is None:
            return False
        self._state = _State.STARTING
        self._settled = trio.Event()
        self._stop = trio.CancelScope()
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
        if self._state is not _State.UP:
            job.abandoned = True  # the session verifies it in line: sooner than waiting
            return
        with trio.move_on_after(WAIT_S) as waiting:
            while not job.done.is_set():
                # Not sent yet: verify it here, from its end, until the worker takes
                # the rest. Sent: verify the end of the last queued frame instead.
                if not (self._take_slice(job) if not job.sent else self._steal_slice()):
                    await job.done.wait()
                    break
                await trio.lowlevel.checkpoint()  # let the worker's tasks feed it and read
        job.abandoned = True
        if waiting.cancelled_caught:
            log.warning("signature worker stuck for %g s; verifying in line from now on", WAIT_S)
            self._give_up()

    def _give_up(self) -> None:
        self._state = _State.FAILED
        self._stop.cancel()

    def _steal_slice(self) -> bool:
        """Verify here a slice of the last frame still queued (the other end of the
        queue from the worker's); False if none is left."""
        while self._queue:
            job = self._queue[-1]
            if not job.abandoned:
                return self._take_slice(job)
            self._finish(self._queue.pop())
        return False

    def _take_slice(self, job: _Job) -> bool:
        """Verify the last STEAL_SLICE signatures still to verify of a queued job."""
        if job.checks is None:
            job.checks = frame_checks(job.community.id, job.frame)
        part = job.checks[-STEAL_SLICE:]
        del job.checks[-STEAL_SLICE:]
        job.community.presigned.add(valid_checks(part))
        self.stolen += len(part)
        if not job.checks:
            self._queue.remove(job)
            self._finish(job)
        return True

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
            with self._stop:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._guarded, self._read_answers, child, in_flight, nursery)
                    await self._up.wait()
                    await self._guarded(self._send_requests, child, in_flight, nursery)
        finally:
            # One that never came up would not the next time either.
            worked = self._up.is_set() and self._state is not _State.FAILED
            self._state = _State.OFF if worked else _State.FAILED
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
                if job.checks is None:
                    request = encode_request(job.community.id, job.frame)
                else:  # `ready` took the end of this frame: only the rest
                    request = encode_checks_request(job.checks)
                job.sent = True
                in_flight.append(job)
                await child.stdin.send_all(request)
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
    env = {**os.environ, sigworker.BUNDLE_SWITCH: "1"}
    if os.name != "posix":
        process = await trio.lowlevel.open_process(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env
        )
        assert process.stdin is not None and process.stdout is not None

        async def close_process() -> None:
            process.kill()
            await process.wait()

        return _Child(process.stdin, process.stdout, close_process)
    popen = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
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
