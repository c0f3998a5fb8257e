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


def _up(counts: dict[bytes, int], root: bytes) -> None:
    counts[root] = counts.get(root, 0) + 1


def _down(counts: dict[bytes, int], root: bytes) -> None:
    left = counts.get(root, 0) - 1
    if left > 0:
        counts[root] = left
    else:
        counts.pop(root, None)


class Progress:
    def __init__(self) -> None:
        self._fetching: dict[bytes, int] = {}  # root -> fetches running (keep + save)
        self._serving: dict[bytes, int] = {}  # root -> peers' streams that asked for it
        self._sent: dict[bytes, int] = {}  # root -> chunks served since the node started

    def fetch_started(self, root: bytes) -> None:
        _up(self._fetching, root)

    def fetch_ended(self, root: bytes) -> None:
        _down(self._fetching, root)

    def fetching(self, root: bytes) -> bool:
        return root in self._fetching

    def serving_started(self, root: bytes) -> None:
        _up(self._serving, root)

    def serving_ended(self, root: bytes) -> None:
        _down(self._serving, root)

    def sending(self, root: bytes) -> bool:
        return root in self._serving

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
