"""One community on this device: its log, its member documents, their storage.

Everything that changes a community's stored data passes through here, local
writes and remote batches alike, so the rules of ARCHITECTURE §5.2-5.3 are
enforced in one place: verify first, then apply in memory, then store the
changes and their read-model rows in one SQLite transaction. If anything
fails after Automerge has been touched, the in-memory document is dropped
and reloaded from SQLite, which holds only what was committed.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from nacl.signing import SigningKey

from p2pcommunity.sync.crypto import CHANGE_TAG, sign
from p2pcommunity.sync.docs.apply import (
    SignedChange,
    VerifiedBatch,
    VerifiedChange,
    apply_to_document,
    verify_batch,
)
from p2pcommunity.sync.docs.memberdoc import (
    SEGMENT_MAX_CHANGES,
    CommittedChange,
    DocRef,
    SegmentDoc,
)
from p2pcommunity.sync.docs.presign import SignatureCache
from p2pcommunity.sync.errors import Invalid, Rejected
from p2pcommunity.sync.log.community_log import (
    CommunityLog,
    CommunityState,
    SignedOp,
    make_genesis,
    make_op,
)
from p2pcommunity.sync.log.envelope import MAX_PARENTS
from p2pcommunity.sync.log.pending import PendingOps
from p2pcommunity.sync.storage.projection import (
    own_change_problem,
    project_new_entries,
    project_own_change,
)
from p2pcommunity.sync.storage.store import Store, Visibility

DOC_CACHE_SIZE = 64
# Hashes of changes recently written or applied, to drop the copies a mesh delivers
# without parsing or verifying them again.
RECENT_HASHES = 20_000
# Replaying more changes than this on load is worth a fresh snapshot.
SNAPSHOT_AFTER_REPLAYED = 500


@dataclass(frozen=True)
class AppliedBatch:
    ref: DocRef
    applied: int
    duplicates: int
    top_seq: int = 0  # see VerifiedBatch.top_seq
    # Why the changes from `applied` on were not taken (an always-on node's policy
    # gate, see `Community.gate`); None when the whole batch was.
    refused: str | None = None


# Asked inside the storing transaction, once a received batch is projected: the
# community, the document and its journal position before the batch. A reason
# (the rule) refuses the batch; None takes it. See `Community.gate`.
ChangeGate = Callable[["Community", DocRef, int], str | None]
# How much of a stored document the node serves: the community, the document's
# owner, segment, and what the log allows (`servable_seq`); the seq to serve up to.
ServeLimit = Callable[["Community", bytes, int, int], int]


class _GateRefused(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Community:
    def __init__(self, store: Store, log: CommunityLog) -> None:
        self.store = store
        self.log = log
        self.id = log.community_id
        self._docs: OrderedDict[bytes, SegmentDoc] = OrderedDict()
        # owner -> (ref, max seq) of the segment our device writes to
        self._writing: dict[bytes, tuple[DocRef, int]] = {}
        # (doc id, change hash) -> seq of changes applied or written lately
        self._recent: OrderedDict[tuple[bytes, bytes], int] = OrderedDict()
        # Signatures a worker process verified ahead of their batch (presign.py).
        self.presigned = SignatureCache()
        # Set by the service: an always-on node refuses to store (and so to forward)
        # the changes that bring posts its policy hides (docs/safety.md).
        self.gate: ChangeGate | None = None
        # Set by the service: an always-on node stops serving a document before a
        # post a moderator rejected after the node stored it (docs/safety.md).
        self.serve_limit: ServeLimit | None = None
        # Set by the service: our next change opens a new segment when the one we
        # write to holds a post of ours every peer hides (docs/safety.md).
        self.leave_segment: Callable[[Community, DocRef], bool] | None = None

    # -- opening ---------------------------------------------------------------

    @classmethod
    def load(cls, store: Store, community_id: bytes) -> Community:
        log = CommunityLog(community_id)
        for data, signature in store.ops(community_id):
            log.add(SignedOp(data, signature), trusted=True)
        return cls(store, log)

    @classmethod
    def create(
        cls, store: Store, key: SigningKey, name: str, description: str, now_ms: int
    ) -> Community:
        genesis = make_genesis(key, name, description, now_ms)
        log = CommunityLog.from_genesis(genesis)
        community = cls(store, log)
        with store.transaction():
            store.add_community(community.id, now_ms)
            community._store_op(genesis)
            community.append_op(key, "channel_create", {"name": "general", "topic": ""}, now_ms)
        return community

    @property
    def state(self) -> CommunityState:
        return self.log.state()

    # -- the log ---------------------------------------------------------------

    def _store_op(self, op: SignedOp) -> None:
        self.store.insert_op(self.id, op.hash, op.data, op.signature)

    def append_op(
        self, key: SigningKey, op_type: str, body: dict[str, Any], now_ms: int
    ) -> SignedOp:
        """Sign and add an op of ours; `Rejected('forbidden')` if our role does not allow it.

        With more heads than an op may name, `merge` ops first gather them,
        MAX_PARENTS at a time, so the op still has every head in its causal past.
        """
        merges: list[SignedOp] = []
        try:
            while len(self.log.heads()) > MAX_PARENTS:
                merge = make_op(key, self.id, self.log.heads()[:MAX_PARENTS], "merge", {}, now_ms)
                self.log.add(merge)
                merges.append(merge)
            op = make_op(key, self.id, self.log.heads(), op_type, body, now_ms)
            self.log.add(op)
        finally:
            if merges:  # valid on their own: memory and SQLite must agree
                with self.store.transaction():
                    for merge in merges:
                        self._store_op(merge)
        with self.store.transaction():
            self._store_op(op)
        if op_type == "member_remove":
            self.enforce_removals(now_ms)
        return op

    def receive_ops(
        self, ops: Sequence[SignedOp], pending: PendingOps | None = None
    ) -> list[bytes]:
        """Verify and store ops from a peer; returns the hashes newly added to the log.

        An op whose parents are missing waits in `pending` (the session's
        buffer; None: the log's own), unstored. A refused op raises `Rejected`;
        the ops accepted before it are valid on their own and are stored all
        the same, so memory and SQLite agree.
        """
        added: list[bytes] = []
        try:
            for op in ops:
                added.extend(self.log.add(op, pending=pending))
        finally:
            self._stored(added)
        return added

    def release_pending(self, pending: PendingOps) -> list[bytes]:
        """Add and store the ops of `pending` whose parents arrived by another path."""
        added = list(self.log.release(pending)) if len(pending) else []
        self._stored(added)
        return added

    def _stored(self, added: list[bytes]) -> None:
        if not added:
            return
        with self.store.transaction():
            for op_hash in added:
                self._store_op(self.log.get(op_hash))
        if any(self.log.op(h).type == "member_remove" for h in added):
            self.enforce_removals(max(self.log.op(h).ms for h in added))

    # -- member documents ------------------------------------------------------

    def _cache(self, segment: SegmentDoc) -> SegmentDoc:
        self._docs[segment.ref.doc_id] = segment
        self._docs.move_to_end(segment.ref.doc_id)
        while len(self._docs) > DOC_CACHE_SIZE:
            self._docs.popitem(last=False)
        return segment

    def forget(self, doc_id: bytes) -> None:
        self._docs.pop(doc_id, None)

    def segment(self, ref: DocRef) -> SegmentDoc:
        """The segment in memory, loaded from its snapshot plus later changes."""
        cached = self._docs.get(ref.doc_id)
        if cached is not None:
            self._docs.move_to_end(ref.doc_id)
            return cached
        row = self.store.doc(ref.doc_id)
        if row is None or row.snapshot is None:
            segment = SegmentDoc.new(ref)
            after = 0
        else:
            segment = SegmentDoc.load(ref, row.snapshot)
            after = row.snapshot_seq
        later = self.store.changes_after(ref.doc_id, after)
        if later:
            apply_to_document(segment, [data for _, _, data, _ in later], later[-1][1])
            if len(later) >= SNAPSHOT_AFTER_REPLAYED:
                with self.store.transaction():
                    self.store.set_snapshot(ref.doc_id, segment.save(), later[-1][0])
        return self._cache(segment)

    def current_ref(self, owner: bytes) -> DocRef:
        """The segment a member writes to now: the last one, or the next when it is full."""
        held = self._writing.get(owner)
        if held is None:
            docs = self.store.docs_of(self.id, owner)
            last = (docs[-1].segment, docs[-1].max_seq) if docs else (0, 0)
            held = self._writing[owner] = (DocRef(self.id, owner, last[0]), last[1])
        ref, max_seq = held
        if max_seq >= SEGMENT_MAX_CHANGES or (
            max_seq and self.leave_segment is not None and self.leave_segment(self, ref)
        ):
            return DocRef(self.id, owner, ref.segment + 1)
        return ref  # the same object each time, so its doc_id is hashed once

    def write(
        self,
        key: SigningKey,
        now_ms: int,
        make_change: Callable[[SegmentDoc], CommittedChange],
    ) -> CommittedChange:
        """Make, sign and store one change of our own member document.

        This is the hot path of posting: it reads nothing back from SQLite that
        the in-memory segment already knows (seq, journal position), nor from
        Automerge what a post just wrote (see `project_own_change`).

        A change that receivers would refuse (content.py) raises `Invalid`
        and is stored nowhere: the service checks first, this is the last line.
        """
        owner = bytes(key.verify_key)
        ref = self.current_ref(owner)
        if ref.segment > self._writing[owner][0].segment:
            self._snapshot_previous(owner, ref.segment - 1)
        segment = self.segment(ref)
        position = segment.journal_length()
        try:
            change = make_change(segment)
            problem = own_change_problem(segment, change)
            if problem is not None:
                raise Invalid(f"not written: {problem}")
            signature = sign(key, CHANGE_TAG, ref.doc_id, change.hash)
            with self.store.transaction():
                if change.seq == 1:
                    self.store.ensure_doc(ref.doc_id, self.id, owner, ref.segment)
                self.store.insert_local_change(
                    ref.doc_id,
                    change.seq,
                    change.hash,
                    change.raw_bytes,
                    signature,
                    position + len(change.entries),
                )
                project_own_change(self.store, segment, position, change, now_ms)
        except BaseException:
            self.forget(ref.doc_id)  # memory may be ahead of what was committed
            self._writing.pop(owner, None)
            raise
        self._writing[owner] = (ref, change.seq)
        self._remember(ref.doc_id, [(change.hash, change.seq)])
        return change

    def _snapshot_previous(self, owner: bytes, segment_no: int) -> None:
        ref = DocRef(self.id, owner, segment_no)
        row = self.store.doc(ref.doc_id)
        if row is not None and row.snapshot_seq < row.max_seq:
            with self.store.transaction():
                self.store.set_snapshot(ref.doc_id, self.segment(ref).save(), row.max_seq)
        self.forget(ref.doc_id)

    def _project(self, segment: SegmentDoc, now_ms: int) -> None:
        """Project received changes, refusing the batch if their content breaks a rule."""
        row = self.store.doc(segment.ref.doc_id)
        assert row is not None
        project_new_entries(self.store, segment, row.journal_pos, now_ms, strict=True)

    def receive_changes(
        self,
        ref: DocRef,
        items: Sequence[SignedChange],
        now_ms: int,
        writers: frozenset[bytes] | None = None,
    ) -> AppliedBatch:
        """Verify, apply and store a batch for one segment; `Rejected` changes nothing.

        Content is checked after Automerge applied the batch, because the
        binding shows a change's effects only in the document: inside the
        transaction, `_project` raises `Rejected("invalid_content")` for a
        value that breaks a rule of content.py; the transaction rolls back and
        the segment is dropped from memory (readmodel.py says what is covered).
        """
        if ref.community_id != self.id:
            raise Rejected("wrong_community")
        allowed = self.allowed_seq(ref.owner, ref.segment)
        if allowed is None and not self.state.is_member(ref.owner):
            raise Rejected("not_member", "document of a key that is not a member")
        row = self.store.doc(ref.doc_id)
        known = row.max_seq if row is not None else 0
        doc_id = ref.doc_id
        batch: VerifiedBatch = verify_batch(
            ref,
            items,
            known,
            lambda seq: self.store.change_hash(doc_id, seq),
            writers,
            lambda h: None if h is None else self._recent.get((doc_id, h)),
            self.presigned.verify,
        )
        if allowed is not None and batch.changes and batch.changes[-1].parsed.seq > allowed:
            raise Rejected("removed", "changes of a removed member beyond its recorded heads")
        if batch.changes and batch.changes[-1].parsed.seq > SEGMENT_MAX_CHANGES:
            # Writers start a new segment after this many changes (current_ref); a
            # longer one would make every later change slower to apply for everyone.
            raise Rejected("segment_full", f"seq beyond {SEGMENT_MAX_CHANGES} in one segment")
        if not batch.changes:
            return AppliedBatch(ref, 0, batch.duplicates, batch.top_seq)
        try:
            self._store_verified(ref, batch.changes, now_ms)
        except _GateRefused as refused:
            # Take the changes before the first refused one. A prefix of a document
            # is judged as the whole is, so a refused prefix stays refused when it
            # grows: bisect, storing each prefix that passes (log2 of the batch
            # tries, however a check-skipping author builds it).
            applied, refused_at = 0, len(batch.changes)  # changes[applied:refused_at] refused
            while refused_at - applied > 1:
                middle = (applied + refused_at) // 2
                try:
                    self._store_verified(ref, batch.changes[applied:middle], now_ms)
                    applied = middle
                except _GateRefused:
                    refused_at = middle
            return AppliedBatch(ref, applied, batch.duplicates, batch.top_seq, refused.reason)
        return AppliedBatch(ref, len(batch.changes), batch.duplicates, batch.top_seq)

    def _store_verified(self, ref: DocRef, changes: Sequence[VerifiedChange], now_ms: int) -> None:
        doc_id = ref.doc_id
        segment = self.segment(ref)
        self._writing.pop(ref.owner, None)  # our own documents can arrive back from a peer
        try:
            raws = [c.parsed.raw_bytes for c in changes]
            apply_to_document(segment, raws, changes[-1].parsed.hash)
            with self.store.transaction():
                row = self.store.doc(doc_id)
                position = row.journal_pos if row is not None else 0
                self.store.ensure_doc(doc_id, self.id, ref.owner, ref.segment)
                self.store.insert_changes(
                    doc_id,
                    [
                        (c.parsed.seq, c.parsed.hash, c.parsed.raw_bytes, c.signature)
                        for c in changes
                    ],
                )
                self._project(segment, now_ms)
                reason = self.gate(self, ref, position) if self.gate is not None else None
                if reason is not None:
                    raise _GateRefused(reason)
        except BaseException:
            self.forget(doc_id)
            raise
        self._remember(doc_id, [(c.parsed.hash, c.parsed.seq) for c in changes])

    def _remember(self, doc_id: bytes, changes: Sequence[tuple[bytes, int]]) -> None:
        for change_hash, seq in changes:
            self._recent[(doc_id, change_hash)] = seq
        while len(self._recent) > RECENT_HASHES:
            self._recent.popitem(last=False)

    # -- moderation --------------------------------------------------------------

    def journal_length_at(self, ref: DocRef, seq: int) -> int:
        """How many journal entries the segment had at change `seq` (0 if unknown)."""
        if seq <= 0:
            return 0
        head = self.store.change_hash(ref.doc_id, seq)
        if head is None:
            return 0
        segment = self.segment(ref)
        journal = segment.journal_object()
        if journal is None:
            return 0
        try:
            return segment.doc.length(journal, [head])
        except Exception:  # noqa: BLE001 -- unknown heads: nothing within
            return 0

    def visibility(self, now_ms: int) -> Visibility:
        state = self.state
        timeouts = []
        for member in state.members.values():
            until = member.timeout_until_ms
            if until is None or until <= now_ms:
                continue
            within = tuple(
                (segment, self.journal_length_at(DocRef(self.id, member.key, segment), seq))
                for segment, seq in sorted(member.timeout_heads.items())
            )
            timeouts.append((member.key, until, within))
        return Visibility(frozenset(state.hidden), tuple(timeouts))

    def servable_seq(self, owner: bytes, segment: int, max_seq: int) -> int:
        """How much of a stored document sync serves: what the log allows, cut
        before a rejected post on an always-on node (`serve_limit`)."""
        limit = self.state.servable_seq(owner, segment, max_seq)
        if self.serve_limit is None or limit < 1:
            return limit
        return self.serve_limit(self, owner, segment, limit)

    def allowed_seq(self, owner: bytes, segment: int) -> int | None:
        """The highest seq a removed member's segment may hold; None if not removed."""
        return self.state.removed_limit(owner, segment)

    def enforce_removals(self, now_ms: int) -> list[bytes]:
        """Cut removed members' documents back to the heads their removal recorded.

        A node may have applied changes that a removal made after them
        invalidates (ARCHITECTURE §5.6): truncate those segments, then rebuild
        that member's read-model rows from what remains.
        """
        rebuilt = []
        for member in self.state.members.values():
            if member.status != "removed":
                continue
            rows = self.store.docs_of(self.id, member.key)
            excess = [r for r in rows if r.max_seq > member.removed_heads.get(r.segment, 0)]
            if not excess:
                continue
            self._recent.clear()  # some of what we held is no longer held
            with self.store.transaction():
                for row in excess:
                    self.store.truncate_doc(row.doc_id, member.removed_heads.get(row.segment, 0))
                    self.forget(row.doc_id)
                self.store.read_model.clear_member_rows(self.id, member.key)
                self.store.knowledge.clear_member_rows(self.id, member.key)
                for row in self.store.docs_of(self.id, member.key):
                    self.store.set_journal_pos(row.doc_id, 0)
                    segment = self.segment(DocRef(self.id, member.key, row.segment))
                    project_new_entries(self.store, segment, 0, now_ms)
            rebuilt.append(member.key)
        return rebuilt

    def save_snapshots(self) -> None:
        """Snapshot cached documents so the next start replays little."""
        for doc_id, segment in list(self._docs.items()):
            row = self.store.doc(doc_id)
            if row is not None and row.max_seq > row.snapshot_seq:
                with self.store.transaction():
                    self.store.set_snapshot(doc_id, segment.save(), row.max_seq)
