"""The page part of a sync session (protocol version 3), without I/O.

A session holds one `PageSync`. After the member-document summary, each
side sends one page summary (a version vector per page: {actor: highest
seq} of what it serves), then the changes the peer lacks, per page in our
arrival order, which is causal: a change is stored only after its deps.
Page changes are signed per change and verified by `CommunityPages.receive`
exactly like a local write is checked; only signed changes travel.

Receipt-side limits, each checked before anything is kept: entries of page
summaries per session, changes and bytes per frame (frames.py), and the
changes waiting for their deps (`max_pending_*`, per session, dropped with
it). A page the log does not hold (yet) is skipped, not an error: its
page_create op may still be on its way in another frame order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from p2pcommunity.sync.community import Community
from p2pcommunity.sync.docs.apply import MAX_BATCH_CHANGES, SignedChange
from p2pcommunity.sync.docs.chunks import parse_change, raw_change_hash
from p2pcommunity.sync.errors import Rejected, RemoteProtocolError
from p2pcommunity.sync.log.page_rules import may_edit
from p2pcommunity.sync.pages import pages_of
from p2pcommunity.sync.protocol.frames import (
    BATCH_BYTES,
    ITEM_OVERHEAD,
    MAX_PAGE_ACTORS,
    MAX_SUMMARY_PAGES,
    Frame,
    PageChangesFrame,
    PageSummaryFrame,
)

MAX_PAGE_SUMMARY_ENTRIES = 100_000
MAX_PENDING_PAGE_CHANGES = 1000
MAX_PENDING_PAGE_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class PageChangesApplied:
    page_id: bytes
    count: int


class PageSync:
    def __init__(self) -> None:
        self.enabled = False  # both sides speak version 3
        self.summary_sent = False
        self.peer_summary_done = False
        self._peer_vv: dict[bytes, dict[bytes, int]] = {}
        self._entries = 0
        self._pending: dict[bytes, list[SignedChange]] = {}
        self._pending_count = 0
        self._pending_bytes = 0

    # -- receiving -----------------------------------------------------------------

    def on_summary(self, community: Community, frame: PageSummaryFrame) -> None:
        self._entries += sum(1 + len(vv) for _, vv in frame.pages)
        if self._entries > MAX_PAGE_SUMMARY_ENTRIES:
            raise RemoteProtocolError(f"over {MAX_PAGE_SUMMARY_ENTRIES} page summary entries")
        pages = community.state.pages
        for page_id, vv in frame.pages:
            if page_id not in pages:
                continue  # nothing of it is ours to take or serve: remember nothing
            held = self._peer_vv.setdefault(page_id, {})
            for actor, seq in vv:
                held[actor] = max(seq, held.get(actor, 0))
        if frame.last:
            self.peer_summary_done = True

    def on_changes(
        self, community: Community, frame: PageChangesFrame, now_ms: int
    ) -> PageChangesApplied | None:
        if frame.page not in community.state.pages:
            return None
        tables = community.store.pages
        held = self._peer_vv.setdefault(frame.page, {})
        # In a mesh most frames bring copies, from every neighbour: a copy of a change
        # we hold is known by its hash, with no parse and no signature check.
        fresh = []
        for change in frame.changes:
            change_hash = raw_change_hash(change.data)
            known = None if change_hash is None else tables.held_change(frame.page, change_hash)
            if known is None:
                fresh.append(change)
            else:
                held[known[0]] = max(held.get(known[0], 0), known[1])
        if not fresh and frame.page not in self._pending:
            return None
        waiting = self._pending.pop(frame.page, [])
        self._pending_count -= len(waiting)
        self._pending_bytes -= sum(len(c.data) for c in waiting)
        try:
            applied, still = pages_of(community).receive(frame.page, [*waiting, *fresh], now_ms)
        except Rejected as exc:
            if exc.reason != "removed":
                raise
            # An honest peer that has not seen a removal's cut yet: skip, store nothing.
            return None
        if still:
            self._pending_count += len(still)
            self._pending_bytes += sum(len(c.data) for c in still)
            if (
                self._pending_count > MAX_PENDING_PAGE_CHANGES
                or self._pending_bytes > MAX_PENDING_PAGE_BYTES
            ):
                raise RemoteProtocolError("too many page changes waiting for their deps")
            self._pending[frame.page] = still
        # What the peer sent, it holds (all of it parsed already in `receive`).
        for change in fresh:
            parsed = parse_change(change.data)
            held[parsed.actor] = max(held.get(parsed.actor, 0), parsed.seq)
        return PageChangesApplied(frame.page, applied) if applied else None

    def behind(self, community: Community) -> bool:
        """Whether the peer told of page changes we lack (that we would accept): `join`
        waits for pages as for the rest (CaughtUp comes only once this is False)."""
        if not self.enabled:
            return False  # an older peer serves no pages: nothing to wait for
        if not self.peer_summary_done:
            return True
        state = community.state
        tables = community.store.pages
        for page_id, theirs in self._peer_vv.items():
            ours = tables.max_seqs(page_id)
            for actor, seq in theirs.items():
                if seq > ours.get(actor, 0) and may_edit(state, page_id, actor, seq):
                    return True
        return False

    # -- sending -------------------------------------------------------------------

    def push(self, community: Community, send: Callable[[Frame], None]) -> None:
        if not self.enabled:
            return
        if not self.summary_sent:
            self._send_summary(community, send)
        if not self.peer_summary_done:
            return
        host = pages_of(community)
        tables = community.store.pages
        for page_id in community.state.pages:
            host.enforce(page_id)
            ours = tables.max_seqs(page_id)
            theirs = self._peer_vv.setdefault(page_id, {})
            if all(seq <= theirs.get(actor, 0) for actor, seq in ours.items()):
                continue
            batch: list[SignedChange] = []
            size = 0
            for _, _, _, data, signature in tables.changes_beyond(page_id, theirs):
                item = len(data) + len(signature) + ITEM_OVERHEAD
                if batch and (len(batch) >= MAX_BATCH_CHANGES or size + item > BATCH_BYTES):
                    send(PageChangesFrame(page_id, tuple(batch)))
                    batch, size = [], 0
                batch.append(SignedChange(data, signature))
                size += item
            if batch:
                send(PageChangesFrame(page_id, tuple(batch)))
            theirs.update(ours)

    def _send_summary(self, community: Community, send: Callable[[Frame], None]) -> None:
        host = pages_of(community)
        entries = []
        for page_id in community.state.pages:
            host.enforce(page_id)
            vv = sorted(community.store.pages.max_seqs(page_id).items())[:MAX_PAGE_ACTORS]
            if vv:
                entries.append((page_id, tuple(vv)))
        for start in range(0, max(len(entries), 1), MAX_SUMMARY_PAGES):
            chunk = tuple(entries[start : start + MAX_SUMMARY_PAGES])
            send(PageSummaryFrame(chunk, last=start + MAX_SUMMARY_PAGES >= len(entries)))
        self.summary_sent = True
