"""One sync session per (peer, community), without I/O, in the manner of h11.

Frames in (`receive`), frames and events out (`Step`); net/ moves the bytes,
the node reacts to the events and tells the session when something changed
locally (`local_changed`). Time is passed in. What the peer got wrong raises
`RemoteProtocolError` (its subclass `Rejected` for data that fails
verification) and closes the session; what our caller got wrong raises
`LocalProtocolError`.

The exchange (ARCHITECTURE §6), per side, in stream order:

    initiator                          responder
    hello {c, v, heads, invite?}  ->   admitted? else refused {reason}, close
                                  <-   heads, ops the initiator lacks, summary
    heads (if changed), ops the
    responder lacks, summary      ->
    changes the responder lacks   <->  changes the initiator lacks

Ops always precede the changes that need them in the same direction, so a
document of a member is never sent before the op that made them a member.
Each side keeps what the peer is known to hold: an ancestor-closed set of
op hashes (its heads, what we sent, what it sent) and a seq per document;
`local_changed` pushes only what lies beyond. Only signed changes travel,
never Automerge sync messages (§6).

Authorization (§5.4): the responder serves a peer only while it is a member
(or `check_invite` accepts the invite its hello carries); otherwise it sends
one `refused` frame and closes, having sent nothing else. Membership is
checked again whenever the log changes. The initiator serves the responder
by the same rule but, as it may not know the responder's membership yet (a
joiner with an empty log), it withholds instead of refusing until then.
"""

from __future__ import annotations

import enum
from collections.abc import Callable

from p2pcommunity.sync.community import Community
from p2pcommunity.sync.docs.apply import MAX_BATCH_CHANGES, SignedChange
from p2pcommunity.sync.docs.memberdoc import DocRef
from p2pcommunity.sync.errors import Rejected, RemoteProtocolError
from p2pcommunity.sync.log.community_log import PendingOps, SignedOp, decode_op
from p2pcommunity.sync.protocol.frames import (
    ACCEPTED_VERSIONS,
    BATCH_BYTES,
    ITEM_OVERHEAD,
    MAX_FRAME_SIZE,
    MAX_HEADS,
    MAX_OPS_PER_FRAME,
    MAX_SUMMARY_DOCS,
    PROTOCOL_VERSION,
    ChangesFrame,
    DocSummary,
    Frame,
    HeadsFrame,
    HelloFrame,
    OpsFrame,
    PageChangesFrame,
    PageSummaryFrame,
    RefusedFrame,
    SessionLimits,
    SummaryFrame,
    decode_frame,
    hello_community,
)
from p2pcommunity.sync.protocol.pages import PageChangesApplied, PageSync
from p2pcommunity.sync.protocol.steps import (
    CaughtUp,
    ChangesApplied,
    ChangesGated,
    Event,
    OpsAdded,
    Outbox,
    Refused,
    Step,
)

__all__ = [
    "MAX_FRAME_SIZE",
    "PROTOCOL_VERSION",
    "CaughtUp",
    "ChangesApplied",
    "ChangesGated",
    "CommunityLookup",
    "Event",
    "InviteCheck",
    "LocalProtocolError",
    "OpsAdded",
    "PageChangesApplied",
    "Refused",
    "SessionLimits",
    "Step",
    "SyncSession",
    "hello_community",
]

# Finds the community a hello asks for; None when we do not hold it.
CommunityLookup = Callable[[bytes], Community | None]
# Decides whether `invite` (opaque bytes from the hello) admits `peer_key` to `community`:
# None admits, a string is the refusal reason sent to the peer ("expired", "revoked", ...).
InviteCheck = Callable[[Community, bytes, bytes], str | None]

NOT_MEMBER = "not_member"
UNKNOWN_COMMUNITY = "unknown_community"
UNSUPPORTED_VERSION = "unsupported_version"


class LocalProtocolError(Exception):
    """Our caller misused the session (h11): a bug here, not the peer's fault."""


# --- the state machine (h11 "Rule 1": the whole table in one place) ----------


class State(enum.Enum):
    IDLE = "idle"  # initiator before start()
    AWAIT_HELLO = "await_hello"  # responder
    AWAIT_ADMISSION = "await_admission"  # initiator: hello sent, heads or refused next
    OPEN = "open"
    CLOSED = "closed"


_ACCEPTS: dict[State, tuple[type[Frame], ...]] = {
    State.IDLE: (),
    State.AWAIT_HELLO: (HelloFrame,),
    State.AWAIT_ADMISSION: (HeadsFrame, RefusedFrame),
    State.OPEN: (
        HeadsFrame,
        OpsFrame,
        SummaryFrame,
        ChangesFrame,
        RefusedFrame,
        PageSummaryFrame,
        PageChangesFrame,
    ),
    State.CLOSED: (),
}


DocKey = tuple[bytes, int]  # (owner, segment)


class SyncSession:
    def __init__(
        self,
        community: Community | None,
        community_id: bytes,
        local_key: bytes,
        peer_key: bytes,  # proven by Noise before the session starts
        initiator: bool,
        *,
        invite: bytes | None = None,
        check_invite: InviteCheck | None = None,
        limits: SessionLimits | None = None,
    ) -> None:
        if community is None and initiator:
            raise LocalProtocolError("an initiator needs a community (its log may be empty)")
        if community is not None and community.id != community_id:
            raise LocalProtocolError("community and community_id disagree")
        self.community = community
        self.community_id = community_id
        self.local_key = local_key
        self.peer_key = peer_key
        self.initiator = initiator
        self._invite = invite  # ours to present (initiator)
        self._check_invite = check_invite
        self._peer_invite: bytes | None = None  # what the peer presented (responder)
        self._lookup: CommunityLookup | None = None
        self._state = State.IDLE if initiator else State.AWAIT_HELLO
        self._started = False
        self._serving = False
        # What the peer is known to hold.
        self._peer_ops: set[bytes] = set()  # closed under ancestry, all in our log
        self._peer_heads_unknown: set[bytes] = set()  # its latest heads we do not hold
        self._peer_seq: dict[DocKey, int] = {}
        self._peer_announced: tuple[bytes, ...] = ()
        self._skipped_docs = False
        self._peer_summary_done = False
        self._behind: set[DocKey] = set()  # docs where the peer said it has more than us
        # Docs whose changes our policy gate refused (an always-on node): the peer
        # holds more than we ever take, which is no reason to wait for it.
        self._gated: set[DocKey] = set()
        self._sent_heads: tuple[bytes, ...] | None = None
        self._admission_checked_at: tuple[bytes, ...] | None = None
        self._summary_sent = False
        self._caught_up = False
        self.limits = limits or SessionLimits()
        # Ops from this peer that wait for parents: dropped with the session.
        self._pending = PendingOps(self.limits.max_pending_ops, self.limits.max_pending_op_bytes)
        self._summary_entries = 0
        self._pages = PageSync()  # issue 14: wiki pages, protocol version 3

    @classmethod
    def responder(
        cls,
        lookup: CommunityLookup,
        local_key: bytes,
        peer_key: bytes,
        *,
        check_invite: InviteCheck | None = None,
        limits: SessionLimits | None = None,
    ) -> SyncSession:
        """A responder that learns its community from the hello (`community_id` is set then)."""
        session = cls(
            None, b"", local_key, peer_key, False, check_invite=check_invite, limits=limits
        )
        session._lookup = lookup
        return session

    @property
    def state(self) -> State:
        return self._state

    @property
    def closed(self) -> bool:
        return self._state is State.CLOSED

    @property
    def caught_up(self) -> bool:
        return self._caught_up

    # --- the API ------------------------------------------------------------------

    def start(self, now_ms: int) -> Step:
        """Initiator: the hello. Responder: nothing (it waits for the hello)."""
        if self._started:
            raise LocalProtocolError("start() called twice")
        self._started = True
        out = Outbox()
        if self.initiator:
            assert self.community is not None
            heads = tuple(self.community.log.heads()[:MAX_HEADS])
            out.send(HelloFrame(self.community_id, heads, self._invite))
            self._pages.enabled = True  # a version 2 responder refuses our hello
            self._sent_heads = heads
            self._state = State.AWAIT_ADMISSION
        return out.step()

    def receive(self, frame: bytes, now_ms: int) -> Step:
        """Handle one frame from the peer; `RemoteProtocolError` closes the session."""
        if self._state is State.CLOSED:
            raise RemoteProtocolError("frame after the session closed")
        if self._state is State.IDLE:
            raise LocalProtocolError("receive() before start()")
        try:
            parsed = decode_frame(frame)
            if not isinstance(parsed, _ACCEPTS[self._state]):
                raise RemoteProtocolError(
                    f"unexpected {type(parsed).__name__} in state {self._state.value}"
                )
            out = Outbox()
            self._handle(parsed, now_ms, out)
            return out.step()
        except BaseException:
            self._state = State.CLOSED
            raise

    def local_changed(self, now_ms: int) -> Step:
        """Something changed here (a local write, a batch from another peer): push it."""
        out = Outbox()
        if self._state is State.OPEN:
            self._push(out)
        return out.step()

    # --- handlers -----------------------------------------------------------------

    def _handle(self, frame: Frame, now_ms: int, out: Outbox) -> None:
        match frame:
            case HelloFrame():
                self._on_hello(frame, out)
            case HeadsFrame():
                if self._state is State.AWAIT_ADMISSION:
                    self._state = State.OPEN  # the responder's first frame admits us
                self._learn_peer_heads(frame.heads)
                self._push(out)
            case OpsFrame():
                self._on_ops(frame, out)
            case SummaryFrame():
                self._on_summary(frame, out)
            case ChangesFrame():
                self._on_changes(frame, now_ms, out)
            case RefusedFrame():
                out.events.append(Refused(frame.reason))
                self._close(out)
            case PageSummaryFrame():
                self._pages.on_summary(self._community(), frame)
                self._push(out)
            case PageChangesFrame():
                applied = self._pages.on_changes(self._community(), frame, now_ms)
                if applied is not None:
                    out.events.append(applied)
                self._push(out, docs=False)

    def _on_hello(self, hello: HelloFrame, out: Outbox) -> None:
        if self._lookup is not None:
            self.community_id = hello.community_id
            self.community = self._lookup(hello.community_id)
            if self.community is not None and self.community.id != hello.community_id:
                raise LocalProtocolError("the lookup gave another community")
        if hello.community_id != self.community_id:
            raise RemoteProtocolError("hello names another community than this session's")
        if self.community is None or len(self.community.log) == 0:
            return self._refuse(UNKNOWN_COMMUNITY, out)
        if hello.version not in ACCEPTED_VERSIONS:
            return self._refuse(UNSUPPORTED_VERSION, out)
        self._pages.enabled = hello.version >= PROTOCOL_VERSION
        self._peer_invite = hello.invite
        refusal = self._refusal()
        if refusal is not None:
            return self._refuse(refusal, out)
        self._state = State.OPEN
        self._learn_peer_heads(hello.heads)
        self._push(out)

    def _on_ops(self, frame: OpsFrame, out: Outbox) -> None:
        community = self._community()
        # Check every op before the log sees any: `receive_ops` stores nothing when
        # one fails, but keeps the ones before it in memory.
        for op in frame.ops:
            decode_op(op.data, op.signature, self.community_id)
        added = community.receive_ops(frame.ops, self._pending)
        if added:
            out.events.append(OpsAdded(tuple(added)))
        for op in frame.ops:  # what the peer sent, it holds (an honest peer sends parents first)
            if community.log.has(op.hash):
                self._mark_peer_has(op.hash)
        self._push(out)

    def _on_summary(self, frame: SummaryFrame, out: Outbox) -> None:
        community = self._community()
        store, members = community.store, community.state.members
        self._summary_entries += len(frame.docs)
        if self._summary_entries > self.limits.max_summary_entries:
            raise RemoteProtocolError(
                f"over {self.limits.max_summary_entries} summary entries in one session"
            )
        for doc in frame.docs:
            if doc.owner not in members:
                continue  # nothing of theirs is ours to take or serve: remember nothing
            key = (doc.owner, doc.segment)
            doc_id = DocRef(self.community_id, doc.owner, doc.segment).doc_id
            row = store.doc(doc_id)
            ours = row.max_seq if row is not None else 0
            if doc.max_seq <= ours and store.change_hash(doc_id, doc.max_seq) != doc.head:
                raise Rejected("equivocation", f"two changes at seq {doc.max_seq} of a document")
            if doc.max_seq > self._peer_seq.get(key, 0):
                self._peer_seq[key] = doc.max_seq
            if doc.max_seq > ours:
                self._behind.add(key)
        if frame.last:
            self._peer_summary_done = True
        self._push(out)

    def _on_changes(self, frame: ChangesFrame, now_ms: int, out: Outbox) -> None:
        community = self._community()
        ref = DocRef(self.community_id, frame.owner, frame.segment)
        # No log yet, or not a member here: a race with a removal, or a joiner that
        # has no genesis yet. Nothing to verify against; skip (Community would refuse).
        if len(community.log) == 0 or frame.owner not in community.state.members:
            # The peer thinks we hold these now and won't send them again in this
            # session; once our log admits the owner, end the session so the next
            # one starts from fresh summaries.
            self._skipped_docs = True
            return self._check_caught_up(out)
        try:
            result = community.receive_changes(ref, frame.changes, now_ms)
        except Rejected as exc:
            if exc.reason != "removed":
                raise
            # An honest peer that has not seen the removal yet: skip, don't drop it.
            return self._check_caught_up(out)
        key = (frame.owner, frame.segment)
        if result.refused is not None:
            self._gated.add(key)
            held_before = community.store.doc(ref.doc_id)
            seq = (held_before.max_seq if held_before is not None else 0) + 1
            out.events.append(ChangesGated(ref, seq, result.refused))
        # What the peer sent, it holds, and so every change before it: even when
        # all of it was a copy of what we had, we must not send it back.
        held = result.top_seq
        if result.applied:
            out.events.append(ChangesApplied(ref, result.applied))
            row = community.store.doc(ref.doc_id)
            assert row is not None
            # A batch applies only as the continuation of our chain, so the peer
            # holds everything up to our new max_seq.
            held = max(held, row.max_seq)
        self._peer_seq[key] = max(self._peer_seq.get(key, 0), held)
        self._push(out, docs=False)  # this peer lacks nothing new; see if we caught up

    # --- pushing what the peer lacks ----------------------------------------------

    def _push(self, out: Outbox, docs: bool = True) -> None:
        community = self._community()
        self._take_up_arrivals(community, out)
        all_heads = tuple(community.log.heads())
        if all_heads != self._admission_checked_at:  # membership changes only with the log
            self._admission_checked_at = all_heads
            if self._skipped_docs and self._caught_up:
                return self._close(out)
            refusal = self._refusal()
            if refusal is None:
                self._serving = True
            elif self._serving or not self.initiator:
                removed = community.state.members.get(self.peer_key)
                if self._serving and removed is not None and removed.status == "removed":
                    # A member removed mid-session gets the log up to its removal:
                    # that is how its own node learns it may no longer post.
                    self._push_ops(out)
                return self._refuse(refusal, out)
        heads = all_heads[:MAX_HEADS]
        if heads != self._sent_heads:
            out.send(HeadsFrame(heads))
            self._sent_heads = heads
        if not self._serving:
            return  # initiator: the responder is no member we know of (yet)
        self._push_ops(out)
        if not self._summary_sent:
            self._send_summary(out)
        if docs and self._peer_summary_done:
            self._push_changes(out)
        self._pages.push(community, out.send)
        self._check_caught_up(out)

    def _take_up_arrivals(self, community: Community, out: Outbox) -> None:
        """What other sessions brought meanwhile: the parents of pending ops (releasing
        them), and ops the peer named as heads before we held them."""
        if len(self._pending):
            released = community.release_pending(self._pending)
            if released:
                out.events.append(OpsAdded(tuple(released)))
        for head in list(self._peer_heads_unknown):
            if community.log.has(head):
                self._peer_heads_unknown.discard(head)
                self._mark_peer_has(head)

    def _push_ops(self, out: Outbox) -> None:
        log = self._community().log
        if len(self._peer_ops) >= len(log):
            return
        ours = log.ops_in_order()
        size = 0
        pending: list[SignedOp] = []
        for op in ours:  # topological: parents before children, in every frame and across
            if op.hash in self._peer_ops:
                continue
            item = len(op.data) + len(op.signature) + ITEM_OVERHEAD
            if pending and (len(pending) >= MAX_OPS_PER_FRAME or size + item > BATCH_BYTES):
                out.send(OpsFrame(tuple(pending)))
                pending, size = [], 0
            pending.append(op)
            size += item
        if pending:
            out.send(OpsFrame(tuple(pending)))
        self._peer_ops.update(op.hash for op in ours)

    def _send_summary(self, out: Outbox) -> None:
        community = self._community()
        store = community.store
        docs = []
        for row in store.docs_of(self.community_id):
            servable = community.servable_seq(row.owner, row.segment, row.max_seq)
            if servable < 1:
                continue
            head = store.change_hash(row.doc_id, servable)
            if head is not None:
                docs.append(DocSummary(row.owner, row.segment, servable, head))
        for start in range(0, len(docs), MAX_SUMMARY_DOCS):
            chunk = tuple(docs[start : start + MAX_SUMMARY_DOCS])
            out.send(SummaryFrame(chunk, last=start + MAX_SUMMARY_DOCS >= len(docs)))
        if not docs:
            out.send(SummaryFrame((), last=True))
        self._summary_sent = True

    def _push_changes(self, out: Outbox) -> None:
        community = self._community()
        store = community.store
        for row in store.docs_of(self.community_id):
            key = (row.owner, row.segment)
            sent = self._peer_seq.get(key, 0)
            limit = community.servable_seq(row.owner, row.segment, row.max_seq)
            if limit <= sent:
                continue
            while sent < limit:
                rows = store.changes_after(row.doc_id, sent, min(MAX_BATCH_CHANGES, limit - sent))
                if not rows:
                    break
                pending: list[SignedChange] = []
                size = 0
                for seq, _hash, data, signature in rows:
                    item = len(data) + len(signature) + ITEM_OVERHEAD
                    if pending and size + item > BATCH_BYTES:
                        out.send(ChangesFrame(row.owner, row.segment, tuple(pending)))
                        pending, size = [], 0
                    pending.append(SignedChange(data, signature))
                    size += item
                    sent = seq
                out.send(ChangesFrame(row.owner, row.segment, tuple(pending)))
            self._peer_seq[key] = sent

    # --- bookkeeping --------------------------------------------------------------

    def _community(self) -> Community:
        if self.community is None:  # the responder without it never leaves AWAIT_HELLO
            raise LocalProtocolError("no community")
        return self.community

    def _refusal(self) -> str | None:
        """None when the peer may get our community's data (a member, or an accepted
        invite); otherwise the reason to refuse it."""
        community = self.community
        if community is None or len(community.log) == 0:
            return UNKNOWN_COMMUNITY
        if community.state.is_member(self.peer_key):
            return None
        if self._peer_invite is None or self._check_invite is None:
            return NOT_MEMBER
        return self._check_invite(community, self.peer_key, self._peer_invite)

    def _learn_peer_heads(self, heads: tuple[bytes, ...]) -> None:
        log = self._community().log
        # The peer's log only grows: its latest heads cover all it held before.
        self._peer_announced = heads
        self._peer_heads_unknown = set()
        for head in heads:
            if log.has(head):
                self._mark_peer_has(head)
            else:
                self._peer_heads_unknown.add(head)

    def peer_acknowledged(self, op_hash: bytes) -> bool:
        """The peer's own announced heads include `op_hash`: it stored the op.

        Unlike what we merely sent, this survives the stream being cut right
        after: a joiner waits for it before exiting.
        """
        if self.community is None:
            return False
        log = self.community.log
        stack = [h for h in self._peer_announced if log.has(h)]
        seen: set[bytes] = set()
        while stack:
            current = stack.pop()
            if current == op_hash:
                return True
            if current not in seen:
                seen.add(current)
                stack.extend(log.op(current).parents)
        return False

    def _mark_peer_has(self, op_hash: bytes) -> None:
        """The peer holds this op, hence all its ancestors."""
        log = self._community().log
        stack = [op_hash]
        while stack:
            current = stack.pop()
            if current in self._peer_ops:
                continue  # the set is ancestor-closed: its ancestors are in too
            self._peer_ops.add(current)
            stack.extend(log.op(current).parents)

    def _check_caught_up(self, out: Outbox) -> None:
        if self._caught_up or not (
            self._serving and self._summary_sent and self._peer_summary_done
        ):
            return
        if self._peer_heads_unknown:
            return
        community = self._community()
        state = community.state
        for key in sorted(self._behind):
            owner, segment = key
            if not state.is_member(owner) or key in self._gated:
                continue
            row = community.store.doc(DocRef(self.community_id, owner, segment).doc_id)
            if row is None or row.max_seq < self._peer_seq[key]:
                return
            self._behind.discard(key)
        if self._pages.behind(community):
            return
        self._caught_up = True
        out.events.append(CaughtUp())

    def _refuse(self, reason: str, out: Outbox) -> None:
        out.send(RefusedFrame(reason))
        self._close(out)

    def _close(self, out: Outbox) -> None:
        out.close = True
        self._state = State.CLOSED
