"""Per-node resource limits and the per-connection rate limiter.

Every limit protects the node from one peer: a peer that exceeds one is
throttled or loses its session, with a logged reason and a
`p2pcommunity_rejected_total` count; the node and its other sessions go on.

- `max_peers`: distinct peers with a sync session; a new peer's inbound
  sync stream beyond it is refused (closed at once), and the dialer opens no
  session to a new peer.
- `max_frame_bytes`: the length prefix of a frame is checked before any of
  it is buffered (`framing.FrameReader`); a bigger frame closes that session.
  Honest peers send frames up to the protocol's 1 MiB, so lower values only
  suit closed deployments where every peer shares them.
- `max_changes_per_batch`: a changes frame carrying more closes the session
  (the sync layer's own hard limit is 1000).
- `mesh_peers`: per community, the members the dialer keeps sessions with
  (the community's listed nodes and the bootstrap peers come on top). Every
  change reaches a node once from each session it has, so this is the
  node's main cost per post; peers that dial us are not counted against it.
- `max_frames_per_second`: a token bucket per session (burst: one second's
  worth, at least 16). A peer over the rate is throttled: its frames are read
  late, so yamux flow control pushes back on it. A peer throttled without a
  break for `throttle_drop_after_s` is dropped.

Hostile strangers (issue 11, net/gate.py): the limits below bound what a
peer can hold before it has proved anything, and keep room for members.

- `max_handshakes`, `max_handshakes_per_ip`: TCP connections still in the
  Noise + Yamux upgrade, in total and per remote IP; one more is closed at
  once. `handshake_timeout_s` bounds each upgrade.
- `max_connections`: authenticated connections. Strangers (peers that are
  not a current member of any community we hold) get at most
  `max_stranger_connections` of them; a member that finds the node full
  takes the slot of a stranger's connection, which is closed.
- `max_streams_per_connection`, `max_streams_per_peer`: inbound streams a
  peer holds open at once; `max_streams_per_stranger` is a stranger's (a
  joiner needs identify, ping and one sync stream). One more is reset.
- `hello_timeout_s`: from a sync stream's opening to its hello, complete.
  `max_hello_bytes` / `max_hello_bytes_per_peer`: bytes reserved for first
  frames not yet complete (announced length), over all streams / one peer's.
  Members are refused only by their own per-peer share.
- `max_pending_frame_bytes`: per session, bytes of frames read ahead of the
  session (besides `READ_AHEAD` frames).
- `max_summary_entries`, `max_pending_ops`, `max_pending_op_bytes`: what one
  session holds for its peer (sync.protocol.frames.SessionLimits): document summary
  entries (an honest peer sends one per document of the community), and ops
  waiting for parents, in count and bytes (an honest peer sends parents
  first). Over any of them, the session is closed.
- `cpu_budget_per_peer`: seconds of the node's loop per second that one
  peer's frames may cost (decode + session step), with four seconds' worth
  saved up (an honest cold sync from one peer, ~1 s of loop, never waits);
  a peer over it has its next frames read late.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields

from p2pcommunity.sync.protocol.frames import MAX_FRAME_SIZE
from p2pcommunity.sync.protocol.session import SessionLimits

# The sync layer refuses bigger batches anyway (sync.docs.apply.MAX_BATCH_CHANGES).
PROTOCOL_MAX_CHANGES = 1000
MIN_FRAME_BYTES = 4096


class LimitError(ValueError):
    """A limit value that makes no sense."""


@dataclass(frozen=True)
class Limits:
    max_peers: int = 256
    mesh_peers: int = 4
    max_frame_bytes: int = MAX_FRAME_SIZE
    max_changes_per_batch: int = PROTOCOL_MAX_CHANGES
    max_frames_per_second: float = 500.0
    throttle_drop_after_s: float = 30.0
    max_handshakes: int = 64
    max_handshakes_per_ip: int = 8
    handshake_timeout_s: float = 5.0
    max_connections: int = 512
    max_stranger_connections: int = 64
    max_streams_per_connection: int = 64
    max_streams_per_peer: int = 128
    max_streams_per_stranger: int = 8
    hello_timeout_s: float = 5.0
    max_hello_bytes: int = 16 * MAX_FRAME_SIZE
    max_hello_bytes_per_peer: int = MAX_FRAME_SIZE
    max_pending_frame_bytes: int = 4 * MAX_FRAME_SIZE
    cpu_budget_per_peer: float = 0.5
    max_summary_entries: int = 100_000
    max_pending_ops: int = 1000
    max_pending_op_bytes: int = 4 * MAX_FRAME_SIZE
    blob_quota_bytes: int = 10 * 1000**3  # issue 15: others' blobs kept (LRU beyond it)

    def __post_init__(self) -> None:
        # Three groups, each a plain list of checks: one function would be too branchy to read.
        self._check_sizes()
        self._check_rates_and_counts()
        self._check_budgets()

    def _check_sizes(self) -> None:
        if not isinstance(self.max_peers, int) or self.max_peers < 1:
            raise LimitError(f"max_peers must be a positive integer, not {self.max_peers!r}")
        if (
            not isinstance(self.mesh_peers, int)
            or isinstance(self.mesh_peers, bool)
            or self.mesh_peers < 1
        ):
            raise LimitError(f"mesh_peers must be a positive integer, not {self.mesh_peers!r}")
        if (
            not isinstance(self.max_frame_bytes, int)
            or not MIN_FRAME_BYTES <= self.max_frame_bytes <= MAX_FRAME_SIZE
        ):
            raise LimitError(
                f"max_frame_bytes must be an integer from {MIN_FRAME_BYTES} to {MAX_FRAME_SIZE}, "
                f"not {self.max_frame_bytes!r}"
            )
        if (
            not isinstance(self.max_changes_per_batch, int)
            or not 1 <= self.max_changes_per_batch <= PROTOCOL_MAX_CHANGES
        ):
            raise LimitError(
                f"max_changes_per_batch must be an integer from 1 to {PROTOCOL_MAX_CHANGES}, "
                f"not {self.max_changes_per_batch!r}"
            )

    def _check_rates_and_counts(self) -> None:
        for name in (
            "max_frames_per_second",
            "throttle_drop_after_s",
            "handshake_timeout_s",
            "hello_timeout_s",
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise LimitError(f"{name} must be a positive number, not {value!r}")
        for name in (
            "max_handshakes",
            "max_handshakes_per_ip",
            "max_connections",
            "max_stranger_connections",
            "max_streams_per_connection",
            "max_streams_per_peer",
            "max_streams_per_stranger",
        ):
            _positive_int(self, name)
        if self.max_stranger_connections > self.max_connections:
            raise LimitError(
                f"max_stranger_connections ({self.max_stranger_connections}) cannot exceed "
                f"max_connections ({self.max_connections})"
            )
        if self.max_handshakes_per_ip > self.max_handshakes:
            raise LimitError(
                f"max_handshakes_per_ip ({self.max_handshakes_per_ip}) cannot exceed "
                f"max_handshakes ({self.max_handshakes})"
            )

    def _check_budgets(self) -> None:
        # Byte budgets must hold at least one frame of the largest accepted size,
        # or a peer could never send it.
        for name in ("max_summary_entries", "max_pending_ops"):
            _positive_int(self, name)
        for name in (
            "max_hello_bytes",
            "max_hello_bytes_per_peer",
            "max_pending_frame_bytes",
            "max_pending_op_bytes",
        ):
            _positive_int(self, name)
            if getattr(self, name) < self.max_frame_bytes:
                raise LimitError(
                    f"{name} must be at least max_frame_bytes ({self.max_frame_bytes}), "
                    f"not {getattr(self, name)!r}"
                )
        if self.max_hello_bytes_per_peer > self.max_hello_bytes:
            raise LimitError(
                f"max_hello_bytes_per_peer ({self.max_hello_bytes_per_peer}) cannot exceed "
                f"max_hello_bytes ({self.max_hello_bytes})"
            )
        budget = self.cpu_budget_per_peer
        if isinstance(budget, bool) or not isinstance(budget, int | float) or not 0 < budget <= 1:
            raise LimitError(
                f"cpu_budget_per_peer must be a number of seconds per second in (0, 1], "
                f"not {budget!r}"
            )

    def session(self) -> SessionLimits:
        """The bounds a sync session enforces itself (sans-I/O, in sync/)."""
        return SessionLimits(
            self.max_summary_entries, self.max_pending_ops, self.max_pending_op_bytes
        )

    @classmethod
    def keys(cls) -> list[str]:
        return [f.name for f in fields(cls)]


def _positive_int(limits: Limits, name: str) -> None:
    value = getattr(limits, name)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise LimitError(f"{name} must be a positive integer, not {value!r}")


class TokenBucket:
    """`rate` tokens a second, at most `burst` saved up; `take` says how long to wait."""

    def __init__(self, rate: float, burst: float, clock: Callable[[], float]) -> None:
        self.rate = rate
        self.burst = burst
        self.clock = clock
        self._tokens = burst
        self._at = clock()

    def take(self) -> float:
        """Spend one token; the seconds to wait before the work it pays for (0: none)."""
        now = self.clock()
        self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
        self._at = now
        self._tokens -= 1
        if self._tokens >= 0:
            return 0.0
        return -self._tokens / self.rate


class RateLimiter:
    """A session's frame rate: the delay before reading on, and when to give up on the peer."""

    def __init__(self, limits: Limits, clock: Callable[[], float]) -> None:
        rate = float(limits.max_frames_per_second)
        self.bucket = TokenBucket(rate, max(rate, 16.0), clock)
        self.clock = clock
        self.drop_after = limits.throttle_drop_after_s
        self._throttled_since: float | None = None

    def on_frame(self) -> tuple[float, bool]:
        """(seconds to wait before reading the next frame, True if the peer must be dropped)."""
        wait = self.bucket.take()
        if wait <= 0:
            self._throttled_since = None
            return 0.0, False
        now = self.clock()
        if self._throttled_since is None:
            self._throttled_since = now
        return wait, now - self._throttled_since >= self.drop_after


class CpuBudget:
    """Seconds of loop time one peer may spend per second, four seconds' worth saved up.

    `charge` books what a frame cost after the fact (a frame's cost is only
    known once it has run); `wait` is how long the peer's next frame must
    wait for the debt to be paid back.
    """

    def __init__(self, rate: float, clock: Callable[[], float]) -> None:
        self.rate = rate
        self.burst = 4 * rate
        self.clock = clock
        self._balance = self.burst
        self._at = clock()

    def _refill(self) -> None:
        now = self.clock()
        self._balance = min(self.burst, self._balance + (now - self._at) * self.rate)
        self._at = now

    def charge(self, seconds: float) -> None:
        self._refill()
        self._balance -= seconds

    def wait(self) -> float:
        self._refill()
        return 0.0 if self._balance >= 0 else -self._balance / self.rate

    @property
    def idle(self) -> bool:
        """Nothing owed and the burst full again: forgetting it loses nothing."""
        self._refill()
        return self._balance >= self.burst


class ByteBudget:
    """Bytes reserved per key (a peer) and in total, e.g. for first frames not yet complete.

    A key that is `exempt_total` (a member) is refused only by its own share,
    so strangers filling the total cannot lock members out.
    """

    def __init__(self, total: int, per_key: int) -> None:
        self.total = total
        self.per_key = per_key
        self.used = 0
        self._by_key: dict[str, int] = {}

    def reserve(self, key: str, size: int, *, exempt_total: bool = False) -> str | None:
        """None when reserved (release it later); else which limit refused it."""
        held = self._by_key.get(key, 0)
        if held + size > self.per_key:
            return "per_peer"
        if not exempt_total and self.used + size > self.total:
            return "total"
        self._by_key[key] = held + size
        self.used += size
        return None

    def release(self, key: str, size: int) -> None:
        held = self._by_key.get(key, 0) - size
        if held > 0:
            self._by_key[key] = held
        else:
            self._by_key.pop(key, None)
        self.used -= size

    def held(self, key: str) -> int:
        return self._by_key.get(key, 0)
