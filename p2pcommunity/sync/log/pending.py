"""Ops that wait for their parents: a bounded buffer in memory, one per source.

An op whose parents we do not hold cannot be judged yet (its validity is a
function of its causal past, `log` decision 2), so it is neither stored nor
forwarded: it waits here. The buffer is bounded in ops and in bytes, and it
belongs to whoever handed the op in: each sync session has its own and drops
it when the session ends, so one peer can neither fill another's buffer nor
leave memory behind (issue 11, finding 4b: a log-wide buffer of 10,000 ops of
64 KiB was reachable by strangers). Local loads and imports use the log's own
buffer.

Honest peers send parents before children, so a session's buffer is nearly
always empty; it exists for ops whose parents another session is delivering
at the same moment.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from p2pcommunity.sync.errors import Rejected
from p2pcommunity.sync.log.ops import Op

DEFAULT_MAX_OPS = 1000
DEFAULT_MAX_BYTES = 4 * 1024 * 1024


class PendingOps:
    """Ops waiting for parents, keyed by hash; `hold` refuses past the bounds."""

    def __init__(self, max_ops: int = DEFAULT_MAX_OPS, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.max_ops = max_ops
        self.max_bytes = max_bytes
        self._ops: dict[bytes, Op] = {}
        self._waiting: dict[bytes, set[bytes]] = {}  # missing parent -> children here
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._ops)

    def __contains__(self, op_hash: object) -> bool:
        return op_hash in self._ops

    @property
    def size(self) -> int:
        return self._bytes

    def hold(self, op: Op, absent: list[bytes]) -> None:
        """Keep `op` until each of `absent` (parents we lack) is in the log."""
        if op.hash in self._ops:
            return
        size = len(op.signed.data) + len(op.signed.signature)
        if len(self._ops) >= self.max_ops or self._bytes + size > self.max_bytes:
            raise Rejected(
                "buffer_full",
                f"{len(self._ops)} ops ({self._bytes} bytes) already wait for parents",
            )
        self._ops[op.hash] = op
        self._bytes += size
        for parent in absent:
            self._waiting.setdefault(parent, set()).add(op.hash)

    def missing(self) -> list[bytes]:
        """Parents that ops here wait for and that are not here themselves."""
        return sorted(h for h in self._waiting if h not in self._ops)

    def arrived(self) -> Iterator[bytes]:
        """The parents waited for; the caller checks which the log now holds."""
        return iter(list(self._waiting))

    def children_of(self, parent: bytes) -> set[bytes]:
        """Forget that ops wait for `parent` and return them (they may wait for others)."""
        return self._waiting.pop(parent, set())

    def get(self, op_hash: bytes) -> Op:
        return self._ops[op_hash]

    def take(self, op_hash: bytes) -> Op:
        op = self._ops.pop(op_hash)
        self._bytes -= len(op.signed.data) + len(op.signed.signature)
        return op

    def drop_descendants(self, refused: bytes, dropped: Callable[[bytes, Rejected], None]) -> None:
        """Drop every op waiting, directly or not, on `refused`: it can never enter."""
        stack = [refused]
        while stack:
            for child in sorted(self._waiting.pop(stack.pop(), ())):
                if child not in self._ops:
                    continue
                op = self.take(child)
                for parent in op.parents:
                    waiting = self._waiting.get(parent)
                    if waiting is not None:
                        waiting.discard(child)
                        if not waiting:
                            del self._waiting[parent]
                dropped(child, Rejected("parent_rejected", child.hex()))
                stack.append(child)
