"""Which blobs are moving right now, for `attachment status` and the `blob_progress` event.

The store knows which chunks are here (that survives a restart); this
knows what only the running node knows: that a fetch is under way, that
peers' streams are fetching it from us, and how many chunks were served.
Plain data, so it may live in sync/; net/blobs.py updates it.
A state is one of: "complete" (every chunk here), "fetching", "partial"
(some chunks here, no fetch running), "missing" (not even the manifest).
"""

from __future__ import annotations

MAX_COUNTED = 4096  # blobs whose served chunks are counted (then the oldest is forgotten)


class Counts:
    """How many of something are running per blob (fetches, or peers' streams)."""

    def __init__(self) -> None:
        self._n: dict[bytes, int] = {}

    def up(self, root: bytes) -> None:
        self._n[root] = self._n.get(root, 0) + 1

    def down(self, root: bytes) -> None:
        left = self._n.pop(root, 0) - 1
        if left > 0:
            self._n[root] = left

    def __contains__(self, root: object) -> bool:
        return root in self._n

    def roots(self) -> frozenset[bytes]:
        return frozenset(self._n)


class Progress:
    def __init__(self) -> None:
        self.fetching = Counts()  # fetches running (`keep` and a save may share a blob)
        self.serving = Counts()  # peers' blob streams that asked for its chunks
        self._sent: dict[bytes, int] = {}  # root -> chunks served since the node started

    def chunk_served(self, root: bytes) -> None:
        self._sent[root] = self._sent.pop(root, 0) + 1  # re-inserted: last in, last out
        if len(self._sent) > MAX_COUNTED:
            del self._sent[next(iter(self._sent))]

    def sent_chunks(self, root: bytes) -> int:
        return self._sent.get(root, 0)


def state_of(have: int, total: int | None, fetching: bool) -> str:
    if total is not None and have >= total:
        return "complete"
    if fetching:
        return "fetching"
    return "partial" if have else "missing"
