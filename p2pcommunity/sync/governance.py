"""The membership and moderation commands of the service (issue 4 of CLI.md).

A part of `Service` (`service.governance`) that holds the service it acts
for, so each file stays one idea: service.py is content (posts, channels,
profiles), this is authority
(invites, joins, removal, timeouts, hiding, rules, reports, listed nodes).
Every command here ends in a signed log op whose validity every peer checks
again in the fold; the checks here only give the user a clear error early.
"""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING, Any

from nacl.signing import SigningKey

from p2pcommunity.sync.accountability import cite
from p2pcommunity.sync.errors import DomainError, Forbidden, Invalid, NotFound, Rejected
from p2pcommunity.sync.invite import InviteCode, decode_presented
from p2pcommunity.sync.log.community_log import Role, check_invite_admission
from p2pcommunity.sync.log.governance_rules import (
    MAX_INVITE_USES,
    MAX_REASON_CHARS,
    MAX_RULES_CHARS,
    admission_refusal,
    invite_of,
)
from p2pcommunity.sync.log.ops import MAX_OP_SIZE, NONCE_SIZE
from p2pcommunity.sync.part import ServicePart
from p2pcommunity.sync.peerid import peer_id_from_public_key
from p2pcommunity.sync.reports import CATEGORIES, open_reports, seal_report
from p2pcommunity.sync.timefmt import iso_ms

if TYPE_CHECKING:
    from p2pcommunity.sync.community import Community

DURATION = re.compile(r"^(\d{1,6})([smhdw])$")
_UNIT_MS = {"s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}
RECENTLY_ONLINE_MS = 3 * 86_400_000
MAX_INVITE_ADDRS = 16


def parse_duration(text: str) -> int:
    """'30m', '12h', '7d' -> milliseconds."""
    match = DURATION.match(text.strip())
    if not match or int(match.group(1)) == 0:
        raise Invalid(f"not a duration: {text!r} (use e.g. 30m, 12h, 7d)")
    return int(match.group(1)) * _UNIT_MS[match.group(2)]


class Governance(ServicePart):
    # -- invites ---------------------------------------------------------------

    def invite_create(
        self,
        ref: str,
        expires: str = "7d",
        uses: int = 1,
        role: str = "member",
        addrs: list[str] | None = None,
    ) -> dict[str, Any]:
        community = self.service.community(ref)
        self.service.require_role(community, Role.ADMIN, "create invites")
        if role not in ("member", "moderator"):
            raise Invalid("an invite's role is member or moderator")
        if not 1 <= uses <= MAX_INVITE_USES:
            raise Invalid(f"--uses must be between 1 and {MAX_INVITE_USES}")
        expires_ms = self.service.clock() + parse_duration(expires)
        invite_key = SigningKey(os.urandom(32))
        body = {
            "invite_key": bytes(invite_key.verify_key),
            "role": role,
            "expires_ms": expires_ms,
            "uses": uses,
            "witness": True,
        }
        op_hash = self.service.append_op(community, "invite_create", body)
        code = InviteCode(
            community.id,
            bytes(invite_key),
            community.log.get(op_hash),
            tuple(self.invite_addrs(community, addrs or [])),
        )
        return {"invite": code.encode(), "invite_id": op_hash.hex()}

    def invite_addrs(self, community: Community, own: list[str]) -> list[str]:
        """Where a joiner can dial: us, the community's always-on nodes, members seen lately."""
        state = community.state
        out = list(own)
        published = self.service.store.read_model.member_addrs(community.id)
        out += [a for a in (published.get(self.service.me) or "").split("\n") if a]
        out += [addr for addr in state.nodes.values()]
        recent = self.service.store.recently_seen_peers(self.service.clock() - RECENTLY_ONLINE_MS)
        for key, addrs in recent.items():
            if state.is_member(key):
                out += addrs
        for key, joined in published.items():  # members who told where they listen
            if key != self.service.me and state.is_member(key):
                out += [a for a in joined.split("\n") if a]
        return list(dict.fromkeys(a for a in out if "/p2p/" in a))[:MAX_INVITE_ADDRS]

    def invite_list(self, ref: str) -> dict[str, Any]:
        community = self.service.community(ref)
        self.service.require_role(community, Role.ADMIN, "list invites")
        return {
            "invites": [
                {
                    "invite_id": invite.id.hex(),
                    "role": invite.role.name.lower(),  # CLI.md: member|moderator
                    "expires": iso_ms(invite.expires_ms),
                    "uses_left": max(0, invite.uses - invite.used),
                    "revoked": invite.revoked,
                }
                for invite in sorted(community.state.invites.values(), key=lambda i: i.expires_ms)
            ]
        }

    def invite_revoke(self, ref: str, invite_id: str) -> dict[str, Any]:
        community = self.service.community(ref)
        self.service.require_role(community, Role.ADMIN, "revoke invites")
        matches = [i for i in community.state.invites if i.hex().startswith(invite_id.lower())]
        if len(matches) != 1 or len(invite_id) < 6:
            raise NotFound(f"no invite {invite_id!r}")
        if community.state.invites[matches[0]].revoked:
            raise DomainError("that invite is already revoked", "revoked")
        self.service.append_op(community, "invite_revoke", {"invite": matches[0]})
        return {}

    def rules_accept(self, ref: str) -> dict[str, Any]:
        """Acknowledge the current rules; then write what waited for them (the profile)."""
        community = self.service.community(ref, rules_gate=False)
        if not community.state.is_member(self.service.me):
            raise Forbidden("you are not a member of this community")
        self.acknowledge_rules(community)
        self.service.node_support.after_join(community)
        return {"rules_version": community.state.rules_version}

    def acknowledge_rules(self, community: Community) -> None:
        """Sign a rules_ack when the current version is not acknowledged yet."""
        if self.service.rules_pending(community):
            version = community.state.rules_version
            self.service.append_op(community, "rules_ack", {"version": version})

    def admit(self, community: Community, joiner: bytes, presented: bytes) -> str | None:
        """Judge the invite a dialer presents and, if it holds, witness the join.

        None admits (`joiner` is a member now, through our `admit` op, or was
        one already); otherwise the refusal reason for the peer. Nothing is
        stored unless the peer is admitted: the invite op it carries is
        judged with `CommunityLog.check` first and enters the log only with
        the admission (issue 11, finding 1).
        """
        decoded = decode_presented(presented)
        if decoded is None:
            return "bad_proof"
        invite_op, proof = decoded
        state, now = community.state, self.service.clock()
        if not community.log.has(invite_op.hash):
            try:
                op = community.log.check(invite_op)
            except Rejected:
                return "not_found"
            if op.type != "invite_create":
                return "not_found"
            member = state.members.get(joiner)
            refusal = admission_refusal(invite_of(op), community.id, member, joiner, proof, now)
            if refusal is not None:
                return refusal
            community.receive_ops([invite_op])
            state = community.state
        refusal = check_invite_admission(state, invite_op.hash, joiner, proof, now)
        if refusal is not None or state.is_member(joiner):
            return refusal
        if self.service.rules_pending(community):
            return "forbidden"  # we write nothing but our rules_ack until we accept them
        body = {
            "member": joiner,
            "invite": invite_op.hash,
            "proof": proof,
            "nonce": os.urandom(NONCE_SIZE),
        }
        try:
            self.service.append_op(community, "admit", body)
        except DomainError:  # our own role does not allow it (removed, not a member)
            return "forbidden"
        return None if community.state.is_member(joiner) else "forbidden"

    # -- rules -----------------------------------------------------------------

    def rules_set(self, ref: str, text: str) -> dict[str, Any]:
        community = self.service.community(ref)
        self.service.require_role(community, Role.ADMIN, "set the rules")
        if not text.strip() or len(text) > MAX_RULES_CHARS:
            raise Invalid(f"rules must be 1 to {MAX_RULES_CHARS} characters")
        if len(text.encode()) > MAX_OP_SIZE - 1024:  # the op's other fields need the rest
            raise Invalid(f"rules must fit in {(MAX_OP_SIZE - 1024) // 1024} KB of UTF-8")
        self.service.append_op(community, "rules_set", {"text": text})
        return {"rules_version": community.state.rules_version}

    # -- removal, timeouts, roles ---------------------------------------------

    def _heads_of(self, community: Community, key: bytes) -> list[list[int]]:
        return [[row.segment, row.max_seq] for row in self.service.store.docs_of(community.id, key)]

    def _target(self, community: Community, peer: str) -> bytes:
        key = self.service.peer_key(peer)
        if not community.state.is_member(key):
            raise NotFound(f"{peer} is not a member")
        return key

    def member_remove(self, ref: str, peer: str, rule: str | None = None) -> dict[str, Any]:
        community = self.service.community(ref)
        self.service.require_role(community, Role.ADMIN, "remove members")
        key = self._target(community, peer)
        state = community.state
        if key == state.owner:
            raise Forbidden("the owner cannot be removed")
        if state.role_of(key) == Role.ADMIN and state.role_of(self.service.me) != Role.OWNER:
            raise Forbidden("only the owner can remove an admin")
        body = cite({"member": key, "heads": self._heads_of(community, key)}, rule)
        self.service.append_op(community, "member_remove", body)
        self.service.pages.record_removal(community, key)  # issue 14: their page edits
        return {}

    def timeout(
        self, ref: str, peer: str, duration: str, rule: str | None = None
    ) -> dict[str, Any]:
        community = self.service.community(ref)
        self.service.require_role(community, Role.MODERATOR, "time members out")
        key = self._target(community, peer)
        mine, theirs = community.state.role_of(self.service.me), community.state.role_of(key)
        if mine is None or theirs is None or theirs >= mine:
            raise Forbidden("you can only time out members below your role")
        until = self.service.clock() + parse_duration(duration)
        body = {"member": key, "heads": self._heads_of(community, key), "until_ms": until}
        self.service.append_op(community, "timeout", cite(body, rule))
        return {}

    def untimeout(self, ref: str, peer: str, rule: str | None = None) -> dict[str, Any]:
        community = self.service.community(ref)
        self.service.require_role(community, Role.MODERATOR, "end timeouts")
        body = cite({"member": self._target(community, peer)}, rule)
        self.service.append_op(community, "untimeout", body)
        return {}

    # -- hiding posts ------------------------------------------------------------

    def hide(
        self, ref: str, post: str, reason: str | None = None, rule: str | None = None
    ) -> dict[str, Any]:
        community = self.service.community(ref)
        self.service.require_role(community, Role.MODERATOR, "hide posts")
        row = self.service.post_row(community, post)
        reason = (reason or "").strip()
        if len(reason) > MAX_REASON_CHARS:
            raise Invalid(f"reason longer than {MAX_REASON_CHARS} characters")
        if row.id in community.state.hidden:
            raise DomainError("that post is already hidden", "exists")
        self.service.append_op(community, "hide", cite({"post": row.id, "reason": reason}, rule))
        return {}

    def unhide(self, ref: str, post: str, rule: str | None = None) -> dict[str, Any]:
        community = self.service.community(ref)
        self.service.require_role(community, Role.MODERATOR, "unhide posts")
        wanted = post.strip().lower()
        matches = [p for p in community.state.hidden if p.startswith(wanted)]
        if len(matches) != 1 or len(wanted) < 6:
            raise NotFound(f"no hidden post {post!r}")
        self.service.append_op(community, "unhide", cite({"post": matches[0]}, rule))
        return {}

    # -- always-on nodes -----------------------------------------------------

    def node_add(self, ref: str, peer: str, addr: str) -> dict[str, Any]:
        community = self.service.community(ref)
        self.service.require_role(community, Role.ADMIN, "list nodes")
        key = self.service.peer_key(peer)
        if not addr.startswith("/") or len(addr) > 512:
            raise Invalid(f"not a multiaddr: {addr!r}")
        if not addr.endswith(f"/p2p/{peer}"):
            addr = f"{addr.rstrip('/')}/p2p/{peer}"
        self.service.append_op(community, "node_add", {"peer": key, "addr": addr})
        return {}

    def node_remove(self, ref: str, peer: str) -> dict[str, Any]:
        community = self.service.community(ref)
        self.service.require_role(community, Role.ADMIN, "unlist nodes")
        key = self.service.peer_key(peer)
        if key not in community.state.nodes:
            raise NotFound(f"{peer} is not a listed node")
        self.service.append_op(community, "node_remove", {"peer": key})
        return {}

    # -- reports ---------------------------------------------------------------

    def report(self, ref: str, post: str, reason: str, category: str = "other") -> dict[str, Any]:
        community = self.service.community(ref)
        if not community.state.is_member(self.service.me):
            raise Forbidden("you are not a member of this community")
        row = self.service.post_row(community, post)
        reason = reason.strip()
        if not reason or len(reason) > MAX_REASON_CHARS:
            raise Invalid(f"a reason of 1 to {MAX_REASON_CHARS} characters is needed")
        if category not in CATEGORIES:
            raise Invalid(f"a category is one of {', '.join(CATEGORIES)}")
        readers = [
            m.key
            for m in community.state.members.values()
            if community.state.role_of(m.key) is not None
            and (community.state.role_of(m.key) or Role.MEMBER) >= Role.MODERATOR
        ]
        # Sealed to the reporter too: their own node collapses the post (issue 16).
        readers.append(self.service.me)
        report_id = os.urandom(8).hex()
        body = seal_report(row.id, reason, self.service.clock(), readers, category)
        self.service.write_report(community, report_id, body)
        return {"report_id": report_id}

    def reports(self, ref: str) -> dict[str, Any]:
        community = self.service.community(ref)
        self.service.require_role(community, Role.MODERATOR, "read reports")
        opened = open_reports(self.service.key, self.service.store.reports(community.id))
        counts = dict.fromkeys(CATEGORIES, 0)
        for r in opened:
            counts[r.category] += 1
        return {
            "counts": counts,
            "reports": [
                {
                    "post": r.post_id,
                    "reporter": peer_id_from_public_key(r.reporter),
                    "reason": r.reason,
                    "time": iso_ms(r.ms),
                    "category": r.category,
                }
                for r in opened
            ],
        }
