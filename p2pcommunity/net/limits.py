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
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields

from p2pcommunity.net.framing import MAX_FRAME_SIZE

# The sync layer refuses bigger batches anyway (sync.apply.MAX_BATCH_CHANGES).
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

    def __post_init__(self) -> None:
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
        for name in ("max_frames_per_second", "throttle_drop_after_s"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise LimitError(f"{name} must be a positive number, not {value!r}")

    @classmethod
    def keys(cls) -> list[str]:
        return [f.name for f in fields(cls)]


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
