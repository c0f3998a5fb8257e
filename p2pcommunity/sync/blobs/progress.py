"""Which blobs are moving right now, for `attachment status` and the `blob_progress` event.

The store knows which chunks are here (that survives a restart); this
knows what only the running node knows: that a fetch is under way, and
how many chunks it has served to peers. Plain data, no clock of its own
(times are passed in), so it may live in sync/ and net/blobs.py updates it.
A state is one of: "complete" (every chunk here), "fetching", "partial"
(some chunks here, no fetch running), "missing" (not even the manifest).
"""

from __future__ import annotations

from dataclasses import dataclass

SENDING_FOR_MS = 2_000  # a blob counts as "sending" this long after its last served chunk


@dataclass
class Served:
    chunks: int = 0
    last_ms: int = 0


class Progress:
    def __init__(self) -> None:
        self._fetching: dict[bytes, int] = {}  # root -> nested fetches (keep + save)
        self._served: dict[bytes, Served] = {}

    def fetch_started(self, root: bytes) -> None:
        self._fetching[root] = self._fetching.get(root, 0) + 1

    def fetch_ended(self, root: bytes) -> None:
        left = self._fetching.get(root, 0) - 1
        if left > 0:
            self._fetching[root] = left
        else:
            self._fetching.pop(root, None)

    def fetching(self, root: bytes) -> bool:
        return root in self._fetching

    def chunk_served(self, root: bytes, now_ms: int) -> None:
        served = self._served.setdefault(root, Served())
        served.chunks += 1
        served.last_ms = now_ms
        if len(self._served) > 4096:  # bounded: forget the longest idle
            oldest = min(self._served, key=lambda r: self._served[r].last_ms)
            del self._served[oldest]

    def sent_chunks(self, root: bytes) -> int:
        served = self._served.get(root)
        return 0 if served is None else served.chunks

    def sending(self, root: bytes, now_ms: int) -> bool:
        served = self._served.get(root)
        return served is not None and now_ms - served.last_ms < SENDING_FOR_MS


def state_of(have: int, total: int | None, fetching: bool) -> str:
    if total is not None and have >= total:
        return "complete"
    if fetching:
        return "fetching"
    return "partial" if have else "missing"
