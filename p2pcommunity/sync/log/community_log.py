"""The community log: signed ops in a hash DAG, and the deterministic fold over it.

ARCHITECTURE §4: an op counts only if its author held the needed role in the
state of its causal past, and concurrent conflicts resolve by fixed rules.
What each op type means lives in the table of `log_rules.py`; this module holds
the bytes, the DAG and the fold, and never names an op type. It is shaped by
four decisions.

0. Bytes to `Op`: `decode_op` (in `log_envelope`) is the only way in, and nothing but `Rejected`
   ever leaves it. It reads CBOR with `log_ops.decode_canonical`, which
   accepts one encoding per value, so an op has one encoding and one hash.
   Only version 1 is interpreted: an op with a higher "v" is checked at the
   envelope (v, c, a, p, signature) and kept, forwarded and used as a DAG
   node, but its type, body and time mean nothing here and no role is
   required of its author.

1. One total order. `ops_in_order` is Kahn's topological sort that, among the
   ops whose parents are all out, takes the smallest hash first. Two facts
   make it cheap and let everything else lean on it:
   (a) Restricted to a down-closed set S (an op's ancestors), the order is
       Kahn's order of S alone. An op of S has all its parents in S, so
       emitting an op outside S never makes an op of S ready; the S-ops that
       are ready change only when an S-op is emitted, and each time the one
       emitted next is the smallest ready S-op, exactly as in the run over S.
   (b) Adding a sink x (its parents all present, no children) leaves the
       relative order of the others unchanged, by (a) with S = the old set.
       x becomes ready just after its last parent p; at every later step t
       the run with x picks x if x's hash is below that of the op the old
       run picked at t (the smallest of the old ready set, to which x is the
       only addition), and otherwise picks the same op. So x goes right
       before the first op after p with a larger hash (`_place`). In the
       usual case (x's parents are recent) that scan is short.
   Hence the state of an op's causal past is the fold of its ancestors in
   the global order, and any subset of them can be ordered by the global
   positions (`_ranked`).

2. Validity is a pure function of an op and its causal past, so it is
   checked once, in `add`, and an invalid op is refused rather than stored
   (pass 1). A check does not fold the whole past (O(n) per op, O(n²) per
   load): each op names what it touches (a member's role, the channel list)
   and the check folds only the ancestors touching the same thing, extending
   the previous such fold when the history is linear (`_past_fold`). Ancestry
   is one int bitset per op (bit i = the op inserted i-th), OR-ed from the
   parents: n²/8 bytes in all, 12 MB at 10,000 ops, fine up to some tens of
   thousands; past that, compaction (a later step) has to cut the history.

   A join's check needs its invite's ops too: a rule's `links` make the
   fold of one touch key (the joiner) include the ops of another (the invite).

3. Concurrent revocation is settled in `state()`, globally, because it is not
   a property of one op's past. Pass 2: an op lowering A to role r (a
   `Revocation`) drops every op of A needing more than r that is concurrent
   with it (neither is the other's ancestor); a removal (r None) drops every
   op of A concurrent with it — "a removal wins over concurrent ops of the
   removed". Every pass-1 revocation counts, including one that pass 2
   drops: two admins concurrently demoting each other both lose their op and
   both stay admins. The owner can be revoked by no one, so an owner always
   wins. Then the fold runs in the global order over the surviving v1 ops,
   and re-checks each author's role in the running state: that is how a drop
   cascades (an admin promoted by a dropped op does not act as admin in the
   result). A `final` op (a removal) is exempt from both: once valid in its
   causal past it stands (see `log_governance`).
"""

from __future__ import annotations

import enum
import heapq
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import pairwise

from p2pcommunity.sync.errors import Rejected
from p2pcommunity.sync.log.envelope import decode_op, make_genesis, make_op
from p2pcommunity.sync.log.governance_rules import check_invite_admission, invite_proof
from p2pcommunity.sync.log.ops import MAX_OP_SIZE, OP_VERSION, Op, Role, SignedOp
from p2pcommunity.sync.log.pending import PendingOps
from p2pcommunity.sync.log.rules import OP_RULES
from p2pcommunity.sync.log.state import (
    CHANNELS,
    NODES,
    RULES,
    Channel,
    CommunityState,
    Invite,
    Member,
    Revocation,
    StateBuilder,
    Touch,
    invite_touch,
    member_touch,
)

__all__ = [
    "MAX_BUFFERED_OPS",
    "MAX_OP_SIZE",
    "OP_VERSION",
    "AddResult",
    "AddStatus",
    "Channel",
    "CommunityLog",
    "CommunityState",
    "Invite",
    "Member",
    "Op",
    "PendingOps",
    "Role",
    "SignedOp",
    "check_invite_admission",
    "decode_op",
    "invite_proof",
    "make_genesis",
    "make_op",
]

# The log's own buffer serves local loads and imports only; a sync session
# brings its own, smaller one (log_pending).
MAX_BUFFERED_OPS = 10_000


class AddStatus(enum.Enum):
    ADDED = "added"
    DUPLICATE = "duplicate"  # already in the log
    BUFFERED = "buffered"  # waiting for parents (now or already before)


@dataclass(frozen=True)
class AddResult:
    status: AddStatus
    # Ops this call put into the DAG, in insertion order: the op itself, then
    # the buffered ops it unblocked.
    added: tuple[bytes, ...] = ()
    # Buffered ops refused once their parents arrived, with why; a buffered op
    # waiting on a refused one is refused with "parent_rejected".
    dropped: tuple[tuple[bytes, Rejected], ...] = ()

    def __iter__(self) -> Iterator[bytes]:
        """The hashes newly in the DAG: `added.extend(log.add(op))` reads naturally."""
        return iter(self.added)


@dataclass
class _Node:
    op: Op
    ancestors: int
    parents: tuple[int, ...]
    required: Role | None  # what pass 2 may take away; None: genesis, join, v>1
    final: bool
    revocation: Revocation | None


def _bits(mask: int) -> list[int]:
    """The set bits of `mask`, lowest first; costs O(width) per bit, for sparse masks."""
    out = []
    while mask:
        low = mask & -mask
        out.append(low.bit_length() - 1)
        mask ^= low
    return out


@dataclass
class _PastFold:
    """The last fold of one touch key's ops, kept to be extended by the next check."""

    included: int  # bitset of the ops folded
    last: int | None  # the one of them last in the global order
    state: StateBuilder


class _PastView:
    """Pass-1 state of one op's causal past, folded lazily per touched key."""

    def __init__(self, log: CommunityLog, ancestors: int) -> None:
        self._log = log
        self._ancestors = ancestors

    def _fold(self, touch: Touch) -> StateBuilder:
        masks = self._log._touch_mask
        mask = masks.get(touch, 0)
        for linked in self._log._links.get(touch, ()):
            mask |= masks.get(linked, 0)
        return self._log._past_fold(touch, self._ancestors & mask)

    def role_of(self, key: bytes) -> Role | None:
        return self._fold(member_touch(key)).role_of(key)

    def member(self, key: bytes) -> Member | None:
        return self._fold(member_touch(key)).members.get(key)

    def invite(self, invite_id: bytes) -> Invite | None:
        return self._fold(invite_touch(invite_id)).invites.get(invite_id)

    def rules_version(self) -> int:
        return self._fold(RULES).rules_version

    def has_node(self, peer: bytes) -> bool:
        return peer in self._fold(NODES).nodes

    def channel_named(self, name: str) -> bytes | None:
        return self._fold(CHANNELS).channel_names.get(name)

    def has_channel(self, channel_id: bytes) -> bool:
        return channel_id in self._fold(CHANNELS).channels

    def past_op(self, op_hash: bytes) -> Op | None:
        index = self._log._index.get(op_hash)
        if index is None or not self._ancestors >> index & 1:
            return None
        return self._log._nodes[index].op

    def past_ops_by(self, author: bytes) -> list[Op]:
        nodes, ancestors = self._log._nodes, self._ancestors
        return [nodes[i].op for i in self._log._by_author.get(author, ()) if ancestors >> i & 1]


class CommunityLog:
    """All ops of one community we hold, plus those still waiting for parents.

    Not thread-safe; pure computation, no I/O.
    """

    def __init__(self, community_id: bytes) -> None:
        self.community_id = community_id
        self._nodes: list[_Node] = []
        self._index: dict[bytes, int] = {}
        self._heads: set[bytes] = set()
        self._order: list[int] = []
        self._position: dict[int, int] | None = {}
        self._touch_mask: dict[Touch, int] = {}  # touch key -> bitset of the ops touching it
        self._links: dict[Touch, set[Touch]] = {}  # touch key -> keys its folds include
        self._past_folds: dict[Touch, _PastFold] = {}
        self._by_author: dict[bytes, list[int]] = {}
        self._revocations: list[int] = []
        self._pending = PendingOps(MAX_BUFFERED_OPS, MAX_BUFFERED_OPS * MAX_OP_SIZE)
        self._state: CommunityState | None = None
        self._counted: list[Op] = []  # the ops `_state` folded, in order (the modlog's source)

    @classmethod
    def from_genesis(cls, genesis: SignedOp) -> CommunityLog:
        """A new log holding `genesis`, whose hash is the community id."""
        op = decode_op(genesis.data, genesis.signature, None)
        if not op.is_genesis:
            raise Rejected("malformed_op", "not a genesis op")
        log = cls(op.hash)
        log.add(genesis, trusted=True)  # just verified
        return log

    # --- reading ------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._nodes)

    def has(self, op_hash: bytes) -> bool:
        return op_hash in self._index

    def get(self, op_hash: bytes) -> SignedOp:
        """Raises KeyError for an op not in the DAG (buffered ops are not in it)."""
        return self._nodes[self._index[op_hash]].op.signed

    def op(self, op_hash: bytes) -> Op:
        return self._nodes[self._index[op_hash]].op

    def heads(self) -> list[bytes]:
        """The ops no other op names as a parent, sorted: the parents of a new op."""
        return sorted(self._heads)

    def ops_in_order(self) -> list[SignedOp]:
        return [self._nodes[i].op.signed for i in self._order]

    def missing(self) -> list[bytes]:
        """Parents that ops in the log's own buffer wait for and that we do not hold."""
        return self._pending.missing()

    def buffered(self) -> int:
        return len(self._pending)

    def state(self) -> CommunityState:
        if self._state is None:
            self._counted = []
            self._state = self._fold(self._counted)
        return self._state

    # --- adding -------------------------------------------------------------

    def add(
        self, signed: SignedOp, *, trusted: bool = False, pending: PendingOps | None = None
    ) -> AddResult:
        """Verify and insert an op, or hold it in `pending` until its parents arrive.

        Raises `Rejected` (and changes nothing) for an op that fails decoding,
        whose author lacked the role in its causal past ("forbidden"), that is
        invalid there ("invalid_op"), or that does not fit in `pending`
        ("buffer_full"). `trusted` skips the signature check, for ops reloaded
        from our own store. `pending` is the caller's buffer (a sync session's);
        None uses the log's own, for local loads.
        """
        pending = self._pending if pending is None else pending
        op = decode_op(signed.data, signed.signature, self.community_id, not trusted)
        if op.hash in self._index:
            return AddResult(AddStatus.DUPLICATE)
        if op.hash in pending:
            return AddResult(AddStatus.BUFFERED)
        absent = [p for p in op.parents if p not in self._index]
        if absent:
            pending.hold(op, absent)
            return AddResult(AddStatus.BUFFERED)
        self._insert(op)
        added, dropped = self._release([op.hash], pending)
        return AddResult(AddStatus.ADDED, (op.hash, *added), tuple(dropped))

    def check(self, signed: SignedOp) -> Op:
        """What `add` would say of an op, without adding it: `Rejected`, or the op.

        For an op whose parents we hold; one whose parents are missing cannot
        be judged and is refused ("missing_parents"). Used to judge an op a
        stranger presents (an invite in a hello) before anything is stored.
        """
        op = decode_op(signed.data, signed.signature, self.community_id)
        if op.hash in self._index:
            return op
        if any(p not in self._index for p in op.parents):
            raise Rejected("missing_parents", "the op's parents are not in this log")
        self._judge(op, self._ancestors_of(op))
        return op

    def release(self, pending: PendingOps) -> AddResult:
        """Insert the ops of `pending` whose parents have arrived since (by another path)."""
        arrived = [p for p in pending.arrived() if p in self._index]
        if not arrived:
            return AddResult(AddStatus.DUPLICATE)
        added, dropped = self._release(arrived, pending)
        return AddResult(AddStatus.ADDED, tuple(added), tuple(dropped))

    def _release(
        self, parents: list[bytes], pending: PendingOps
    ) -> tuple[list[bytes], list[tuple[bytes, Rejected]]]:
        added: list[bytes] = []
        dropped: list[tuple[bytes, Rejected]] = []
        ready: list[bytes] = []

        def unblock(parent: bytes) -> None:
            for child in pending.children_of(parent):
                if child in pending and all(p in self._index for p in pending.get(child).parents):
                    heapq.heappush(ready, child)

        for parent in parents:
            unblock(parent)
        while ready:  # smallest hash first: `added` does not depend on set iteration order
            child = heapq.heappop(ready)
            if child not in pending:
                continue
            op = pending.take(child)
            try:
                self._insert(op)
            except Rejected as e:
                dropped.append((child, e))
                pending.drop_descendants(child, lambda h, why: dropped.append((h, why)))
                continue
            added.append(child)
            unblock(child)
        return added, dropped

    def _ancestors_of(self, op: Op) -> int:
        ancestors = 0
        for p in op.parents:
            i = self._index[p]
            ancestors |= self._nodes[i].ancestors | (1 << i)
        return ancestors

    def _judge(self, op: Op, ancestors: int) -> tuple[Role | None, Revocation | None]:
        """The checks of an op against its causal past; `Rejected` if it fails one."""
        view = _PastView(self, ancestors)
        if op.version != OP_VERSION:
            # Not interpreted, but stored and forwarded: only a member may make
            # the log carry it (a stranger's v2 ops once filled logs, finding 1).
            if view.role_of(op.author) is None:
                raise Rejected("forbidden", f"a version {op.version} op by a non-member")
            return None, None
        rule = OP_RULES[op.type]
        required = rule.required
        if required is not None:
            role = view.role_of(op.author)
            if role is None or role < required:
                have = "no role" if role is None else role.name.lower()
                raise Rejected("forbidden", f"{op.type} needs {required.name.lower()}, {have}")
        rule.check(view, op)
        return required, rule.revokes(view, op)

    def _insert(self, op: Op) -> None:
        parents = tuple(self._index[p] for p in op.parents)
        ancestors = self._ancestors_of(op)
        required, revocation = self._judge(op, ancestors)
        touches: tuple[Touch, ...] = ()
        final = False
        if op.version == OP_VERSION:
            rule = OP_RULES[op.type]
            touches, final = rule.touches(op), rule.final
            for touch, linked in rule.links(op):
                self._links.setdefault(touch, set()).add(linked)

        index = len(self._nodes)
        self._nodes.append(_Node(op, ancestors, parents, required, final, revocation))
        self._index[op.hash] = index
        self._heads.difference_update(op.parents)
        self._heads.add(op.hash)
        for touch in touches:
            self._touch_mask[touch] = self._touch_mask.get(touch, 0) | 1 << index
        self._by_author.setdefault(op.author, []).append(index)
        if revocation is not None:
            self._revocations.append(index)
        self._place(index)
        self._state = None

    # --- order --------------------------------------------------------------

    def _place(self, index: int) -> None:
        """Insert a new sink into the Kahn order (see the module docstring, 1b)."""
        order, nodes = self._order, self._nodes
        parents = set(nodes[index].parents)
        start = len(order)
        if parents:
            while order[start - 1] not in parents:
                start -= 1
        else:
            start = 0
        new_hash = nodes[index].op.hash
        t = start
        while t < len(order) and nodes[order[t]].op.hash < new_hash:
            t += 1
        order.insert(t, index)
        if t == len(order) - 1 and self._position is not None:
            self._position[index] = t
        else:
            self._position = None

    def _ranked(self, indices: list[int]) -> list[int]:
        """`indices` in the global order (equal to their order in any down-closed subset)."""
        nodes = self._nodes
        # Usually one is an ancestor of the next (a member's role changes one
        # after another); then insertion order is the order, no positions needed.
        if all(nodes[b].ancestors >> a & 1 for a, b in pairwise(indices)):
            return indices
        if self._position is None:
            self._position = {i: t for t, i in enumerate(self._order)}
        position = self._position
        return sorted(indices, key=position.__getitem__)

    def _past_fold(self, touch: Touch, wanted: int) -> StateBuilder:
        """Fold the ops in `wanted` (all touching `touch`, a down-closed set's share).

        Checks come one after another down a mostly linear history, so the set
        usually is the previous one plus ops that all come after it; then the
        previous fold is copied and extended instead of redone (a channel check
        would otherwise refold every channel op, O(c²) over a load).
        """
        cached = self._past_folds.get(touch)
        if cached is not None and cached.included == wanted:
            return cached.state
        nodes = self._nodes
        state: StateBuilder | None = None
        if cached is not None and cached.included & ~wanted == 0:
            extra = self._ranked(_bits(wanted & ~cached.included))
            last = cached.last
            if last is None or all(nodes[i].ancestors >> last & 1 for i in extra):
                state = cached.state.copy()
        if state is None:
            state, extra = StateBuilder(self.community_id), self._ranked(_bits(wanted))
        for i in extra:
            OP_RULES[nodes[i].op.type].apply(state, nodes[i].op)
        if extra:
            self._past_folds[touch] = _PastFold(wanted, extra[-1], state)
        return state

    # --- fold ---------------------------------------------------------------

    def _revoked(self) -> set[int]:
        """Pass 2: ops dropped because they are concurrent with their author's demotion."""
        dropped: set[int] = set()
        for r in self._revocations:
            revoker = self._nodes[r]
            assert revoker.revocation is not None
            target, kept = revoker.revocation
            for j in self._by_author.get(target, ()):
                needed, final = self._nodes[j].required, self._nodes[j].final
                if j == r or final or self._nodes[j].op.version != OP_VERSION:
                    continue
                if kept is not None and (needed is None or needed <= kept):
                    continue
                if revoker.ancestors >> j & 1 or self._nodes[j].ancestors >> r & 1:
                    continue
                dropped.add(j)
        return dropped

    def counted_ops(self) -> list[Op]:
        """The v1 ops that count in the fold, in the global order (the modlog reads them).

        The list is the fold's own, made again only when the state is: read, never change it.
        """
        self.state()
        return self._counted

    def _fold(self, counted: list[Op] | None = None) -> CommunityState:
        dropped = self._revoked()
        state = StateBuilder(self.community_id)
        for i in self._order:
            node = self._nodes[i]
            if node.op.version != OP_VERSION or i in dropped:
                continue
            if node.required is not None and not node.final:
                role = state.role_of(node.op.author)
                if role is None or role < node.required:
                    continue
            OP_RULES[node.op.type].apply(state, node.op)
            if counted is not None:
                counted.append(node.op)
        return state.freeze()
