"""Moderators who answer for what they do: the modlog, appeals and context notes (issue 16).

A part of `Service` (`service.accountability`). Nothing here keeps a table:
the moderation log, the appeals and the notes are read off the ops that
count in the fold (`CommunityLog.counted_ops`, the global order), so two
nodes holding the same ops print the same entries, and a node that learns
of an op later (or drops one in pass 2) shows the result of the fold, never
an earlier guess. That costs one pass over the log per read; the log is
bounded by what the fold already handles (see `community_log`).

An appeal's text is sealed to the admins of the moment (one SealedBox each,
the layout of `reports`), so the log carries only bytes to everyone else.
Reversing an appeal writes the outcome op and then the ordinary op that
undoes the entry (unhide, untimeout, role_set back to the role held before),
citing the appeal in its `rule` field: every peer folds the undo as it folds
any moderation op (see `log/appeal_rules`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from nacl.signing import SigningKey

from p2pcommunity.sync.errors import DomainError, Forbidden, Invalid, NotFound
from p2pcommunity.sync.log.appeal_rules import (
    APPEALABLE,
    MAX_NOTE_CHARS,
    MAX_RULE_CHARS,
    acted_on,
)
from p2pcommunity.sync.log.ops import Op, Role
from p2pcommunity.sync.log.rules import OP_RULES
from p2pcommunity.sync.log.state import StateBuilder
from p2pcommunity.sync.peerid import peer_id_from_public_key
from p2pcommunity.sync.sealing import open_sealed, seal_to
from p2pcommunity.sync.timefmt import iso_ms

if TYPE_CHECKING:
    from p2pcommunity.sync.community import Community
    from p2pcommunity.sync.service import Service

MAX_APPEAL_CHARS = 2000
# s1's ops (issue 16's policy half) are listed when present; their bodies are read
# defensively (`.get`), since this module does not own their rules.
MODLOG_TYPES = frozenset(
    {
        "hide",
        "unhide",
        "timeout",
        "untimeout",
        "member_remove",
        "role_set",
        "post_approve",
        "post_reject",
        "policy_set",
        "appeal_resolve",
        "note_set",
        "note_remove",
    }
)


def seal_text(text: str, readers: Sequence[bytes]) -> bytes:
    return seal_to(text.encode(), readers)


def open_text(key: SigningKey, sealed: bytes) -> str | None:
    """The text if it was sealed to `key`; None otherwise or when malformed."""
    plain = open_sealed(key, sealed)
    try:
        return None if plain is None else plain.decode()
    except UnicodeDecodeError:
        return None


def _peer(key: Any) -> str | None:
    return peer_id_from_public_key(key) if isinstance(key, bytes) and len(key) == 32 else None


def _match(ops: dict[str, Op], ref: str, what: str) -> Op:
    wanted = ref.strip().lower()
    found = [op for hex_id, op in ops.items() if hex_id.startswith(wanted)]
    if len(wanted) < 6 or len(found) != 1:
        raise NotFound(f"no {what} {ref!r}")
    return found[0]


class Accountability:
    def __init__(self, service: Service) -> None:
        self.service = service
        # Every read asks for the notes: keep them per community for as long as the
        # fold's list of counted ops is the same object (a new op makes a new list).
        self._notes: dict[bytes, tuple[list[Op], dict[str, str]]] = {}

    # -- reading the log ---------------------------------------------------------

    def _counted(self, community: Community) -> list[Op]:
        return community.log.counted_ops()

    def _entry(self, counted: list[Op], op: Op) -> dict[str, Any]:
        body = op.body
        target: str | None = _peer(body.get("member")) or body.get("post")
        detail: str | None = None
        action = op.type
        if op.type == "role_set":
            detail = f"role {body['role']}"
        elif op.type == "timeout":
            detail = f"until {iso_ms(body['until_ms'])}"
        elif op.type == "appeal_resolve":
            action = f"appeal_{body['outcome']}"
            appeal = next((o for o in counted if o.hash == body["appeal"]), None)
            target = _peer(appeal.author) if appeal is not None else None
            detail = f"appeal {body['appeal'].hex()}"
        elif op.type == "policy_set":
            detail = f"{body.get('key')} = {body.get('value')}"
        elif op.type == "note_set":
            detail = body["text"]
        reason = body.get("reason") if op.type != "appeal_resolve" else body.get("note")
        return {
            "id": op.hash.hex(),
            "action": action,
            "actor": peer_id_from_public_key(op.author),
            "target": target,
            "reason": reason if isinstance(reason, str) else "",
            "time": iso_ms(op.ms),
            "rule": body.get("rule") if isinstance(body.get("rule"), str) else None,
            "detail": detail,
        }

    def modlog(self, ref: str, limit: int = 100) -> dict[str, Any]:
        community = self.service.community(ref)
        if not community.state.is_member(self.service.me):
            raise Forbidden("you are not a member of this community")
        if limit < 1:
            raise Invalid("--limit must be at least 1")
        counted = self._counted(community)
        ops = [op for op in reversed(counted) if op.type in MODLOG_TYPES][:limit]
        entries = [self._entry(counted, op) for op in ops]
        return {"entries": entries, "my_appeals": self._my_appeals(counted)}

    def _my_appeals(self, counted: list[Op]) -> list[dict[str, Any]]:
        """This member's appeals, each with its entry and outcome (null while open),
        oldest first. Read off the log, so they hold wherever an appeal was sent
        from; kept apart from the entries, which every member lists the same."""
        me, outcomes = self.service.me, self._outcomes(counted)
        out = []
        for hex_id, op in self._appeals(counted).items():
            if op.author == me:
                outcome = outcomes.get(op.hash)
                found = outcome.body["outcome"] if outcome is not None else None
                out.append({"id": hex_id, "entry": op.body["entry"].hex(), "outcome": found})
        return out

    def notes(self, community: Community) -> dict[str, str]:
        """post id -> its context note, the last note op per post in the fold order."""
        counted = self._counted(community)
        cached = self._notes.get(community.id)
        if cached is not None and cached[0] is counted:
            return cached[1]
        notes: dict[str, str] = {}
        for op in counted:
            if op.type == "note_set":
                notes[op.body["post"]] = op.body["text"]
            elif op.type == "note_remove":
                notes.pop(op.body["post"], None)
        self._notes[community.id] = (counted, notes)
        return notes

    # -- appeals -----------------------------------------------------------------

    def appeal(self, ref: str, entry: str, text: str) -> dict[str, Any]:
        community = self.service.community(ref)
        me = self.service.me
        if not community.state.is_member(me):
            raise Forbidden("you are not a member of this community")
        text = text.strip()
        if not text or len(text) > MAX_APPEAL_CHARS:
            raise Invalid(f"an appeal needs 1 to {MAX_APPEAL_CHARS} characters")
        counted = self._counted(community)
        op = _match({o.hash.hex(): o for o in counted if o.type in MODLOG_TYPES}, entry, "entry")
        if op.type not in APPEALABLE:
            raise Invalid(f"a {op.type} entry cannot be appealed")
        local = None
        if op.type == "hide":
            row = self.service.store.read_model.post(op.body["post"])
            local = row.local_id if row is not None and row.author == me else None
        if not acted_on(op, me, local):
            raise Forbidden("only the member an entry acted on can appeal it")
        if any(
            o.type == "appeal" and o.author == me and o.body["entry"] == op.hash for o in counted
        ):
            raise DomainError("you have already appealed that entry", "exists")
        state = community.state
        admins = [k for k in state.current_members() if (state.role_of(k) or 0) >= Role.ADMIN]
        body: dict[str, Any] = {"entry": op.hash, "sealed": seal_text(text, admins)}
        if local is not None:
            body["local"] = local
        appeal_hash = self.service.append_op(community, "appeal", body)
        return {"appeal_id": appeal_hash.hex()}

    def _outcomes(self, counted: list[Op]) -> dict[bytes, Op]:
        """appeal hash -> its outcome op: the first resolution in the fold order."""
        outcomes: dict[bytes, Op] = {}
        for op in counted:
            if op.type == "appeal_resolve":
                outcomes.setdefault(op.body["appeal"], op)
        return outcomes

    def _appeals(self, counted: list[Op]) -> dict[str, Op]:
        """The appeals that count: the first one per (member, entry) in the fold order."""
        seen: set[tuple[bytes, bytes]] = set()
        out: dict[str, Op] = {}
        for op in counted:
            if op.type == "appeal" and (op.author, op.body["entry"]) not in seen:
                seen.add((op.author, op.body["entry"]))
                out[op.hash.hex()] = op
        return out

    def appeals(self, ref: str) -> dict[str, Any]:
        community = self.service.community(ref)
        self.service.require_role(community, Role.ADMIN, "read appeals")
        counted = self._counted(community)
        outcomes = self._outcomes(counted)
        rows = []
        for hex_id, op in reversed(self._appeals(counted).items()):
            outcome = outcomes.get(op.hash)
            rows.append(
                {
                    "id": hex_id,
                    "entry": op.body["entry"].hex(),
                    "member": peer_id_from_public_key(op.author),
                    "text": open_text(self.service.key, op.body["sealed"]),
                    "time": iso_ms(op.ms),
                    "outcome": outcome.body["outcome"] if outcome is not None else None,
                }
            )
        return {"appeals": rows}

    def outcomes_for_me(
        self, community: Community, op_hashes: Sequence[bytes]
    ) -> list[dict[str, Any]]:
        """The outcomes among `op_hashes` (ops a sync just stored) of appeals this
        device made, each once: what the node tells its user (`appeal_resolved`)."""
        log, me = community.log, self.service.me
        fresh = [log.op(h) for h in op_hashes if log.has(h) and log.op(h).type == "appeal_resolve"]
        if not fresh:
            return []
        outcomes = self._outcomes(self._counted(community))
        out = []
        for op in fresh:
            appeal_hash = op.body["appeal"]
            appeal = log.op(appeal_hash) if log.has(appeal_hash) else None
            counted = outcomes.get(appeal_hash)
            if appeal is None or appeal.author != me or counted is None or counted.hash != op.hash:
                continue  # not ours, or not the resolution that counts
            out.append(
                {
                    "community_id": community.id.hex(),
                    "appeal_id": appeal_hash.hex(),
                    "entry": appeal.body["entry"].hex(),
                    "outcome": op.body["outcome"],
                    "note": op.body.get("note"),
                    "time": iso_ms(op.ms),
                }
            )
        return out

    def appeal_resolve(
        self, ref: str, appeal: str, outcome: str, note: str | None = None
    ) -> dict[str, Any]:
        community = self.service.community(ref)
        self.service.require_role(community, Role.ADMIN, "resolve appeals")
        if outcome not in ("uphold", "reverse"):
            raise Invalid("the outcome is uphold or reverse")
        note = (note or "").strip()
        if len(note) > MAX_NOTE_CHARS:
            raise Invalid(f"a note of at most {MAX_NOTE_CHARS} characters")
        counted = self._counted(community)
        op = _match(self._appeals(counted), appeal, "appeal")
        if op.hash in self._outcomes(counted):
            raise DomainError("that appeal is already resolved", "exists")
        entry = next((o for o in counted if o.hash == op.body["entry"]), None)
        body: dict[str, Any] = {"appeal": op.hash, "outcome": outcome}
        if note:
            body["note"] = note
        self.service.append_op(community, "appeal_resolve", body)
        if outcome == "reverse" and entry is not None:
            self._undo(community, counted, entry, f"appeal {op.hash.hex()[:16]}")
        return {}

    def _undo(self, community: Community, counted: list[Op], entry: Op, rule: str) -> None:
        """Write the op that undoes `entry`, unless something later already did."""
        state = community.state
        if entry.type == "hide":
            if entry.body["post"] in state.hidden:
                body = {"post": entry.body["post"], "rule": rule}
                self.service.append_op(community, "unhide", body)
        elif entry.type == "timeout":
            member = state.members.get(entry.body["member"])
            if member is not None and member.active and member.timeout_until_ms is not None:
                body = {"member": member.key, "rule": rule}
                self.service.append_op(community, "untimeout", body)
        elif entry.type == "role_set":
            before = StateBuilder(community.id)
            for op in counted:
                if op.hash == entry.hash:
                    break
                OP_RULES[op.type].apply(before, op)
            old = before.role_of(entry.body["member"])
            if old is not None and state.is_member(entry.body["member"]) and old < Role.OWNER:
                body = {"member": entry.body["member"], "role": old.name.lower(), "rule": rule}
                self.service.append_op(community, "role_set", body)

    # -- context notes -----------------------------------------------------------

    def note(self, ref: str, post: str, text: str) -> dict[str, Any]:
        community = self.service.community(ref)
        self.service.require_role(community, Role.MODERATOR, "attach context notes")
        row = self.service.post_row(community, post)
        text = text.strip()
        if not text or len(text) > MAX_NOTE_CHARS:
            raise Invalid(f"a note of 1 to {MAX_NOTE_CHARS} characters is needed")
        self.service.append_op(community, "note_set", {"post": row.id, "text": text})
        return {}

    def note_remove(self, ref: str, post: str) -> dict[str, Any]:
        community = self.service.community(ref)
        self.service.require_role(community, Role.MODERATOR, "remove context notes")
        wanted = post.strip().lower()
        found = [p for p in self.notes(community) if p.startswith(wanted)]
        if len(wanted) < 6 or len(found) != 1:
            raise NotFound(f"no note on post {post!r}")
        self.service.append_op(community, "note_remove", {"post": found[0]})
        return {}


def cite(body: dict[str, Any], rule: str | None) -> dict[str, Any]:
    """`body` with the rule a moderation act cites, checked as every peer checks it."""
    rule = (rule or "").strip()
    if len(rule) > MAX_RULE_CHARS:
        raise Invalid(f"a rule of at most {MAX_RULE_CHARS} characters")
    return body | {"rule": rule} if rule else body
